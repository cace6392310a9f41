"""Figures of the shallow-water chapter: statistics over time and the solver's validation."""
from __future__ import annotations

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from . import COLORS, WIDTH, _figure, _positive, _styled, time_series
from .fields import extent


def statistics(ds, g: float = 1.0) -> dict:
    """Per trajectory and frame: total mass ∫h, total energy ∫(½|hu|²/h + ½gh²), max depth.

    Integrals are sums × the cell area from the file's coordinates. Returns {"time", "mass",
    "energy", "max_h"} with arrays (trajectory, T).
    """
    x0, x1, y0, y1 = extent(ds)
    area = (x1 - x0) * (y1 - y0) / (ds.sizes["x"] * ds.sizes["y"])
    out = {"mass": [], "energy": [], "max_h": []}
    for i in range(ds.sizes["trajectory"]):
        h, hu, hv = (ds[f].isel(trajectory=i).values.astype(np.float64) for f in ("h", "hu", "hv"))
        out["mass"].append(h.sum(axis=(-2, -1)) * area)
        out["energy"].append((0.5 * (hu**2 + hv**2) / h + 0.5 * g * h**2).sum(axis=(-2, -1)) * area)
        out["max_h"].append(h.max(axis=(-2, -1)))
    return {"time": ds["time"].values, **{k: np.stack(v) for k, v in out.items()}}


def statistics_figure(stats: dict, name: str = "shallow_water_dam_break") -> Figure:
    """Mass change, energy change and max depth over time (mean ± std across trajectories)."""
    t = stats["time"]
    m, e = stats["mass"], stats["energy"]
    return time_series({"mass: M(t)/M(0) − 1 (float32 file)": {"mass": (t, m / m[:, :1] - 1)},
                        "energy: E(t)/E(0) − 1": {"energy": (t, e / e[:, :1] - 1)},
                        "max depth": {"max h": (t, stats["max_h"])}}, ncols=3,
                       title=f"{name}: mean ± one standard deviation across trajectories")


@_styled
def mass_boundary(result: dict) -> Figure:
    """Relative mass change and the largest departure from rest at the boundary, over time."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.62, height=2.8)
    ax = axes[0, 0]
    t = result["times"]
    ax.semilogy(t, _positive(result["rel_change"]), "o-", markersize=3, label="|M(t)/M(0) − 1|")
    ax.semilogy(t, _positive(result["boundary_disturbance"]), "s-", markersize=3, color=COLORS[1],
                label="max departure from rest at the boundary")
    if np.isfinite(result["arrival"]):
        ax.axvline(result["arrival"], color="0.4", linestyle=":", linewidth=1, label=f"waves arrive, t = {result['arrival']:.2f}")
    ax.set_xlim(t[0], t[-1])  # keep the early times, where both curves are exactly 0 (not drawable on a log axis)
    ax.set(xlabel="t", title="radial dam break: mass and the outflow boundary (gaps: exactly 0)")
    ax.legend(fontsize=7)
    return fig


@_styled
def radial_profile(result: dict, run: dict) -> Figure:
    """h against the radius for every cell at the last frame (left) and the last frame itself (right)."""
    fig, axes = _figure(1, 2, height=2.8)
    a, b = axes[0]
    a.scatter(result["r"], result["h_last"], s=2, alpha=0.5)
    a.set(xlabel="r", ylabel="h", title=f"h(r) of every cell at t = {result['time']:g} "
          f"(spread within dx: ≤ {result['radial_spread']:.2g})")
    x, y = run["x"], run["y"]
    dx = x[1] - x[0]
    im = b.imshow(run["h"][-1], origin="lower", extent=(x[0] - dx / 2, x[-1] + dx / 2, y[0] - dx / 2, y[-1] + dx / 2),
                  cmap="viridis", interpolation="nearest")
    b.set(title=f"h at t = {result['time']:g}, r0 = {run['radius']:g}, {run['n']}²", xlabel="x", ylabel="y")
    b.grid(False)
    fig.colorbar(im, ax=b, shrink=0.85)
    return fig


@_styled
def stoker(conv: dict, show=(0, -1)) -> Figure:
    """Depth and velocity profiles against Stoker's solution at two resolutions, and L1 error vs dx."""
    fig, axes = _figure(1, 3, height=2.7)
    a, b, c = axes[0]
    runs = [conv["runs"][i] for i in show]
    fine = conv["runs"][-1]
    xe = np.linspace(fine["x"][0], fine["x"][-1], 4001)
    from ..data.shallow_water import stoker as exact
    he, ue = exact(xe, 1.0)
    for k, r in enumerate(runs):
        a.plot(r["x"], r["h"], color=COLORS[k], label=f"{r['nx']} cells")
        b.plot(r["x"], r["u"], color=COLORS[k])
    a.plot(xe, he, "k--", linewidth=0.9, label="Stoker (exact)")
    b.plot(xe, ue, "k--", linewidth=0.9)
    a.set(xlabel="x", ylabel="h", title="1-D dam break at t = 1: depth")
    b.set(xlabel="x", ylabel="u", title="velocity")
    a.legend(fontsize=7)
    dxs, err = conv["dxs"], conv["errors"]
    c.loglog(dxs, err, "o-", label=f"observed order {conv['order']:.2f}")
    c.loglog(dxs, err[0] / 2 * dxs / dxs[0], "--", color="0.4", linewidth=0.9, label="slope 1")
    c.xaxis.set_minor_formatter(ticker.NullFormatter())  # minor labels of a short log axis overlap
    c.set(xlabel="dx", ylabel="L1 error of h", title=f"convergence ({conv['limiter']} limiter)")
    c.legend(fontsize=7)
    return fig
