"""MST: a transformer that advances the CAE latent grid by one time step Δt (arXiv 2311.02225).

Tokens are the latent cells p_i of an n×n grid (n = 4 for 64² frames), features f_i ∈ R^128.
Each attention layer is read as a kernel integral operator over the latent grid,

    z_i = Σ_j κ(p_i, p_j, f_i, f_j) v_j ,        κ = softmax_j(q_i·k_j / √d)  (per head),

and the positional encodings decide how position enters κ:

* M0 – none: κ depends on features only, so the layer is equivariant to permuting tokens.
* M1 – absolute: an MLP of the token coordinates (x, y) ∈ (0, 1]² is added to the input of Q, K, V.
* M2 – absolute: an MLP of periodic features φ(p) (per axis sin(2πx/k), k = 3..n, and
  cos(2πx/k), k = 2..n, with x the cell index 1..n) is added to the input of Q, K, V.
* M3 – relative: a per-head bias G_h(p_i, p_j) is added to the logits before the softmax.
* M4 – relative: the same G multiplies the softmax, κ = G ⊙ softmax(QKᵀ/√d), without
  renormalising (the paper's default): position can then switch interactions off or amplify them.

G_h is an MLP of [φ(Δ)·φ(0), φ(Δ), |φ(Δ)|] with Δ = p_j − p_i wrapped to the latent torus
(minimal image). The paper writes [φ_i·φ_j, φ_i − φ_j, |φ_i − φ_j|]; we keep its three ingredients but
evaluate them at the periodic displacement, because φ_i − φ_j also depends on absolute position
(sin a − sin b = 2 cos((a+b)/2) sin((a−b)/2)) and period 3 does not tile a 4-cell torus. So G is a
function of relative periodic position only – which is what "relative" promises, and a test checks.

A block is attention + MLP(×4, LeakyReLU), each residual, as in the reference (no normalisation).

Beyond the paper, `leadtime` makes one model advance by any Δt (MATEY's t_lead embedding on the MST
latent): an MLP of Δt is added to the input of every attention and MLP, as M1/M2 add position,
never to the residual stream, so a model that ignores it is exactly the unconditioned one.
`AtLead` fixes Δt, so `MultiScaleStepper` runs one conditioned model as its whole chain.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .matey import LeadTimeEmbedding  # MATEY's t_lead MLP: the same module conditions MST on Δt

ENCODINGS = ("M0", "M1", "M2", "M3", "M4")


@dataclass
class MSTConfig:
    width: int = 128  # token features = CAE latent channels
    depth: int = 4  # layers (paper: 4 for Navier–Stokes, 8 for Kolmogorov)
    heads: int = 8
    mlp_ratio: int = 4
    encoding: str = "M4"
    latent_size: int = 4  # n: tokens per side
    pos_hidden: int = 64  # hidden width of the positional MLPs
    negative_slope: float = 0.01
    leadtime: bool = False  # condition on Δt (in frames): one model for every step size


# --------------------------------------------------------------------------- positional features
def token_grid(n: int) -> torch.Tensor:
    """Cell indices 1..n per axis, as (n², 2) = (x, y), row-major over (y, x)."""
    i = torch.arange(1, n + 1, dtype=torch.float32)
    y, x = torch.meshgrid(i, i, indexing="ij")
    return torch.stack([x.flatten(), y.flatten()], dim=-1)


def periodic_features(coords: torch.Tensor, n: int) -> torch.Tensor:
    """φ: per axis sin(2πx/k) for k = 3..n and cos(2πx/k) for k = 2..n (sin(2πx/2) vanishes on integers)."""
    ks_sin = torch.arange(3, n + 1, dtype=coords.dtype)
    ks_cos = torch.arange(2, n + 1, dtype=coords.dtype)
    feats = []
    for axis in range(coords.shape[-1]):
        c = coords[..., axis : axis + 1]
        feats += [torch.sin(2 * math.pi * c / ks_sin), torch.cos(2 * math.pi * c / ks_cos)]
    return torch.cat(feats, dim=-1)


def relative_displacements(n: int) -> torch.Tensor:
    """Δ_ij = p_j − p_i wrapped to the torus, in (−n/2, n/2]²: shape (n², n², 2)."""
    p = token_grid(n)
    d = p[None, :, :] - p[:, None, :]
    return torch.remainder(d + (n - 1) // 2, n) - (n - 1) // 2


def relative_features(n: int) -> torch.Tensor:
    """[φ(Δ)·φ(0), φ(Δ), |φ(Δ)|] for every token pair: (n², n², 1 + 2·dim φ)."""
    phi = periodic_features(relative_displacements(n), n)
    phi0 = periodic_features(torch.zeros(1, 2), n)
    dot = (phi * phi0).sum(-1, keepdim=True)
    return torch.cat([dot, phi, phi.abs()], dim=-1)


def _mlp(cin: int, hidden: int, cout: int, slope: float) -> nn.Sequential:
    return nn.Sequential(nn.Linear(cin, hidden), nn.LeakyReLU(slope), nn.Linear(hidden, cout))


# --------------------------------------------------------------------------- attention = kernel integral
class KernelAttention(nn.Module):
    """Multi-head attention written as z_i = Σ_j κ_h(p_i, p_j, f_i, f_j) v_j."""

    def __init__(self, cfg: MSTConfig):
        super().__init__()
        if cfg.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, got {cfg.encoding!r}")
        if cfg.width % cfg.heads:
            raise ValueError(f"width {cfg.width} is not divisible by heads {cfg.heads}")
        self.cfg, self.heads, self.head_dim = cfg, cfg.heads, cfg.width // cfg.heads
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width)
        self.proj = nn.Linear(cfg.width, cfg.width)
        n = cfg.latent_size
        if cfg.encoding == "M1":
            self.register_buffer("pos_in", token_grid(n) / n, persistent=False)  # (x, y) ∈ (0, 1]
        elif cfg.encoding == "M2":
            self.register_buffer("pos_in", periodic_features(token_grid(n), n), persistent=False)
        elif cfg.encoding in ("M3", "M4"):
            self.register_buffer("pos_in", relative_features(n), persistent=False)
        if cfg.encoding != "M0":
            out = cfg.width if cfg.encoding in ("M1", "M2") else cfg.heads
            self.pos_mlp = _mlp(self.pos_in.shape[-1], cfg.pos_hidden, out, cfg.negative_slope)

    def relative_kernel(self) -> torch.Tensor:
        """G: (heads, N, N) for M3/M4."""
        return self.pos_mlp(self.pos_in).permute(2, 0, 1)

    def _qkv(self, x):
        if self.cfg.encoding in ("M1", "M2"):
            x = x + self.pos_mlp(self.pos_in)  # absolute position enters Q, K and V
        B, N, _ = x.shape
        q, k, v = self.qkv(x).view(B, N, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        return q, k, v  # each (B, heads, N, head_dim)

    def kernel(self, x: torch.Tensor) -> torch.Tensor:
        """κ_h(p_i, p_j, f_i, f_j) for inspection and plotting: (B, heads, N, N)."""
        q, k, _ = self._qkv(x)
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        if self.cfg.encoding == "M3":
            logits = logits + self.relative_kernel()
        kappa = logits.softmax(-1)
        return kappa * self.relative_kernel() if self.cfg.encoding == "M4" else kappa

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._qkv(x)
        if self.cfg.encoding == "M4":  # a product after the softmax: no fused kernel does this
            z = self.kernel(x) @ v
        else:  # M0–M3 are softmax attention with an optional additive bias: torch SDPA
            bias = self.relative_kernel().to(q.dtype) if self.cfg.encoding == "M3" else None
            z = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        return self.proj(z.transpose(1, 2).flatten(2))


class Block(nn.Module):
    def __init__(self, cfg: MSTConfig):
        super().__init__()
        self.attn = KernelAttention(cfg)
        self.mlp = _mlp(cfg.width, cfg.mlp_ratio * cfg.width, cfg.width, cfg.negative_slope)

    def forward(self, x, cond: torch.Tensor | None = None):
        """x (B, N, C); cond (B, C): the lead-time vector, added to what each branch reads."""
        c = 0 if cond is None else cond[:, None, :]
        x = x + self.attn(x + c)
        return x + self.mlp(x + c)


class LatentTransformer(nn.Module):
    """One MST dynamics model: latent (B, C, n, n) at t → latent at t + Δt (Δt fixed, or given with `leadtime`)."""

    def __init__(self, cfg: MSTConfig):
        super().__init__()
        self.config = cfg
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        if cfg.leadtime:
            self.lead_time = LeadTimeEmbedding(cfg.width)

    def forward(self, z: torch.Tensor, lead: torch.Tensor | int | None = None) -> torch.Tensor:
        """`lead`: Δt in frames, one per sample (B,) or one for all; only a `leadtime` model takes it (and needs it)."""
        B, C, H, W = z.shape
        if C != self.config.width or H != self.config.latent_size or W != self.config.latent_size:
            raise ValueError(f"latent of shape {tuple(z.shape[1:])}, model expects "
                             f"({self.config.width}, {self.config.latent_size}, {self.config.latent_size})")
        if self.config.leadtime and lead is None:
            raise ValueError("lead: this model is conditioned on Δt (leadtime=True); say which step to take")
        if lead is not None and not self.config.leadtime:
            raise ValueError(f"lead={lead!r}: this model takes one fixed Δt (built with leadtime=False)")
        cond = None if lead is None else self.lead_time(torch.as_tensor(lead, device=z.device).expand(B))
        x = z.flatten(2).transpose(1, 2)  # (B, N, C), tokens row-major over (y, x)
        for block in self.blocks:
            x = block(x, cond)
        return x.transpose(1, 2).reshape(B, C, H, W)


class AtLead(nn.Module):
    """A lead-time-conditioned model with Δt fixed: what `MultiScaleStepper` takes as its Δt model."""

    def __init__(self, model: LatentTransformer, lead: int):
        super().__init__()
        self.model, self.lead = model, int(lead)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.model(z, lead=self.lead)


# --------------------------------------------------------------------------- multi-scale time stepping
def hierarchical_schedule(horizon: int, scales: list[int]) -> list[tuple[int, list[tuple[int, int]]]]:
    """Which frame is computed from which, level by level.

    The largest Δt fills offsets Δt, 2Δt, … in a chain; each smaller Δt then fills t + Δt from every
    frame t already known, all in one batched call. Every frame 1..horizon is computed exactly once,
    and frame k is reached through its greedy decomposition into the scales (for {8, 4, 2, 1}:
    ⌊k/8⌋ + popcount(k mod 8) model calls). Returns [(Δt, [(source, target), …]), …] in execution order.
    """
    scales = sorted(set(scales), reverse=True)
    if not scales or scales[-1] != 1:
        raise ValueError(f"scales must include 1 to reach every frame, got {scales}")
    known = {0}
    plan: list[tuple[int, list[tuple[int, int]]]] = []
    largest = scales[0]
    for t in range(largest, horizon + 1, largest):  # a sequential chain: each call needs the previous one
        plan.append((largest, [(t - largest, t)]))
        known.add(t)
    for dt in scales[1:]:
        pairs = [(t, t + dt) for t in sorted(known) if t + dt <= horizon and t + dt not in known]
        if pairs:
            plan.append((dt, pairs))
            known.update(b for _, b in pairs)
    missing = set(range(horizon + 1)) - known
    if missing:
        raise ValueError(f"scales {scales} cannot reach frames {sorted(missing)[:5]}…")
    return plan


def chain_depths(horizon: int, scales: list[int]) -> list[int]:
    """Number of model calls on the path from frame 0 to each frame 0..horizon."""
    depth = {0: 0}
    for _, pairs in hierarchical_schedule(horizon, scales):
        for a, b in pairs:
            depth[b] = depth[a] + 1
    return [depth[t] for t in range(horizon + 1)]


class MultiScaleStepper(nn.Module):
    """Dynamics models for several Δt combined hierarchically at inference (1S = {1}, …, 4S = {1,2,4,8})."""

    def __init__(self, models: dict[int, nn.Module]):
        super().__init__()
        self.models = nn.ModuleDict({str(dt): m for dt, m in models.items()})

    @property
    def scales(self) -> list[int]:
        return sorted(int(k) for k in self.models)

    @torch.no_grad()
    def rollout(self, z0: torch.Tensor, horizon: int) -> torch.Tensor:
        """All frames 1..horizon from z0 (B, C, n, n): returns (B, horizon, C, n, n)."""
        frames = {0: z0}
        for dt, pairs in hierarchical_schedule(horizon, self.scales):
            src = torch.cat([frames[a] for a, _ in pairs])  # independent chains of a level: one batch
            out = self.models[str(dt)](src).split(z0.shape[0])
            frames.update({b: o for (_, b), o in zip(pairs, out, strict=True)})
        return torch.stack([frames[t] for t in range(1, horizon + 1)], dim=1)

    @torch.no_grad()
    def final_state(self, z0: torch.Tensor, horizon: int) -> tuple[torch.Tensor, int]:
        """Only frame `horizon`, by the greedy decomposition; returns (latent, number of model calls)."""
        z, t, calls = z0, 0, 0
        for dt in sorted(self.scales, reverse=True):
            while t + dt <= horizon:
                z, t, calls = self.models[str(dt)](z), t + dt, calls + 1
        return z, calls
