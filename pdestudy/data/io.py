"""The one file schema of the study, and its validation.

A dataset is one NetCDF4/HDF5 file, written with h5netcdf (a batch of trajectories at a time,
see `dataset_writer`) and read through xarray:

* dims ``(trajectory, time, y, x)``, one float32 variable per field (``vorticity``, …);
* coordinates ``trajectory`` (index), ``seed`` (per-trajectory seed), ``time``, ``y``, ``x``, and
  any per-trajectory physical parameters (``radius``, ``B0``, …) along ``trajectory``;
* attributes: ``format``/``format_version``, ``dataset``, ``profile``, ``system``, ``equation``,
  ``parameters`` (JSON), ``solver``, ``resolution`` (and ``ny``, ``nx``: the grid, which need not be
  square), ``seed``, ``n_train``/``n_test`` (the first
  ``n_train`` trajectories are the training split), ``spec_hash``, ``pdestudy_version``, and the
  measured ``generation_seconds`` with the ``host`` that produced it.

Files are written atomically (temporary file, fsync, rename), so a file at the final path is
always complete. `validate_file` is what `pdestudy data info` runs: any problem becomes one
`DataFileError` naming the file and the cause.
"""
from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import h5netcdf
import numpy as np
import xarray as xr

from ..utils import atomic_path

FORMAT = "pdestudy-dataset"
FORMAT_VERSION = 1
DIMS = ("trajectory", "time", "y", "x")
REQUIRED_ATTRS = ("format", "format_version", "dataset", "profile", "equation", "parameters", "solver",
                  "resolution", "seed", "n_train", "n_test", "spec_hash", "pdestudy_version")


class DataFileError(ValueError):
    """A data file that cannot be used; the message names the file and the problem."""


class DatasetWriter:
    """Fills the fields of a file opened by `dataset_writer`, a batch of trajectories at a time."""

    def __init__(self, file, path: Path, fields: Sequence[str], shape: tuple[int, int, int, int]):
        self._file, self.path, self.fields, self.shape = file, path, list(fields), shape
        self.attrs: dict[str, object] = {}  # more attributes, set when the file is closed (e.g. the cost)
        self._written = np.zeros(shape[0], dtype=bool)

    def write(self, start: int, fields: Mapping[str, np.ndarray]) -> None:
        """Write trajectories start, start + 1, … from arrays (B, time, y, x), one per field."""
        if sorted(fields) != sorted(self.fields):
            raise ValueError(f"{self.path}: expected fields {self.fields}, got {list(fields)}")
        for name, arr in fields.items():
            arr = np.asarray(arr)
            if arr.ndim != 4 or arr.shape[1:] != self.shape[1:] or start + arr.shape[0] > self.shape[0]:
                raise ValueError(f"field {name!r} must have dims {DIMS} with (time, y, x) = {self.shape[1:]} and at "
                                 f"most {self.shape[0] - start} trajectories from {start}, got shape {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"field {name!r} holds NaN or inf values; refusing to write {self.path}")
        for name, arr in fields.items():
            self._file.variables[name][start:start + len(arr)] = np.asarray(arr, dtype=np.float32)
        self._written[start:start + len(next(iter(fields.values())))] = True

    def _finish(self) -> None:
        missing = np.flatnonzero(~self._written)
        if missing.size:
            raise ValueError(f"{self.path}: trajectories {missing.tolist()[:10]} were never written; not publishing it")
        self._file.attrs.update(_netcdf_attrs(self.attrs))


@contextlib.contextmanager
def dataset_writer(path: str | os.PathLike, fields: Sequence[str], coords: Mapping[str, np.ndarray],
                   attrs: Mapping[str, object]) -> Iterator[DatasetWriter]:
    """Open `path` for writing, atomically, and yield a `DatasetWriter` to fill it batch by batch.

    The file appears at `path` only when the block ends without an error and every trajectory was
    written, so a dataset larger than memory (the paper profile's 512² systems) can be generated
    one batch at a time and still never be seen half-written. `coords` holds ``trajectory``,
    ``seed``, ``time``, ``y``, ``x`` and any further per-trajectory parameters.
    """
    path = Path(path)
    n = len(coords["trajectory"])
    shape = (n, len(coords["time"]), len(coords["y"]), len(coords["x"]))
    extra = [k for k in coords if k not in ("trajectory", "seed", "time", "y", "x")]
    with atomic_path(path) as tmp:
        with h5netcdf.File(tmp, "w", invalid_netcdf=False) as f:
            f.dimensions = dict(zip(DIMS, shape))
            for name in DIMS:
                dtype = np.int64 if name == "trajectory" else np.float64
                f.create_variable(name, (name,), data=np.asarray(coords[name], dtype=dtype))
            f.create_variable("seed", ("trajectory",), data=np.asarray(coords["seed"], dtype=np.int64))
            for name in extra:
                values = np.asarray(coords[name])
                if values.shape != (n,):
                    raise ValueError(f"per-trajectory coordinate {name!r} must have shape ({n},), got {values.shape}")
                f.create_variable(name, ("trajectory",), data=values)
            for name in fields:
                var = f.create_variable(name, DIMS, dtype=np.float32, chunks=(1, *shape[1:]))
                var.attrs["coordinates"] = " ".join(["seed", *extra])  # the netCDF way to name non-dimension coordinates
            f.attrs.update({"format": FORMAT, "format_version": FORMAT_VERSION, **_netcdf_attrs(attrs)})
            writer = DatasetWriter(f, path, fields, shape)
            yield writer
            writer._finish()
    return


def write_dataset(path: str | os.PathLike, fields: Mapping[str, np.ndarray], coords: Mapping[str, np.ndarray],
                  attrs: Mapping[str, object]) -> Path:
    """Write fields of shape (trajectory, time, y, x) with their coordinates and attributes, atomically."""
    path = Path(path)
    for name, arr in fields.items():  # check everything before a file is created
        if np.ndim(arr) != 4:
            raise ValueError(f"field {name!r} must have dims {DIMS}, got shape {np.shape(arr)}")
        if not np.isfinite(arr).all():
            raise ValueError(f"field {name!r} holds NaN or inf values; refusing to write {path}")
    with dataset_writer(path, list(fields), coords, attrs) as writer:
        writer.write(0, fields)
    return path


def _netcdf_attrs(attrs: Mapping[str, object]) -> dict:
    # NetCDF attributes hold strings and numbers only: nested values are stored as JSON.
    return {k: (json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list, tuple)) else v)
            for k, v in attrs.items() if v is not None}


