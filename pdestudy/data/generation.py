"""Generate a dataset of the registry into its file: `pdestudy data generate NAME`."""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import importlib
import math
import multiprocessing
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
from .io import DataFileError, dataset_writer, validate_file
from .registry import DatasetSpec, get_spec


def dataset_path(name: str, profile: str = "default", root: str | os.PathLike | None = None) -> Path:
    """<data root>/<profile>/<name>.nc"""
    return Path(root or data_root()) / profile / f"{name}.nc"


def system_module(spec: DatasetSpec):
    """The module of `pdestudy.data` that solves `spec.system`.

    Its interface (every system module has it):

    * ``simulate(spec, seeds, trajectory_ids, device, progress) -> {field: array (B, T, ny, nx)}``:
      trajectory ``trajectory_ids[b]`` from seed ``seeds[b]``, bitwise independent of the batch it is
      solved in; raises on instability naming the dataset, trajectory and time;
    * ``describe_solver(spec) -> str``: one line on the numerics, stored in the file.

    and optionally

    * ``coordinates(spec) -> {"time": (T,), "y": (ny,), "x": (nx,)}``: stored times and cell
      positions (default: frames every ``frame_interval`` to ``t_final``, a periodic square [0, L)²);
    * ``trajectory_parameters(spec, seeds, trajectory_ids) -> {name: (B,)}``: per-trajectory
      physical parameters drawn from the seeds or swept (bubble radius, applied field, …), stored as
      coordinates along ``trajectory``;
    * ``batch_size(spec) -> int``: trajectories solved together (default: ~64k grid points a batch).
    """
    return importlib.import_module(f"pdestudy.data.{spec.system}")


def coordinates(spec: DatasetSpec) -> dict[str, np.ndarray]:
    """Stored times and cell positions of `spec`'s files: {"time", "y", "x"} as float64 arrays."""
    module = system_module(spec)
    if hasattr(module, "coordinates"):
        coords = module.coordinates(spec)
    else:  # the periodic-square default of the Navier–Stokes systems
        p = spec.params
        count = round(p["t_final"] / p["frame_interval"])
        length = p.get("length", 1.0)
        cells = np.arange(spec.resolution) * length / spec.resolution
        coords = dict(time=np.arange(count + 1) * p["frame_interval"], y=cells, x=cells)
    return {k: np.asarray(coords[k], dtype=np.float64) for k in ("time", "y", "x")}


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


def _solve(module, spec: DatasetSpec, seeds: list[int], ids: list[int], dev: torch.device,
           progress: bool) -> tuple[dict, float]:
    """One batch of trajectories `ids` from `seeds`: (fields, solver seconds)."""
    start = time.perf_counter()
    fields = module.simulate(spec, seeds, ids, device=dev, progress=progress)
    return fields, time.perf_counter() - start


def _solve_in_worker(name: str, profile: str, seeds: list[int], ids: list[int], device: str) -> tuple[dict, float]:
    spec = get_spec(name, profile)
    return _solve(system_module(spec), spec, seeds, ids, get_device(device), False)


def default_workers(spec: DatasetSpec, n_batches: int) -> int:
    """Worker processes for a CPU generation: every core, at most one per batch; 1 for the smoke
    profile, whose files take less time to solve than a worker takes to start (importing torch)."""
    return 1 if spec.profile == "smoke" else max(1, min(os.cpu_count() or 1, n_batches))


