"""The book's figures and tables: one style, and the functions the notebooks call.

Every figure of the book comes from this package, so they all share one look (`style`): the same
fonts, the same widths, and one colormap for vorticity ("RdBu_r", always with limits symmetric
about zero, so white means ω = 0 and red/blue mean counter-clockwise/clockwise rotation).

Figures are plain `matplotlib.figure.Figure` objects, not registered with pyplot: a notebook
shows one exactly once, when a cell returns it (IPython renders it as PNG), nothing leaks
between cells, and nothing here calls `plt.show()`. Tables are pandas DataFrames (pandas comes
with xarray), which Jupyter and Jupyter Book render as HTML.

Sections: style · fields (snapshot grids, animations) · statistics (time series, histograms,
spectra) · solver validation · training (loss curves and diagnostics of any run) · throughput ·
tables.

Figures of one subject live in a module of their own beside this one, on the same style: `mst`
(the MST chapters), `fields` (any dataset's fields), and one per system of the MATEY data chapters
(`thermals`, `shallow_water`, ...). The MST figures were once defined here, so their names still
resolve here: ``plots.step_errors`` is ``plots.mst.step_errors`` (see `__getattr__`).
"""
from __future__ import annotations

import contextlib
import functools
import io
import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import matplotlib
import numpy as np
from matplotlib import animation, ticker
from matplotlib.figure import Figure

from .. import metrics
from ..data.io import parameters

# ---------------------------------------------------------------------------------------- style
VORTICITY_CMAP = "RdBu_r"
WIDTH = 7.5  # inches: the width of the book's text column; every figure is this wide or narrower
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#7f7f7f"]

STYLE = {
    "figure.dpi": 110,  # IPython renders a figure at its own dpi: this is the book's resolution
    "savefig.dpi": "figure",  # save at the figure's own dpi (animations use a lower one)
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "savefig.bbox": "tight",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=COLORS),
    "lines.linewidth": 1.4,
    "legend.frameon": False,
    "image.cmap": VORTICITY_CMAP,
    "animation.embed_limit": 20.0,  # MB; our animations stay far below (see `animate`)
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """The book's matplotlib settings, inside a `with` block only."""
    with matplotlib.rc_context(STYLE):
        yield


def use_style() -> None:
    """The book's matplotlib settings for the rest of the session (for ad-hoc plots in a notebook)."""
    matplotlib.rcParams.update(STYLE)


def _styled(fn):
    # Artists read most rc settings when they are created, so the whole drawing happens in-style.
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with style():
            return fn(*args, **kwargs)
    return wrapper


class BookFigure(Figure):
    """A Figure that renders itself as PNG in IPython (a cell that returns it shows it once).

    We do not rely on pyplot's inline backend: these figures are never registered with pyplot,
    so the backend's hook that would display them does not know them.
    """

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        with style():
            self.savefig(buf, format="png")
        return buf.getvalue()


def _figure(nrows: int = 1, ncols: int = 1, width: float = WIDTH, height: float | None = None, **kw):
    """A Figure (not managed by pyplot) with a grid of axes, `height` defaulting to panels ~4:3."""
    height = height if height is not None else 0.72 * width / ncols * nrows
    fig = BookFigure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def figure(nrows: int = 1, ncols: int = 1, width: float = WIDTH, height: float | None = None):
    """(Figure, axes[nrows, ncols]) in the book's style, for a one-off plot in a notebook."""
    with style():
        return _figure(nrows, ncols, width, height)