def _open(path: Path) -> xr.Dataset:
    try:
        return xr.open_dataset(path, engine="h5netcdf", cache=False)
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except Exception as exc:  # h5py/h5netcdf raise several types for a damaged file
        raise DataFileError(
            f"{path}: cannot be read as NetCDF4/HDF5 ({type(exc).__name__}: {exc}); the file is truncated or "
            "corrupt — delete it and generate it again") from None


def validate_file(path: str | os.PathLike, check_values: bool = True) -> xr.Dataset:
    """Open `path` and check the schema (and, by default, that every value is finite).

    Returns the lazily-opened dataset; raises `DataFileError` naming the file and the first problem.
    """
    path = Path(path)
    if not path.exists():
        raise DataFileError(f"{path}: no such file")
    ds = _open(path)
    try:
        if ds.attrs.get("format") != FORMAT:
            raise DataFileError(f"{path}: not a pdestudy dataset (attribute 'format' is {ds.attrs.get('format')!r}, "
                                f"expected {FORMAT!r})")
        missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
        if missing:
            raise DataFileError(f"{path}: missing attribute(s) {', '.join(missing)}")
        if not ds.data_vars:
            raise DataFileError(f"{path}: holds no field variables")
        for name, var in ds.data_vars.items():
            if var.dims != DIMS:
                raise DataFileError(f"{path}: field {name!r} has dims {var.dims}, expected {DIMS}")
        n = int(ds.attrs["n_train"]) + int(ds.attrs["n_test"])
        if ds.sizes["trajectory"] != n:
            raise DataFileError(f"{path}: {ds.sizes['trajectory']} trajectories, but n_train + n_test = {n}")
        res = int(ds.attrs["resolution"])
        grid = (int(ds.attrs.get("ny", res)), int(ds.attrs.get("nx", res)))  # older files: square, resolution²
        if (ds.sizes["y"], ds.sizes["x"]) != grid:
            raise DataFileError(f"{path}: grid {ds.sizes['y']}×{ds.sizes['x']} does not match attributes "
                                f"ny × nx = {grid[0]}×{grid[1]}")
        if check_values:
            for name, var in ds.data_vars.items():
                for i in range(ds.sizes["trajectory"]):  # one trajectory at a time keeps memory bounded
                    try:
                        values = var.isel(trajectory=i).values
                    except Exception as exc:
                        raise DataFileError(f"{path}: field {name!r}, trajectory {i} cannot be read "
                                            f"({type(exc).__name__}: {exc}); the file is truncated or corrupt") from None
                    if not np.isfinite(values).all():
                        t = int(np.argwhere(~np.isfinite(values))[0][0])
                        raise DataFileError(f"{path}: field {name!r} has NaN/inf values (trajectory {i}, time index {t})")
    except Exception:
        ds.close()
        raise
    return ds


def open_dataset(path: str | os.PathLike) -> xr.Dataset:
    """Open a validated dataset (values loaded into memory, file closed)."""
    with validate_file(path) as ds:
        return ds.load()


def parameters(ds: xr.Dataset) -> dict:
    return json.loads(ds.attrs["parameters"])


def describe(path: str | os.PathLike) -> str:
    """A human-readable summary of a validated file (what `pdestudy data info` prints)."""
    path = Path(path)
    with validate_file(path) as ds:
        lines = [f"{path}  ({path.stat().st_size / 2**20:.1f} MiB)  valid",
                 "dims:   " + ", ".join(f"{d}={ds.sizes[d]}" for d in DIMS),
                 "fields: " + ", ".join(f"{k} [{float(v.min()):.4g}, {float(v.max()):.4g}]" for k, v in ds.data_vars.items())]
        lines.append(f"split:  first {ds.attrs['n_train']} trajectories train, last {ds.attrs['n_test']} test")
        lines.append("attributes:")
        for k, v in ds.attrs.items():
            lines.append(f"  {k}: {v}")
    return "\n".join(lines)
