"""Figures of the colliding-thermals chapter: θ' and w, conservation, rest, symmetry, refinement, cost.

The snapshots and the animation are the generic ones of `pdestudy.plots.fields`, fed with θ − θ0
(`with_theta_prime`): the full θ is 300 K ± 20 K, and its colour map would hide the sign of the
bubbles. Invariants that hold exactly are plotted on a symlog axis, so an exact zero is visible as
zero rather than dropped from a log axis.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from . import COLORS, WIDTH, _figure, _styled, band

ROUND_OFF = 1e-16  # the symlog axes are linear below this: round-off and exact zeros sit there


def with_theta_prime(ds, theta0: float | None = None):
    """The dataset with a `theta_prime` field θ − θ0 (K) added (θ0 from the file's parameters)."""
    import json

    if theta0 is None:
        theta0 = float(json.loads(ds.attrs["parameters"])["theta0"]) if "parameters" in ds.attrs else 300.0
    out = ds.assign(theta_prime=ds["theta"] - theta0)
    out["theta_prime"].attrs["long_name"] = f"θ − {theta0:g} K"
    return out


def _symlog(ax, ylabel: str):
    ax.set_yscale("symlog", linthresh=ROUND_OFF)
    ax.axhspan(-ROUND_OFF, ROUND_OFF, color="0.9", zorder=0)
    ax.set_ylabel(ylabel)


@_styled
def invariants(cons: dict, rest: dict, sym: dict, tolerances: Mapping[str, float] | None = None) -> Figure:
    """Three panels over time: conserved totals, the rest state's speed, the centred case's asymmetry.

    `cons`, `rest`, `sym` are results of `validation.thermals.conservation`, `rest_state`, `symmetry`;
    the tolerances (if given) are drawn as dashed lines.
    """
    tol = tolerances or {}
    fig, axes = _figure(1, 3, height=2.5)
    ax = axes[0, 0]
    for k, (label, series) in enumerate([("Σρ (mass)", cons["mass"]), ("Σρθ", cons["rho_theta"])]):
        ax.plot(cons["times"], series / series[0] - 1, color=COLORS[k], label=label)
    if "mass" in tol:
        ax.axhline(tol["mass"], color="0.4", ls="--", lw=0.8, label="test bound")
        ax.axhline(-tol["mass"], color="0.4", ls="--", lw=0.8)
    _symlog(ax, "relative change")
    ax.set(title=f"conserved totals ({cons['nx']}×{cons['nx'] // 2})", xlabel="t (s)")
    ax.legend()

    ax = axes[0, 1]
    ax.plot(rest["times"], rest["max_speed"], color=COLORS[0], label="max |u|, |w| (m/s)")
    ax.plot(rest["times"], rest["max_rho_prime"], color=COLORS[1], ls=":", label="max |ρ'| (kg/m³)")
    if "rest_velocity" in tol:
        ax.axhline(tol["rest_velocity"], color="0.4", ls="--", lw=0.8, label="test bound")
    _symlog(ax, "")
    ax.set(title="rest state (no bubbles)", xlabel="t (s)")
    ax.legend()

    ax = axes[0, 2]
    for k, (name, series) in enumerate(sym["asymmetry"].items()):
        ax.plot(sym["times"], series, color=COLORS[k], label=name)
    if "symmetry" in tol:
        ax.axhline(tol["symmetry"], color="0.4", ls="--", lw=0.8, label="test bound")
    _symlog(ax, "max |f − mirror f| / max |f|")
    ax.set(title="centred collision: mirror asymmetry", xlabel="t (s)")
    ax.legend(ncol=2, loc="upper right", fontsize=7)
    fig.suptitle("Invariants that the scheme keeps exactly (grey band: |value| < 1e-16, linear)")
    return fig


@_styled
def refinement(result: dict, guide_order: float = 2.0) -> Figure:
    """Relative L² error against the finer reference vs cell size (log-log), with an order guide."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.55, height=2.9)
    ax = axes[0, 0]
    dx = result["dx"]
    labels = {"rho_theta": "(ρθ)' (θ')", "w_momentum": "ρw (w)"}
    for k, (name, e) in enumerate(result["errors"].items()):
        orders = ", ".join(f"{o:.2f}" for o in result["orders"][name])
        ax.loglog(dx, e, "o-", color=COLORS[k], label=f"{labels.get(name, name)}: orders {orders}")
    e0 = max(e[-1] for e in result["errors"].values())
    ax.loglog(dx, e0 * (dx / dx[-1]) ** guide_order, "k--", lw=0.8, label=f"slope {guide_order:g}")
    ax.set_xticks(dx, [f"{d:g}" for d in dx])
    ax.xaxis.set_minor_locator(ticker.NullLocator())  # only the grids' cell sizes as x labels
    ax.set(xlabel="cell size Δx = Δz (m)", ylabel="relative L² error",
           title=f"refinement at t = {result['t_final']:g} s vs {result['reference']}×{result['reference'] // 2}")
    ax.legend()
    return fig


@_styled
def statistics(stats: dict, title: str | None = None) -> Figure:
    """Relative change of total mass and energy, kinetic energy and max |w| over time (mean ± std across
    trajectories), from `validation.thermals.statistics` of a stored dataset."""
    t = stats["times"]
    fig, axes = _figure(1, 4, height=2.3)
    panels = [("mass: relative change", stats["mass"] / stats["mass"][:, :1] - 1),
              ("total energy: relative change", stats["energy"] / stats["energy"][:, :1] - 1),
              ("kinetic energy (J/m)", stats["kinetic"]), ("max |w| (m/s)", stats["max_w"])]
    for ax, (name, values) in zip(axes[0], panels):
        band(ax, t, values, color=COLORS[0])
        ax.set(title=name, xlabel="t (s)")
        ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 4))
    fig.suptitle(title or "Statistics over time: mean ± one standard deviation across trajectories (from the stored float32 fields)")
    return fig


@_styled
def throughput(rows: Sequence[dict]) -> Figure:
    """Cell updates per second vs number of cells, one line per batch size (log-log)."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.55, height=2.8)
    ax = axes[0, 0]
    cells = lambda r: int(np.prod([int(s) for s in r["grid"].split("×")]))
    for k, b in enumerate(sorted({r["batch"] for r in rows})):
        rs = sorted((r for r in rows if r["batch"] == b), key=cells)
        ax.loglog([cells(r) for r in rs], [r["cell_updates_per_s"] for r in rs], "o-", color=COLORS[k], label=f"batch {b}")
    grids = sorted({r["grid"] for r in rows}, key=lambda g: cells({"grid": g}))
    ax.set_xticks([cells({"grid": g}) for g in grids], grids)
    ax.xaxis.set_minor_locator(ticker.NullLocator())
    ax.set(xlabel="grid (nx × nz)", ylabel="cell updates / s", title=f"solver throughput ({rows[0]['device'] if rows else ''})")
    ax.legend()
    return fig


def spec_rows(name: str, profile: str) -> list[dict]:
    """The registry's description of a thermals dataset in `profile` (what will be generated)."""
    from ..data import get_spec
    from ..data.thermals import time_step

    s = get_spec(name, profile)
    p = s.params
    nx, nz = s.resolution, p["ny"]
    dt, steps = time_step(p["xlen"] / nx, p["zlen"] / nz, p["cfl"], p["max_speed"], p["frame_interval"])
    km = lambda r: f"{r[0] / 1e3:g}–{r[1] / 1e3:g} km"
    return [{
        "dataset": name, "grid (nx × nz)": f"{nx}×{nz}", "cell (m)": p["xlen"] / nx, "train / test": f"{s.n_train} / {s.n_test}",
        "stored frames": f"t = 0, {p['frame_interval']:g}, …, {p['t_final']:g} s", "dt (s)": dt,
        "steps / trajectory": steps * round(p["t_final"] / p["frame_interval"]), "hv_beta": p["hv_beta"],
        "|A| (K)": f"{p['amplitude_range'][0]:g}–{p['amplitude_range'][1]:g}", "x centres": km(p["x_range"]),
        "warm z": km(p["warm_z_range"]), "cold z": km(p["cold_z_range"]), "radii": km(p["radius_range"]),
    }]


def generation_vs_benchmark(ds, bench: Sequence[dict]) -> list[dict]:
    """The cell-update rate a file's recorded `generation_seconds` implies, next to the benchmark here
    at the same grid (the benchmark row with the largest rate, i.e. the best batch measured)."""
    import json

    from ..data.thermals import time_step

    p = json.loads(ds.attrs["parameters"])
    nx, nz = ds.sizes["x"], ds.sizes["y"]
    _, steps = time_step(p["xlen"] / nx, p["zlen"] / nz, p["cfl"], p["max_speed"], p["frame_interval"])
    work = ds.sizes["trajectory"] * steps * (ds.sizes["time"] - 1) * nx * nz
    seconds = float(ds.attrs["generation_seconds"])
    same = [r for r in bench if r["grid"] == f"{nx}×{nz}"]
    best = max(same, key=lambda r: r["cell_updates_per_s"]) if same else None
    return [{
        "dataset": ds.attrs["dataset"], "cell updates": float(work), "generation (s)": seconds,
        "generation rate (cells·steps/s)": work / seconds,
        "benchmark rate here": best["cell_updates_per_s"] if best else float("nan"),
        "benchmark batch": best["batch"] if best else None,
        "generation / benchmark": work / seconds / best["cell_updates_per_s"] if best else float("nan"),
    }]
