"""Error metrics and flow statistics used throughout the book."""
from __future__ import annotations

import math

import numpy as np
import torch

from .data.navier_stokes import spectral_weights


def _t(a) -> torch.Tensor:
    return a if isinstance(a, torch.Tensor) else torch.as_tensor(np.asarray(a))


def nrmse(pred, true, dims: int = 4) -> torch.Tensor:
    """‖pred − true‖₂ / ‖true‖₂ per sample, over its last `dims` dimensions jointly.

    For a rollout (batch, time, C, H, W) this is the MST protocol's error of one test trajectory
    over all predicted frames together; average the result over trajectories for the table.
    """
    pred, true = _t(pred), _t(true)
    if pred.shape != true.shape:
        raise ValueError(f"pred has shape {tuple(pred.shape)}, true has {tuple(true.shape)}")
    d = tuple(range(-dims, 0))
    return torch.linalg.vector_norm(pred - true, dim=d) / torch.linalg.vector_norm(true, dim=d)


def nrmse_per_step(pred, true) -> torch.Tensor:
    """Relative L2 error of each frame: (batch, time, …) → (batch, time)."""
    pred, true = _t(pred), _t(true)
    return nrmse(pred, true, dims=pred.dim() - 2)


def nmse_per_channel(pred, true, eps: float = 1e-7) -> torch.Tensor:
    """MATEY/MPP's normalised MSE of each sample and channel: mean_xy (ŷ − y)² / (eps + mean_xy y²).

    (B, C, H, W) → (B, C). The training loss of MATEY is its mean; the reported NRMSE is the mean
    of its square root (`channel_nrmse`). The denominator is the mean square, not the variance, so
    a field with a large offset (a temperature near 300 K) scores small errors.
    """
    pred, true = _t(pred), _t(true)
    if pred.shape != true.shape:
        raise ValueError(f"pred has shape {tuple(pred.shape)}, true has {tuple(true.shape)}")
    return (pred - true).pow(2).mean(dim=(-2, -1)) / (eps + true.pow(2).mean(dim=(-2, -1)))


def channel_nrmse(pred, true) -> torch.Tensor:
    """MATEY/MPP's NRMSE per sample: the mean over channels of sqrt(NMSE) — (B, C, H, W) → (B,)."""
    return nmse_per_channel(pred, true).sqrt().mean(dim=-1)


def energy_spectrum(vorticity, length: float = 1.0):
    """Shell-summed kinetic energy spectrum E(k) of 2-D vorticity fields (…, n, n).

    û = i k⊥ ψ̂ with ψ̂ = ω̂/|k|², so |û|² = |ω̂|²/|k|²; E(k) = ½ Σ_{|k_int| ∈ [k−½, k+½)} |û|²,
    with k in integer shells (physical wavenumber 2πk/L). Σ_k E(k) is the mean kinetic energy ½⟨|u|²⟩.
    Returns (k = 1 … n/2, E with the leading dimensions of the input).
    """
    w = _t(vorticity).to(torch.float64)
    n = w.shape[-1]
    w_hat = torch.fft.rfft2(w, norm="forward")
    ky = torch.fft.fftfreq(n, d=1.0 / n, dtype=torch.float64)[:, None]
    kx = torch.fft.rfftfreq(n, d=1.0 / n, dtype=torch.float64)[None, :]
    kint = torch.sqrt(kx**2 + ky**2)
    k2 = (2 * math.pi / length) ** 2 * kint**2
    e = 0.5 * spectral_weights(n) * w_hat.abs() ** 2 / torch.where(k2 > 0, k2, torch.ones_like(k2))
    e = torch.where(k2 > 0, e, torch.zeros_like(e))
    shell = torch.round(kint).long().clamp(max=n // 2 + 1)
    out = torch.zeros(*w.shape[:-2], n // 2 + 2, dtype=torch.float64)
    out.index_add_(-1, shell.flatten(), e.flatten(-2))
    k = np.arange(1, n // 2 + 1)
    return k, out[..., 1 : n // 2 + 1].numpy()


def enstrophy(vorticity) -> torch.Tensor:
    """Z = ½⟨ω²⟩ per field (mean over the last two dims)."""
    return 0.5 * _t(vorticity).to(torch.float64).pow(2).mean(dim=(-2, -1))
