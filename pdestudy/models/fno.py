"""FNO baseline, taken from the neuraloperator package (not re-implemented here).

FNO-2D as in Li et al. (2021): k history frames stacked as channels (plus the grid coordinates,
neuraloperator's default positional embedding) → the next frame, rolled out autoregressively by
the training loop's `Unroll`. MST gets one input frame; the FNO runs with both k = 10 (the FNO
paper's setting) and k = 1 (the same information MST gets).

neuraloperator is a dependency of pdestudy (with its own declared dependencies). Its FNO needs only
tensorly, tensorly-torch and opt-einsum, which pdestudy also declares, so the lean route of the
README (neuraloperator installed with --no-deps) runs this module too.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class FNOConfig:
    history: int = 10  # k input frames
    channels: int = 1  # physical fields per frame
    # neuraloperator counts all modes per axis (±): [24, 24] keeps the FNO paper's 12 per corner
    n_modes: list[int] = field(default_factory=lambda: [24, 24])
    hidden_channels: int = 20  # the FNO paper's width
    n_layers: int = 4


def _neuralop_fno():
    try:
        from neuralop.models import FNO
    except ImportError as exc:
        raise ImportError(
            "the FNO baseline needs neuraloperator, a dependency of pdestudy: pip install -e . "
            f"(or the README's lean route) — import failed with: {exc}") from None
    return FNO


class FNOBaseline(nn.Module):
    """(B, history, C, H, W) → (B, C, H, W): the next frame."""

    def __init__(self, config: FNOConfig):
        super().__init__()
        self.config = config
        self.fno = _neuralop_fno()(n_modes=tuple(config.n_modes), in_channels=config.history * config.channels,
                                   out_channels=config.channels, hidden_channels=config.hidden_channels,
                                   n_layers=config.n_layers)

    def state_dict(self, *args, **kwargs):
        # neuraloperator adds its constructor arguments (functions, classes) under "_metadata": they
        # cannot be loaded with weights_only=True, and FNOConfig already records them.
        sd = super().state_dict(*args, **kwargs)
        sd.pop("_metadata", None)
        return sd

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:  # a single frame (B, C, H, W): history 1
            x = x[:, None]
        B, k, C, H, W = x.shape
        if k != self.config.history or C != self.config.channels:
            raise ValueError(f"input has {k} frames × {C} channels, model expects "
                             f"{self.config.history} × {self.config.channels}")
        return self.fno(x.reshape(B, k * C, H, W))
