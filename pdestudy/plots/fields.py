"""Snapshots and animations of any dataset: several fields, any grid (square or not), any domain.

The Navier–Stokes figures of `pdestudy.plots` draw one signed field on a periodic square. The
MATEY systems store several fields each (h, hu, hv; ρ, vx, vy, p; …) on domains such as
[−1, 1]² or 20 km × 10 km, so these figures take the extent from the file's coordinates and give
every field its own colour range: a diverging map centred on zero for fields that change sign
(velocities, fluxes), a sequential one for fields that do not (density, depth, temperature).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib import animation
from matplotlib.figure import Figure

from . import WIDTH, BookFigure, _as_array, _colorbar, _figure, _styled, animation_html

SEQUENTIAL_CMAP = "viridis"
DIVERGING_CMAP = "RdBu_r"


def extent(ds) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1) of the cells: the cell centres (or nodes) widened by half a spacing each side."""
    def edges(c):
        c = np.asarray(c, dtype=float)
        h = (c[-1] - c[0]) / (len(c) - 1) if len(c) > 1 else 1.0
        return c[0] - h / 2, c[-1] + h / 2
    return (*edges(ds["x"].values), *edges(ds["y"].values))


def colour_scale(values) -> dict:
    """imshow keywords for one field: diverging and symmetric if it changes sign, else sequential."""
    v = _as_array(values)
    lo, hi = float(np.nanmin(v)), float(np.nanmax(v))
    if lo < 0 < hi:
        m = max(-lo, hi)
        return dict(cmap=DIVERGING_CMAP, vmin=-m, vmax=m)
    if lo == hi:  # a constant field: a visible range around it
        lo, hi = lo - 0.5 * (abs(lo) or 1.0), hi + 0.5 * (abs(hi) or 1.0)
    return dict(cmap=SEQUENTIAL_CMAP, vmin=lo, vmax=hi)


def time_indices(n_times_stored: int, n_times: int) -> np.ndarray:
    """`n_times` evenly spaced indices of the stored frames, first and last included."""
    return np.unique(np.linspace(0, n_times_stored - 1, min(n_times, n_times_stored)).round().astype(int))


def _trajectory(ds, trajectory: int | None) -> tuple[int, str]:
    n_train = int(ds.attrs.get("n_train", 0))
    i = n_train if trajectory is None else int(trajectory)
    if not 0 <= i < ds.sizes["trajectory"]:
        raise ValueError(f"trajectory {i} is out of range: the dataset has {ds.sizes['trajectory']} trajectories")
    return i, ("test" if i >= n_train else "train")


def _fields(ds, fields: Sequence[str] | None) -> list[str]:
    names = list(ds.data_vars) if fields is None else list(fields)
    unknown = [f for f in names if f not in ds.data_vars]
    if unknown:
        raise ValueError(f"unknown field(s) {unknown}; the dataset holds {list(ds.data_vars)}")
    return names


@_styled
def dataset_fields(ds, trajectory: int | None = None, n_times: int = 5, fields: Sequence[str] | None = None,
                   title: str | None = None, panel_width: float = 1.45) -> Figure:
    """One trajectory (default: the first test trajectory): rows = fields, columns = evenly spaced times.

    Each row has its own colour range (fixed over the row, so the row shows the field's evolution).
    """
    i, split = _trajectory(ds, trajectory)
    names = _fields(ds, fields)
    idx = time_indices(ds.sizes["time"], n_times)
    times = ds["time"].values[idx]
    box = extent(ds)
    aspect = (box[3] - box[2]) / (box[1] - box[0])
    cols, rows = len(idx), len(names)
    width = min(WIDTH, panel_width * cols + 1.0)
    panel = (width - 1.0) / cols
    fig, axes = _figure(rows, cols, width=width, height=panel * aspect * rows + 0.45)
    for r, name in enumerate(names):
        frames = ds[name].isel(trajectory=i, time=idx).values
        scale = colour_scale(frames)
        for c in range(cols):
            ax = axes[r, c]
            im = ax.imshow(frames[c], origin="lower", extent=box, interpolation="nearest", **scale)
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            if r == 0:
                ax.set_title(f"t = {times[c]:g}")
            if c == 0:
                ax.set_ylabel(name)
        _colorbar(fig, im, list(axes[r]), "", aspect=10)
    fig.suptitle(title or f"{ds.attrs.get('dataset', '')} ({ds.attrs.get('profile', '')}): {split} trajectory {i}, "
                 f"{ds.sizes['y']}×{ds.sizes['x']} stored")
    return fig


