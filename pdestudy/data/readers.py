"""Readers for real PDEBench and The Well files, for users who have them (nothing is downloaded).

Three HDF5 layouts are recognised by their content, never by the file name:

* ``pdebench-flat``: PDEBench's 2-D compressible Navier–Stokes files ("2D CFD", e.g.
  ``2D_CFD_Rand_M0.1_Eta0.01_Zeta0.01_periodic_128_Train.hdf5``). One dataset per field,
  ``density``, ``pressure``, ``Vx``, ``Vy``, each of shape (N, T, X, Y) with x before y; the
  coordinates ``x-coordinate`` (X), ``y-coordinate`` (Y) and ``t-coordinate``, which PDEBench writes
  with T + 1 values (one past the last frame; the first T are the frames' times); root attributes
  ``eta`` and ``zeta`` (shear and bulk viscosity) and ``M`` (the initial Mach number). Any other 4-D
  dataset of the same shape (``tensor``, …) is read as a field too.
* ``pdebench-groups``: PDEBench's one-group-per-sample layout (2-D diffusion–reaction
  ``2D_diff-react_NA_NA.h5``, 2-D shallow water ``2D_rdb_NA_NA.h5``). Groups ``0000``, ``0001``, …
  (the sample's seed) each hold ``data`` of shape (T, X, Y, C) and a group ``grid`` with ``x``,
  ``y``, ``t``; the group attribute ``config`` (the generator's YAML settings) holds the equation's
  parameters under ``sim`` (Du, Dv, k; gravity, dam_radius, …). The C channels have no names in
  the file: C = 2 is read as ``u``, ``v`` (diffusion–reaction), C = 1 as ``h`` (shallow-water
  depth), other counts as ``c0``, ``c1``, … unless ``channels=`` names them.
* ``the-well``: The Well (PolymathicAI). Root attributes ``dataset_name``, ``n_spatial_dims``,
  ``n_trajectories``, ``grid_type`` and ``simulation_parameters`` (names of further root attributes
  holding the parameters); a group ``dimensions`` (``time`` and one dataset per name of its
  ``spatial_dims`` attribute); ``boundary_conditions`` (one group per boundary, attribute
  ``bc_type``); ``scalars``; and the fields ``t0_fields`` (scalars, (n_traj, n_time, X, Y)),
  ``t1_fields`` (vectors, a trailing axis of length D = 2) and ``t2_fields`` (tensors, trailing
  D × D), each listing its fields in ``field_names``. A field's ``sample_varying`` and
  ``time_varying`` attributes say whether its trajectory and time axes are present; a field that
  lacks one is broadcast along it.

What a reader returns is the study's in-memory form, the same as a generated dataset's:

* an ``xarray.Dataset`` with dims (trajectory, time, y, x): index order [y, x], the transpose of
  the files' (x, y); one float32 variable per field. Vector components are split into
  ``<name>_x``, ``<name>_y``, tensor components into ``<name>_xx``, ``<name>_xy``, … (the suffixes are
  The Well's ``spatial_dims`` names; the lower triangle of a tensor marked ``symmetric`` is left
  out); PDEBench's ``Vx``, ``Vy`` become ``vx``, ``vy`` and other names are lower-cased;
* coordinates ``trajectory`` (the trajectory's index in the file, or its group number), ``time``,
  ``y``, ``x``, and per-trajectory parameters (PDEBench's ``seed``, ``dam_radius``; The Well's
  sample-varying scalars) along ``trajectory``;
* attributes ``source_format`` (the layout), ``source_file``, ``dataset``, ``parameters`` (JSON: the
  equation's parameters found in the file), ``field_sources`` (JSON: where each variable comes
  from), ``nx``, ``ny``, ``n_trajectories_in_file``, ``trajectories`` (the selection) and
  ``n_train``/``n_test``, so that `pdestudy.data.WindowedDataset(ds, ...)` takes it as it is.

Which spatial axis is x. PDEBench and The Well store x before y; a reader checks that against
the lengths of the x and y coordinates, so on a non-square grid a file stored the other way round
is recognised (``spatial_order`` attribute). On a square grid the lengths cannot tell, and the
documented x-first order is assumed; ``spatial_order="yx"`` overrides it. One known case:
PDEBench's diffusion–reaction generator (``sim_diff_react.py``) flattens its state with x running
fastest and reshapes it to (t, y, x), so its samples are probably (T, Y, X, C), despite its
docstring; its grid is square, its spacing equal and its equations symmetric under x ↔ y, so the
two readings differ by a relabelling only. Pass ``spatial_order="yx"`` to follow the generator.

Split. PDEBench ships one file per dataset and The Well one folder per split, so nothing in a
file marks a test set: by default every selected trajectory is "train" (``n_test = 0``);
``test_fraction=f`` makes the last round(f·n) selected trajectories the test split (at least one,
and at least one left for training), the study's convention (train first). PDEBench's own loader
takes the first 10 % of its files as test; pass ``trajectories=`` in the order you want if you need
that split exactly.

Large files. Nothing is read when a file is opened except coordinates and attributes: each field
is a lazy array that reads from the HDF5 file only the part that is indexed (one trajectory at a
time), the file stays open until ``ds.close()`` (or the end of a ``with`` block). ``trajectories=``
(a slice, a list of indices or an int) selects trajectories up front, so a 50 GB PDEBench file
costs only what is selected; ``load=True`` reads the selection into memory, checks that it is
finite and closes the file. `WindowedDataset` loads the trajectories it is given.

Errors. A file that is none of these layouts, that lacks a dataset its layout needs, or whose
shapes do not fit its coordinates raises one `DataFileError` naming the file and the problem.

Paths come from a parameter or from the folders in ``$PDESTUDY_PDEBENCH`` and
``$PDESTUDY_THE_WELL``: ``pdebench_path("2D_diff-react_NA_NA.h5")``.

The ``write_*`` functions at the end write tiny files in each layout (from the descriptions
above, for the tests and for trying the readers without the real data).
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np
import xarray as xr
import yaml
from xarray.backends import BackendArray
from xarray.core import indexing

from .io import DIMS, FORMAT, DataFileError

LAYOUTS = {
    "pdebench-flat": "PDEBench, one dataset per field (2-D CFD layout)",
    "pdebench-groups": "PDEBench, one group per sample",
    "the-well": "The Well",
}
PDEBENCH_ENV, THE_WELL_ENV = "PDESTUDY_PDEBENCH", "PDESTUDY_THE_WELL"
WELL_FIELD_GROUPS = ("t0_fields", "t1_fields", "t2_fields")  # rank 0, 1, 2
PDEBENCH_NAMES = {"Vx": "vx", "Vy": "vy"}
PDEBENCH_FIELD_ORDER = ("density", "pressure", "Vx", "Vy")
PDEBENCH_CHANNELS = {1: ("h",), 2: ("u", "v")}  # 2-D shallow water; 2-D diffusion–reaction


# ---------------------------------------------------------------------- where the files are
def pdebench_path(name: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """`name` resolved against `folder`, else against the folder in $PDESTUDY_PDEBENCH."""
    return _resolve(name, folder, PDEBENCH_ENV, "PDEBench")


def the_well_path(name: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """`name` (e.g. ``"<dataset>/data/train/<file>.hdf5"``) resolved against `folder` or $PDESTUDY_THE_WELL."""
    return _resolve(name, folder, THE_WELL_ENV, "The Well")


def _resolve(name, folder, variable: str, what: str) -> Path:
    source = "folder"
    if folder is None:
        folder, source = os.environ.get(variable), f"${variable}"
        if not folder:
            raise DataFileError(f"{name}: ${variable} is not set; set it to the folder that holds your {what} "
                                f"files, or pass folder=...")
    path = Path(folder).expanduser() / name
    if not path.is_file():
        raise DataFileError(f"{path}: no such file ({what} file {str(name)!r} looked up in {source} = {folder})")
    return path


# ---------------------------------------------------------------------- detection
def _h5(path: Path) -> h5py.File:
    if not path.exists():
        raise DataFileError(f"{path}: no such file")
    if path.is_dir():
        raise DataFileError(f"{path}: a folder, not a file")
    try:
        return h5py.File(path, "r")
    except OSError as exc:  # what HDF5 raises for a truncated, damaged or foreign file
        reason = " ".join(str(exc).split())  # HDF5's messages may span lines; errors are one line
        raise DataFileError(f"{path}: cannot be read as HDF5 ({type(exc).__name__}: {reason}); the file is "
                            "truncated, corrupt or not HDF5") from None


def detect_layout(path: str | os.PathLike) -> str:
    """``"pdestudy"`` or one of `LAYOUTS`, from the file's content; `DataFileError` for anything else."""
    path = Path(path)
    with _h5(path) as f:
        return _layout(f, path)


