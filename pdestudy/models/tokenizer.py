"""Adaptive tokenization (MATEY §3): coarse patches everywhere, the highest-variance ones refined.

The steps, each a function a reader can call on its own:

1. `patch_scores`: cut the (normalised) input window (B, T, C, H, W) into coarse p×p patches and
   score each by the variance of its values over (time × patch pixels), averaged over channels.
   MATEY's code scores raw values, so a field with a large raw spread dominates; we score after
   the per-sample, per-channel normalisation, where every field counts alike.
2. `select_patches`: refine the patches whose score is at least γ·(the sample's highest score)
   (γ = 0 refines all, γ = 1 only the top one and its ties), or the top ρ fraction of them.
   The count varies per sample.
3. `mix_layout`: the **Mix** scheme's one sequence per sample — the coarse tokens, each refined
   patch's coarse token replaced by its (p/p_f)² fine tokens in place — padded to the batch's
   longest and described by a boolean key-padding mask (True = a real token, as SDPA takes it).
   Refining every patch gives exactly the uniform fine tokenization; refining none the coarse one.
   The **Mul** scheme needs no layout: the coarse grid is regular, and each refined patch is its
   own short sequence of fine tokens (see `pdestudy.models.matey`).
4. `token_geometry`: every token's centre (x, y) and area fraction, fine tokens at their true
   position (the inputs of the position and patch-area embedding).

`Tokenization` is what the model reports back: which patches were refined, per sample, and the
sequence length it actually processed.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from einops import rearrange


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(B, T, C, H, W) → (B, N, T, C, p, p), patches in row-major order of the patch grid."""
    return rearrange(x, "b t c (ny py) (nx px) -> b (ny nx) t c py px", py=p, px=p)


def unpatchify(patches: torch.Tensor, ny: int, nx: int) -> torch.Tensor:
    """(B, N, C, p, p) → (B, C, H, W), the inverse of `patchify` for one frame."""
    return rearrange(patches, "b (ny nx) c py px -> b c (ny py) (nx px)", ny=ny, nx=nx)


def patch_scores(x: torch.Tensor, p: int) -> torch.Tensor:
    """Variance over (time × pixels) of each coarse patch, mean over channels: (B, T, C, H, W) → (B, N)."""
    patches = rearrange(x, "b t c (ny py) (nx px) -> b (ny nx) c (t py px)", py=p, px=p)
    return patches.var(dim=-1, unbiased=False).mean(dim=-1)


def select_patches(scores: torch.Tensor, gamma: float | None = None, refine_ratio: float | None = None) -> torch.Tensor:
    """Which patches to refine, (B, N) bool: score ≥ γ·max (per sample), or the top round(ρ·N) (at least one)."""
    if (gamma is None) == (refine_ratio is None):
        raise ValueError("set exactly one of gamma and refine_ratio to select patches")
    if gamma is not None:
        return scores >= gamma * scores.amax(dim=1, keepdim=True)
    n = scores.shape[1]
    k = min(n, max(1, round(refine_ratio * n)))
    top = scores.topk(k, dim=1).indices
    return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top, True)


@dataclass
class MixLayout:
    """Where each token of the Mix sequence sits: one row per sample, padded to `length.max()`."""
    offsets: torch.Tensor  # (B, N) first slot of each coarse patch's token(s)
    length: torch.Tensor  # (B,) tokens per frame of each sample
    coarse: tuple[torch.Tensor, torch.Tensor]  # (sample, patch) of every kept coarse token
    fine: tuple[torch.Tensor, torch.Tensor]  # (sample, patch) of every refined patch
    fine_slots: torch.Tensor  # (n_refined, r²) slots of each refined patch's fine tokens

    @property
    def max_length(self) -> int:
        return int(self.length.max())

    def mask(self) -> torch.Tensor | None:
        """(B, L) True for real tokens; None when no sample is padded (SDPA's fast path)."""
        if bool((self.length == self.max_length).all()):
            return None
        return torch.arange(self.max_length, device=self.length.device)[None] < self.length[:, None]


def mix_layout(refined: torch.Tensor, fine_per_patch: int) -> MixLayout:
    """The Mix sequence of each sample: patch j contributes 1 coarse token, or r² fine ones if refined."""
    counts = torch.where(refined, fine_per_patch, 1)
    offsets = counts.cumsum(dim=1) - counts
    fine = refined.nonzero(as_tuple=True)
    slots = offsets[fine][:, None] + torch.arange(fine_per_patch, device=refined.device)
    return MixLayout(offsets, counts.sum(dim=1), (~refined).nonzero(as_tuple=True), fine, slots)


def token_geometry(grid: tuple[int, int], p: int, fine_p: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Centres (x, y) and area fractions of the tokens of a p-patch grid over an H×W image.

    Coordinates are in domain units: the longer side of the grid has length 1, so a patch is square
    in these units as it is in pixels. Returns (coarse (N, 3), fine (N, r², 3)) with columns
    x, y, area; `fine` is None without a fine level. A fine token sits at its true position.
    """
    H, W = grid
    scale = float(max(H, W))
    ny, nx = H // p, W // p
    iy, ix = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
    centre = torch.stack([(ix.flatten() + 0.5) * p, (iy.flatten() + 0.5) * p], dim=-1) / scale  # (N, 2)
    coarse = torch.cat([centre, torch.full((ny * nx, 1), p * p / (H * W))], dim=-1)
    if fine_p is None:
        return coarse, None
    r = p // fine_p
    ay, ax = torch.meshgrid(torch.arange(r), torch.arange(r), indexing="ij")
    local = torch.stack([(ax.flatten() + 0.5) * fine_p, (ay.flatten() + 0.5) * fine_p], dim=-1) / scale  # (r², 2)
    corner = torch.stack([ix.flatten() * p, iy.flatten() * p], dim=-1) / scale  # (N, 2)
    pos = corner[:, None, :] + local[None]  # (N, r², 2)
    fine = torch.cat([pos, torch.full((ny * nx, r * r, 1), fine_p * fine_p / (H * W))], dim=-1)
    return coarse, fine


@dataclass
class Tokenization:
    """What a forward pass tokenized: for the book's pictures and cost tables."""
    refined: torch.Tensor  # (B, ny, nx) bool: coarse patches refined (all False for uniform tokens)
    tokens_per_frame: torch.Tensor  # (B,) tokens of one frame actually processed by the blocks
    history: int  # T frames
    scheme: str  # "uniform", "mix" or "mul"

    @property
    def tokens(self) -> torch.Tensor:
        """(B,) tokens per sample over the whole input window (T · tokens per frame)."""
        return self.history * self.tokens_per_frame

    @property
    def refined_fraction(self) -> torch.Tensor:
        return self.refined.flatten(1).float().mean(dim=1)