@_styled
def dataset_trajectories(ds, field: str, n_show: int = 4, n_times: int = 5, split: str = "test",
                         panel_width: float = 1.45) -> Figure:
    """One field of several trajectories: rows = the first `n_show` trajectories of `split`, columns = times."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    _fields(ds, [field])
    n_train, n = int(ds.attrs.get("n_train", 0)), ds.sizes["trajectory"]
    ids = list(range(n_train, n) if split == "test" else range(0, n_train))[:n_show]
    idx = time_indices(ds.sizes["time"], n_times)
    frames = ds[field].isel(trajectory=ids, time=idx).values
    scale = colour_scale(frames)
    box = extent(ds)
    aspect = (box[3] - box[2]) / (box[1] - box[0])
    cols, rows = len(idx), len(ids)
    width = min(WIDTH, panel_width * cols + 1.0)
    fig, axes = _figure(rows, cols, width=width, height=(width - 1.0) / cols * aspect * rows + 0.45)
    for r, i in enumerate(ids):
        for c in range(cols):
            ax = axes[r, c]
            im = ax.imshow(frames[r, c], origin="lower", extent=box, interpolation="nearest", **scale)
            ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            if r == 0:
                ax.set_title(f"t = {ds['time'].values[idx[c]]:g}")
            if c == 0:
                ax.set_ylabel(f"{split} #{i}")
    _colorbar(fig, im, axes.ravel().tolist(), field, aspect=25)
    fig.suptitle(f"{ds.attrs.get('dataset', '')} ({ds.attrs.get('profile', '')}): {field}")
    return fig


def fields_animation(ds, trajectory: int | None = None, fields: Sequence[str] | None = None, max_frames: int = 25,
                     size: float = 2.6, dpi: int = 80, interval: int = 150):
    """Animate one trajectory, its fields side by side (each with its own fixed colour range); returns HTML.

    At most `max_frames` frames (evenly subsampled, first and last kept): each is an embedded PNG.
    """
    if max_frames < 1:
        raise ValueError(f"max_frames must be ≥ 1, got {max_frames}")
    i, split = _trajectory(ds, trajectory)
    names = _fields(ds, fields)
    idx = time_indices(ds.sizes["time"], max_frames)
    times = ds["time"].values[idx]
    data = [ds[name].isel(trajectory=i, time=idx).values for name in names]
    box = extent(ds)
    aspect = (box[3] - box[2]) / (box[1] - box[0])
    from . import style
    with style():
        fig = BookFigure(figsize=(min(WIDTH * 1.3, size * len(names) + 0.3), size * aspect + 0.5), dpi=dpi,
                         layout="constrained")
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        images = []
        for ax, name, frames in zip(axes, names, data, strict=True):
            images.append(ax.imshow(frames[0], origin="lower", extent=box, interpolation="nearest",
                                    **colour_scale(frames)))
            ax.set_title(name), ax.set_xticks([]), ax.set_yticks([]), ax.grid(False)
            fig.colorbar(images[-1], ax=ax, shrink=0.8, pad=0.01)
        head = fig.suptitle("")
        label = f"{ds.attrs.get('dataset', '')}, {split} trajectory {i}:"

        def draw(k):
            for im, frames in zip(images, data, strict=True):
                im.set_data(frames[k])
            head.set_text(f"{label} t = {times[k]:g}")
            return images + [head]

        draw(0)
        anim = animation.FuncAnimation(fig, draw, frames=len(times), interval=interval, blit=False)
    return animation_html(anim)


def spec_rows(names: Sequence[str], profile: str) -> list[dict]:
    """The registry's description of datasets in `profile`, for any system: sizes, grid, stored frames
    and every scalar parameter (lists joined), i.e. what `generate` will make."""
    from ..data import get_spec
    from ..data.generation import coordinates

    rows = []
    for name in names:
        s = get_spec(name, profile)
        c = coordinates(s)
        t, ny, nx = c["time"], len(c["y"]), len(c["x"])
        rows.append({"dataset": name, "train / test": f"{s.n_train} / {s.n_test}",
                     "grid (y × x)": f"{nx}²" if nx == ny else f"{ny}×{nx}",
                     "frames": f"{len(t)} (t = {t[0]:g} … {t[-1]:g})",
                     **{k: (", ".join(map(str, v)) if isinstance(v, (list, tuple)) else v) for k, v in s.params.items()
                        if isinstance(v, (int, float, str, list, tuple)) and k != "initial_condition"}})
    return rows


def generation_table(datasets, paths=None):
    """What each file says about its own generation (any system): sizes, grid and the measured cost.

    `generation_seconds` was measured when the file was written, on the machine named in `host`.
    """
    from pathlib import Path

    from . import table

    rows = []
    for name, ds in datasets.items():
        a = ds.attrs
        rows.append({
            "dataset": name, "train / test": f"{a['n_train']} / {a['n_test']}", "frames": ds.sizes["time"],
            "stored grid (y × x)": f"{ds.sizes['y']}×{ds.sizes['x']}", "fields": ", ".join(ds.data_vars),
            "file (MiB)": Path(paths[name]).stat().st_size / 2**20 if paths else float("nan"),
            "generation (s)": float(a.get("generation_seconds", float("nan"))),
            "s / trajectory": float(a.get("generation_seconds", float("nan"))) / ds.sizes["trajectory"],
            "host": a.get("host", "unknown"), "created": a.get("created", ""),
        })
    return table(rows, index="dataset")