def _layout(f: h5py.File, path: Path) -> str:
    if _text(f.attrs.get("format")) == FORMAT:
        return "pdestudy"
    if "dimensions" in f and (any(g in f for g in WELL_FIELD_GROUPS) or "n_spatial_dims" in f.attrs):
        return "the-well"
    if "x-coordinate" in f or "t-coordinate" in f:
        return "pdebench-flat"
    if _sample_groups(f):
        return "pdebench-groups"
    entries = sorted(f.keys())
    shown = ", ".join(entries[:8]) + (", …" if len(entries) > 8 else "")
    raise DataFileError(f"{path}: an HDF5 file, but neither a pdestudy dataset, nor a PDEBench file (flat or "
                        f"per-sample groups), nor a file of The Well (top-level entries: {shown or 'none'})")


def _sample_groups(f: h5py.File) -> list[str]:
    """PDEBench's per-sample groups "0000", "0001", … in order (empty if the file has none)."""
    names = sorted((k for k in f if re.fullmatch(r"\d+", k)), key=int)
    if names and isinstance(f.get(names[0]), h5py.Group) and "data" in f[names[0]]:
        return names
    return []


# ---------------------------------------------------------------------- small helpers
def _text(value):
    """HDF5 attributes come back as bytes, numpy strings or arrays of them: plain str / list / number."""
    if isinstance(value, bytes):
        return value.decode()
    if isinstance(value, np.ndarray):
        return [_text(v) for v in value.tolist()] if value.ndim else _text(value.item())
    if isinstance(value, (list, tuple)):
        return [_text(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _scalar(value):
    """A JSON-able scalar (number, bool or str), or None for arrays and anything else."""
    value = _text(value)
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    return value if isinstance(value, (bool, int, float, str)) else None


def _select(trajectories, n: int, path: Path) -> np.ndarray:
    """Indices (into the file's trajectories) of a selection: None (all), a slice, an int or a list."""
    if trajectories is None:
        idx = np.arange(n)
    elif isinstance(trajectories, slice):
        idx = np.arange(n)[trajectories]
    else:
        idx = np.atleast_1d(np.asarray(trajectories))
        if idx.ndim != 1 or idx.dtype.kind not in "iu":
            raise ValueError(f"{path}: trajectories must be a slice, an int or a list of ints, got {trajectories!r}")
        if len(idx) and (idx.min() < -n or idx.max() >= n):
            raise ValueError(f"{path}: trajectories {trajectories!r} out of range: the file holds {n}")
        idx = idx % n
    if len(idx) == 0:
        raise ValueError(f"{path}: the selection {trajectories!r} holds no trajectory (the file holds {n})")
    return idx.astype(np.int64)


def _split(n: int, test_fraction: float) -> tuple[int, int]:
    """(n_train, n_test): the last round(f·n) trajectories are the test split."""
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in [0, 1), got {test_fraction}")
    if test_fraction == 0.0:
        return n, 0
    if n < 2:
        raise ValueError(f"test_fraction={test_fraction} needs at least 2 trajectories, the selection has {n}")
    n_test = min(max(round(test_fraction * n), 1), n - 1)  # both splits non-empty
    return n - n_test, n_test


def _spatial_order(shape: tuple[int, int], nx: int, ny: int, requested: str | None, path: Path, what: str) -> str:
    """Which of the two spatial axes of `shape` is x: "xy" (x first, PDEBench's and The Well's order) or "yx".

    A non-square grid decides by the coordinates' lengths; a square one cannot tell, and is read as
    "xy" unless `requested` says otherwise.
    """
    fits = {"xy": tuple(shape) == (nx, ny), "yx": tuple(shape) == (ny, nx)}
    if requested is not None and requested not in fits:
        raise ValueError(f"spatial_order must be 'xy', 'yx' or None, got {requested!r}")
    for order in ([requested] if requested else ["xy", "yx"]):
        if fits[order]:
            return order
    raise DataFileError(f"{path}: {what} has spatial shape {tuple(shape)}, which does not fit the grid "
                        f"(x: {nx} points, y: {ny})" + (f" in the order {requested!r}" if requested else ""))


def _frame_times(t, n_time: int, path: Path, what: str) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64).ravel()
    if len(t) == n_time + 1:  # PDEBench's t-coordinate runs one step past the last frame
        t = t[:n_time]
    if len(t) != n_time:
        raise DataFileError(f"{path}: {what} has {len(t)} values for {n_time} frames (expected {n_time} or {n_time + 1})")
    return t


def _coordinate(f: h5py.Group, key: str, path: Path, what: str) -> np.ndarray:
    if key not in f or not isinstance(f[key], h5py.Dataset):
        raise DataFileError(f"{path}: {what}: no dataset {key!r}")
    return np.asarray(f[key][()], dtype=np.float64)


# ---------------------------------------------------------------------- lazy fields
def _ascending(k: slice, n: int) -> tuple[slice, bool]:
    """A slice with a positive step (what h5py reads) and whether the result must be reversed."""
    r = range(n)[k]
    if len(r) == 0:
        return slice(0, 0, 1), False
    if r.step > 0:
        return slice(r.start, r.stop, r.step), False
    r = r[::-1]
    return slice(r.start, r.stop, r.step), True


class _LazyField(BackendArray):
    """One field as (trajectory, time, y, x), read from the file only where it is indexed.

    `read(i, t, y, x)` returns the (time, y, x) block of the i-th selected trajectory for slices
    with positive steps, in [y, x] order whatever the file's order; xarray's adapter reduces every
    other kind of index to such slices followed by numpy indexing.
    """

    def __init__(self, read: Callable, shape: tuple[int, int, int, int]):
        self.read, self.shape, self.dtype = read, tuple(int(s) for s in shape), np.dtype(np.float32)

    def __getitem__(self, key):
        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._raw)

    def _raw(self, key: tuple) -> np.ndarray:
        # Integer indices become one-element slices, squeezed out at the end; h5py reads slices
        # with positive steps only, so a reversed slice is read forwards and flipped.
        squeeze, space, flips = [], [], []
        trajectories = range(self.shape[0])[key[0]]
        if not isinstance(key[0], slice):
            trajectories = [trajectories]
        squeeze.append(slice(None) if isinstance(key[0], slice) else 0)
        for k, n in zip(key[1:], self.shape[1:]):
            squeeze.append(slice(None) if isinstance(k, slice) else 0)
            if not isinstance(k, slice):
                i = range(n)[k]
                k = slice(i, i + 1)
            s, flip = _ascending(k, n)
            space.append(s)
            flips.append(flip)
        sizes = [len(range(s.start, s.stop, s.step)) for s in space]
        out = np.empty((len(trajectories), *sizes), dtype=np.float32)
        for o, i in enumerate(trajectories):
            out[o] = self.read(i, *space)
        for axis, flip in enumerate(flips, start=1):
            if flip:
                out = np.flip(out, axis=axis)
        return out[tuple(squeeze)]


