"""Convolutional autoencoder (CAE): each frame ↔ a small latent grid (MST, §2.1).

Encoder, per stage: 3×3 conv (circular padding: the flows are periodic) → 2×2 average pool →
LeakyReLU(0.01), with no activation after the last stage so the latent can take any sign.
Channels 1 → 16 → 32 → 64 → 128: a 64² frame becomes a 4×4×128 latent, i.e. 16 tokens of
width 128 for the transformer. The decoder mirrors it with bilinear ×2 upsampling.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn


@dataclass
class CAEConfig:
    in_channels: int = 1
    channels: list[int] = field(default_factory=lambda: [16, 32, 64, 128])  # one stage each: 2^len downsampling
    negative_slope: float = 0.01


class CircularConv2d(nn.Conv2d):
    """A 3×3 convolution on a periodic grid: nn.Conv2d(padding_mode="circular"), bitwise, with the same
    parameters, but the one-cell wrap-around is two concatenations. torch's circular padding copies
    slice by slice and made up a quarter of the autoencoder's training step on a CPU."""

    def __init__(self, cin: int, cout: int):
        super().__init__(cin, cout, kernel_size=3, padding=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[..., -1:], x, x[..., :1]], dim=-1)
        x = torch.cat([x[..., -1:, :], x, x[..., :1, :]], dim=-2)
        return super().forward(x)


def _conv(cin: int, cout: int) -> nn.Conv2d:
    return CircularConv2d(cin, cout)


class ConvAutoencoder(nn.Module):
    def __init__(self, config: CAEConfig):
        super().__init__()
        self.config = config
        act = lambda: nn.LeakyReLU(config.negative_slope)  # noqa: E731
        chans = [config.in_channels, *config.channels]
        enc: list[nn.Module] = []
        for cin, cout in zip(chans[:-1], chans[1:]):
            enc += [_conv(cin, cout), nn.AvgPool2d(2), act()]
        self.encoder = nn.Sequential(*enc[:-1])  # no activation on the latent
        dec: list[nn.Module] = []
        rev = chans[::-1]
        for cin, cout in zip(rev[:-1], rev[1:]):
            dec += [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False), _conv(cin, cout), act()]
        self.decoder = nn.Sequential(*dec[:-1])  # no activation on the output field
        # channels-last activations and weights: the CPU's (oneDNN's) fast layout for convolutions;
        # with the padding above, a training step takes 0.6× the time (2-core AMD EPYC)
        self.to(memory_format=torch.channels_last)

    @property
    def downsampling(self) -> int:
        return 2 ** len(self.config.channels)

    @property
    def latent_channels(self) -> int:
        return self.config.channels[-1]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) → (B, latent_channels, H/2^L, W/2^L); H and W must be divisible by 2^L."""
        if x.shape[-1] % self.downsampling or x.shape[-2] % self.downsampling:
            raise ValueError(f"frame size {tuple(x.shape[-2:])} is not divisible by {self.downsampling} "
                             f"({len(self.config.channels)} pooling stages)")
        return self.encoder(x.contiguous(memory_format=torch.channels_last)).contiguous()

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z.contiguous(memory_format=torch.channels_last)).contiguous()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
