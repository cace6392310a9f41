"""What every system's validation table shares: a tolerance is a bound or a target ± spread."""
from __future__ import annotations

import time
from typing import Any, Callable, Mapping

import torch


def within_tolerance(tol, value: float) -> bool:
    """`tol` is a number (pass when value < tol) or (target, spread) (pass when |value − target| ≤ spread)."""
    if isinstance(tol, tuple):
        target, spread = tol
        return abs(value - target) <= spread
    return value < tol


def describe_tolerance(tol) -> str:
    return f"{tol[0]:g} ± {tol[1]:g}" if isinstance(tol, tuple) else f"< {tol:g}"


def check_rows(measured: Mapping[str, tuple[str, float]], tolerances: Mapping[str, object]) -> list[dict]:
    """The summary table of a chapter: {key: (label, measured value)} against `tolerances[key]`."""
    rows = []
    for key, (label, value) in measured.items():
        tol = tolerances[key]
        rows.append({"check": label, "measured": float(value), "test asserts": describe_tolerance(tol),
                     "passes": within_tolerance(tol, float(value))})
    return rows


def time_steps(step: Callable[[Any], Any], state: Any, steps: int, device=None) -> float:
    """Wall-clock seconds of `steps` calls ``state = step(state)``, after one untimed warm-up call.

    Every system's throughput benchmark times its solver this way: inside the single-threaded
    context that generation uses (`deterministic_fft`), with CUDA synchronised before each clock
    read, so the figure describes what generation does. `step` should include the per-step
    stability check, which generation runs too.
    """
    from ..solver_support import deterministic_fft  # one torch thread on CPU, as in generation

    device = torch.device(device or "cpu")
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda *_: None)
    with deterministic_fft(device):
        state = step(state)  # warm-up: allocations, FFT plans
        sync(device)
        start = time.perf_counter()
        for _ in range(steps):
            state = step(state)
        sync(device)
        return time.perf_counter() - start


def rate_row(cells: int, steps: int, seconds: float, **columns) -> dict:
    """One benchmark row: the given columns (resolution, batch, …), then steps and cell updates per second.

    `cells` counts every cell a step updates: batch × grid points.
    """
    return {**columns, "steps_per_s": steps / seconds, "cell_updates_per_s": cells * steps / seconds}
