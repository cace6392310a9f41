"""Figures of the MHD cavity chapter: the sweep's snapshots and energies, and the validation plots."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib import cm, colors
from matplotlib.figure import Figure

from ..data.reference import GHIA_RE100_U, GHIA_RE100_V
from . import COLORS, WIDTH, _colorbar, _figure, _styled
from .fields import colour_scale, extent


def energies(ds) -> dict:
    """Kinetic ½∫|u|² and induced magnetic ½∫|B − B0 x̂|² per trajectory and stored time (trapezoid rule)."""
    x, y = ds["x"].values, ds["y"].values
    wx = np.full(len(x), x[1] - x[0])
    wx[[0, -1]] *= 0.5
    wy = np.full(len(y), y[1] - y[0])
    wy[[0, -1]] *= 0.5
    w = wy[:, None] * wx[None, :]
    B0 = ds["B0"].values[:, None, None, None]
    kinetic = 0.5 * ((ds["vx"].values ** 2 + ds["vy"].values ** 2) * w).sum(axis=(-2, -1))
    magnetic = 0.5 * (((ds["bx"].values - B0) ** 2 + ds["by"].values ** 2) * w).sum(axis=(-2, -1))
    return dict(time=ds["time"].values, kinetic=kinetic, magnetic=magnetic, hartmann=ds["hartmann"].values,
                rem=ds["magnetic_reynolds"].values)


@_styled
def energy_by_hartmann(ds) -> Figure:
    """Kinetic and induced magnetic energy over time, one line per trajectory, coloured by Ha (line style: Rem)."""
    e = energies(ds)
    norm = colors.LogNorm(vmin=e["hartmann"].min(), vmax=e["hartmann"].max())
    cmap = cm.viridis
    styles = {r: s for r, s in zip(sorted(set(e["rem"])), ("-", "--", ":", "-."))}
    fig, axes = _figure(1, 2, height=WIDTH * 0.36)
    for i in range(len(e["hartmann"])):
        c = cmap(norm(e["hartmann"][i]))
        axes[0, 0].plot(e["time"], e["kinetic"][i], color=c, ls=styles[e["rem"][i]], lw=1)
        axes[0, 1].plot(e["time"], e["magnetic"][i], color=c, ls=styles[e["rem"][i]], lw=1)
    axes[0, 0].set(xlabel="t", ylabel="kinetic energy ½∫|u|²")
    axes[0, 1].set(xlabel="t", ylabel="induced magnetic energy ½∫|B − B0 x̂|²", yscale="log")
    for r, s in styles.items():
        axes[0, 1].plot([], [], color="0.4", ls=s, label=f"Rem = {r:g}")
    axes[0, 1].legend(loc="lower right")
    sm = cm.ScalarMappable(norm=norm, cmap=cmap)
    _colorbar(fig, sm, axes.ravel().tolist(), "Ha", aspect=20)
    fig.suptitle(f"{ds.attrs.get('dataset', '')} ({ds.attrs.get('profile', '')}): energies of all trajectories")
    return fig


@_styled
def sweep_snapshots(ds, field: str, time_index: int = -1, n_show: int = 6, panel_width: float = 1.25) -> Figure:
    """One field at one stored time for `n_show` trajectories spread over the sweep (sorted by Ha), one colour scale."""
    ha, rem = ds["hartmann"].values, ds["magnetic_reynolds"].values
    order = np.argsort(ha + 1e-6 * rem)
    ids = order[np.unique(np.linspace(0, len(order) - 1, min(n_show, len(order))).round().astype(int))]
    frames = ds[field].isel(trajectory=list(ids), time=time_index).values
    scale = colour_scale(frames)
    box = extent(ds)
    width = min(WIDTH, panel_width * len(ids) + 0.9)
    fig, axes = _figure(1, len(ids), width=width, height=(width - 0.9) / len(ids) + 0.6)
    for c, (i, f) in enumerate(zip(ids, frames, strict=True)):
        ax = axes[0, c]
        im = ax.imshow(f, origin="lower", extent=box, interpolation="nearest", **scale)
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        ax.set_title(f"Ha {ha[i]:.3g}, Rem {rem[i]:g}", fontsize=7)
    _colorbar(fig, im, axes.ravel().tolist(), field, aspect=12)
    fig.suptitle(f"{field} at t = {float(ds['time'].values[time_index]):g} across the sweep")
    return fig


@_styled
def ghia_centrelines(results: Sequence[dict]) -> Figure:
    """u(y) on x = 0.5 and v(x) on y = 0.5 at B0 = 0 against the Ghia et al. (1982) tables."""
    fig, axes = _figure(1, 2, height=WIDTH * 0.4)
    for r, c in zip(results, COLORS, strict=False):
        axes[0, 0].plot(r["u_centre"], r["y"], color=c, label=f"{r['n']}²")
        axes[0, 1].plot(r["x"], r["v_centre"], color=c, label=f"{r['n']}²")
    axes[0, 0].plot(GHIA_RE100_U[:, 1], GHIA_RE100_U[:, 0], "ko", ms=3, label="Ghia et al.")
    axes[0, 1].plot(GHIA_RE100_V[:, 0], GHIA_RE100_V[:, 1], "ko", ms=3, label="Ghia et al.")
    axes[0, 0].set(xlabel="u", ylabel="y", title="u on the vertical centreline x = 0.5")
    axes[0, 1].set(xlabel="x", ylabel="v", title="v on the horizontal centreline y = 0.5")
    axes[0, 0].legend()
    return fig


@_styled
def hartmann_channel(result: dict) -> Figure:
    """Numerical vs analytic Hartmann profile, and the error against the grid spacing."""
    fig, axes = _figure(1, 2, height=WIDTH * 0.36)
    n = int(result["ns"][0])
    x, v, exact = result["profiles"][n]
    xf, _, ef = result["profiles"][int(result["ns"][-1])]
    axes[0, 0].plot(xf, ef / ef.max(), "k-", lw=1, label="analytic")
    axes[0, 0].plot(x, v / ef.max(), "o", ms=3, color=COLORS[1], label=f"{n} points")
    axes[0, 0].set(xlabel="x (plates at 0 and 1)", ylabel="v / v_max",
                   title=f"Hartmann profile, Ha = {result['hartmann']:g} (Ha′ = {result['hartmann'] / 2:g})")
    axes[0, 0].legend()
    h = 1.0 / (result["ns"] - 1)
    axes[0, 1].loglog(h, result["errors"], "o-", color=COLORS[0], label=f"max error / v_max (order {result['order']:.2f})")
    axes[0, 1].loglog(h, result["errors"][0] * (h / h[0]) ** 2, "k:", lw=1, label="h²")
    axes[0, 1].set(xlabel="h", ylabel="error", title="convergence")
    axes[0, 1].legend()
    return fig


@_styled
def energy_budget(results: Sequence[dict]) -> Figure:
    """ΔE against the integrated budget, and the residual relative to the dissipated energy, per grid."""
    fig, axes = _figure(1, 2, height=WIDTH * 0.36)
    for r, c in zip(results, COLORS, strict=False):
        t = r["times"]
        dissipated = np.concatenate([[0.0], np.cumsum(0.5 * np.diff(t) * ((r["viscous"] + r["ohmic"])[1:]
                                                                          + (r["viscous"] + r["ohmic"])[:-1]))])
        axes[0, 0].plot(t, r["energy"] - r["energy"][0], color=c, label=f"E(t) − E(0), {r['n']}²")
        axes[0, 0].plot(t, r["integral"], color=c, ls="--", lw=1, label=f"∫(lid − viscous − ohmic), {r['n']}²")
        axes[0, 1].plot(t, np.abs(r["residual"]) / dissipated[-1], color=c, label=f"{r['n']}²")
    axes[0, 0].set(xlabel="t", ylabel="energy", title=f"budget, Ha = {results[0]['hartmann']:g}, Rem = {results[0]['rem']:g}")
    axes[0, 0].legend(fontsize=7)
    axes[0, 1].set(xlabel="t", ylabel="|residual| / dissipated energy", yscale="log", title="residual")
    axes[0, 1].legend()
    return fig