def _variable(read: Callable, shape, ids: np.ndarray, label: str, path: Path) -> xr.Variable:
    def guarded(i, t, y, x):
        try:
            return read(i, t, y, x)
        except (OSError, RuntimeError, KeyError) as exc:  # h5py's errors for unreadable chunks
            reason = " ".join(str(exc).split())
            raise DataFileError(f"{path}: {label}, trajectory {ids[i]} cannot be read ({type(exc).__name__}: "
                                f"{reason}); the file is truncated or corrupt") from None

    return xr.Variable(DIMS, indexing.LazilyIndexedArray(_LazyField(guarded, shape)))


def _n_frames(t: slice, n_time: int) -> int:
    return len(range(n_time)[t])


# ---------------------------------------------------------------------- assembling the dataset
def _dataset(f: h5py.File, path: Path, layout: str, name: str, fields: dict[str, xr.Variable],
             sources: dict[str, str], ids: np.ndarray, coords: dict[str, np.ndarray], extra_coords: dict,
             parameters: dict, attrs: dict, n_in_file: int, trajectories, test_fraction: float,
             load: bool) -> xr.Dataset:
    n_train, n_test = _split(len(ids), test_fraction)
    ds = xr.Dataset(
        fields,
        coords={"trajectory": ("trajectory", ids), "time": ("time", coords["time"]), "y": ("y", coords["y"]),
                "x": ("x", coords["x"]), **{k: v if isinstance(v, tuple) else ("trajectory", np.asarray(v)) for k, v in extra_coords.items()}},
        attrs={"source_format": layout, "source_file": str(path.resolve()), "dataset": name,
               "parameters": json.dumps(parameters), "field_sources": json.dumps(sources),
               "nx": len(coords["x"]), "ny": len(coords["y"]), "resolution": len(coords["x"]),
               "n_trajectories_in_file": n_in_file,
               "trajectories": "all" if trajectories is None else _short(repr(trajectories), 200),
               "n_train": n_train, "n_test": n_test, **attrs},
    )
    ds.set_close(f.close)
    if load:
        try:
            ds.load()
        finally:
            f.close()
        for key, var in ds.data_vars.items():
            bad = np.argwhere(~np.isfinite(var.values))
            if len(bad):
                raise DataFileError(f"{path}: field {key!r} has NaN/inf values (trajectory {ids[bad[0][0]]}, "
                                    f"time index {bad[0][1]})")
    return ds


