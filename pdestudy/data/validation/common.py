"""What every system's validation table shares: a tolerance is a bound or a target ± spread."""
from __future__ import annotations

from typing import Mapping


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
