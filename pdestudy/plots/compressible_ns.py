"""Figures of the compressible Navier–Stokes chapter: Sod profiles, vortex convergence, conserved totals."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from ..data.io import parameters
from ..data.validation.compressible_ns import exact_riemann
from . import COLORS, WIDTH, _figure, _positive, _styled, time_series


@_styled
def sod_profiles(results: Sequence[dict]) -> Figure:
    """Density, velocity and pressure of Sod runs (one line per run) against the exact solution (black)."""
    fig, axes = _figure(1, 3, height=2.6)
    labels = {"density": "ρ", "velocity": "u", "pressure": "p"}
    r0 = results[0]
    fine = np.linspace(0.0, 1.0, 2001)  # the exact solution drawn on a fine grid
    exact = exact_riemann(*r0["states"], r0["gamma"], fine, r0["t_final"], x0=0.5)
    for ax, q in zip(axes[0], labels, strict=True):
        ax.plot(fine, exact[q], "k-", linewidth=1.0, label="exact")
        for k, r in enumerate(results):
            ax.plot(r["x"], r["numerical"][q], ".", markersize=2.5, color=COLORS[k % len(COLORS)],
                    label=f"{r['limiter']}, {r['n']} cells (L1 {r['l1'][q]:.1e})")
        ax.set(xlabel="x", title=labels[q])
        ax.legend(fontsize=6.5)
    fig.suptitle(f"Sod shock tube at t = {results[0]['t_final']:g} (γ = {results[0]['gamma']:g})")
    return fig


@_styled
def vortex_convergence(results: Sequence[dict]) -> Figure:
    """Density errors of the isentropic vortex vs grid spacing (L1 and L∞) with a slope-2 guide."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.6, height=3.0)
    ax = axes[0, 0]
    for k, r in enumerate(results):
        c = COLORS[k % len(COLORS)]
        h = 10.0 / np.asarray(r["resolutions"], dtype=float)
        ax.loglog(h, r["l1"], "o-", color=c, label=f"{r['limiter']}: L1, order {r['order_l1']:.2f}")
        ax.loglog(h, r["linf"], "s--", color=c, label=f"{r['limiter']}: L∞, order {r['order_linf']:.2f}")
    r0 = results[0]
    h = 10.0 / np.asarray(r0["resolutions"], dtype=float)
    ax.loglog(h, r0["l1"][0] / 3 * (h / h[0]) ** 2, "k:", linewidth=0.9, label="slope 2")
    ax.set(xlabel="cell size h", ylabel="density error at t = 1", title="advected isentropic vortex")
    ax.legend(fontsize=7)
    return fig


@_styled
def conservation_drift(runs: Mapping[str, dict]) -> Figure:
    """|Q(t) − Q(0)| / Σ|q(0)| of mass, momentum and energy over time, per run (log y)."""
    names = list(runs)
    fig, axes = _figure(1, len(names), height=2.6, sharey=True)
    quantities = ("mass", "x-momentum", "y-momentum", "energy")
    for ax, name in zip(axes[0], names, strict=True):
        r = runs[name]
        for i, q in enumerate(quantities):
            ax.semilogy(r["times"], _positive(r["drift"][..., i].max(0)), "o-", markersize=3, color=COLORS[i], label=q)
        ax.axhline(np.finfo(float).eps, color="k", linewidth=0.8, linestyle=":")
        ax.set(xlabel="t", title=name)
    axes[0, 0].set_ylabel("relative drift of the total")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("Totals over a run (dotted: machine ε); gaps are exact zeros")
    return fig


def flow_statistics(ds) -> dict:
    """Per trajectory and frame: totals of mass and energy, kinetic energy, rms divergence, max Mach number."""
    rho, u, v, p = (ds[f].values.astype(np.float64) for f in ("density", "vx", "vy", "pressure"))
    gamma = float(parameters(ds)["gamma"])
    n = ds.sizes["x"]
    kinetic = 0.5 * rho * (u * u + v * v)
    energy = p / (gamma - 1) + kinetic
    h = 1.0 / n
    div = (np.roll(u, -1, -1) - np.roll(u, 1, -1) + np.roll(v, -1, -2) - np.roll(v, 1, -2)) / (2 * h)
    mach = np.sqrt((u * u + v * v) * rho / (gamma * p))
    return dict(time=ds["time"].values, mass=rho.mean(axis=(-2, -1)), energy=energy.mean(axis=(-2, -1)),
                kinetic=kinetic.mean(axis=(-2, -1)), divergence=np.sqrt((div**2).mean(axis=(-2, -1))),
                mach=mach.max(axis=(-2, -1)))


def statistics_figure(stats: Mapping[str, dict]) -> Figure:
    """Mean ± std over trajectories: stored mass and energy per area, kinetic energy, rms ∇·v, max Mach."""
    panels = {
        "mass ⟨ρ⟩": {name: (s["time"], s["mass"]) for name, s in stats.items()},
        "energy ⟨E⟩": {name: (s["time"], s["energy"]) for name, s in stats.items()},
        "kinetic ⟨½ρ|v|²⟩": {name: (s["time"], s["kinetic"]) for name, s in stats.items()},
        "rms ∇·v": {name: (s["time"], s["divergence"]) for name, s in stats.items()},
        "max local Mach": {name: (s["time"], s["mach"]) for name, s in stats.items()},
    }
    return time_series(panels, logy=("kinetic ⟨½ρ|v|²⟩", "rms ∇·v"), ncols=3,
                       title="Mean ± one standard deviation across trajectories (from the stored float32 frames)")
