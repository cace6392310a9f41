"""Figures of the performance page (book/beyond/performance.ipynb): what a rollout costs, and error against cost.

`rollout_costs` draws the time per rollout of every method (solvers and surrogates); `accuracy_cost`
the figure a speed-up needs beside it: the solver's accuracy–cost curve (every grid and step
searched) with the surrogates as points on the same axes, so the solver as accurate as a surrogate
can be read off.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from . import COLORS, WIDTH, _figure, _styled

SURROGATE_MARKERS = ("*", "P", "X", "D", "v", "^", "s")
SOLVER_COLOR, SURROGATE_COLOR = "0.45", COLORS[0]
SURROGATE_COLORS = (COLORS[1], COLORS[4], COLORS[3], COLORS[6], COLORS[5], COLORS[2])  # apart from viridis (the grids)


@_styled
def rollout_costs(rows: Sequence[Mapping], title: str | None = None, key: str = "per rollout (ms)") -> Figure:
    """Horizontal bars of wall-clock per rollout (log x, lower is faster), one per method: rows of
    `experiments.performance.speed_rows` ("method", "kind", `key`, "note"). Solvers grey, surrogates
    blue; a recipe timed for a few steps and extrapolated is hatched."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.8, height=0.36 * len(rows) + 0.9 + (0.3 if title else 0))
    ax = axes[0, 0]
    y = np.arange(len(rows))[::-1]
    values = [float(r[key]) for r in rows]
    for yi, r, v in zip(y, rows, values):
        extrapolated = str(r.get("note", "")).startswith("extrapolated")
        ax.barh(yi, v, height=0.6, alpha=0.8, color=SOLVER_COLOR if r["kind"] == "solver" else SURROGATE_COLOR,
                hatch="///" if extrapolated else None, edgecolor="white" if extrapolated else None)
        ax.annotate(f"{v:.3g}" + (" (extrapolated)" if extrapolated else ""), (v, yi), xytext=(3, 0),
                    textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(y, [r["method"] for r in rows])
    ax.set_xscale("log")
    finite = [v for v in values if v > 0 and math.isfinite(v)]
    if finite:
        ax.set_xlim(min(finite) / 3, max(finite) * 30)  # room for the labels
    ax.grid(False, axis="y")
    ax.set_xlabel(f"wall-clock {key.replace(' (ms)', '')} (ms, log; lower is faster)")
    ax.legend([Line2D([], [], color=SOLVER_COLOR, linewidth=6), Line2D([], [], color=SURROGATE_COLOR, linewidth=6)],
              ["solver", "surrogate"], loc="lower right", fontsize=7)
    if title:
        ax.set_title(title)
    return fig


@_styled
def accuracy_cost(panels: Mapping[str, Mapping], title: str | None = None) -> Figure:
    """One panel per system: error against wall-clock per rollout, both logarithmic.

    Each panel is a mapping with
      * "points": rows of `experiments.performance.SolverPoint.row()` (grid, dt, error, per rollout (ms),
        stable, data recipe): one line per grid through its steps, coarse to fine from dark to light,
        the data recipe ringed; unstable configurations have no error to draw and are counted in the legend;
      * "surrogates": {name: (ms per rollout, error)}, large markers named in the legend;
      * "matches" (optional): {name: (ms, error)} of the cheapest solver as accurate as each surrogate,
        joined to it by a dotted line;
      * "extrapolated" (optional): {label: ms} of recipes timed and extrapolated, without an error: a
        vertical dashed line;
      * "ylabel" (optional).
    """
    fig, axes = _figure(1, len(panels), width=WIDTH, height=3.5 + (0.3 if title else 0))
    for ax, (name, panel) in zip(axes[0], panels.items()):
        points = [p for p in panel["points"] if p["stable"] and math.isfinite(p["error"])]
        grids = sorted({p["grid"] for p in panel["points"]}, key=_grid_cells)  # coarse to fine
        cmap = matplotlib.colormaps["viridis"]
        handles, labels = [], []
        for i, g in enumerate(grids):
            ps = sorted((p for p in points if p["grid"] == g), key=lambda p: p["per rollout (ms)"])
            if not ps:
                continue
            color = cmap(0.85 * i / max(1, len(grids) - 1))
            (line,) = ax.plot([p["per rollout (ms)"] for p in ps], [max(p["error"], 1e-12) for p in ps], "o-",
                              color=color, markersize=3.5, linewidth=0.9)
            handles.append(line)
            labels.append(f"solver {g}")
        for p in points:
            if p["data recipe"]:
                ax.plot(p["per rollout (ms)"], max(p["error"], 1e-12), "o", markersize=10, markerfacecolor="none",
                        markeredgecolor="k", markeredgewidth=1.0)
        handles.append(Line2D([], [], marker="o", linestyle="none", markerfacecolor="none", markeredgecolor="k",
                              markersize=8))
        labels.append("data recipe")
        for j, (label, (ms, err)) in enumerate(panel.get("surrogates", {}).items()):
            (h,) = ax.plot(ms, err, SURROGATE_MARKERS[j % len(SURROGATE_MARKERS)], markersize=8, markeredgecolor="k",
                           markerfacecolor=SURROGATE_COLORS[j % len(SURROGATE_COLORS)], markeredgewidth=0.6)
            handles.append(h)
            labels.append(label)
            if label in panel.get("matches", {}):
                m_ms, m_err = panel["matches"][label]
                ax.plot([ms, m_ms], [err, m_err], ":", color="0.35", linewidth=1.0)
        for label, ms in panel.get("extrapolated", {}).items():
            ax.axvline(ms, color="0.45", linestyle="--", linewidth=1.0)
            ax.annotate(label, (ms, 0.5), xycoords=("data", "axes fraction"), rotation=90, fontsize=6.5,
                        xytext=(-3, 0), textcoords="offset points", ha="right", va="center", color="0.3")
        unstable = sum(1 for p in panel["points"] if not p["stable"])
        if unstable:
            handles.append(Line2D([], [], linestyle="none"))
            labels.append(f"{unstable} unstable (not drawn)")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set(xlabel="wall-clock per rollout (ms, log)", ylabel=panel.get("ylabel", "error"), title=name)
        ax.legend(handles, labels, fontsize=6.5, loc="center left", bbox_to_anchor=(1.01, 0.5))
    if title:
        fig.suptitle(title)
    return fig


def _grid_cells(label: str) -> int:
    """Cells of a grid label: '32²' → 1024, '64×32' → 2048."""
    if label.endswith("²"):
        return int(label[:-1]) ** 2
    a, b = label.split("×")
    return int(a) * int(b)