def generate(name: str, profile: str = "default", root=None, force: bool = False, batch_size: int | None = None,
             device: str = "auto", progress: bool = True, workers: int | None = None) -> Path:
    """Generate dataset `name` for `profile` unless a valid, up-to-date file exists; returns its path.

    On the CPU the solvers step on one thread (bitwise batch independence, `deterministic_fft`), so
    batches are solved in `workers` processes (default `default_workers`: every core; a system's
    own batch is split so that every core gets one) and written in order: the file's values are
    the same whatever the number of workers or the batch size. The workers are
    spawned, so a script calling this needs the ``if __name__ == "__main__":`` guard."""
    spec = get_spec(name, profile)
    path = dataset_path(name, profile, root)
    if not force and path.exists():
        if is_current(path, spec):
            return path
        tqdm.write(f"{path}: invalid or generated from another spec; generating it again")
    remove_stale_partials(path)

    module = system_module(spec)
    own_batches = batch_size is None
    if batch_size is None and hasattr(module, "batch_size"):
        batch_size = int(module.batch_size(spec))
    if batch_size is None:  # ~64k grid points per batch: large enough to vectorise, small enough for the cache
        batch_size = max(1, 2**16 // int(spec.params.get("solve_resolution", spec.resolution)) ** 2)
    coords = coordinates(spec)
    shape = (len(coords["time"]), len(coords["y"]), len(coords["x"]))
    seeds = trajectory_seeds(spec)
    dev = get_device(device)
    per_trajectory = {}
    if hasattr(module, "trajectory_parameters"):
        per_trajectory = module.trajectory_parameters(spec, seeds, list(range(spec.n_trajectories)))
    coords = dict(trajectory=np.arange(spec.n_trajectories), seed=np.array(seeds, dtype=np.int64), **coords,
                  **{k: np.asarray(v) for k, v in per_trajectory.items()})
    attrs = dict(
        dataset=spec.name, profile=spec.profile, system=spec.system, equation=spec.equation,
        parameters=spec.params, solver=module.describe_solver(spec), resolution=spec.resolution, ny=shape[1],
        nx=shape[2], seed=spec.seed, n_train=spec.n_train, n_test=spec.n_test, spec_hash=spec.spec_hash(),
        pdestudy_version=__version__, torch_version=str(torch.__version__),
        # the machine, not the threads: the solvers step on one CPU thread (bitwise batch independence)
        host=f"{os.cpu_count()} CPU cores ({platform.machine()}), device {dev}",
    )
    if own_batches and workers is None and dev.type == "cpu" and spec.profile != "smoke":
        # a system whose whole file is one batch (vectorised numpy) would leave every other core idle
        batch_size = min(batch_size, math.ceil(spec.n_trajectories / (os.cpu_count() or 1)))
    batches = [range(i, min(i + batch_size, spec.n_trajectories)) for i in range(0, spec.n_trajectories, batch_size)]
    if workers is None:
        workers = default_workers(spec, len(batches)) if dev.type == "cpu" else 1
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers: a number of processes, at least 1; got {workers!r}")
    seconds = 0.0  # solver time only (summed over workers): writing the batches to disk is not the solver's cost
    # Batches go to disk as they are solved, so a dataset larger than memory can be generated; the
    # file appears at `path` only once every trajectory is in it.
    with dataset_writer(path, spec.fields, coords, attrs) as writer, \
            tqdm(total=len(batches), desc=f"{name} ({profile})", unit="batch", disable=not progress) as bar, \
            contextlib.ExitStack() as stack:
        if workers > 1:  # at most 2 batches a worker in flight: memory stays bounded, every core busy
            pool = stack.enter_context(cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")))
            submit = lambda ids: pool.submit(_solve_in_worker, name, profile, [seeds[i] for i in ids], list(ids),  # noqa: E731
                                             str(dev))
            results = _in_order(list(batches), submit, 2 * workers)
        else:
            results = ((ids, _solve(module, spec, [seeds[i] for i in ids], list(ids), dev, progress)) for ids in batches)
        for ids, (fields, solve_seconds) in results:
            seconds += solve_seconds
            for k, v in fields.items():
                if v.shape != (len(ids), *shape):
                    raise ValueError(f"pdestudy.data.{spec.system}.simulate returned field {k!r} of shape {v.shape} for "
                                     f"{spec.name}; its coordinates say ({len(ids)}, time, y, x) = ({len(ids)}, "
                                     f"{', '.join(map(str, shape))})")
            writer.write(ids.start, fields)
            bar.update(1)
        writer.attrs.update(generation_seconds=round(seconds, 3),
                            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    return path


def _in_order(todo: list, submit, depth: int):
    """(batch, result) in batch order, keeping at most `depth` batches submitted ahead."""
    inflight: list = []
    while todo or inflight:
        while todo and len(inflight) < depth:
            ids = todo.pop(0)
            inflight.append((ids, submit(ids)))
        ids, fut = inflight.pop(0)
        yield ids, fut.result()
