"""Figures of the box-flow chapter (`book/data/incompressible_ns.ipynb`): cavity vs Ghia, convergence, conservation."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..data.reference import GHIA_RE100_EXTREMA, GHIA_RE100_U, GHIA_RE100_V
from . import COLORS, _figure, _styled


@_styled
def cavity_centrelines(runs: Sequence[dict]) -> Figure:
    """u(y) on x = ½ and v(x) on y = ½ of steady cavity runs (one line per grid) against Ghia's table."""
    fig, axes = _figure(1, 2, height=3.2)
    au, av = axes[0]
    for r, c in zip(runs, COLORS):
        au.plot(r["u_line"], r["y"], color=c, label=f"{r['n']}²")
        av.plot(r["x"], r["v_line"], color=c, label=f"{r['n']}²")
    au.plot(GHIA_RE100_U[:, 1], GHIA_RE100_U[:, 0], "ko", ms=3.5, mfc="none", label="Ghia et al. 1982")
    av.plot(GHIA_RE100_V[:, 0], GHIA_RE100_V[:, 1], "ko", ms=3.5, mfc="none", label="Ghia et al. 1982")
    au.set_xlabel("u on x = ½"), au.set_ylabel("y"), au.set_title("vertical centreline")
    av.set_xlabel("x"), av.set_ylabel("v on y = ½"), av.set_title("horizontal centreline")
    au.legend(loc="lower right")
    fig.suptitle(f"lid-driven cavity, Re = {runs[0]['reynolds']:g}, steady state")
    return fig


@_styled
def cavity_convergence(conv: dict) -> Figure:
    """Each centreline extremum against h² (h = 1/n): lines through the grids, Ghia's value, our Richardson limit."""
    fig, axes = _figure(1, 3, height=2.6)
    h2 = (1.0 / conv["resolutions"]) ** 2
    for ax, key in zip(axes[0], ("u_min", "v_max", "v_min")):
        e = conv["extrema"][key]
        ax.plot(h2, e, "o-", color=COLORS[0], label="this solver")
        ax.plot([0], [conv["richardson"][key]], "s", color=COLORS[2], label=f"Richardson (p = {conv['order'][key]:.2f})")
        ax.axhline(GHIA_RE100_EXTREMA[key], color="k", ls="--", lw=0.9, label="Ghia (table extremum)")
        ax.set_xlabel("h²"), ax.set_title(key.replace("_", " "))
        ax.set_xlim(left=-0.05 * h2.max())
    axes[0, 0].legend(loc="best")
    fig.suptitle("cavity extrema vs grid spacing: second-order convergence, and where Ghia's samples sit")
    return fig


@_styled
def scalar_conservation(runs: Mapping[str, dict]) -> Figure:
    """Relative drift of the total scalar, and the scalar's min/max relative to their initial values."""
    fig, axes = _figure(1, 2, height=2.8)
    a, b = axes[0]
    for (label, r), c in zip(runs.items(), COLORS):
        drift = np.abs(r["drift"]).max(axis=0)
        a.semilogy(r["times"], np.maximum(drift, 1e-18), color=c, label=label)
        span = r["maximum"][:, :1] - r["minimum"][:, :1]
        b.plot(r["times"], ((r["minimum"] - r["minimum"][:, :1]) / span).T, color=c, lw=1)
        b.plot(r["times"], ((r["maximum"] - r["maximum"][:, :1]) / span).T, color=c, lw=1, ls="--")
    a.set_xlabel("t"), a.set_ylabel("max |Σs(t)/Σs(0) − 1|"), a.set_title("total scalar (round-off: 1e-16 … 1e-14)")
    a.legend()
    b.set_xlabel("t"), b.set_ylabel("(extremum − initial) / initial range")
    b.set_title("min (solid) rises, max (dashed) falls: no new extrema")
    return fig


@_styled
def speed_statistics(ds) -> Figure:
    """rms speed and kinetic energy over time (mean ± std over trajectories), and the particles' total and range."""
    vx, vy, s = (ds[k].values.astype(np.float64) for k in ("vx", "vy", "particles"))
    t = ds["time"].values
    speed = np.sqrt((vx**2 + vy**2).mean(axis=(2, 3)))
    total = s.mean(axis=(2, 3))
    fig, axes = _figure(1, 3, height=2.6)
    for ax, values, label in ((axes[0, 0], speed, "rms speed"), (axes[0, 1], total / total[:, :1] - 1, "Σs / Σs(0) − 1"),
                              (axes[0, 2], s.max(axis=(2, 3)) - s.min(axis=(2, 3)), "max s − min s")):
        m, sd = values.mean(0), values.std(0)
        ax.plot(t, m, color=COLORS[0])
        ax.fill_between(t, m - sd, m + sd, color=COLORS[0], alpha=0.25, lw=0)
        ax.set_xlabel("t"), ax.set_title(label)
    axes[0, 1].ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    fig.suptitle(f"{ds.attrs.get('dataset', '')} ({ds.attrs.get('profile', '')}): mean ± std over "
                 f"{ds.sizes['trajectory']} trajectories (stored float32 fields)")
    return fig