def save(fig: Figure, path: str | os.PathLike) -> Path:
    """Write a figure (PNG/PDF/SVG by suffix), creating the folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with style():
        fig.savefig(path)
    return path


def _colorbar(fig, mappable, axes, label: str, aspect: float):
    cb = fig.colorbar(mappable, ax=axes, shrink=0.9, pad=0.01, aspect=aspect)
    cb.set_label(label, rotation=0, labelpad=6)  # "ω" on its side reads like a "3"
    return cb


def _symmetric_limit(values) -> float:
    # max |ω|: a symmetric colour range keeps white at zero; guard against an all-zero field.
    v = float(np.nanmax(np.abs(values))) if np.size(values) else 0.0
    return v if v > 0 else 1.0


def _as_array(x) -> np.ndarray:
    """numpy, xarray or torch (whose `.values` is a method, not xarray's array) → float64 numpy."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(getattr(x, "values", x), dtype=np.float64)


# ---------------------------------------------------------------------------------------- fields
@_styled
def field_grid(frames, times: Sequence[float] | None = None, row_labels: Sequence[str] | None = None,
               title: str | None = None, length: float = 1.0, limits: str = "row", label: str = "ω",
               panel_width: float = 1.45) -> Figure:
    """A grid of 2-D fields: frames (rows, cols, n, n), e.g. rows = trajectories, cols = times.

    limits: "row" – one symmetric colour range per row (a colourbar per row), for rows of very
    different amplitude (different datasets); "all" – one range for the whole grid.
    Arrays are indexed [y, x] and drawn with y upwards on [0, length)².
    """
    frames = _as_array(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4:
        raise ValueError(f"field_grid needs frames of shape (rows, cols, n, n), got {frames.shape}")
    if limits not in ("row", "all"):
        raise ValueError(f"limits must be 'row' or 'all', got {limits!r}")
    rows, cols = frames.shape[:2]
    width = min(WIDTH, panel_width * cols + 0.9)
    fig, axes = _figure(rows, cols, width=width, height=(width - 0.9) / cols * rows + (0.35 if title else 0.15))
    vmax_all = _symmetric_limit(frames)
    extent = (0, length, 0, length)
    for i in range(rows):
        vmax = vmax_all if limits == "all" else _symmetric_limit(frames[i])
        for j in range(cols):
            ax = axes[i, j]
            im = ax.imshow(frames[i, j], origin="lower", extent=extent, cmap=VORTICITY_CMAP, vmin=-vmax, vmax=vmax,
                           interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            if i == 0 and times is not None:
                ax.set_title(f"t = {times[j]:g}")
            if j == 0 and row_labels is not None:
                ax.set_ylabel(row_labels[i])
        if limits == "row":
            _colorbar(fig, im, list(axes[i]), label, aspect=12)
    if limits == "all":
        _colorbar(fig, im, axes.ravel().tolist(), label, aspect=25)
    if title:
        fig.suptitle(title)
    return fig


def snapshot_frames(ds, trajectories: Sequence[int], n_times: int = 5, field: str = "vorticity"):
    """(frames (len(trajectories), n_times, n, n), times) at evenly spaced stored frames, first and last included."""
    n_t = ds.sizes["time"]
    idx = np.unique(np.linspace(0, n_t - 1, min(n_times, n_t)).round().astype(int))
    frames = ds[field].isel(trajectory=list(trajectories), time=idx).values
    return frames, ds["time"].values[idx]


def dataset_snapshots(ds, n_show: int = 4, n_times: int = 5, split: str = "test", field: str = "vorticity") -> Figure:
    """Snapshot grid of one dataset: its first `n_show` trajectories of `split` (rows) at `n_times` times."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    n_train, n = int(ds.attrs["n_train"]), ds.sizes["trajectory"]
    ids = range(n_train, n) if split == "test" else range(0, n_train)
    ids = list(ids)[:n_show]
    frames, times = snapshot_frames(ds, ids, n_times, field)
    length = _length(ds)
    return field_grid(frames, times, row_labels=[f"{split} #{i}" for i in ids], length=length, limits="all",
                      title=f"{ds.attrs['dataset']} ({ds.attrs['profile']}): {field}, {ds.sizes['y']}² stored")


@_styled
def animate(frames, times: Sequence[float], title: str = "", length: float = 1.0, max_frames: int = 30,
            size: float = 3.6, dpi: int = 80, interval: int = 150, label: str = "ω") -> animation.FuncAnimation:
    """An animation of one field over time: frames (T, n, n) or side by side (P, T, n, n).

    At most `max_frames` frames (evenly subsampled, first and last kept) at a modest dpi: each frame
    is embedded as a PNG in the page, so this bounds the HTML (about 20–40 kB a frame).
    """
    frames = _as_array(frames)
    if frames.ndim == 3:
        frames = frames[None]
    if frames.ndim != 4 or frames.shape[1] != len(times):
        raise ValueError(f"animate needs frames (T, n, n) or (P, T, n, n) with T = len(times); got {frames.shape} "
                         f"and {len(times)} times")
    if max_frames < 1:
        raise ValueError(f"max_frames must be ≥ 1, got {max_frames}")
    idx = np.unique(np.linspace(0, len(times) - 1, min(max_frames, len(times))).round().astype(int))
    frames, times = frames[:, idx], np.asarray(times)[idx]
    panels = frames.shape[0]
    fig = BookFigure(figsize=(size * panels + 0.6, size), dpi=dpi, layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    vmax = _symmetric_limit(frames)
    images = []
    for p, ax in enumerate(axes):
        images.append(ax.imshow(frames[p, 0], origin="lower", extent=(0, length, 0, length), cmap=VORTICITY_CMAP,
                                vmin=-vmax, vmax=vmax, interpolation="nearest"))
        ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
    _colorbar(fig, images[-1], list(axes), label, aspect=20)
    head = fig.suptitle("")

    def draw(k):
        for p, im in enumerate(images):
            im.set_data(frames[p, k])
        head.set_text(f"{title} t = {times[k]:g}".strip())
        return images + [head]

    draw(0)
    return animation.FuncAnimation(fig, draw, frames=len(times), interval=interval, blit=False)


# matplotlib's player draws its buttons with Font Awesome 4 icons from a CDN; offline (the book's
# promise) they would be blank, so each icon becomes a plain glyph and the stylesheet link goes
_PLAYER_GLYPHS = {"fa fa-minus": "−", "fa fa-fast-backward": "◀◀", "fa fa-step-backward": "|◀",
                  "fa fa-play fa-flip-horizontal": "◀", "fa fa-pause": "❚❚", "fa fa-play": "▶",
                  "fa fa-step-forward": "▶|", "fa fa-fast-forward": "▶▶", "fa fa-plus": "+"}


def animation_html(anim: animation.FuncAnimation):
    """The animation as self-contained JavaScript + PNG frames (no ffmpeg, no network), for a notebook cell."""
    import re

    from IPython.display import HTML

    with style():
        html = anim.to_jshtml(default_mode="loop")
    html = re.sub(r'<link rel="stylesheet"\s+href="https?://[^"]*"\s*/?>', "", html)
    for icon, glyph in _PLAYER_GLYPHS.items():
        html = html.replace(f'<i class="{icon}"></i>', glyph)
    return HTML(html)


def dataset_animation(ds, trajectory: int | None = None, max_frames: int = 25, field: str = "vorticity"):
    """Animate one trajectory of a dataset (default: its first test trajectory); returns the HTML."""
    i = int(ds.attrs["n_train"]) if trajectory is None else int(trajectory)
    split = "test" if i >= int(ds.attrs["n_train"]) else "train"
    anim = animate(ds[field].isel(trajectory=i).values, ds["time"].values, length=_length(ds),
                   max_frames=max_frames, title=f"{ds.attrs['dataset']}, {split} trajectory {i}:")
    return animation_html(anim)


# ---------------------------------------------------------------------------------------- statistics
def _length(ds) -> float:
    # Domain side from the file itself (1 for the FNO torus, 2π for Kolmogorov flow).
    return float(parameters(ds).get("length", 1.0))


def flow_statistics(ds, field: str = "vorticity") -> dict:
    """Per trajectory and frame: spatial mean of ω, enstrophy Z = ½⟨ω²⟩, kinetic energy E = ½⟨|u|²⟩.

    Returns {"time": (T,), "mean"/"enstrophy"/"energy": (trajectory, T)}. The energy is the sum of
    the shell spectrum, so it uses the domain length from the file's parameters (2π for Kolmogorov).
    """
    length = _length(ds)
    w = ds[field]
    mean, enstrophy, energy = [], [], []
    for i in range(ds.sizes["trajectory"]):  # one trajectory at a time bounds memory (paper: 1200 of them)
        wi = w.isel(trajectory=i).values.astype(np.float64)
        mean.append(wi.mean(axis=(-2, -1)))
        enstrophy.append(metrics.enstrophy(wi).numpy())
        energy.append(metrics.energy_spectrum(wi, length=length)[1].sum(-1))
    return dict(time=ds["time"].values, mean=np.stack(mean), enstrophy=np.stack(enstrophy), energy=np.stack(energy))


def band(ax, t, values, label: str | None = None, color=None, logy: bool = False):
    """Mean ± one standard deviation across the first axis of values (samples, time)."""
    values = _as_array(values)
    m, s = values.mean(0), values.std(0)
    line, = ax.plot(t, m, label=label, color=color)
    lo = np.maximum(m - s, m * 1e-3) if logy else m - s  # a log axis cannot show a band below zero
    ax.fill_between(t, lo, m + s, color=line.get_color(), alpha=0.2, linewidth=0)
    if logy:
        ax.set_yscale("log")
    return line


@_styled
def time_series(panels: Mapping[str, Mapping[str, tuple]], ylabels: Mapping[str, str] | None = None,
                logy: Sequence[str] = (), xlabel: str = "t", title: str | None = None, ncols: int | None = None) -> Figure:
    """Panels of mean ± std bands: {panel title: {curve label: (t, values (samples, time))}}."""
    if not panels:
        raise ValueError("time_series needs at least one panel")
    names = list(panels)
    ncols = ncols or min(len(names), 4)
    nrows = math.ceil(len(names) / ncols)
    fig, axes = _figure(nrows, ncols, height=2.1 * nrows + (0.3 if title else 0))
    for ax, name in zip(axes.ravel(), names):
        for k, (label, (t, values)) in enumerate(panels[name].items()):
            band(ax, t, values, label=label, color=COLORS[k % len(COLORS)], logy=name in logy)
        ax.set_title(name)
        ax.set_xlabel(xlabel)
        if ylabels and name in ylabels:
            ax.set_ylabel(ylabels[name])
        if len(panels[name]) > 1:
            ax.legend()
    for ax in axes.ravel()[len(names):]:
        ax.set_visible(False)
    if title:
        fig.suptitle(title)
    return fig


def statistics_figure(stats: Mapping[str, dict]) -> Figure:
    """Mean vorticity, enstrophy and kinetic energy over time, one row per quantity, one column per dataset."""
    panels = {}
    for name, s in stats.items():
        panels[f"{name}: mean ω"] = {"mean ω": (s["time"], s["mean"])}
    for name, s in stats.items():
        panels[f"{name}: Z = ½⟨ω²⟩"] = {"Z": (s["time"], s["enstrophy"])}
    for name, s in stats.items():
        panels[f"{name}: E = ½⟨|u|²⟩"] = {"E": (s["time"], s["energy"])}
    return time_series(panels, ncols=len(stats), title="Mean ± one standard deviation across trajectories")


@_styled
def histograms(data: Mapping[str, np.ndarray], times: Mapping[str, Sequence[float]] | None = None,
               labels: Sequence[str] | None = None, bins: int = 80, xlabel: str = "ω", title: str | None = None) -> Figure:
    """Density histograms (log y), one panel per entry: {panel: values (k, …)} with one curve per index k.

    labels name the curves (the same for every panel, e.g. "first frame"); times, per panel, go into its title.
    """
    names = list(data)
    fig, axes = _figure(1, len(names), height=2.3 + (0.3 if title else 0))
    for ax, name in zip(axes[0], names):
        values = _as_array(data[name])
        edges = np.linspace(values.min(), values.max(), bins + 1)
        for k in range(values.shape[0]):
            h, _ = np.histogram(values[k], bins=edges, density=True)
            ax.step(0.5 * (edges[1:] + edges[:-1]), np.where(h > 0, h, np.nan), where="mid",
                    label=labels[k] if labels else None)
        ax.set_yscale("log")
        ax.set_title(name if not times else f"{name}\nt = {', '.join(f'{t:g}' for t in times[name])}")
        ax.set_xlabel(xlabel)
    if labels:  # one legend for all panels: the curves are the same frames of each dataset
        fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right center")
    axes[0, 0].set_ylabel("density")
    if title:
        fig.suptitle(title)
    return fig


def vorticity_histograms(datasets: Mapping[str, object], n_times: int = 3, field: str = "vorticity") -> Figure:
    """Histograms of ω over all trajectories and grid points, at `n_times` stored times per dataset."""
    data, times = {}, {}
    for name, ds in datasets.items():
        idx = np.unique(np.linspace(0, ds.sizes["time"] - 1, n_times).round().astype(int))
        data[name] = np.moveaxis(ds[field].isel(time=idx).values, 1, 0).reshape(len(idx), -1)
        times[name] = ds["time"].values[idx]
    labels = (["first frame", "middle frame", "last frame"] if n_times == 3
              else [f"frame {k + 1} of {n_times}" for k in range(n_times)])
    return histograms(data, times, labels=labels, title="Distribution of vorticity over trajectories and grid points")


def dataset_spectra(ds, n_times: int = 3, field: str = "vorticity") -> dict:
    """Energy spectra averaged over trajectories at `n_times` stored times: {"k", "times", "E" (time, k), "cutoff"}.

    "cutoff" is the largest wavenumber the solver keeps (2/3 rule of the solve grid) when it is
    below the stored grid's Nyquist wavenumber: beyond it the spectrum is zero by construction.
    """
    p = parameters(ds)
    idx = np.unique(np.linspace(0, ds.sizes["time"] - 1, n_times).round().astype(int))
    k, E = metrics.energy_spectrum(ds[field].isel(time=idx).values, length=float(p.get("length", 1.0)))
    kmax = (int(p.get("solve_resolution", ds.sizes["x"])) - 1) // 3
    return dict(k=k, times=ds["time"].values[idx], E=E.mean(0), cutoff=kmax if kmax < ds.sizes["x"] // 2 else None)


def _power_label(s: float) -> str:
    f = Fraction(s).limit_denominator(6)
    return f"$k^{{{f}}}$"


@_styled
def spectra(curves: Mapping[str, Mapping], guides: Sequence[float] = (-3.0, -5 / 3), title: str | None = None) -> Figure:
    """Log-log E(k), one panel per entry {panel: dataset_spectra(...)} with one curve per time.

    guides: power laws k^s drawn as dashed grey lines (k^−3: Kraichnan's enstrophy cascade,
    k^−5/3: the inverse energy cascade), anchored to the last curve at k = 3 for comparison of slopes.
    """
    names = list(curves)
    fig, axes = _figure(1, len(names), height=2.5 + (0.3 if title else 0))
    for ax, name in zip(axes[0], names):
        c = curves[name]
        k, E = np.asarray(c["k"]), np.asarray(c["E"])
        for j in range(E.shape[0]):
            ax.loglog(k, np.where(E[j] > 1e-30, E[j], np.nan), label=f"t = {c['times'][j]:g}")
        anchor = min(3, len(k)) - 1
        ref = E[-1, anchor]
        for s, style_ in zip(guides, ("--", ":")):
            kk = k[anchor:]
            if ref > 0:
                ax.loglog(kk, ref * (kk / k[anchor]) ** s, style_, color="0.4", linewidth=1, label=_power_label(s))
        floor = np.nanmax(E) * 1e-14  # show ~14 decades: below is round-off of the float32 files
        ax.set_ylim(bottom=max(np.nanmin(np.where(E > 0, E, np.nan)), floor))
        if c.get("cutoff"):  # |kx|, |ky| ≤ cutoff survive the 2/3 rule; shells up to √2·cutoff hold corners
            ax.axvline(c["cutoff"], color="0.6", linewidth=0.8)
            ax.annotate("2/3 rule", (c["cutoff"], ax.get_ylim()[0]), xytext=(-3, 3), textcoords="offset points",
                        rotation=90, ha="right", va="bottom", fontsize=7, color="0.4")
        ax.set_title(name)
        ax.set_xlabel("k (shell, 2π/L units)")
        ax.legend(fontsize=7)
    axes[0, 0].set_ylabel("E(k)")
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------- validation
def _positive(x) -> np.ndarray:
    # Exact zeros (e.g. an error at t = 0) cannot be drawn on a log axis: leave a gap instead.
    x = np.abs(np.asarray(x, dtype=np.float64))
    return np.where(x > 0, x, np.nan)


@_styled
def taylor_green(results: Sequence[dict]) -> Figure:
    """Taylor–Green decay per scheme: amplitude vs the exact exp(−4π²|k|²νt), and the relative error."""
    fig, axes = _figure(1, 2, height=2.6)
    a, e = axes[0]
    for k, r in enumerate(results):
        c = COLORS[k % len(COLORS)]
        a.plot(r["times"], r["amplitude"], color=c, label=f"{r['scheme']} (dt = {r['dt']:g})")
        err = np.abs(np.asarray(r["amplitude"]) / np.asarray(r["exact"]) - 1)
        e.semilogy(r["times"], _positive(err), color=c,
                   label=f"{r['scheme']} (max field error {r['max_rel_error']:.1e})")
    r0 = results[0]
    a.plot(r0["times"], r0["exact"], "k--", linewidth=1, label="exact")
    a.set(xlabel="t", ylabel="amplitude", title=f"amplitude of sin 2πx sin 2πy, ν = {r0['nu']:g}, {r0['n']}²")
    e.set(xlabel="t", ylabel="|amplitude / exact − 1|", title="relative error")
    a.legend(), e.legend()
    return fig


@_styled
def convergence(results: Sequence[dict], theory: Mapping[str, float] | None = None) -> Figure:
    """Error vs dt on log-log axes per scheme, with reference slopes of the theoretical orders."""
    theory = theory or {"ifrk4": 4.0, "cn-euler": 1.0}
    fig, axes = _figure(1, 1, width=WIDTH * 0.55, height=3.0)
    ax = axes[0, 0]
    for k, r in enumerate(results):
        c = COLORS[k % len(COLORS)]
        dts, err = np.asarray(r["dts"]), np.asarray(r["errors"])
        ax.loglog(dts, err, "o-", color=c, label=f"{r['scheme']}: observed order {r['order']:.2f}")
        p = theory.get(r["scheme"])
        if p is not None:
            # drawn a factor 3 below the data so that both stay visible; only the slope matters
            ax.loglog(dts, err[0] / 3 * (dts / dts[0]) ** p, "--", color=c, linewidth=0.9,
                      label=f"slope {p:g} (theory)")
    ax.set(xlabel="dt", ylabel="relative L² error at t_final", title="time convergence (reference: dt_min / 8)")
    ax.legend()
    return fig


@_styled
def drift(result: dict, title: str = "laminar Kolmogorov flow: relative drift from the steady state") -> Figure:
    """‖ω(t) − ω_lam‖ / ‖ω_lam‖ over time (log y)."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.55, height=2.6)
    ax = axes[0, 0]
    ax.semilogy(result["times"], _positive(result["drift"]))
    ax.set(xlabel="t", ylabel="relative drift", title=title)
    return fig


@_styled
def enstrophy_budget(results: Mapping[str, dict]) -> Figure:
    """Per run: Z(t) − Z(0) against ∫(dissipation + forcing) dt (top), and their difference (bottom)."""
    names = list(results)
    fig, axes = _figure(2, len(names), height=4.2, sharex="col")
    for j, name in enumerate(names):
        r = results[name]
        t = r["times"]
        top, bottom = axes[0, j], axes[1, j]
        top.plot(t, r["change"], label="Z(t) − Z(0)")
        top.plot(t, r["integrated_rates"], "--", label="∫ (dissipation + forcing) dt")
        top.set_title(name)
        top.legend(fontsize=7)
        bottom.semilogy(t, _positive(r["change"] - r["integrated_rates"]), color=COLORS[2])
        bottom.set(xlabel="t", title=f"max {r['budget_residual']:.1e} (relative)")
    axes[0, 0].set_ylabel("enstrophy change")
    axes[1, 0].set_ylabel("|Z(t) − Z(0) − ∫ rates dt|")
    fig.suptitle("Enstrophy budget; relative residual = max |residual| / ∫ |dissipation| dt")
    return fig


# ---------------------------------------------------------------------------------------- training (any run of `pdestudy.train`)
@_styled
def training_curves(histories: Mapping[str, tuple[Sequence[Mapping], int]], ylabel: str = "relative L² loss",
                    title: str | None = None, width: float = WIDTH * 0.8) -> Figure:
    """Loss per epoch, log y: {label: (history, best epoch)} as `train` records them (epochs from 0).

    Validation loss solid, training loss dashed, one colour per run; a star marks the best
    validation epoch, whose weights the run keeps. Epochs are drawn from 1.
    """
    from matplotlib.lines import Line2D

    fig, axes = _figure(1, 1, width=width, height=2.9 + (0.3 if title else 0))
    ax = axes[0, 0]
    for k, (label, (hist, best)) in enumerate(histories.items()):
        c = COLORS[k % len(COLORS)]
        ep = np.array([h["epoch"] + 1 for h in hist])
        marker = "." if len(ep) < 3 else None
        ax.plot(ep, [h["train_loss"] for h in hist], "--", color=c, linewidth=1, marker=marker)
        ax.plot(ep, [h["val_loss"] for h in hist], "-", color=c, label=label, marker=marker)
        b = next(h for h in hist if h["epoch"] == best)
        ax.plot(best + 1, b["val_loss"], "*", color=c, markersize=10, markeredgecolor="k", markeredgewidth=0.5)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
    last = max((h["epoch"] + 1 for hist, _ in histories.values() for h in hist), default=1)
    ax.set_xlim(0.5, last + 0.5)
    ax.set(xlabel="epoch", ylabel=ylabel)
    handles, labels = ax.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", linestyle="-"), Line2D([], [], color="0.3", linestyle="--", linewidth=1),
                Line2D([], [], color="0.3", marker="*", linestyle="none", markersize=9, markeredgecolor="k")]
    labels += ["validation", "training", "best epoch (kept)"]
    fig.legend(handles, labels, fontsize=7, loc="outside right upper")
    if title:
        ax.set_title(title)
    return fig


@_styled
def training_diagnostics(histories: Mapping[str, Sequence[Mapping]], grad_clip: float | None = None,
                         title: str | None = None) -> Figure:
    """Per epoch, one colour per run: gradient norm before clipping (left; mean over the epoch's
    optimiser steps solid, largest step dashed; log y) and wall-clock seconds of the epoch (right).

    histories: {label: history as `train` records it}; grad_clip draws the clipping threshold.
    """
    from matplotlib.lines import Line2D

    fig, axes = _figure(1, 2, height=2.8 + (0.3 if title else 0))
    gn, sec = axes[0]
    for k, (label, hist) in enumerate(histories.items()):
        c = COLORS[k % len(COLORS)]
        ep = np.array([h["epoch"] + 1 for h in hist])
        marker = "." if len(ep) < 3 else None
        gn.plot(ep, [h["grad_norm"] for h in hist], "-", color=c, label=label, marker=marker)
        gn.plot(ep, [h["grad_norm_max"] for h in hist], "--", color=c, linewidth=1, marker=marker)
        sec.plot(ep, [h["seconds"] for h in hist], "-", color=c, label=label, marker=marker)
    if grad_clip is not None:
        gn.axhline(grad_clip, color="0.3", linestyle=":", linewidth=1)
        gn.annotate(f"clip at {grad_clip:g}", (1, grad_clip), xycoords=("axes fraction", "data"), xytext=(-3, 3),
                    textcoords="offset points", ha="right", fontsize=7, color="0.3")
    gn.set_yscale("log")
    for ax in (gn, sec):
        ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
    gn.set(ylabel="gradient norm (before clipping)", title="gradient norm per epoch")
    sec.set(ylabel="seconds", title="wall-clock per epoch (incl. validation)")
    sec.set_ylim(bottom=0)
    handles, labels = gn.get_legend_handles_labels()
    handles += [Line2D([], [], color="0.3", linestyle="-"), Line2D([], [], color="0.3", linestyle="--", linewidth=1)]
    labels += ["mean over steps", "largest step"]
    gn.legend(handles, labels, fontsize=7)
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------- throughput
@_styled
def throughput(rows: Sequence[dict]) -> Figure:
    """Solver cell-updates per second vs resolution, one line per batch size (log-log)."""
    fig, axes = _figure(1, 1, width=WIDTH * 0.55, height=2.8)
    ax = axes[0, 0]
    for b in sorted({r["batch"] for r in rows}):
        rs = sorted((r for r in rows if r["batch"] == b), key=lambda r: r["resolution"])
        ax.loglog([r["resolution"] for r in rs], [r["cell_updates_per_s"] for r in rs], "o-", label=f"batch {b}")
    res = sorted({r["resolution"] for r in rows})
    ax.set_xticks(res, [f"{n}²" for n in res])
    ax.xaxis.set_minor_locator(ticker.NullLocator())  # keep the log y axis's minor labels
    dev = rows[0]["device"] if rows else ""
    ax.set(xlabel="grid", ylabel="cell updates / s", title=f"solver throughput ({rows[0]['scheme'] if rows else ''}, {dev})")
    ax.legend()
    return fig


# ---------------------------------------------------------------------------------------- tables
def table(rows: Sequence[Mapping], index: str | None = None, digits: int = 3):
    """A pandas DataFrame of `rows` (dicts), numbers rounded to `digits` significant digits for display."""
    import pandas as pd

    def fmt(v):
        if isinstance(v, (bool, np.bool_)) or not isinstance(v, (float, np.floating)):
            return v
        return f"{v:.{digits}g}" if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5) else float(f"{v:.{digits}g}")

    df = pd.DataFrame([{k: fmt(v) for k, v in r.items()} for r in rows])
    return df.set_index(index) if index else df


def generation_steps(ds) -> int:
    """Solver steps per trajectory that generated a file: (spin-up + t_final) / dt."""
    p = parameters(ds)
    return round((float(p.get("spinup", 0.0)) + float(p["t_final"])) / float(p["dt"]))


def generation_rows(datasets: Mapping[str, object], paths: Mapping[str, os.PathLike]) -> list[dict]:
    """What each file says about its own generation: sizes, numerics and the measured cost."""
    rows = []
    for name, ds in datasets.items():
        p, a = parameters(ds), ds.attrs
        rows.append({
            "dataset": name, "ν": p["nu"], "train / test": f"{a['n_train']} / {a['n_test']}",
            "frames": ds.sizes["time"],
            "stored": f"{ds.sizes['y']}²", "solved": f"{p['solve_resolution']}²", "dt": p["dt"],
            "steps / trajectory": generation_steps(ds), "file (MiB)": Path(paths[name]).stat().st_size / 2**20,
            "generation (s)": float(a.get("generation_seconds", float("nan"))), "host": a.get("host", "unknown"),
            "created": a.get("created", ""),
        })
    return rows


def generation_vs_benchmark(datasets: Mapping[str, object], bench: Sequence[dict]) -> list[dict]:
    """Cell updates per second achieved while generating each file, against the benchmark here.

    `generate` steps batches of up to 16 trajectories; we compare with the benchmark row at the
    same solve resolution and the largest measured batch. A ratio near 1 means the recorded time
    is what the solver's bare stepping speed on this machine predicts. Generation also draws
    initial conditions, checks stability every step and writes frames, so a ratio somewhat below 1
    is expected; far from 1 usually means the file was made on another machine (its `host`).
    """
    nan = float("nan")
    rows = []
    for name, ds in datasets.items():
        p, a = parameters(ds), ds.attrs
        n = int(p["solve_resolution"])
        work = ds.sizes["trajectory"] * generation_steps(ds) * n * n
        seconds = float(a.get("generation_seconds", nan))
        match = [r for r in bench if r["resolution"] == n]
        ref = max(match, key=lambda r: r["batch"]) if match else None  # no benchmark at this grid: NaN
        bench_rate = ref["cell_updates_per_s"] if ref else nan
        rows.append({
            "dataset": name, "solved": f"{n}²", "cell updates": float(work), "generation (s)": seconds,
            "generation rate (cells/s)": work / seconds, "benchmark rate (cells/s)": bench_rate,
            "benchmark batch": ref["batch"] if ref else None, "predicted time here (s)": work / bench_rate,
            "generation / benchmark rate": work / seconds / bench_rate,
        })
    return rows


def spec_rows(names: Sequence[str], profile: str) -> list[dict]:
    """The registry's description of each dataset in `profile` (what will be generated)."""
    from ..data import get_spec

    rows = []
    for name in names:
        s = get_spec(name, profile)
        p = s.params
        rows.append({
            "dataset": name, "ν": p["nu"], "domain": "[0, 1)²" if p["length"] == 1.0 else "[0, 2π)²",
            "forcing": p["forcing"], "train / test": f"{s.n_train} / {s.n_test}",
            "stored frames": f"t = 0, 1, …, {p['t_final']:g}", "spin-up": p.get("spinup", 0.0),
            "scheme": p["scheme"], "dt": p["dt"], "solved": f"{p['solve_resolution']}²", "stored": f"{s.resolution}²",
        })
    return rows


def spectral_slope(curve: Mapping, kmin: float, kmax: float, time_index: int = -1) -> float:
    """Least-squares slope of log E vs log k over kmin ≤ k ≤ kmax, for one time of `dataset_spectra`."""
    k, E = np.asarray(curve["k"], dtype=float), np.asarray(curve["E"])[time_index]
    sel = (k >= kmin) & (k <= kmax) & (E > 0)
    if sel.sum() < 2:
        raise ValueError(f"need at least two shells with E > 0 in [{kmin}, {kmax}] to fit a slope")
    return float(np.polyfit(np.log(k[sel]), np.log(E[sel]), 1)[0])


# ---------------------------------------------------------------------------------------- old names
# The MST chapters' figures moved to `pdestudy.plots.mst`; `pdestudy.plots.<name>` still finds them, and
# `plots.mst` works after a bare `from pdestudy import plots`. The submodule is imported on first use,
# not at the top of this module: it imports this module's helpers.
_MST_NAMES = frozenset({"latent_size", "reconstructions", "autoencoder_rows", "seed_bars", "kernel_by_displacement",
                        "relative_kernels", "step_errors", "chain_depth_bars", "error_vs_depth",
                        "frames_per_second", "prediction_grid", "spectrum_comparison", "BASELINE_STYLE"})


def __getattr__(name: str):
    if name == "mst" or name in _MST_NAMES:
        import importlib

        mst = importlib.import_module(f"{__name__}.mst")  # not `from . import mst`: that asks this hook again
        return mst if name == "mst" else getattr(mst, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _MST_NAMES | {"mst"})
