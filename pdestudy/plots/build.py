"""The figure of the "How this book was built" page: when each notebook ran, coloured by part."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

from matplotlib.patches import Patch

from . import COLORS, WIDTH, _figure, _styled, save


@_styled
def timeline(runs: Mapping[str, tuple[float, float, str]], path: str | os.PathLike) -> Path:
    """One bar per notebook from its start to its end (minutes from the first start), in toc order
    from the top, coloured by its part; written to `path`. Side by side, bars overlap in time."""
    names = list(runs)
    parts = list(dict.fromkeys(part for *_, part in runs.values()))
    colour = {p: COLORS[i % len(COLORS)] for i, p in enumerate(parts)}
    fig, axes = _figure(width=WIDTH, height=0.8 + 0.22 * max(1, len(names)))
    ax = axes[0, 0]
    for i, name in enumerate(names):
        start, end, part = runs[name]
        ax.barh(i, (end - start) / 60, left=start / 60, color=colour[part], height=0.7)
    ax.set_yticks(range(len(names)), names)
    ax.invert_yaxis()
    ax.set_xlabel("minutes from the first notebook's start")
    ax.set_xlim(left=0)
    ax.grid(axis="y", visible=False)
    if parts:  # one entry per part, above the bars
        ax.legend(handles=[Patch(color=colour[p], label=p) for p in parts], loc="lower center", ncols=len(parts),
                  bbox_to_anchor=(0.5, 1.0), frameon=False)
    return save(fig, path)
