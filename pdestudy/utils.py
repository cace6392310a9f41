"""Small shared helpers: device choice, seeding, atomic file writes."""
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
