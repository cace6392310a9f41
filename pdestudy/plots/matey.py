"""Figures of the MATEY chapters: error against cost, and which patches adaptive tokenization refines."""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from . import COLORS, WIDTH, _figure, _styled
from .mst import BASELINE_STYLE

ATTENTION_COLORS = {"avit": COLORS[1], "svit": COLORS[2], "vit": COLORS[0]}  # the paper's red / green / blue
MARKERS = {"uniform": "o", "mix": "s", "mul": "^"}


def _kind(row: Mapping) -> str:
    return row.get("scheme") or "uniform"


@_styled
def error_vs_cost(points: Sequence[Mapping], costs: Mapping[str, str], persistence: float | None = None,
                  ylabel: str = "test NRMSE", title: str | None = None) -> Figure:
    """One panel per cost measure: test NRMSE (± the standard error of its mean over the test windows)
    of each model against its cost.

    points: dicts with the `costs` keys, "nrmse", "nrmse_se", "attention", "label" and optionally
    "scheme" (None = uniform tokens); costs: {key: axis label}. Colour = attention kind, marker =
    tokenization; the dashed line is persistence.
    """
    keys = list(costs)
    fig, axes = _figure(1, len(keys), width=WIDTH, height=2.9 + (0.3 if title else 0))
    for ax, key in zip(axes[0], keys):
        for p in points:
            c = ATTENTION_COLORS.get(p["attention"], "0.3")
            ax.errorbar(p[key], p["nrmse"], yerr=p.get("nrmse_se", 0), fmt=MARKERS[_kind(p)], color=c, markersize=5,
                        capsize=2, linewidth=0.8)
            ax.annotate(p["label"], (p[key], p["nrmse"]), fontsize=6, xytext=(3, 3), textcoords="offset points")
        if persistence is not None:
            ax.axhline(persistence, **BASELINE_STYLE)
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())  # decade labels only: the minor ones collide
        ax.set(xlabel=costs[key])
    axes[0, 0].set_ylabel(ylabel)
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=c, marker="o", linestyle="none") for c in ATTENTION_COLORS.values()]
    labels = list(ATTENTION_COLORS)
    handles += [Line2D([], [], color="0.3", marker=m, linestyle="none") for m in MARKERS.values()]
    labels += ["uniform patches", "adaptive, Mix", "adaptive, Mul"]
    if persistence is not None:
        handles.append(Line2D([], [], **BASELINE_STYLE))
        labels.append("persistence")
    fig.legend(handles, labels, fontsize=7, loc="outside right upper")
    if title:
        fig.suptitle(title)
    return fig


@_styled
def refinement_maps(frames, refined, patch_size: int, times: Sequence[float], label: str = "θ",
                    title: str | None = None) -> Figure:
    """A field over several windows with the refined coarse patches outlined: frames (n, H, W),
    refined (n, ny, nx) bool."""
    frames, refined = np.asarray(frames), np.asarray(refined)
    n = len(frames)
    cols = min(n, 3)
    rows = -(-n // cols)
    H, W = frames.shape[-2:]
    fig, axes = _figure(rows, cols, width=WIDTH, height=rows * WIDTH / cols * H / W + 0.5)
    for k, ax in enumerate(axes.ravel()):
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
        if k >= n:
            ax.set_visible(False)
            continue
        f = frames[k]
        im = ax.imshow(f, origin="lower", cmap="RdBu_r", interpolation="nearest",
                       vmin=np.percentile(f, 1), vmax=np.percentile(f, 99))
        for (i, j) in zip(*np.nonzero(refined[k])):
            ax.add_patch(Rectangle((j * patch_size - 0.5, i * patch_size - 0.5), patch_size, patch_size, fill=False,
                                   edgecolor="k", linewidth=0.9))
        ax.set_title(f"t = {times[k]:g} s, {int(refined[k].sum())}/{refined[k].size} refined", fontsize=8)
    fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, pad=0.01, aspect=25).set_label(label, rotation=0)
    if title:
        fig.suptitle(title)
    return fig


@_styled
def learning_curves(histories: Mapping[str, tuple[Sequence[Mapping], int]], persistence: float | None = None,
                    title: str | None = None) -> Figure:
    """Validation NRMSE per epoch and against cumulative training time, per model.

    Labels "<attention> <variant>" get the attention's colour and one line style per variant."""
    variants = list(dict.fromkeys(label.split(" ", 1)[-1] for label in histories))
    styles = ["-", "--", ":", "-."]
    fig, axes = _figure(1, 2, width=WIDTH, height=2.9 + (0.3 if title else 0))
    for k, (label, (hist, best)) in enumerate(histories.items()):
        c = ATTENTION_COLORS.get(label.split(" ", 1)[0], COLORS[k % len(COLORS)])
        ls = styles[variants.index(label.split(" ", 1)[-1]) % len(styles)]
        ep = np.array([h["epoch"] + 1 for h in hist])
        axes[0, 0].plot(ep, [h["val_loss"] for h in hist], linestyle=ls, marker=".", color=c, label=label)
        axes[0, 1].plot(np.cumsum([h["seconds"] for h in hist]), [h["val_loss"] for h in hist], linestyle=ls, marker=".",
                        color=c)
    if persistence is not None:
        for ax in axes[0]:
            ax.axhline(persistence, **BASELINE_STYLE, label="persistence (test)")
    axes[0, 0].set(xlabel="epoch", ylabel="validation NRMSE", yscale="log")
    axes[0, 1].set(xlabel="training time (s)", yscale="log")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=7, loc="outside right upper")
    if title:
        fig.suptitle(title)
    return fig


