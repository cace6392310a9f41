"""Generate a dataset of the registry into its file: `pdestudy data generate NAME`."""
from __future__ import annotations

import importlib
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import __version__
from ..paths import data_root
from ..utils import derive_seed, get_device
from .io import DataFileError, validate_file, write_dataset
from .registry import DatasetSpec, get_spec


def dataset_path(name: str, profile: str = "default", root: str | os.PathLike | None = None) -> Path:
    """<data root>/<profile>/<name>.nc"""
    return Path(root or data_root()) / profile / f"{name}.nc"


def system_module(spec: DatasetSpec):
    return importlib.import_module(f"pdestudy.data.{spec.system}")


def trajectory_seeds(spec: DatasetSpec) -> list[int]:
    """Trajectory i's seed depends only on the dataset seed and i (not on batching)."""
    return [derive_seed(spec.seed, i) for i in range(spec.n_trajectories)]


def remove_stale_partials(path: Path) -> None:
    """Delete `.NAME.PID.partial` files left by killed runs; keep those of processes still writing."""
    for partial in path.parent.glob(f".{path.name}.*.partial"):
        try:
            pid = int(partial.name.rsplit(".", 2)[-2])
            os.kill(pid, 0)  # raises if no such process
        except (ValueError, ProcessLookupError):
            partial.unlink(missing_ok=True)
        except PermissionError:  # alive, owned by someone else
            pass


def is_current(path: Path, spec: DatasetSpec) -> bool:
    """True when `path` is a valid file generated from exactly this spec."""
    try:
        with validate_file(path) as ds:
            return ds.attrs.get("spec_hash") == spec.spec_hash()
    except DataFileError:
        return False


def generate(name: str, profile: str = "default", root=None, force: bool = False, batch_size: int | None = None,
             device: str = "auto", progress: bool = True) -> Path:
    """Generate dataset `name` for `profile` unless a valid, up-to-date file exists; returns its path."""
    spec = get_spec(name, profile)
    path = dataset_path(name, profile, root)
    if not force and path.exists():
        if is_current(path, spec):
            return path
        tqdm.write(f"{path}: invalid or generated from another spec; generating it again")
    remove_stale_partials(path)

    module = system_module(spec)
    if batch_size is None:  # ~64k grid points per batch: large enough to vectorise, small enough for the cache
        batch_size = max(1, 2**16 // int(spec.params.get("solve_resolution", spec.resolution)) ** 2)
    seeds = trajectory_seeds(spec)
    dev = get_device(device)
    outputs: dict[str, list[np.ndarray]] = {}
    start = time.perf_counter()
    batches = [range(i, min(i + batch_size, spec.n_trajectories)) for i in range(0, spec.n_trajectories, batch_size)]
    with tqdm(batches, desc=f"{name} ({profile})", unit="batch", disable=not progress) as bar:
        for ids in bar:
            fields = module.simulate(spec, [seeds[i] for i in ids], list(ids), device=dev, progress=progress)
            for k, v in fields.items():
                outputs.setdefault(k, []).append(v)
    seconds = time.perf_counter() - start

    fields = {k: np.concatenate(v) for k, v in outputs.items()}
    p = spec.params
    n_frames = next(iter(fields.values())).shape[1]
    length = p.get("length", 1.0)
    coords = dict(trajectory=np.arange(spec.n_trajectories), seed=np.array(seeds, dtype=np.int64),
                  time=np.arange(n_frames) * p.get("frame_interval", 1.0),
                  y=np.arange(spec.resolution) * length / spec.resolution,
                  x=np.arange(spec.resolution) * length / spec.resolution)
    attrs = dict(
        dataset=spec.name, profile=spec.profile, system=spec.system, equation=spec.equation,
        parameters=p, solver=module.describe_solver(spec), resolution=spec.resolution, seed=spec.seed,
        n_train=spec.n_train, n_test=spec.n_test, spec_hash=spec.spec_hash(), pdestudy_version=__version__,
        torch_version=str(torch.__version__), generation_seconds=round(seconds, 3),
        host=f"{os.cpu_count()} CPU cores ({platform.machine()}), {torch.get_num_threads()} torch threads, device {dev}",
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return write_dataset(path, fields, coords, attrs)
