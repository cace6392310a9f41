"""Figures and tables of the MST chapters (book/mst/): autoencoder, positional encodings, rollout
and multi-scale, MST vs FNO.

They share the book's one style and helpers from `pdestudy.plots`; the loss curves and training
diagnostics of any run (`training_curves`, `training_diagnostics`), tables (`table`) and the
generic statistics figures (`time_series`, `spectra`) stay there, since every chapter uses them.
The names below were once in `pdestudy.plots` itself and still resolve there
(`pdestudy.plots.step_errors` is this module's `step_errors`).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib import ticker
from matplotlib.figure import Figure

from . import (COLORS, VORTICITY_CMAP, WIDTH, BookFigure, _as_array, _colorbar, _figure, _styled, _symmetric_limit,
               band)


# ---------------------------------------------------------------------------------------- MST: autoencoder
@_styled
def latent_size(summaries: Sequence[Mapping], times: Sequence[float], start: int | None = None,
                title: str | None = None) -> Figure:
    """The latent-size study: test reconstruction error against the size of the latent, and over time.

    summaries: one dict per autoencoder (`experiments.autoencoder_summary` plus "label" and
    "group"). Left: each group is a line through its autoencoders, error (mean ± std over test
    frames) against the latent's numbers, both axes logarithmic, each point labelled with its
    latent shape. Right: each autoencoder's error per stored time (mean ± std over test
    trajectories); a dotted line marks frame `start`, where the protocol's rollouts begin.
    """
    fig, axes = _figure(1, 2, height=3.0 + (0.3 if title else 0))
    left, right = axes[0]
    groups = list(dict.fromkeys(s["group"] for s in summaries))
    markers = ["*", "o", "s", "^", "D"]  # the first group (the standard autoencoder) as a star
    for g, group in enumerate(groups):
        rows = sorted((s for s in summaries if s["group"] == group), key=lambda s: s["latent_numbers"])
        x = np.array([s["latent_numbers"] for s in rows], dtype=float)
        y = np.array([s["error"] for s in rows])
        sd = np.array([s["error_std"] for s in rows])
        left.errorbar(x, y, yerr=[np.minimum(sd, 0.9 * y), sd], marker=markers[g % len(markers)],
                      markersize=9 if markers[g % len(markers)] == "*" else 5, capsize=3, color=COLORS[g % len(COLORS)],
                      linestyle="-" if len(rows) > 1 else "none", label=group)
        for s in rows:
            left.annotate(s["latent"], (s["latent_numbers"], s["error"]), xytext=(5, 4 - 12 * g),
                          textcoords="offset points", fontsize=7, color=COLORS[g % len(COLORS)])
    left.set_xscale("log", base=2)
    left.set_yscale("log")
    left.set(xlabel="latent numbers per frame (n × n × C)", ylabel="relative L² error (test frames)",
             title="reconstruction error vs latent size")
    left.legend()
    t = np.asarray(times, dtype=float)
    for k, s in enumerate(summaries):
        band(right, t, s["per_frame"], label=s["label"], color=COLORS[k % len(COLORS)], logy=True)
    if start is not None:
        right.axvline(t[start], color="0.4", linestyle=":", linewidth=1)
        right.annotate("rollouts start", (t[start], 0), xycoords=("data", "axes fraction"), xytext=(3, 3),
                       textcoords="offset points", fontsize=7, color="0.3")
    right.set(xlabel="t", ylabel="relative L² error", title="error per stored time (± std over trajectories)")
    right.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


@_styled
def reconstructions(true, recon, titles: Sequence[str] | None = None, length: float = 1.0, title: str | None = None,
                    label: str = "ω", panel_width: float = 1.45) -> Figure:
    """Rows truth / reconstruction / error (reconstruction − truth) for a few frames (columns): (cols, n, n) each.

    Truth and reconstruction share one symmetric colour range; the error row has its own (usually
    much smaller) one, so its colourbar says how large the error is.
    """
    true, recon = _as_array(true), _as_array(recon)
    if true.shape != recon.shape or true.ndim != 3:
        raise ValueError(f"reconstructions needs two arrays (cols, n, n) of one shape, got {true.shape} and {recon.shape}")
    err = recon - true
    cols = true.shape[0]
    width = min(WIDTH, panel_width * cols + 1.1)
    fig, axes = _figure(3, cols, width=width, height=(width - 1.1) / cols * 3 + (0.35 if title else 0.15))
    vmax, emax = _symmetric_limit(np.stack([true, recon])), _symmetric_limit(err)
    extent = (0, length, 0, length)
    images = []
    for j in range(cols):
        for i, (data, v) in enumerate(((true[j], vmax), (recon[j], vmax), (err[j], emax))):
            ax = axes[i, j]
            im = ax.imshow(data, origin="lower", extent=extent, cmap=VORTICITY_CMAP, vmin=-v, vmax=v,
                           interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            if j == 0:
                ax.set_ylabel(("truth", "reconstruction", "error")[i])
                images.append(im)
        if titles is not None:
            axes[0, j].set_title(titles[j])
    _colorbar(fig, images[0], list(axes[0]) + list(axes[1]), label, aspect=25)
    _colorbar(fig, images[2], list(axes[2]), "Δ" + label, aspect=12)
    if title:
        fig.suptitle(title)
    return fig


def autoencoder_rows(summaries: Sequence[Mapping]) -> list[dict]:
    """The latent-size table: one row per autoencoder summary (`experiments.autoencoder_summary` + "label")."""
    return [{"autoencoder": s["label"], "channels": "→".join(map(str, s["channels"])), "latent (n×n×C)": s["latent"],
             "tokens": s["tokens"], "latent numbers": s["latent_numbers"], "compression": s["compression"],
             "parameters": s["parameters"], "training frames": s["train_frames"],
             "epochs (best)": f"{s['epochs']} ({s['best_epoch'] + 1})",
             "test error": f"{s['error']:.4f} ± {s['error_std']:.4f}",
             "floor of a rollout": f"{s['floor']:.4f} ± {s['floor_std']:.4f}", "train (s)": s["train_seconds"]}
            for s in summaries]


# ---------------------------------------------------------------------------------------- MST: positional encodings
@_styled
def seed_bars(results: Mapping[str, Sequence[float]], references: Mapping[str, float] | None = None,
              ylabel: str = "nRMSE", title: str | None = None, width: float = WIDTH * 0.6) -> Figure:
    """One bar per model: the mean over seeds, ± one standard deviation over seeds; a dot per seed.

    references: horizontal lines drawn across all bars (e.g. the persistence baseline, the
    autoencoder's floor), each labelled with its value.
    """
    fig, axes = _figure(1, 1, width=width, height=2.9 + (0.3 if title else 0))
    ax = axes[0, 0]
    names = list(results)
    for i, name in enumerate(names):
        v = np.asarray(results[name], dtype=float)
        ax.bar(i, v.mean(), yerr=v.std(ddof=1) if len(v) > 1 else 0.0, width=0.6, color=COLORS[i % len(COLORS)],
               alpha=0.55, capsize=4, error_kw=dict(linewidth=1))
        dx = np.linspace(-0.13, 0.13, len(v)) if len(v) > 1 else np.zeros(1)
        ax.scatter(i + dx, v, s=14, color="k", zorder=3, label="one seed" if i == 0 else None)
    for k, (name, val) in enumerate((references or {}).items()):
        ax.axhline(val, color="0.3", linestyle=("--", ":", "-.")[k % 3], linewidth=1, label=f"{name} ({val:.3g})")
    ax.set_xticks(range(len(names)), names)
    ax.grid(False, axis="x")
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return fig


def kernel_by_displacement(kernel, displacements) -> tuple[np.ndarray, np.ndarray, float]:
    """A relative kernel G (heads, N, N) as a function of the periodic displacement Δ_ij = p_j − p_i.

    displacements: (N, N, 2) integer (Δx, Δy), as `pdestudy.models.mst.relative_displacements`.
    Returns (offsets (m,), G by displacement (heads, m, m) indexed [Δy, Δx], and the largest spread
    of G over the token pairs that share one displacement: zero for a truly relative kernel).
    """
    G = _as_array(kernel)
    d = np.rint(_as_array(displacements)).astype(int)
    offsets = np.unique(d[..., 0])
    img = np.full((G.shape[0], len(offsets), len(offsets)), np.nan)
    spread = 0.0
    for iy, dy in enumerate(offsets):
        for ix, dx in enumerate(offsets):
            mask = (d[..., 0] == dx) & (d[..., 1] == dy)
            if mask.any():
                vals = G[:, mask]
                img[:, iy, ix] = vals.mean(-1)
                spread = max(spread, float(np.ptp(vals, axis=-1).max()))
    return offsets, img, spread


@_styled
def relative_kernels(kernels: Mapping[str, object], displacements, centred: Sequence[str] = (),
                     title: str | None = None) -> Figure:
    """The learned relative kernel G_h(Δ) of each head (columns), one row per model: {name: G (heads, N, N)}.

    Each panel is the n × n torus of displacements Δ = p_j − p_i (Δ = 0 in the middle: a token's
    weight on itself). Rows named in `centred` are drawn minus their mean over Δ per head: an
    additive bias before a softmax (M3) matters only up to such a constant.
    """
    names = list(kernels)
    data = {name: kernel_by_displacement(kernels[name], displacements) for name in names}
    heads = max(img.shape[0] for _, img, _ in data.values())
    width = min(WIDTH, 0.95 * heads + 1.2)
    fig, axes = _figure(len(names), heads, width=width, height=(width - 1.2) / heads * len(names) + 0.55 + (0.3 if title else 0))
    for r, name in enumerate(names):
        offsets, img, _ = data[name]
        if name in centred:
            img = img - np.nanmean(img, axis=(1, 2), keepdims=True)
        vmax = _symmetric_limit(img[np.isfinite(img)])
        half = 0.5
        extent = (offsets[0] - half, offsets[-1] + half, offsets[0] - half, offsets[-1] + half)
        for h in range(heads):
            ax = axes[r, h]
            if h >= img.shape[0]:
                ax.set_visible(False)
                continue
            im = ax.imshow(img[h], origin="lower", extent=extent, cmap="PuOr_r", vmin=-vmax, vmax=vmax,
                           interpolation="nearest")
            ax.grid(False)
            ax.set_xticks(offsets, [str(o) for o in offsets], fontsize=6)
            ax.set_yticks(offsets, [str(o) if h == 0 else "" for o in offsets], fontsize=6)
            ax.plot(0, 0, "+", color="k", markersize=5, markeredgewidth=0.8)
            if r == 0:
                ax.set_title(f"head {h + 1}")
            if r == len(names) - 1:
                ax.set_xlabel("Δx")
        axes[r, 0].set_ylabel(f"{name}{' − mean' if name in centred else ''}\nΔy")
        _colorbar(fig, im, list(axes[r]), "G", aspect=10)
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------- MST: rollout and multi-scale
BASELINE_STYLE = dict(color="0.35", linestyle="--", linewidth=1.1)  # persistence and other trivial baselines


@_styled
def step_errors(curves: Mapping[str, object], baselines: Sequence[str] = ("persistence",), logy: bool = True,
                ylabel: str = "relative L² error", title: str | None = None, width: float = WIDTH * 0.62) -> Figure:
    """Error of each predicted frame against the step k after the known frame: {label: errors}.

    errors: (samples, horizon), drawn as mean ± one standard deviation over samples (test
    trajectories, or trajectories × start frames), or (horizon,), a single line. Curves named in
    `baselines` are drawn grey and dashed, without a band.
    """
    fig, axes = _figure(1, 1, width=width, height=2.9 + (0.3 if title else 0))
    ax = axes[0, 0]
    k = 0
    for label, values in curves.items():
        v = _as_array(values)
        steps = np.arange(1, v.shape[-1] + 1)
        if label in baselines:
            ax.plot(steps, v.mean(0) if v.ndim == 2 else v, label=label, **BASELINE_STYLE)
            continue
        color = COLORS[k % len(COLORS)]
        k += 1
        if v.ndim == 2 and v.shape[0] > 1:
            band(ax, steps, v, label=label, color=color, logy=logy)
        else:
            ax.plot(steps, v.reshape(-1, v.shape[-1]).mean(0), label=label, color=color)
    if logy:
        ax.set_yscale("log")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set(xlabel="step k after the known frame", ylabel=ylabel)
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return fig


@_styled
def chain_depth_bars(depths: Mapping[str, Sequence[int]], title: str | None = None) -> Figure:
    """Model calls on the path from the known frame (0) to every frame, one row per combination of Δt.

    depths: {name: depth of frames 0 … horizon} (`pdestudy.models.mst.chain_depths`). Each row has
    its own y range (so the pattern of short chains stays visible) and labels its longest chain.
    """
    names = list(depths)
    fig, axes = _figure(len(names), 1, height=0.85 * len(names) + 0.5 + (0.3 if title else 0), sharex=True)
    for i, name in enumerate(names):
        ax = axes[i, 0]
        d = np.asarray(depths[name])
        k = np.arange(len(d))
        color = COLORS[i % len(COLORS)]
        ax.bar(k[1:], d[1:], width=0.8, color=color, alpha=0.75, linewidth=0)
        ax.set_ylim(0, d.max() * 1.3 + 0.5)
        ax.yaxis.set_major_locator(ticker.MaxNLocator(3, integer=True))
        ax.grid(False, axis="x")
        ax.set_ylabel(name, rotation=0, labelpad=14, va="center")
        j = int(np.argmax(d))
        ax.annotate(f"longest {d[j]} (frame {j})", (j, d[j]), xytext=(4, 2), textcoords="offset points", fontsize=7,
                    ha="left" if j < 0.7 * len(d) else "right", va="bottom")
    axes[-1, 0].set_xlabel("frame k after the known frame")
    axes[-1, 0].xaxis.set_major_locator(ticker.MultipleLocator(8))
    fig.supylabel("model calls", fontsize=9)
    if title:
        fig.suptitle(title)
    return fig


@_styled
def error_vs_depth(errors: Mapping[str, Sequence[float]], depths: Mapping[str, Sequence[int]],
                   title: str | None = None, width: float = WIDTH * 0.55) -> Figure:
    """Mean error of each predicted frame against its chain depth (model calls on its path), one colour per set.

    errors: {name: per-frame error (horizon,)}; depths: {name: depths of frames 0 … horizon}.
    If error grows with every model call, the points of all sets fall on one rising band.
    """
    fig, axes = _figure(1, 1, width=width, height=2.9 + (0.3 if title else 0))
    ax = axes[0, 0]
    for i, name in enumerate(errors):
        e = _as_array(errors[name])
        d = np.asarray(depths[name])[1 : len(e) + 1]
        jitter = (i - (len(errors) - 1) / 2) * 0.12  # sets side by side at each depth
        ax.scatter(d + jitter, e, s=10, color=COLORS[i % len(COLORS)], alpha=0.8, label=name)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    ax.set(xlabel="chain depth (model calls on the frame's path)", ylabel="relative L² error of the frame")
    ax.legend(fontsize=7)
    if title:
        ax.set_title(title)
    return fig


@_styled
def frames_per_second(rows: Sequence[Mapping], title: str | None = None, width: float = WIDTH * 0.62) -> Figure:
    """Horizontal bars of frames per second (log x), one per method: rows with "method" and "frames_per_s"."""
    fig, axes = _figure(1, 1, width=width, height=0.45 * len(rows) + 0.9 + (0.3 if title else 0))
    ax = axes[0, 0]
    names = [r["method"] for r in rows]
    values = [r["frames_per_s"] for r in rows]
    y = np.arange(len(rows))[::-1]
    ax.barh(y, values, color=[COLORS[i % len(COLORS)] for i in range(len(rows))], alpha=0.75, height=0.6)
    for yi, v in zip(y, values):
        ax.annotate(f"{v:,.0f}", (v, yi), xytext=(3, 0), textcoords="offset points", va="center", fontsize=7)
    ax.set_yticks(y, names)
    ax.set_xscale("log")
    ax.set_xlim(min(values) / 4, max(values) * 6)  # every bar visibly longer than the axis start
    ax.grid(False, axis="y")
    ax.set_xlabel("frames per second (higher is faster)")
    if title:
        ax.set_title(title)
    return fig


# ---------------------------------------------------------------------------------------- MST vs FNO
@_styled
def error_vs_training_time(panels: Mapping[str, Sequence[Mapping]], width: float = WIDTH) -> Figure:
    """Per dataset, each model's nRMSE (± std over test rollouts) against its training time (log x):
    rows of `experiments.mst.equal_cost_rows`; persistence (0 s) as a horizontal line. Two panels per row."""
    ncols = min(2, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = _figure(nrows, ncols, width=width, height=3.0 * nrows)
    for ax in axes.flat[len(panels):]:
        ax.set_axis_off()
    for ax, (title, rows) in zip(axes.flat, panels.items()):
        for i, r in enumerate(r for r in rows if r["training (s)"] > 0):
            ax.errorbar(r["training (s)"], r["nRMSE"], yerr=r["± std"], fmt="os"[r["model"].startswith("FNO")],
                        color=COLORS[i % len(COLORS)], capsize=3, label=r["model"])
        for r in rows:
            if r["training (s)"] == 0:
                ax.axhline(r["nRMSE"], color="0.4", linestyle="--", linewidth=1, label=f"{r['model']} ({r['nRMSE']:.3g})")
        ax.set_xscale("log")
        ax.set_xlabel("training time (s, this machine)")
        ax.set_ylabel("nRMSE")
        ax.set_title(title)
        ax.legend(fontsize=7)
    return fig


def _frames_array(x) -> np.ndarray:
    # torch tensors (whose `.values` is a method, not data), xarray objects and arrays alike
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return _as_array(x)


@_styled
def prediction_grid(columns: Mapping[str, np.ndarray], steps: Sequence[int], times: Sequence[float] | None = None,
                    length: float = 1.0, title: str | None = None) -> Figure:
    """Predicted vs true fields side by side: columns {label: frames (horizon, n, n)}, the first the truth;
    rows the 0-based predicted frames `steps`. One colour range for the whole grid, the truth's: a
    prediction that overshoots it saturates, and its largest |ω| is printed under its label."""
    labels = list(columns)
    if not labels:
        raise ValueError("prediction_grid needs at least one column")
    steps = list(steps)
    ncols, nrows = len(labels), len(steps)
    panel = min(1.25, (WIDTH - 0.9) / ncols)
    fig, axes = _figure(nrows, ncols, width=panel * ncols + 0.9,
                        height=panel * nrows + 0.45 + (0.3 if title else 0))
    vmax = _symmetric_limit(_frames_array(columns[labels[0]])[steps])
    for j, label in enumerate(labels):
        frames = _frames_array(columns[label])[steps]
        for i in range(nrows):
            ax = axes[i, j]
            im = ax.imshow(frames[i], origin="lower", extent=(0, length, 0, length), cmap=VORTICITY_CMAP, vmin=-vmax,
                           vmax=vmax, interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            if j == 0:
                ax.set_ylabel(f"t = {times[i]:g}" if times is not None else f"step {steps[i] + 1}")
        finite = np.isfinite(frames)
        peak = float(np.abs(frames[finite]).max()) if finite.any() else float("nan")
        overshoot = not finite.all() or peak > 1.05 * vmax
        axes[0, j].set_title(f"{label}\nmax |ω| {peak:.3g}" if overshoot else label, fontsize=8)
    _colorbar(fig, im, axes.ravel().tolist(), "ω", aspect=25)
    if title:
        fig.suptitle(title)
    return fig


@_styled
def spectrum_comparison(panels: Mapping[str, Mapping[str, tuple]], reference: str = "truth",
                        title: str | None = None, floor: float = 1e-12) -> Figure:
    """Log-log E(k) per panel {panel: {label: (k, E)}}; the `reference` curve in black, the others in colour
    (one colour per label across all panels), and below each panel the ratio E / E_reference (1 = the
    right energy at that scale). Shells where the reference falls below `floor` × its maximum (beyond
    the solver's 2/3-rule cutoff: round-off) are left out."""
    names = list(panels)
    if not names:
        raise ValueError("spectrum_comparison needs at least one panel")
    order = list(dict.fromkeys(label for curves in panels.values() for label in curves if label != reference))
    color = {label: COLORS[i % len(COLORS)] for i, label in enumerate(order)}
    fig = BookFigure(figsize=(min(WIDTH, 3.7 * len(names)), 3.9 + (0.3 if title else 0)), layout="constrained")
    axes = fig.subplots(2, len(names), squeeze=False, sharex="col", gridspec_kw=dict(height_ratios=[2.2, 1]))
    for j, name in enumerate(names):
        top, bottom = axes[0, j], axes[1, j]
        curves = panels[name]
        k_ref, E_ref = (np.asarray(a, dtype=float) for a in curves[reference]) if reference in curves else (None, None)
        keep = (E_ref > floor * np.nanmax(E_ref)) if E_ref is not None else None
        for label, (k, E) in curves.items():
            k, E = np.asarray(k, dtype=float), np.asarray(E, dtype=float)
            E = np.where(np.isfinite(E) & (E > 0), E, np.nan)
            if keep is not None and len(k) == len(k_ref):
                k, E, ref = k[keep], E[keep], E_ref[keep]
            else:
                ref = None
            if label == reference:
                top.loglog(k, E, color="k", linewidth=2.0, label=label, zorder=5)
                continue
            top.loglog(k, E, color=color[label], label=label)
            if ref is not None:
                bottom.loglog(k, E / ref, color=color[label])
        bottom.axhline(1.0, color="k", linewidth=1.0)
        bottom.set_xlabel("k (shell, 2π/L units)")
        top.set_title(name)
        top.legend(fontsize=7)
    axes[0, 0].set_ylabel("E(k)")
    axes[1, 0].set_ylabel(f"E / E_{reference}")
    if title:
        fig.suptitle(title)
    return fig
