"""Shared solver support: what every solver of `pdestudy.data` uses, whatever its equations.

* `deterministic_fft` – one torch thread on CPU while a solver steps, so a trajectory is bitwise
  independent of the batch it is solved in (the Navier–Stokes, diffusion–reaction, shallow-water
  and compressible solvers step inside it; every system's throughput benchmark times in it).
* `SolverInstability` – the error a solver raises when a step leaves its stable regime (non-finite
  values, a CFL or positivity limit), naming the dataset, the trajectory and the time.

They were first written for the Navier–Stokes solver and are still importable from
`pdestudy.data.navier_stokes`.
"""
from __future__ import annotations

import contextlib

import torch


@contextlib.contextmanager
def deterministic_fft(device: torch.device):
    """Run CPU FFTs on one thread while solving.

    With several threads, MKL's batched inverse real FFT rounds differently from a single
    transform, so trajectory i would depend (at 1e-16) on its batch – and chaotic flows amplify
    that to O(1) within ~100 time units. One thread makes every trajectory bitwise independent of
    the batch it is solved in; it costs little, because these FFTs are small and memory-bound.
    """
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class SolverInstability(RuntimeError):
    """A time step produced non-finite values or exceeded the CFL limit."""
