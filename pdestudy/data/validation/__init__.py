"""Validation experiments, one module per system, shared by the tests and the data chapters.

Each function runs a small, fast experiment and returns plain numbers and arrays; the tests
assert on them, the book plots them. Each module keeps its tolerances in one `TOLERANCES` dict,
so the book's "test asserts" column and the tests cannot drift apart, and builds its summary
table with `check_rows`.

The Navier–Stokes experiments (the first system) are also available at package level, as before:
``validation.taylor_green`` is ``validation.navier_stokes.taylor_green``.
"""
from .common import check_rows, within_tolerance
from .navier_stokes import (TOLERANCES, checks, enstrophy_budget, laminar_kolmogorov, mean_vorticity, refinement,
                            taylor_green, throughput, time_convergence, within)

__all__ = ["check_rows", "within_tolerance", "TOLERANCES", "checks", "enstrophy_budget", "laminar_kolmogorov",
           "mean_vorticity", "refinement", "taylor_green", "throughput", "time_convergence", "within"]
