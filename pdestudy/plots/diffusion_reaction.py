"""Figures of the diffusion–reaction chapter: statistics over time and the solver's validation."""
from __future__ import annotations

from typing import Mapping

import numpy as np
from matplotlib.figure import Figure

from . import COLORS, WIDTH, _figure, _positive, _styled, time_series


def statistics(ds) -> dict:
    """Per trajectory and frame: the spatial means of u and v and the energy E = ½⟨u² + v²⟩.

    Returns {"time": (T,), "mean_u", "mean_v", "energy": (trajectory, T)}.
    """
    out = {"mean_u": [], "mean_v": [], "energy": []}
    for i in range(ds.sizes["trajectory"]):  # one trajectory at a time bounds memory
        u = ds["u"].isel(trajectory=i).values.astype(np.float64)
        v = ds["v"].isel(trajectory=i).values.astype(np.float64)
        out["mean_u"].append(u.mean(axis=(-2, -1)))
        out["mean_v"].append(v.mean(axis=(-2, -1)))
        out["energy"].append(0.5 * (u**2 + v**2).mean(axis=(-2, -1)))
    return {"time": ds["time"].values, **{k: np.stack(v) for k, v in out.items()}}


def statistics_figure(stats: dict, name: str = "diffusion_reaction") -> Figure:
    """Mean u and v (one panel) and the energy ½⟨u² + v²⟩ (log scale), mean ± std over trajectories."""
    t = stats["time"]
    return time_series({"spatial means": {"⟨u⟩": (t, stats["mean_u"]), "⟨v⟩": (t, stats["mean_v"])},
                        "E = ½⟨u² + v²⟩": {"E": (t, stats["energy"])}},
                       logy=["E = ½⟨u² + v²⟩"], ncols=2,
                       title=f"{name}: mean ± one standard deviation across trajectories")


@_styled
def cosine_mode(results: Mapping[str, dict]) -> Figure:
    """Per cosine mode: measured amplitude against exp(D λ_h t) (discrete) and exp(D λ t) (continuous),
    and the relative error against the discrete decay."""
    fig, axes = _figure(1, 2, height=2.7)
    a, e = axes[0]
    for k, (label, r) in enumerate(results.items()):
        c = COLORS[k % len(COLORS)]
        a.semilogy(r["times"], r["amplitude"], color=c, label=f"{label}: measured")
        a.semilogy(r["times"], r["exact_discrete"], "k--", linewidth=0.9, label="exp(D λ_h t)" if k == 0 else None)
        a.semilogy(r["times"], r["exact_continuous"], ":", color=c, linewidth=1.2,
                   label="exp(D λ t), continuous" if k == 0 else None)
        err = np.abs(np.asarray(r["amplitude"]) / np.asarray(r["exact_discrete"]) - 1)
        e.semilogy(r["times"], _positive(err), color=c, label=f"{label} (D λ_h dt = {r['D'] * r['eigenvalue_discrete'] * r['dt']:.2g})")
    a.set(xlabel="t", ylabel="amplitude", title=f"Neumann cosine modes, pure diffusion, {results[next(iter(results))]['n']}²")
    e.set(xlabel="t", ylabel="|amplitude / exp(D λ_h t) − 1|", title="error vs the discrete decay (RK4's error)")
    a.legend(fontsize=7), e.legend(fontsize=7)
    return fig


@_styled
def reaction_ode(result: dict) -> Figure:
    """A uniform state: the solver's u, v against solve_ivp, and the absolute error."""
    fig, axes = _figure(1, 2, height=2.6)
    a, e = axes[0]
    t = result["times"]
    a.plot(t, result["u"], color=COLORS[0], label="u (solver)")
    a.plot(t, result["v"], color=COLORS[1], label="v (solver)")
    a.plot(t, result["u_ref"], "k--", linewidth=0.9, label="solve_ivp (DOP853, rtol 1e-12)")
    a.plot(t, result["v_ref"], "k--", linewidth=0.9)
    a.set(xlabel="t", title=f"uniform state from (u, v) = {tuple(result['state'])}")
    e.semilogy(t, _positive(result["error"]), color=COLORS[2])
    e.set(xlabel="t", ylabel="max(|Δu|, |Δv|)", title=f"error, RK4 dt = {result['dt']:g}")
    a.legend(fontsize=7)
    return fig


@_styled
def mean_drift(result: dict) -> Figure:
    """|⟨w⟩(t) − ⟨w⟩(0)| of u and v under pure diffusion (log y)."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.55, height=2.6)
    ax = axes[0, 0]
    ax.semilogy(result["times"], _positive(result["drift_u"]), label="u")
    ax.semilogy(result["times"], _positive(result["drift_v"]), label="v")
    ax.set(xlabel="t", ylabel="|Δ mean| (max over trajectories)", title="no reaction: drift of the spatial mean")
    ax.legend()
    return fig