@_styled
def time_vs_tokens(rows: Sequence[Mapping], title: str | None = None) -> Figure:
    """Seconds per training step against tokens processed, as fractions of the uniform fine model's;
    the diagonal is time proportional to tokens."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.6, height=3.0 + (0.3 if title else 0))
    ax = axes[0, 0]
    for scheme in dict.fromkeys(r["scheme"] for r in rows):
        pts = sorted((r["tokens_fraction"], r["time_fraction"]) for r in rows if r["scheme"] == scheme)
        ax.plot(*zip(*pts), marker=MARKERS.get(scheme, "o"), label=scheme)
    lo = min(r["tokens_fraction"] for r in rows) * 0.8
    ax.plot([lo, 1], [lo, 1], **BASELINE_STYLE, label="time ∝ tokens")
    ax.set(xscale="log", yscale="log", xlabel="tokens / uniform fine tokens", ylabel="time per step / uniform fine's")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return fig


ARM_STYLES = {"PREPOST": dict(color=COLORS[2], linestyle="-", marker="o"),
              "ALL": dict(color=COLORS[0], linestyle="-", marker="s"),
              "PREPOST INIT": dict(color=COLORS[2], linestyle="--", marker="o", markerfacecolor="none"),
              "ALL INIT": dict(color=COLORS[0], linestyle="--", marker="s", markerfacecolor="none")}


@_styled
def per_dataset_scores(rows: Sequence[Mapping], models: Sequence[str], title: str | None = None) -> Figure:
    """Grouped bars: test NRMSE per dataset (rows: {"dataset": …, model: NRMSE, …, "persistence": …});
    persistence is a black tick on each group."""
    fig, axes = _figure(1, 1, width=WIDTH, height=3.0 + (0.3 if title else 0))
    ax = axes[0, 0]
    n, w = len(models), 0.8 / max(len(models), 1)
    x = np.arange(len(rows))
    for j, m in enumerate(models):
        c = ATTENTION_COLORS.get(m.split(" ", 1)[0], COLORS[j % len(COLORS)])
        hatch = "//" if "single" in m else None
        ax.bar(x - 0.4 + w * (j + 0.5), [r[m] for r in rows], w, color=c, hatch=hatch, edgecolor="white", label=m)
    if rows and "persistence" in rows[0]:
        ax.scatter(x, [r["persistence"] for r in rows], marker="_", s=400, color="k", zorder=3, label="persistence")
    ax.set_xticks(x, [r["dataset"].replace("_", " ") for r in rows], rotation=20, ha="right", fontsize=7)
    ax.set(ylabel="test NRMSE", yscale="log")
    for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
        axis(ticker.FormatStrFormatter("%.2g"))  # plain numbers on the log axis
    fig.legend(*ax.get_legend_handles_labels(), fontsize=7, loc="outside right upper")
    if title:
        ax.set_title(title)  # over the axes: a figure title would run into the legend
    return fig


@_styled
def finetuning_curves(curves: Mapping[str, Mapping[str, Sequence[tuple[int, float, float]]]],
                      persistence: Mapping[str, float] | None = None, title: str | None = None) -> Figure:
    """Test NRMSE (± standard error) against the number of fine-tuning trajectories, one panel per
    target, one line per arm (solid: pretrained, dashed: random init)."""
    targets = list(curves)
    fig, axes = _figure(1, len(targets), width=WIDTH, height=3.0 + (0.3 if title else 0))
    for ax, g in zip(axes[0], targets):
        for arm, pts in curves[g].items():
            k, v, se = (np.array([p[i] for p in pts]) for i in range(3))
            ax.errorbar(k, v, yerr=se, capsize=2, linewidth=1.0, markersize=4, label=arm, **ARM_STYLES.get(arm, {}))
        if persistence and g in persistence:
            ax.axhline(persistence[g], **BASELINE_STYLE, label="persistence")
        ax.set_xscale("log")
        ax.set_xticks(k, [str(int(v)) for v in k])
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set(xlabel="fine-tuning trajectories", title=g.replace("_", " "))
    axes[0, 0].set_ylabel("test NRMSE")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), fontsize=7, loc="outside right upper")
    if title:
        fig.suptitle(title)
    return fig
