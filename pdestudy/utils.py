"""Small shared helpers: device choice, seeding, atomic file writes, sharing the cores, a lock per file."""
from __future__ import annotations

import contextlib
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import torch


def get_device(device: str | torch.device = "auto") -> torch.device:
    """`"auto"` picks CUDA when present, else CPU; anything else is passed to torch.device."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def synchronize(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA), so a wall-clock time measures the work itself."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


EVAL_BATCH = {"cpu": 16}  # per device type; any other device: EVAL_BATCH_DEFAULT
EVAL_BATCH_DEFAULT = 256


def eval_batch(device: str | torch.device = "cpu") -> int:
    """Samples per forward pass where nothing is trained (validation, test rollouts, decoding): the
    results do not depend on it, only the speed does.

    On a CPU, small: the activations of a few 64² frames stay in the caches. One pass over 256
    frames ran 5× slower per frame than passes over 16 for the FNO baseline and 2.5× slower for
    the autoencoder's decoder (2-core AMD EPYC, 2026-12-02), which made validation half of an FNO's
    training time. A GPU wants large batches."""
    return EVAL_BATCH.get(get_device(device).type, EVAL_BATCH_DEFAULT)


def in_batches(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, batch: int | None = None) -> torch.Tensor:
    """fn over `x` in slices of `batch` samples (default `eval_batch` of x's device), concatenated."""
    if len(x) == 0:
        return fn(x)
    return torch.cat([fn(part) for part in x.split(batch or eval_batch(x.device))])


def derive_seed(*keys: int) -> int:
    """A 63-bit seed from integer keys (e.g. dataset seed and trajectory index).

    Uses numpy's SeedSequence so that nearby keys give statistically independent streams.
    """
    return int(np.random.SeedSequence([int(k) for k in keys]).generate_state(2, np.uint64)[0] >> 1)


def generator(seed: int, device: str | torch.device = "cpu") -> torch.Generator:
    g = torch.Generator(device=get_device(device))
    g.manual_seed(int(seed))
    return g


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename it over `path` only if the block succeeds.

    A crash or kill inside the block leaves at most a `.partial` file, never a file at `path`
    that looks complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        yield tmp
        with open(tmp, "rb+") as fh:  # make the bytes durable before the rename publishes them
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def best_seconds(fn: Callable[[], Any], repeats: int = 3, device: torch.device | str = "cpu",
                 warmup: bool = True) -> float:
    """The best of `repeats` wall-clock timings of `fn()`, after one untimed warm-up call (`warmup`; off
    where the caller has just run it for its result).

    The best, not the mean: the other processes of a busy machine only ever add time."""
    dev = get_device(device)
    if warmup:
        fn()
    best = math.inf
    for _ in range(max(1, repeats)):
        synchronize(dev)
        t0 = time.perf_counter()
        fn()
        synchronize(dev)
        best = min(best, time.perf_counter() - t0)
    return best


THREADS_FILE = "PDESTUDY_THREADS_FILE"  # set by `pdestudy book --jobs N` for the kernels it runs side by side


def share_cores() -> int:
    """Follow the book runner's share of the cores: where ``$PDESTUDY_THREADS_FILE`` names a file
    holding "<cores> <kernels>", set torch's intra-op threads to cores // (kernels not waiting), and
    return it.

    Side by side, two kernels at one thread each outrun one kernel at two, but the last kernel
    running would keep its one thread after its partner ends; the runner rewrites the file whenever
    a kernel starts or ends, and the training loop calls this once an epoch. A kernel waiting for
    another's result (`exclusive`) leaves a marker beside the file for as long as it waits, so the
    one computing that result gets its cores meanwhile. Anywhere else (the variable unset, the file
    unreadable) the thread count stays as it is."""
    path = os.environ.get(THREADS_FILE)
    if path:
        try:
            cores, kernels = (int(v) for v in Path(path).read_text().split())
        except (OSError, ValueError):
            cores = kernels = 0
        if cores >= 1 and kernels >= 1:
            n = max(1, cores // max(1, kernels - _waiting_kernels(Path(path))))
            if n != torch.get_num_threads():
                torch.set_num_threads(n)
    return torch.get_num_threads()


def _waiting_kernels(threads_file: Path) -> int:
    """How many kernels are now waiting for another's result: their markers (`exclusive`), a dead
    one's being stale."""
    alive = 0
    for marker in threads_file.parent.glob(f"{threads_file.name}.waiting.*"):
        try:
            os.kill(int(marker.suffix[1:]), 0)
        except (ValueError, ProcessLookupError):
            continue
        except PermissionError:  # alive, another user's
            pass
        alive += 1
    return alive


def held_elsewhere(path: str | os.PathLike) -> bool:
    """Whether another process (or another lock object) holds the `exclusive` lock on `path` now;
    never creates the lock file."""
    from filelock import FileLock, Timeout
    if not Path(path).exists():
        return False
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return True
    lock.release()
    return False


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, waiting: str = "") -> Iterator[None]:
    """Hold an inter-process lock on `path` for the block (filelock: flock on POSIX, msvcrt on
    Windows). Two book kernels asking for the same result take turns: the second then finds the
    first's result instead of computing it again, and while it waits it gives its share of the cores
    to the others (a marker `share_cores` counts). `waiting`, if given, is printed when the lock is
    held by another process."""
    from filelock import FileLock, Timeout
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if waiting:
            print(waiting, flush=True)
        threads_file = os.environ.get(THREADS_FILE)
        marker = Path(f"{threads_file}.waiting.{os.getpid()}") if threads_file else None
        try:
            if marker is not None:
                marker.touch()
            lock.acquire()
        finally:
            if marker is not None:
                marker.unlink(missing_ok=True)
    try:
        yield
    finally:
        lock.release()