def _opened(path, opener: Callable) -> xr.Dataset:
    """Run `opener(f, path)` on the open file; close the file if it fails."""
    path = Path(path)
    f = _h5(path)
    try:
        return opener(f, path)
    except BaseException:
        f.close()
        raise


# ---------------------------------------------------------------------- PDEBench, flat
def open_pdebench_flat(path: str | os.PathLike, trajectories=None, test_fraction: float = 0.0,
                       spatial_order: str | None = None, load: bool = False) -> xr.Dataset:
    """A PDEBench file with one (N, T, X, Y) dataset per field (2-D CFD) in the study's in-memory form."""

    def opener(f, path):
        x = _coordinate(f, "x-coordinate", path, "PDEBench flat layout").ravel()
        y = _coordinate(f, "y-coordinate", path, "PDEBench flat layout").ravel()
        keys = [k for k in f if isinstance(f[k], h5py.Dataset) and f[k].ndim == 4]
        if not keys:
            raise DataFileError(f"{path}: PDEBench flat layout without a field of shape (N, T, X, Y) (expected "
                                f"density, pressure, Vx, Vy; only 2-D files are supported)")
        keys.sort(key=lambda k: (PDEBENCH_FIELD_ORDER.index(k) if k in PDEBENCH_FIELD_ORDER else 99, k))
        shape = f[keys[0]].shape
        other = [f"{k} {f[k].shape}" for k in keys if f[k].shape != shape]
        if other:
            raise DataFileError(f"{path}: fields of different shapes: {keys[0]} {shape}, " + ", ".join(other))
        n, n_time = shape[:2]
        order = _spatial_order(shape[2:], len(x), len(y), spatial_order, path, f"field {keys[0]!r} {shape}")
        t = _frame_times(_coordinate(f, "t-coordinate", path, "PDEBench flat layout"), n_time, path, "t-coordinate")
        ids = _select(trajectories, n, path)

        def reader(dset):
            def read(i, ts, ys, xs):
                if order == "xy":
                    return dset[ids[i], ts, xs, ys].transpose(0, 2, 1)
                return dset[ids[i], ts, ys, xs]
            return read

        names = {k: PDEBENCH_NAMES.get(k, k.lower()) for k in keys}
        shape4 = (len(ids), n_time, len(y), len(x))
        fields = {names[k]: _variable(reader(f[k]), shape4, ids, f"field {k!r}", path) for k in keys}
        parameters = {k: v for k, v in ((k, _scalar(v)) for k, v in f.attrs.items()) if v is not None}
        return _dataset(f, path, "pdebench-flat", path.stem, fields, {names[k]: k for k in keys}, ids,
                        {"time": t, "y": y, "x": x}, {}, parameters, {"spatial_order": order}, n, trajectories,
                        test_fraction, load)

    return _opened(path, opener)


# ---------------------------------------------------------------------- PDEBench, one group per sample
def _config(group: h5py.Group) -> dict:
    """The generator's settings stored as YAML in a sample group's ``config`` attribute ({} if none)."""
    text = _text(group.attrs.get("config"))
    if not isinstance(text, str):
        return {}
    try:
        config = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError:
        return {}
    return config if isinstance(config, dict) else {}


