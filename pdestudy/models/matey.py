"""MATEY (arXiv 2412.20601): a vision transformer for spatiotemporal fields, with adaptive tokens.

From T frames u(t−T+1 … t) of C fields on an H×W grid, predict the full state u(t + t_lead)
(not an increment). The model reads top to bottom in the paper's terms:

    pre-processor   RevIN-like normalisation (per sample and channel, with the input window's
                    mean and std; the prediction is de-normalised with the same statistics), the
                    field embedding (columns of one shared linear layer selected by field id), and
                    a convolutional stem per patch level (kernel = stride, kernels multiplying to
                    the patch size)
    tokens          coarse patches, the highest-variance ones refined (`tokenizer`), each token
                    carrying its time index, centre and area through the position and patch-area
                    embedding (Aurora's Fourier features), added once before the first block
    blocks          one backbone whose attention kind is a parameter: "vit" (joint attention over
                    all T·N tokens), "svit" (over time per token, then over the tokens of a frame),
                    "avit" (over time, then along x and along y of the token grid, averaged)
    post-processor  a transposed-conv decoder per patch level back to the dataset's fields

Two adaptive schemes (`scheme`): "mix" — one sequence in which each refined patch's coarse token
is replaced by its fine tokens (refining every patch is exactly the uniform fine model);
"mul" — a coarse pass over the whole domain plus, per refined patch, a short sequence of its fine
tokens whose decoded correction is added on that patch (the only scheme AViT can run: axial
attention needs a regular grid, which the coarse grid and each refined patch are).

Design choices that differ from the authors' code, and why:

* The stem and decoder are convolutions and GELUs without normalisation layers (the input is
  already normalised, RevIN-like), and the blocks' norms are LayerNorms of each token. Every layer
  of the stem and decoder is then local to its patch, so encoding or decoding only the refined
  patches is exactly what the whole-domain fine model computes there, and padded tokens cannot
  leak into anyone's statistics. MATEY's instance norms over the image couple all patches; a
  per-pixel norm over channels would keep locality but discard each pixel's amplitude (a patch
  of value a and one of 2a would embed alike), which we measured to cripple the density field.
* Padding is described by a boolean key-padding mask (True = real token), as
  `scaled_dot_product_attention` takes it; no magic fill values. Work per token (time attention,
  MLP) runs on the real tokens only.
* One block class whose attention layout is an argument, instead of a copy of the model per variant.
* `residual` (off by default, as MATEY) predicts the change from the last input frame instead of
  the full state. At one frame ahead, PDEBench-style systems barely change (persistence scores an
  NRMSE of a few per cent), and a small model trained for minutes on a CPU that must first learn
  the identity stays far above it; with the change as target, and the output layers initialised
  to zero, it starts at persistence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import nn

from ..data.fields import field_ids, remap_rows, vocabulary
from .tokenizer import Tokenization, mix_layout, patch_scores, select_patches, token_geometry

ATTENTIONS = ("vit", "svit", "avit")
SCHEMES = ("mix", "mul")
# Ti / S / B as in DeiT (Touvron et al. 2022), which the paper follows: width, heads, blocks.
SIZES = {"Ti": (192, 3, 12), "S": (384, 6, 12), "B": (768, 12, 12)}
# The attention layout of each block, per kind: a sequence of mixers, then the MLP.
MIXERS = {"vit": ("joint",), "svit": ("time", "space"), "avit": ("time", "axial")}


@dataclass
class MateyConfig:
    attention: str = "svit"  # vit | svit | avit
    size: str | None = None  # Ti | S | B preset for width, heads, depth (explicit values override)
    width: int | None = None  # token dimension d
    depth: int | None = None  # blocks
    heads: int | None = None
    history: int = 16  # T input frames
    patch_size: int = 32  # coarse patch (pixels per side); the only level without fine_patch_size
    fine_patch_size: int | None = None  # None: uniform tokens; else refined patches use this size
    gamma: float | None = 0.4  # refine patches with variance ≥ γ·(the sample's max) …
    refine_ratio: float | None = None  # … or the top ρ fraction (set one of the two)
    scheme: str = "mix"  # mix | mul
    mlp_ratio: int = 4
    layer_scale: float = 1e-6  # initial value of the residual branches' layer-scale
    drop_path: float = 0.0  # stochastic depth, rising linearly over the blocks to this value
    leadtime: bool = False  # condition on t_lead with an MLP (off when t_lead is fixed)
    residual: bool = False  # predict the change from the last input frame (MATEY: the full state; see below)
    vocabulary: tuple[str, ...] | None = None  # field names; None: the study's vocabulary file
    eps: float = 1e-5  # floor of the normalisation's std

    def __post_init__(self):
        if self.attention not in ATTENTIONS:
            raise ValueError(f"attention must be one of {ATTENTIONS}, got {self.attention!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"scheme must be one of {SCHEMES}, got {self.scheme!r}")
        if self.size is not None and self.size not in SIZES:
            raise ValueError(f"size must be one of {tuple(SIZES)} or None, got {self.size!r}")
        w, h, d = SIZES[self.size or "Ti"]
        self.width = int(self.width or w)
        self.heads = int(self.heads or h)
        self.depth = int(self.depth or d)
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError(f"width {self.width} must be divisible by heads {self.heads} into even head dims")
        if self.width % 4:
            raise ValueError(f"width must be divisible by 4 (the field embedding has width/4 channels), got {self.width}")
        for name in ("history", "patch_size", "depth", "mlp_ratio"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.fine_patch_size is not None:
            f, p = int(self.fine_patch_size), int(self.patch_size)
            if f < 1 or p % f or f == p:
                raise ValueError(f"fine_patch_size {self.fine_patch_size} must divide patch_size {p} (and be smaller)")
            if (self.gamma is None) == (self.refine_ratio is None):
                raise ValueError("an adaptive model needs exactly one of gamma and refine_ratio")
            if self.gamma is not None and not 0.0 <= self.gamma <= 1.0:
                raise ValueError(f"gamma must lie in [0, 1], got {self.gamma}")
            if self.refine_ratio is not None and not 0.0 < self.refine_ratio <= 1.0:
                raise ValueError(f"refine_ratio must lie in (0, 1], got {self.refine_ratio}")
            if self.attention == "avit" and self.scheme == "mix":
                raise ValueError("scheme 'mix' needs attention 'vit' or 'svit': avit's axial attention needs a "
                                 "regular token grid; use scheme 'mul'")
        if self.vocabulary is not None:
            self.vocabulary = tuple(self.vocabulary)

    @property
    def adaptive(self) -> bool:
        return self.fine_patch_size is not None

    @property
    def patch_sizes(self) -> tuple[int, ...]:
        """The patch levels, coarse first."""
        return (self.patch_size,) if self.fine_patch_size is None else (self.patch_size, self.fine_patch_size)


def stem_kernels(p: int) -> list[int]:
    """Kernels (= strides) of the stem of patch size p, multiplying to p: 32 → 8, 2, 2; 4 → 2, 2."""
    if p % 4 == 0 and p >= 4:
        return [k for k in (p // 4, 2, 2) if k > 1]
    return [p]


# ----------------------------------------------------------------------------- pre-processor
def normalise(x: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """RevIN-like: per sample and channel, over (T, H, W); not learnable. Returns (x̂, mean, std)."""
    mean = x.mean(dim=(1, 3, 4), keepdim=True)
    std = x.std(dim=(1, 3, 4), keepdim=True, unbiased=False).clamp_min(eps)
    return (x - mean) / std, mean, std


class FieldRows(nn.Module):
    """A module with one row per vocabulary field; its checkpoints store the field names.

    Loading a checkpoint built from a shorter (older) vocabulary puts each stored row at the row
    of its name and keeps this model's rows for the fields the checkpoint did not have.
    """
    row_params: tuple[tuple[str, int], ...] = ()  # (parameter name, dimension of its field rows)

    def __init__(self, names: Sequence[str]):
        super().__init__()
        self.names = tuple(names)

    def get_extra_state(self):
        return {"fields": list(self.names)}

    def set_extra_state(self, state):
        pass  # rows were already placed by _load_from_state_dict

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        old = state_dict.get(prefix + "_extra_state", {}).get("fields")
        if old is not None and tuple(old) != self.names:
            rows = remap_rows(old, self.names)
            for name, dim in self.row_params:
                stored = state_dict[prefix + name]
                merged = getattr(self, name).detach().clone()
                merged.index_copy_(dim, rows, stored.to(merged.dtype))
                state_dict[prefix + name] = merged
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class FieldEmbedding(FieldRows):
    """One shared linear map from the vocabulary's fields to width/4 channels, per pixel; a dataset
    uses the columns of its own fields, scaled by 1/sqrt(C) so the output's size does not depend on
    how many fields a dataset has (MPP's SubsampledLinear scales by sqrt(V/C) with weights of std
    1/sqrt(V): the same at initialisation, but ours does not change when the vocabulary grows)."""
    row_params = (("weight", 1),)

    def __init__(self, names: Sequence[str], out_channels: int):
        super().__init__(names)
        self.weight = nn.Parameter(torch.empty(out_channels, len(names)))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        nn.init.trunc_normal_(self.weight, std=1.0)

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:  # (..., C, H, W) → (..., H, W, E)
        w = self.weight[:, ids] / math.sqrt(len(ids))
        return torch.einsum("...chw,ec->...hwe", x, w) + self.bias  # channel-last, as the stems read it


# The stems and decoders are convolutions with kernel = stride, i.e. one linear map per k×k block.
# They have few channels (width/4), and on CPU the convolution kernels spend several times the
# FLOPs' worth of time on such shapes (most of it in the backward pass), as do channel-first
# layouts, whose block rearrangements copy runs of k floats. So the pre- and post-processor work
# channel-last, blocks flattened as (i j c), and each layer is one matmul — the same parameters and
# the same function as `F.conv2d` / `F.conv_transpose2d` with stride k (tests check both).
def patch_conv(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Conv2d with kernel = stride k, channel-last: (n, H, W, c) → (n, H/k, W/k, o); weight (o, c, k, k)."""
    k = weight.shape[-1]
    blocks = rearrange(x, "n (h i) (w j) c -> n h w (i j c)", i=k, j=k)
    return F.linear(blocks, rearrange(weight, "o c i j -> o (i j c)"), bias)