def open_pdebench_groups(path: str | os.PathLike, trajectories=None, test_fraction: float = 0.0,
                         spatial_order: str | None = None, channels: Sequence[str] | None = None,
                         load: bool = False) -> xr.Dataset:
    """A PDEBench file with one group per sample (``data`` (T, X, Y, C), ``grid/x, y, t``) in memory form."""

    def opener(f, path):
        groups = _sample_groups(f)
        if not groups:
            raise DataFileError(f"{path}: PDEBench per-sample layout without sample groups '0000', '0001', … "
                                "holding a dataset 'data'")
        ids = _select(trajectories, len(groups), path)
        chosen = [groups[i] for i in ids]
        for g in chosen:
            if not isinstance(f[g], h5py.Group) or "data" not in f[g]:
                raise DataFileError(f"{path}: sample group {g!r} has no dataset 'data'")
        data = [f[g]["data"] for g in chosen]
        shape = data[0].shape
        if len(shape) != 4:
            raise DataFileError(f"{path}: {chosen[0]}/data has shape {shape}, expected (T, X, Y, C) (only 2-D "
                                "files are supported)")
        other = [f"{g} {d.shape}" for g, d in zip(chosen, data) if d.shape != shape]
        if other:
            raise DataFileError(f"{path}: samples of different shapes: {chosen[0]} {shape}, " + ", ".join(other[:3]))
        if "grid" not in f[chosen[0]]:
            raise DataFileError(f"{path}: sample group {chosen[0]!r} has no group 'grid' (with x, y, t)")
        grid = f[chosen[0]]["grid"]
        where = f"group {chosen[0]}/grid"
        x, y = _coordinate(grid, "x", path, where).ravel(), _coordinate(grid, "y", path, where).ravel()
        n_time, n_channels = shape[0], shape[3]
        order = _spatial_order(shape[1:3], len(x), len(y), spatial_order, path, f"{chosen[0]}/data {shape}")
        t = _frame_times(_coordinate(grid, "t", path, where), n_time, path, f"{where}/t")
        names = tuple(channels) if channels is not None else PDEBENCH_CHANNELS.get(
            n_channels, tuple(f"c{c}" for c in range(n_channels)))
        if len(names) != n_channels:
            raise ValueError(f"{path}: {len(names)} channel names {names} for {n_channels} channels")

        def reader(c):
            def read(i, ts, ys, xs):
                if order == "xy":
                    return data[i][ts, xs, ys, c].transpose(0, 2, 1)
                return data[i][ts, ys, xs, c]
            return read

        shape4 = (len(ids), n_time, len(y), len(x))
        fields = {name: _variable(reader(c), shape4, ids, f"channel {c} ({name})", path) for c, name in enumerate(names)}
        # Parameters: the scalar settings under `sim` of each sample's config. Those equal in every
        # sample are the equation's; those that differ (seed, dam radius) go along trajectory. The
        # file's first two samples take part in the comparison, so that a selection of one sample
        # does not make its seed look like a parameter of the equation.
        sims = [_config(f[g]).get("sim") or {} for g in chosen]
        reference = sims + [_config(f[g]).get("sim") or {} for g in groups[:2] if g not in chosen]
        parameters, per_trajectory = {}, {}
        for k in sorted(set().union(*reference)):
            values = [_scalar(s.get(k)) for s in reference]
            if all(v == values[0] for v in values) and values[0] is not None:
                parameters[k] = values[0]
            elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                per_trajectory[k] = np.asarray(values[: len(chosen)])
        config_name = _scalar(_config(f[chosen[0]]).get("name"))
        labels = np.array([int(g) for g in chosen])
        return _dataset(f, path, "pdebench-groups", str(config_name or path.stem), fields,
                        {name: f"<sample>/data[..., {c}]" for c, name in enumerate(names)}, labels,
                        {"time": t, "y": y, "x": x}, per_trajectory, parameters, {"spatial_order": order}, len(groups),
                        trajectories, test_fraction, load)

    return _opened(path, opener)


# ---------------------------------------------------------------------- The Well
def _flag(dset, name: str, default: bool = True) -> bool:
    value = _text(dset.attrs.get(name, default))
    return bool(value[0] if isinstance(value, list) and len(value) == 1 else value)


def _well_axis(dims: h5py.Group, key: str, n: int, ids: np.ndarray, path: Path) -> np.ndarray:
    """A coordinate of ``dimensions``: 1-D, or (n_traj, len) when it varies between trajectories."""
    values = _coordinate(dims, key, path, "group 'dimensions'")
    if values.ndim == 2 and values.shape[0] == n:
        rows = values[ids]
        if key != "time" and not (rows == rows[0]).all():
            raise DataFileError(f"{path}: dimensions/{key} differs between trajectories; a grid that varies by "
                                "trajectory is not supported")
        return rows
    if values.ndim != 1:
        raise DataFileError(f"{path}: dimensions/{key} has shape {values.shape}, expected ({values.shape[-1]},) "
                            f"or ({n}, {values.shape[-1]})")
    return values


def open_the_well(path: str | os.PathLike, trajectories=None, test_fraction: float = 0.0,
                  load: bool = False) -> xr.Dataset:
    """A file of The Well (2-D) in the study's in-memory form; vector and tensor fields split by component."""

    def opener(f, path):
        if "dimensions" not in f:
            raise DataFileError(f"{path}: The Well layout without the group 'dimensions'")
        dims = f["dimensions"]
        spatial = _text(dims.attrs.get("spatial_dims"))
        if not isinstance(spatial, list) or not spatial:
            raise DataFileError(f"{path}: dimensions has no attribute 'spatial_dims'")
        n_dims = int(_scalar(f.attrs.get("n_spatial_dims", len(spatial))))
        if n_dims != 2 or len(spatial) != 2:
            raise DataFileError(f"{path}: a {n_dims}-D file of The Well (spatial_dims {spatial}); only 2-D files "
                                "are supported")
        groups = [g for g in WELL_FIELD_GROUPS if g in f]
        if not groups:
            raise DataFileError(f"{path}: The Well layout without field groups (t0_fields, t1_fields, t2_fields)")
        if "n_trajectories" in f.attrs:
            n = int(_scalar(f.attrs["n_trajectories"]))
        else:  # fall back on the first sample-varying field
            n = next((f[g][k].shape[0] for g in groups for k in f[g] if _flag(f[g][k], "sample_varying")), 1)
        ids = _select(trajectories, n, path)
        sx, sy = spatial
        x, y = (_well_axis(dims, k, n, ids, path) for k in (sx, sy))
        x, y = (a[0] if a.ndim == 2 else a for a in (x, y))
        time = _well_axis(dims, "time", n, ids, path)
        n_time = time.shape[-1]
        extra = {}
        t = time[0] if time.ndim == 2 else time  # times per trajectory: the first one's is the axis
        fields, sources, skipped = {}, {}, []
        shape4 = (len(ids), n_time, len(y), len(x))
        for rank, group in enumerate(WELL_FIELD_GROUPS):
            if group not in f:
                continue
            grp = f[group]
            listed = _text(grp.attrs.get("field_names"))
            names = listed if isinstance(listed, list) else sorted(grp.keys())
            for name in names:
                if name not in grp or not isinstance(grp[name], h5py.Dataset):
                    raise DataFileError(f"{path}: {group} lists {name!r} in field_names but holds no such dataset")
                d = grp[name]
                if not all(np.atleast_1d(_text(d.attrs.get("dim_varying", [True, True])))):
                    skipped.append(f"{group}/{name}")  # constant along a spatial axis: not a 2-D field
                    continue
                sv, tv = _flag(d, "sample_varying"), _flag(d, "time_varying")
                expected = (n,) * sv + (n_time,) * tv + (len(x), len(y)) + (2,) * rank
                if d.shape != expected:
                    raise DataFileError(f"{path}: {group}/{name} has shape {d.shape}, expected {expected} "
                                        f"({'trajectory, ' * sv}{'time, ' * tv}{sx}, {sy}{', component' * rank})")
                components = [((), "")] if rank == 0 else (
                    [((a,), spatial[a]) for a in range(2)] if rank == 1 else
                    [((a, b), spatial[a] + spatial[b]) for a in range(2) for b in range(2)
                     if not (b < a and _flag(d, "symmetric", False))])
                for comp, suffix in components:
                    key = f"{name}_{suffix}" if suffix else name

                    def read(i, ts, ys, xs, d=d, comp=comp, sv=sv, tv=tv):
                        block = d[(ids[i],) * sv + (ts,) * tv + (xs, ys) + comp]  # (time?, x, y)
                        block = np.swapaxes(block, -1, -2)
                        return block if tv else np.broadcast_to(block, (_n_frames(ts, n_time), *block.shape))

                    fields[key] = _variable(read, shape4, ids, f"{group}/{name}", path)
                    sources[key] = f"{group}/{name}" + (f"[..., {', '.join(map(str, comp))}]" if comp else "")
        if not fields:
            raise DataFileError(f"{path}: no 2-D field in {', '.join(groups)}")
        parameters = {}
        for k in _text(f.attrs.get("simulation_parameters", [])) or []:
            if k in f.attrs and _scalar(f.attrs[k]) is not None:
                parameters[k] = _scalar(f.attrs[k])
        if "scalars" in f:  # constants are parameters; per-trajectory constants go along trajectory
            for k in _text(f["scalars"].attrs.get("field_names", [])) or list(f["scalars"].keys()):
                if k not in f["scalars"]:
                    continue
                d = f["scalars"][k]
                sv, tv = _flag(d, "sample_varying", False), _flag(d, "time_varying", False)
                if not sv and not tv and d.size == 1:
                    parameters.setdefault(k, _scalar(d[()]))
                elif sv and not tv and d.shape == (n,):
                    extra[k] = np.asarray(d[()])[ids]
        bcs = {}
        if "boundary_conditions" in f:
            for k, g in f["boundary_conditions"].items():
                bcs[k] = {"type": _scalar(g.attrs.get("bc_type")), "dims": _text(g.attrs.get("associated_dims"))}
        attrs = {"grid_type": str(_scalar(f.attrs.get("grid_type")) or ""), "spatial_dims": json.dumps(spatial),
                 "boundary_conditions": json.dumps(bcs), "skipped_fields": json.dumps(skipped)}
        if time.ndim == 2:
            extra["time_of_trajectory"] = (("trajectory", "time"), time)  # all of them
        return _dataset(f, path, "the-well", str(_scalar(f.attrs.get("dataset_name")) or path.stem), fields,
                        sources, ids, {"time": t, "y": y, "x": x}, extra, parameters, attrs, n, trajectories,
                        test_fraction, load)

    return _opened(path, opener)


# ---------------------------------------------------------------------- one entry point
OPENERS = {"pdebench-flat": open_pdebench_flat, "pdebench-groups": open_pdebench_groups, "the-well": open_the_well}


def open_external(path: str | os.PathLike, trajectories=None, test_fraction: float = 0.0, load: bool = False,
                  **options) -> xr.Dataset:
    """Open a PDEBench or The Well file, whichever layout its content shows.

    `trajectories`: None (all), a slice, an int or a list of indices into the file's trajectories;
    `test_fraction`: the last round(f·n) selected trajectories are the test split (default 0: all
    train); `load`: read the selection into memory (and check it is finite) instead of lazily;
    `options`: the layout's own (``spatial_order`` and ``channels`` for PDEBench's layouts).
    """
    layout = detect_layout(path)
    if layout == "pdestudy":
        raise DataFileError(f"{path}: a pdestudy dataset, not a PDEBench or The Well file; open it with "
                            "pdestudy.data.open_dataset")
    return OPENERS[layout](path, trajectories=trajectories, test_fraction=test_fraction, load=load, **options)