def patch_conv_transpose(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """ConvTranspose2d with kernel = stride k, channel-last: (n, h, w, c) → (n, h·k, w·k, o); weight (c, o, k, k)."""
    k = weight.shape[-1]
    z = x @ rearrange(weight, "c o i j -> c (i j o)")
    return rearrange(z, "n h w (i j o) -> n (h i) (w j) o", i=k, j=k) + bias


class Stem(nn.Sequential):
    """Patch embedding of one level: convs with kernel = stride, width/4 → … → width, channel-last:
    (n, P, P, E) → (n, P/p, P/p, width)."""

    def __init__(self, p: int, width: int):
        kernels = stem_kernels(p)
        chans = [width // 4] * len(kernels) + [width]
        layers: list[nn.Module] = []
        for i, k in enumerate(kernels):
            layers.append(nn.Conv2d(chans[i], chans[i + 1], k, stride=k))
            if i < len(kernels) - 1:
                layers.append(nn.GELU())
        super().__init__(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self:
            x = patch_conv(x, layer.weight, layer.bias) if isinstance(layer, nn.Conv2d) else layer(x)
        return x


class OutputLayer(FieldRows):
    """The decoder's last transposed conv, to the vocabulary's fields; a dataset keeps its rows."""
    row_params = (("weight", 1), ("bias", 0))

    def __init__(self, names: Sequence[str], in_channels: int, k: int):
        super().__init__(names)
        self.weight = nn.Parameter(torch.empty(in_channels, len(names), k, k))
        self.bias = nn.Parameter(torch.zeros(len(names)))
        nn.init.trunc_normal_(self.weight, std=1.0 / math.sqrt(in_channels))

    def forward(self, x: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:  # (n, h, w, c) → (n, h·k, w·k, C)
        return patch_conv_transpose(x, self.weight[:, ids], self.bias[ids])


class Decoder(nn.Module):
    """Post-processor of one level: transposed convs mirroring the stem, then the output layer."""

    def __init__(self, p: int, width: int, names: Sequence[str]):
        super().__init__()
        kernels = stem_kernels(p)[::-1]
        chans = [width] + [width // 4] * (len(kernels) - 1)
        layers: list[nn.Module] = []
        for i, k in enumerate(kernels[:-1]):
            layers += [nn.ConvTranspose2d(chans[i], chans[i + 1], k, stride=k), nn.GELU()]
        self.hidden = nn.Sequential(*layers)
        self.out = OutputLayer(names, chans[-1], kernels[-1])

    def forward(self, tokens: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:  # (N, h, w, d) → (N, h·p, w·p, C)
        x = tokens
        for layer in self.hidden:
            x = patch_conv_transpose(x, layer.weight, layer.bias) if isinstance(layer, nn.ConvTranspose2d) else layer(x)
        return self.out(x, ids)


def fourier_features(v: torch.Tensor, dim: int, lo: float, hi: float) -> torch.Tensor:
    """sin/cos of 2π v / λ for `dim`/2 wavelengths λ log-spaced in [lo, hi] (Aurora's encoding)."""
    wavelengths = torch.logspace(math.log10(lo), math.log10(hi), dim // 2, dtype=v.dtype, device=v.device)
    angle = 2 * math.pi * v[..., None] / wavelengths
    return torch.cat([angle.sin(), angle.cos()], dim=-1)


class PositionAreaEmbedding(nn.Module):
    """Time index, patch centre (x, y) and area fraction of each token → one vector, summed over the
    three groups (one linear map each), as MATEY's PositionAreaBias (after Aurora)."""

    def __init__(self, width: int):
        super().__init__()
        self.width = width
        self.time, self.position, self.area = (nn.Linear(width, width) for _ in range(3))

    def forward(self, history: int, geometry: torch.Tensor) -> torch.Tensor:
        """geometry (B, L, 3) of x, y, area → (B, T, L, d)."""
        d = self.width
        t = torch.arange(history, dtype=geometry.dtype, device=geometry.device)
        e_t = self.time(fourier_features(t, d, 1.0, 100.0))  # (T, d)
        xy = torch.cat([fourier_features(geometry[..., 0], d // 2, 1e-3, 1.0),
                        fourier_features(geometry[..., 1], d // 2, 1e-3, 1.0)], dim=-1)
        e_s = self.position(xy) + self.area(fourier_features(geometry[..., 2], d, 1e-5, 1.0))  # (B, L, d)
        return e_t[None, :, None, :] + e_s[:, None, :, :]


# ----------------------------------------------------------------------------- blocks
class Attention(nn.Module):
    """Multi-head self-attention with QK-normalisation, through torch's SDPA."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        # no bias on the normalised keys: adding one vector to every key shifts each query's scores by a
        # constant, which softmax ignores — its gradient is round-off, which Adam would turn into drift
        self.q_norm, self.k_norm = nn.LayerNorm(width // heads), nn.LayerNorm(width // heads, bias=False)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        """x (N, S, d); key_mask (N, S) bool, True = a real token (padded keys are not attended to)."""
        q, k, v = rearrange(self.qkv(x), "n s (three h e) -> three n h s e", three=3, h=self.heads)
        mask = None if key_mask is None else key_mask[:, None, None, :]
        o = F.scaled_dot_product_attention(self.q_norm(q), self.k_norm(k), v, attn_mask=mask)
        return self.proj(rearrange(o, "n h s e -> n s (h e)"))


class DropPath(nn.Module):
    """Stochastic depth: drop a residual branch for a whole sample with probability p (training only)."""

    def __init__(self, p: float):
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = torch.rand(x.shape[0], *([1] * (x.dim() - 1)), device=x.device) >= self.p
        return x * keep / (1 - self.p)


class Residual(nn.Module):
    """x + drop_path(layer_scale · f(norm(x))): the wrapper of every branch of a block."""

    def __init__(self, width: int, layer_scale: float, drop_path: float):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.scale = nn.Parameter(torch.full((width,), layer_scale))
        self.drop = DropPath(drop_path)

    def branch(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return x + self.drop(self.scale * y)


class Block(nn.Module):
    """Pre-norm transformer block: the mixers of its attention kind, then an MLP ×`mlp_ratio`.

    Tokens are (B, T, L, d) with a key-padding mask (B, L) or None; `grid` (ny, nx) is the token
    grid for axial attention. The mixers are the same attention module over different groupings:
        time   "b t l d -> (b l) t d"    (real tokens only)
        space  "b t l d -> (b t) l d"
        joint  "b t l d -> b (t l) d"
        axial  "b t (y x) d -> (b t y) x d" and "-> (b t x) y d", the two averaged
    """

    def __init__(self, kind: str, width: int, heads: int, mlp_ratio: int, layer_scale: float, drop_path: float):
        super().__init__()
        self.mixers = MIXERS[kind]
        self.attn = nn.ModuleList(Attention(width, heads) for _ in self.mixers)
        self.attn_res = nn.ModuleList(Residual(width, layer_scale, drop_path) for _ in self.mixers)
        self.mlp = nn.Sequential(nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width))
        self.mlp_res = Residual(width, layer_scale, drop_path)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, grid: tuple[int, int] | None,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        for i, (kind, attn, res) in enumerate(zip(self.mixers, self.attn, self.attn_res)):
            h = res.norm(x)
            if cond is not None and i == 0:
                h = h + cond[:, None, None, :]
            x = res.branch(x, self.mix(kind, attn, h, mask, grid))
        return self.mlp_res.branch(x, per_token(self.mlp, self.mlp_res.norm(x), mask))

    @staticmethod
    def mix(kind: str, attn: Attention, h: torch.Tensor, mask: torch.Tensor | None,
            grid: tuple[int, int] | None) -> torch.Tensor:
        B, T, L, _ = h.shape
        if kind == "time":
            if mask is None:
                return rearrange(attn(rearrange(h, "b t l d -> (b l) t d")), "(b l) t d -> b t l d", b=B)
            out = torch.zeros_like(h).transpose(1, 2)  # (B, L, T, d)
            out[mask] = attn(h.transpose(1, 2)[mask])
            return out.transpose(1, 2)
        if kind == "space":
            m = None if mask is None else repeat(mask, "b l -> (b t) l", t=T)
            return rearrange(attn(rearrange(h, "b t l d -> (b t) l d"), m), "(b t) l d -> b t l d", b=B)
        if kind == "joint":
            m = None if mask is None else repeat(mask, "b l -> b (t l)", t=T)
            return rearrange(attn(rearrange(h, "b t l d -> b (t l) d"), m), "b (t l) d -> b t l d", t=T)
        if mask is not None or grid is None:  # kind == "axial"
            raise ValueError("axial attention needs a regular token grid without padding")
        ny, nx = grid
        g = rearrange(h, "b t (y x) d -> b t y x d", y=ny, x=nx)
        along_x = rearrange(attn(rearrange(g, "b t y x d -> (b t y) x d")), "(b t y) x d -> b t y x d", b=B, t=T)
        along_y = rearrange(attn(rearrange(g, "b t y x d -> (b t x) y d")), "(b t x) y d -> b t y x d", b=B, t=T)
        return rearrange((along_x + along_y) / 2, "b t y x d -> b t (y x) d")


def per_token(fn: nn.Module, h: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Apply a per-token function to the real tokens only of (B, T, L, d) (padded slots stay zero)."""
    if mask is None:
        return fn(h)
    out = torch.zeros_like(h).transpose(1, 2)
    out[mask] = fn(h.transpose(1, 2)[mask])
    return out.transpose(1, 2)


class LeadTimeEmbedding(nn.Sequential):
    """MLP of the lead time t_lead (in frames): Linear 1 → 4d, GELU, Linear 4d → d."""

    def __init__(self, width: int):
        super().__init__(nn.Linear(1, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, lead: torch.Tensor) -> torch.Tensor:
        return super().forward(lead.float()[:, None])


# ----------------------------------------------------------------------------- the model
class Matey(nn.Module):
    def __init__(self, config: MateyConfig):
        super().__init__()
        self.config = c = config
        self.vocab = tuple(c.vocabulary or vocabulary())
        self.embed = FieldEmbedding(self.vocab, c.width // 4)
        self.stems = nn.ModuleDict({f"p{p}": Stem(p, c.width) for p in c.patch_sizes})
        self.position = PositionAreaEmbedding(c.width)
        rates = [c.drop_path * i / max(c.depth - 1, 1) for i in range(c.depth)]  # linear over depth
        self.blocks = nn.ModuleList(Block(c.attention, c.width, c.heads, c.mlp_ratio, c.layer_scale, r) for r in rates)
        self.norm = nn.LayerNorm(c.width)
        self.decoders = nn.ModuleDict({f"p{p}": Decoder(p, c.width, self.vocab) for p in c.patch_sizes})
        self.lead_time = LeadTimeEmbedding(c.width) if c.leadtime else None
        if c.residual:  # start at persistence: the decoded change is zero until the output layers learn
            for dec in self.decoders.values():
                nn.init.zeros_(dec.out.weight)

    # -- helpers
    def field_ids(self, fields: Sequence[str] | torch.Tensor, device) -> torch.Tensor:
        return field_ids(fields, self.vocab).to(device)

    def _check_grid(self, H: int, W: int) -> None:
        p = self.config.patch_size
        if H % p or W % p:
            raise ValueError(f"patch_size {p} does not tile the {H}×{W} grid")

    def select(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N) refined patches of a normalised window (all False for uniform tokens)."""
        c = self.config
        B, _, _, H, W = x.shape
        if not c.adaptive:
            return torch.zeros(B, (H // c.patch_size) * (W // c.patch_size), dtype=torch.bool, device=x.device)
        return select_patches(patch_scores(x, c.patch_size), c.gamma, c.refine_ratio)

    def run_blocks(self, tokens: torch.Tensor, mask, grid, cond) -> torch.Tensor:
        for block in self.blocks:
            tokens = block(tokens, mask, grid, cond)
        return self.norm(tokens)

    def encode_patches(self, patches: torch.Tensor, p: int) -> torch.Tensor:
        """(n, T, P, P, E) patches of width/4 channels → (n, T, (P/p)², d) tokens of patch size p."""
        n = patches.shape[0]
        z = self.stems[f"p{p}"](patches.flatten(0, 1))  # (n·T, P/p, P/p, d)
        return rearrange(z, "(n t) y x d -> n t (y x) d", n=n)

    def decode_tokens(self, tokens: torch.Tensor, p: int, ids: torch.Tensor) -> torch.Tensor:
        """(n, (P/p)², d) tokens of one frame → (n, P, P, C) patches."""
        r = math.isqrt(tokens.shape[1])
        return self.decoders[f"p{p}"](rearrange(tokens, "n (y x) d -> n y x d", y=r, x=r), ids)

    # -- forward
    def forward(self, x: torch.Tensor, fields: Sequence[str] | torch.Tensor, lead: torch.Tensor | int | None = None,
                refined: torch.Tensor | None = None, return_tokenization: bool = False):
        """x (B, T, C, H, W), fields: the C field names (or ids) → prediction (B, C, H, W).

        `lead`: t_lead in frames (with `leadtime`); `refined` (B, N) bool overrides the selection of
        patches to refine (the tests refine all or none); `return_tokenization` also returns what
        was tokenized (`Tokenization`)."""
        c = self.config
        if x.dim() != 5:
            raise ValueError(f"x must be (B, T, C, H, W), got shape {tuple(x.shape)}")
        B, T, C, H, W = x.shape
        if T != c.history:
            raise ValueError(f"history: the model takes {c.history} frames, got {T}")
        ids = self.field_ids(fields, x.device)
        if len(ids) != C:
            raise ValueError(f"fields: {len(ids)} names for {C} channels")
        self._check_grid(H, W)
        cond = None
        if self.lead_time is not None:
            lead = torch.ones(B, device=x.device) if lead is None else torch.as_tensor(lead, device=x.device).expand(B)
            cond = self.lead_time(lead)

        xn, mean, std = normalise(x, c.eps)
        if refined is None:
            refined = self.select(xn)  # (B, N)
        elif not self.config.adaptive and bool(refined.any()):
            raise ValueError("refined: a model with uniform tokens (fine_patch_size None) cannot refine patches")
        pc, pf = c.patch_size, c.fine_patch_size
        ny, nx = H // pc, W // pc
        # (B, N, T, pc, pc, E): channel-last patches of the embedded fields
        patches = rearrange(self.embed(xn, ids), "b t (ny py) (nx px) e -> b (ny nx) t py px e", py=pc, px=pc)
        geo_c, geo_f = token_geometry((H, W), pc, pf)
        geo_c, geo_f = geo_c.to(x), None if geo_f is None else geo_f.to(x)
        out = x.new_zeros(B, ny * nx, pc, pc, C)

        if c.scheme == "mul" or not c.adaptive:
            # coarse pass over the whole (regular) grid
            tokens = rearrange(self.encode_patches(patches.flatten(0, 1), pc), "(b n) t 1 d -> b t n d", b=B)
            tokens = tokens + self.position(T, geo_c.expand(B, -1, -1))
            z = self.run_blocks(tokens, None, (ny, nx), cond)[:, -1]  # (B, N, d): last frame
            out = self.decode_tokens(rearrange(z, "b n d -> (b n) 1 d"), pc, ids).unflatten(0, (B, ny * nx))
            per_frame = torch.full((B,), ny * nx, device=x.device)
            # uniform tokens refine nothing: no data-dependent indexing (the meta device runs them too)
            bf, jf = refined.nonzero(as_tuple=True) if c.adaptive else (refined[:0, 0].long(),) * 2
            if len(bf):  # each refined patch: its own short sequence of fine tokens, a correction added
                r = pc // pf
                local = self.encode_patches(patches[bf, jf], pf) + self.position(T, geo_f[jf])
                zl = self.run_blocks(local, None, (r, r), None if cond is None else cond[bf])[:, -1]
                out = out.index_put((bf, jf), self.decode_tokens(zl, pf, ids), accumulate=True)
                per_frame = per_frame + refined.sum(1) * r * r
            scheme = "mul" if c.adaptive else "uniform"
        else:
            # Mix: one sequence per sample, refined patches' coarse tokens replaced by their fine tokens
            r2 = (pc // pf) ** 2
            lay = mix_layout(refined, r2)
            L, mask = lay.max_length, lay.mask()
            seq = x.new_zeros(B, L, T, c.width)
            geo = x.new_zeros(B, L, 3)
            (bc, jc), (bf, jf) = lay.coarse, lay.fine
            slots_c = lay.offsets[bc, jc]
            if len(bc):
                seq[bc, slots_c] = self.encode_patches(patches[bc, jc], pc)[:, :, 0]
                geo[bc, slots_c] = geo_c[jc]
            if len(bf):
                seq[bf[:, None], lay.fine_slots] = self.encode_patches(patches[bf, jf], pf).transpose(1, 2)
                geo[bf[:, None], lay.fine_slots] = geo_f[jf]
            tokens = seq.transpose(1, 2) + self.position(T, geo)  # (B, T, L, d)
            if mask is not None:
                tokens = tokens * mask[:, None, :, None]
            z = self.run_blocks(tokens, mask, None, cond)[:, -1]  # (B, L, d)
            if len(bc):
                out[bc, jc] = self.decode_tokens(z[bc, slots_c][:, None], pc, ids)
            if len(bf):
                out[bf, jf] = self.decode_tokens(z[bf[:, None], lay.fine_slots], pf, ids)
            per_frame, scheme = lay.length, "mix"

        out = rearrange(out, "b (ny nx) py px c -> b c (ny py) (nx px)", ny=ny)
        if c.residual:  # in normalised units: the last input frame plus the decoded change
            out = out + xn[:, -1]
        pred = out * std[:, -1] + mean[:, -1]
        if not return_tokenization:
            return pred
        return pred, Tokenization(refined.view(B, ny, nx), per_frame, T, scheme)

    @torch.no_grad()
    def tokenize(self, x: torch.Tensor) -> Tokenization:
        """Which patches a window would refine, and the tokens per frame, without running the blocks."""
        c = self.config
        B, T, C, H, W = x.shape
        self._check_grid(H, W)
        refined = self.select(normalise(x, c.eps)[0])
        ny, nx = H // c.patch_size, W // c.patch_size
        n = torch.full((B,), ny * nx, device=x.device)
        if c.adaptive:
            r2 = (c.patch_size // c.fine_patch_size) ** 2
            n = n + refined.sum(1) * (r2 if c.scheme == "mul" else r2 - 1)
        return Tokenization(refined.view(B, ny, nx), n, T, "uniform" if not c.adaptive else c.scheme)


# ----------------------------------------------------------------------------- fine-tuning
FREEZE_MODES = ("all", "prepost")


def is_prepost(name: str) -> bool:
    """MATEY's PREPOST fine-tuning (its `freeze_middle`): only the field embedding and the decoders'
    last layer (the output rows) train; the stems, the first decoder layers, the position and
    lead-time embeddings and every block stay as pretrained."""
    return name.startswith("embed.") or (name.startswith("decoders.") and ".out." in name)


def set_trainable(model: Matey, mode: str = "all") -> list[str]:
    """Freeze `model` for fine-tuning `mode` ("all": everything trains; "prepost": see `is_prepost`);
    returns the names of the parameters that train."""
    if mode not in FREEZE_MODES:
        raise ValueError(f"freeze: one of {FREEZE_MODES}, got {mode!r}")
    names = []
    for name, p in model.named_parameters():
        p.requires_grad_(mode == "all" or is_prepost(name))
        if p.requires_grad:
            names.append(name)
    return names


def parameter_count(config: MateyConfig, n_fields: int | None = None) -> int:
    """The analytic number of parameters of `Matey(config)` (tests check it against the module)."""
    c = config
    d, e, V = c.width, c.width // 4, n_fields or len(c.vocabulary or vocabulary())
    n = e * V + e  # field embedding
    for p in c.patch_sizes:
        ks = stem_kernels(p)
        chans = [e] * len(ks) + [d]
        n += sum(chans[i] * chans[i + 1] * k * k + chans[i + 1] for i, k in enumerate(ks))  # stem convs
        rk = ks[::-1]
        dchans = [d] + [e] * (len(rk) - 1)
        n += sum(dchans[i] * dchans[i + 1] * k * k + dchans[i + 1] for i, k in enumerate(rk[:-1]))
        n += dchans[-1] * V * rk[-1] ** 2 + V  # output layer
    n += 3 * (d * d + d)  # position, time and area maps
    attention = (3 * d * d + 3 * d) + (d * d + d) + 3 * (d // c.heads)  # qkv, proj, q-norm (w, b), k-norm (w)
    residual = 2 * d + d  # norm + layer-scale
    mlp = (d * c.mlp_ratio * d + c.mlp_ratio * d) + (c.mlp_ratio * d * d + d)
    n += c.depth * (len(MIXERS[c.attention]) * (attention + residual) + mlp + residual)
    n += 2 * d  # final norm
    if c.leadtime:
        n += (4 * d + 4 * d) + (4 * d * d + d)
    return n