def _short(value, width: int = 100) -> str:
    text = " ".join(str(value).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _range(values: np.ndarray) -> str:
    values = np.asarray(values)
    if values.size == 0:
        return "(empty)"
    return f"[{values.min():.4g}, {values.max():.4g}] ({values.size})"


def describe_external(path: str | os.PathLike) -> str:
    """What `pdestudy data info` prints for a PDEBench or The Well file.

    Only the first trajectory's values are read (its ranges, and a check that they are finite):
    the files run to tens of GB.
    """
    path = Path(path)
    layout = detect_layout(path)
    if layout not in OPENERS:
        raise DataFileError(f"{path}: not a PDEBench or The Well file ({layout})")
    with OPENERS[layout](path, trajectories=[0]) as ds:
        a = ds.attrs
        sources = json.loads(a["field_sources"])
        stored = "y before x" if a.get("spatial_order") == "yx" else "x before y"
        lines = [f"{path}  ({path.stat().st_size / 2**20:.1f} MiB)  {LAYOUTS[layout]} ({layout})",
                 f"dataset: {a['dataset']}",
                 (f"dims:   trajectory={a['n_trajectories_in_file']}, time={ds.sizes['time']}, y={ds.sizes['y']}, "
                  f"x={ds.sizes['x']}  (in memory (trajectory, time, y, x); the file stores {stored})"),
                 "fields: " + ", ".join(f"{k} ← {sources[k]}" for k in ds.data_vars)]
        ranges = []
        for k, v in ds.data_vars.items():
            values = v.isel(trajectory=0).values
            if not np.isfinite(values).all():
                t = int(np.argwhere(~np.isfinite(values))[0][0])
                raise DataFileError(f"{path}: field {k!r} has NaN/inf values (trajectory 0, time index {t})")
            ranges.append(f"{k} [{values.min():.4g}, {values.max():.4g}]")
        lines.append("trajectory 0 (the only one read): " + ", ".join(ranges))
        lines.append(f"coordinates: time {_range(ds['time'].values)}, y {_range(ds['y'].values)}, "
                     f"x {_range(ds['x'].values)}")
        per_trajectory = [c for c in ds.coords if ds[c].dims == ("trajectory",) and c != "trajectory"]
        if per_trajectory:
            lines.append("per-trajectory parameters (trajectory 0): " +
                         ", ".join(f"{c}={ds[c].values[0]:.4g}" for c in per_trajectory))
        parameters = json.loads(a["parameters"])
        lines.append("parameters: " + (", ".join(f"{k}={v}" for k, v in parameters.items()) or "none found"))
        for k in ("grid_type", "spatial_dims", "boundary_conditions", "skipped_fields", "spatial_order"):
            if k in a and a[k] not in ("", "[]", "{}"):
                lines.append(f"{k}: {a[k]}")
    with h5py.File(path, "r") as f:
        if f.attrs:
            lines.append("file attributes:")
            lines += [f"  {k}: {_short(_text(v))}" for k, v in f.attrs.items()]
    return "\n".join(lines)


# ---------------------------------------------------------------------- tiny files in each layout
def dummy_value(offset: float, trajectory: int, frame: int, x, y):
    """The value the writers below store: offset + trajectory + frame/10 + x + 10·y.

    Different along x and y, so a reader that swaps the axes is caught; the offset tells fields
    and components apart.
    """
    return offset + trajectory + frame / 10 + np.asarray(x) + 10 * np.asarray(y)


def _grid(n_trajectories: int, n_time: int, x: np.ndarray, y: np.ndarray, offset: float) -> np.ndarray:
    """dummy_value on every (trajectory, frame, x, y), x before y as the files store it."""
    n, t = np.arange(n_trajectories)[:, None, None, None], np.arange(n_time)[None, :, None, None]
    return dummy_value(offset, n, t, x[None, None, :, None], y[None, None, None, :]).astype(np.float32)


def _cells(n: int, lo: float = 0.0, hi: float = 1.0) -> np.ndarray:
    return lo + (np.arange(n) + 0.5) * (hi - lo) / n


def write_pdebench_flat(path: str | os.PathLike, n_trajectories: int = 3, n_time: int = 4, nx: int = 8, ny: int = 6,
                        fields: Sequence[str] = PDEBENCH_FIELD_ORDER, dt: float = 0.05,
                        attrs: Mapping[str, float] | None = None) -> Path:
    """A tiny PDEBench 2-D CFD file: each field (N, T, X, Y), its i-th field with offset 100·i.

    ``t-coordinate`` holds T + 1 times (k·dt), as PDEBench's; attributes eta, zeta, M by default.
    """
    path = Path(path)
    x, y = _cells(nx), _cells(ny)
    with h5py.File(path, "w") as f:
        for i, name in enumerate(fields):
            f.create_dataset(name, data=_grid(n_trajectories, n_time, x, y, 100.0 * i))
        f.create_dataset("x-coordinate", data=x.astype(np.float32))
        f.create_dataset("y-coordinate", data=y.astype(np.float32))
        f.create_dataset("t-coordinate", data=(np.arange(n_time + 1) * dt).astype(np.float32))
        for k, v in (attrs if attrs is not None else {"eta": 0.01, "zeta": 0.01, "M": 0.1}).items():
            f.attrs[k] = v
    return path


def write_pdebench_groups(path: str | os.PathLike, n_trajectories: int = 3, n_time: int = 4, nx: int = 8,
                          ny: int = 6, n_channels: int = 2, dt: float = 0.05, name: str = "2D_diff-react",
                          sim: Mapping[str, float] | None = None,
                          per_trajectory: Mapping[str, Sequence[float]] | None = None) -> Path:
    """A tiny PDEBench per-sample file: groups "0000", …, each ``data`` (T, X, Y, C) with channel c at
    offset 100·c, ``grid/x, y, t`` on [-1, 1]², and a ``config`` YAML attribute whose ``sim`` holds
    `sim` (default: the diffusion–reaction Du, Dv, k), the sample's seed and its `per_trajectory` values.
    """
    path = Path(path)
    x, y = _cells(nx, -1, 1), _cells(ny, -1, 1)
    sim = dict(sim if sim is not None else {"Du": 1e-3, "Dv": 5e-3, "k": 5e-3})
    data = np.stack([_grid(n_trajectories, n_time, x, y, 100.0 * c) for c in range(n_channels)], axis=-1)
    with h5py.File(path, "w") as f:
        for i in range(n_trajectories):
            g = f.create_group(f"{i:04d}")
            g.create_dataset("data", data=data[i])
            g.create_dataset("grid/x", data=x.astype(np.float32))
            g.create_dataset("grid/y", data=y.astype(np.float32))
            g.create_dataset("grid/t", data=(np.arange(n_time) * dt).astype(np.float32))
            own = {k: float(v[i]) for k, v in (per_trajectory or {}).items()}
            g.attrs["config"] = yaml.safe_dump({"name": name, "sim": {**sim, "seed": i, **own}})
    return path


def write_the_well(path: str | os.PathLike, n_trajectories: int = 2, n_time: int = 4, nx: int = 8, ny: int = 6,
                   scalars: Sequence[str] = ("density",), vectors: Sequence[str] = ("velocity",),
                   tensors: Sequence[str] = ("stress",), dt: float = 0.25,
                   parameters: Mapping[str, float] | None = None) -> Path:
    """A tiny 2-D file of The Well, with its full schema (dimensions, boundary conditions, scalars).

    Offsets: scalar field i: 100·i; vector field i, component c: 1000·(i+1) + 100·c; tensor field i,
    component (a, b): 10000·(i+1) + 100·(2a + b). Tensors are marked symmetric (the values are not:
    a reader leaves out the lower triangle). Boundaries periodic in x, walls in y.
    """
    path = Path(path)
    x, y = _cells(nx), _cells(ny, 0, 2)
    parameters = dict(parameters if parameters is not None else {"Reynolds": 1000.0, "Schmidt": 1.0})
    str_list = h5py.string_dtype()

    def flags(d, sample=True, time=True):
        d.attrs["sample_varying"], d.attrs["time_varying"] = sample, time
        d.attrs["dim_varying"] = np.array([True, True])

    with h5py.File(path, "w") as f:
        f.attrs.update({"dataset_name": "dummy_well_2d", "grid_type": "cartesian", "n_spatial_dims": 2,
                        "n_trajectories": n_trajectories, **parameters})
        f.attrs.create("simulation_parameters", list(parameters), dtype=str_list)
        dims = f.create_group("dimensions")
        dims.attrs.create("spatial_dims", ["x", "y"], dtype=str_list)
        dims.create_dataset("time", data=(np.arange(n_time) * dt).astype(np.float32)).attrs["sample_varying"] = False
        for key, values in (("x", x), ("y", y)):
            flags(dims.create_dataset(key, data=values.astype(np.float32)), sample=False, time=False)
        bcs = f.create_group("boundary_conditions")
        for key, kind, n_points in (("x_periodic", "PERIODIC", nx), ("y_wall", "WALL", ny)):
            g = bcs.create_group(key)
            g.attrs["bc_type"], g.attrs["sample_varying"], g.attrs["time_varying"] = kind, False, False
            g.attrs.create("associated_dims", [key[0]], dtype=str_list)
            g.attrs.create("associated_fields", [], dtype=str_list)
            mask = np.zeros(n_points, dtype=bool)
            mask[[0, -1]] = True
            g.create_dataset("mask", data=mask)
        sc = f.create_group("scalars")
        sc.attrs.create("field_names", list(parameters), dtype=str_list)
        for key, value in parameters.items():
            flags(sc.create_dataset(key, data=np.float32(value)), sample=False, time=False)
        for rank, (group, names) in enumerate(zip(WELL_FIELD_GROUPS, (scalars, vectors, tensors))):
            g = f.create_group(group)
            g.attrs.create("field_names", list(names), dtype=str_list)
            for i, name in enumerate(names):
                if rank == 0:
                    data = _grid(n_trajectories, n_time, x, y, 100.0 * i)
                elif rank == 1:
                    data = np.stack([_grid(n_trajectories, n_time, x, y, 1000.0 * (i + 1) + 100 * c)
                                     for c in range(2)], axis=-1)
                else:
                    data = np.stack([np.stack([_grid(n_trajectories, n_time, x, y, 10000.0 * (i + 1) + 100 * (2 * a + b))
                                               for b in range(2)], axis=-1) for a in range(2)], axis=-2)
                d = g.create_dataset(name, data=data)
                flags(d)
                if rank == 2:
                    d.attrs["symmetric"], d.attrs["antisymmetric"] = True, False
    return path
