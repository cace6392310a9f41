"""The one training loop of the study: every model (autoencoder, MST dynamics, FNO, MATEY) trains here.

What it does, and why:

* **Tasks.** ``autoencoder`` reconstructs frames; ``dynamics`` advances the frozen autoencoder's
  latents by Δt, unrolled R steps with gradients through the chain; ``fno`` advances frames in
  physical space the same way (loss: per-sample relative L2, averaged over the R steps too);
  ``matey`` predicts the frame `lead` steps after a window of `history` frames (loss: MATEY's
  per-sample, per-channel NMSE; validation: its NRMSE). Each task is a small class (`Task`):
  it builds the model, loads its data, serves batches and computes the loss; the loop around them
  is the same for all.
* **One model for every Δt.** A dynamics run on `leads` (e.g. [1, 2, 4, 8]) trains one Δt-conditioned
  model (model.leadtime) on the windows of every listed Δt together, each sample carrying its Δt.
* **Several datasets, fine-tuning.** A matey run may name several `datasets` (MATEY/MPP's
  multi-physics pretraining: each step draws one dataset uniformly, then a batch from it; each is
  validated every epoch, the best epoch has the lowest mean), fix `steps_per_epoch` whatever the
  data size, keep `train_trajectories` of the training split, start `init_from` a finished run
  (field rows matched by name), `freeze` all but the field embedding and output layer, and take
  its windows from `frames` of each trajectory (a transient before the flow settles).
* **A dry step.** `dry_step` builds a config's model at full size and takes one optimisation step
  on random data of its dataset's shapes, read from the registry: the paper profile's models are
  checked on a machine that could never train them (tests/test_paper_profile.py).
* **Honest validation.** A validation split is carved out of the *training* trajectories (the last
  `val_fraction` of them). It drives ReduceLROnPlateau and the choice of the best epoch, whose
  weights are kept separately and reported with their epoch number. Test trajectories are never
  seen here; the notebooks score on them.
* **Determinism and resume.** The order of samples in epoch e is a permutation drawn from
  (seed, e) alone, so nothing about the sampler needs saving. A checkpoint (model, optimiser,
  scheduler, torch RNG, history, best weights) is written atomically after every epoch; a run
  killed at any moment and started again with the same config resumes from the last epoch and
  ends with the same numbers as an uninterrupted run.
* **DDP.** Unchanged under `torchrun --nproc_per_node=N`: each global batch (same as in one
  process) is split evenly across the ranks and gradients are averaged by DistributedDataParallel
  (gloo on CPU, nccl on CUDA), so N processes compute the same updates as one.
* **Results cache.** A run lives in ``<results>/<task>/<config hash>/``; the hash covers the whole
  config, including the nested configs of the autoencoder it encodes with and of the run it is
  initialised from (transfer learning between Δt). Asking again for a finished config loads it.
* **A longer run continues a shorter one.** Nothing in an epoch depends on the number of epochs
  (the sampler draws from (seed, epoch), ReduceLROnPlateau reads only the losses so far), so the
  first E epochs of an (E + k)-epoch run are the E-epoch run of the same config. A run with no
  checkpoint of its own therefore starts from the final checkpoint of the longest finished run
  that differs from it in `epochs` alone: the same numbers as training from scratch (tested), and
  no epoch trained twice — a chapter's larger budget, or a reader raising `epochs` in a cell, pays
  only for the epochs it adds. Its training time includes the shorter run's; `metrics.json` names
  that run (`continued_from`).
"""
from __future__ import annotations

import argparse
import copy
import dataclasses
import hashlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import yaml
from torch import nn
from tqdm.auto import tqdm

from .data.generation import dataset_path, generate
from .data.io import open_dataset, validate_file
from .data.windows import check_frame_range
from .paths import results_root
from .utils import atomic_path, eval_batch, exclusive, get_device, held_elsewhere, in_batches, share_cores

TASKS = ("autoencoder", "dynamics", "fno", "matey")


@dataclass
class TrainConfig:
    task: str = "autoencoder"  # autoencoder | dynamics | fno | matey
    dataset: str = "ns_nu1e-3"
    profile: str = "default"  # which generated file (data/generated/<profile>/<dataset>.nc)
    model: dict[str, Any] = field(default_factory=dict)  # fields of CAEConfig / MSTConfig / FNOConfig / MateyConfig
    autoencoder: dict[str, Any] | None = None  # dynamics: the TrainConfig (as dict) of the frozen CAE
    init_from: dict[str, Any] | None = None  # transfer learning: TrainConfig (as dict) whose weights start this run
    lead: int = 1  # Δt in frames
    rollout: int = 1  # R unrolled steps in the loss
    history: int = 1  # input frames (FNO, MATEY)
    epochs: int = 10
    batch_size: int = 32  # global batch (split across DDP ranks)
    lr: float = 1e-3
    weight_decay: float = 0.0
    plateau_factor: float = 0.2
    plateau_patience: int = 5
    grad_clip: float = 1.0
    val_fraction: float = 0.1
    max_train_samples: int | None = None  # data-size studies / smoke runs: first N windows of a fixed shuffle
    seed: int = 0
    # matey only: multi-physics pretraining, fine-tuning, lead-time conditioning
    datasets: list[str] | None = None  # pretraining: every step draws one of these (seeded, uniform); `dataset` names the mix
    steps_per_epoch: int | None = None  # batches per epoch whatever the data size (MPP's epoch_size); None: one pass
    train_trajectories: int | None = None  # fine-tuning data size: k training trajectories (a seeded subset)
    freeze: str = "all"  # fine-tuning: "all" trains everything, "prepost" only the field embedding and output layer
    lead_max: int | None = None  # lead-time conditioning: each sample's lead drawn in 1 … lead_max (model.leadtime)
    frames: list[int] | None = None  # [first, end): the frames of each trajectory windows come from (None: all)
    # dynamics only: one model for every step size
    leads: list[int] | None = None  # train one Δt-conditioned model (model.leadtime) on the windows of every Δt listed

    def __post_init__(self):
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.task == "dynamics" and self.autoencoder is None:
            raise ValueError("a dynamics run needs `autoencoder`: the TrainConfig of the CAE it works in")
        for name in ("lead", "rollout", "history", "epochs", "batch_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.task == "matey" and self.rollout != 1:
            raise ValueError(f"rollout: a matey run predicts one frame (rollout 1), got {self.rollout}")
        matey_only = dict(datasets=self.datasets, steps_per_epoch=self.steps_per_epoch,
                          train_trajectories=self.train_trajectories, lead_max=self.lead_max,
                          freeze=None if self.freeze == "all" else self.freeze, frames=self.frames)
        if self.task != "matey" and any(v is not None for v in matey_only.values()):
            raise ValueError(f"{[k for k, v in matey_only.items() if v is not None]}: only a matey run takes these")
        if self.freeze not in ("all", "prepost"):
            raise ValueError(f"freeze must be 'all' or 'prepost', got {self.freeze!r}")
        if self.datasets is not None and len(self.datasets) < 1:
            raise ValueError("datasets: name at least one dataset")
        for name in ("steps_per_epoch", "train_trajectories", "lead_max"):
            if getattr(self, name) is not None and int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be ≥ 1, got {getattr(self, name)}")
        if self.frames is not None:
            check_frame_range(self.frames, self.history, self.lead_max or self.lead)
        if self.lead_max is not None and not self.model.get("leadtime"):
            raise ValueError("lead_max: drawing the lead per sample needs a lead-time-conditioned model (model.leadtime)")
        if self.leads is not None:
            if self.task != "dynamics":
                raise ValueError(f"leads: only a dynamics run takes these (a {self.task} run: use lead_max)")
            if not self.leads or len(set(self.leads)) != len(self.leads) or any(int(d) < 1 for d in self.leads):
                raise ValueError(f"leads must be distinct Δt ≥ 1, got {self.leads}")
            if self.lead != 1:
                raise ValueError(f"lead={self.lead}: a run on `leads` takes its Δt from them; leave lead at 1")
        if self.task == "dynamics" and bool(self.model.get("leadtime")) != (self.leads is not None):
            raise ValueError("a Δt-conditioned dynamics model (model.leadtime) and `leads` go together: "
                             f"leadtime={bool(self.model.get('leadtime'))}, leads={self.leads}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"unknown config field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**d)

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "TrainConfig":
        try:
            d = yaml.safe_load(Path(path).read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise ValueError(f"{path}: cannot read the training config ({exc})") from None
        if not isinstance(d, dict):
            raise ValueError(f"{path}: a training config is a mapping of fields, got {type(d).__name__}")
        try:
            return cls.from_dict(d)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None

    def key(self) -> str:
        return hashlib.sha256(json.dumps(_hashed(self.to_dict()), sort_keys=True).encode()).hexdigest()[:16]

    def run_dir(self, root: str | os.PathLike | None = None) -> Path:
        return Path(root or results_root()) / self.task / f"{self.dataset}-{self.profile}-{self.key()}"


# Fields added after results were cached: left out of the hash while at their defaults, so a config
# that does not use them keeps its results-cache entry.
_LATER_FIELDS = dict(datasets=None, steps_per_epoch=None, train_trajectories=None, freeze="all", lead_max=None,
                     frames=None, leads=None)


def _hashed(d: dict[str, Any]) -> dict[str, Any]:
    """What `TrainConfig.key` hashes: `d` without later fields at their defaults, nested configs alike."""
    out = {k: v for k, v in d.items() if not (k in _LATER_FIELDS and v == _LATER_FIELDS[k])}
    for k in ("autoencoder", "init_from"):
        if isinstance(out.get(k), dict):
            out[k] = _hashed(out[k])
    return out


# --------------------------------------------------------------------------- models
def build_model(cfg: TrainConfig) -> nn.Module:
    return TASK_CLASSES[cfg.task].build_model(cfg)


def relative_l2(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean over the batch of ‖pred − true‖ / ‖true‖ per sample."""
    d = tuple(range(1, pred.dim()))
    return (torch.linalg.vector_norm(pred - true, dim=d) / torch.linalg.vector_norm(true, dim=d)).mean()


def rollout_loss(pred: torch.Tensor, true: torch.Tensor) -> torch.Tensor:
    """Mean over the R unrolled steps of the relative L2 error of each step: (B, R, …) pairs."""
    return torch.stack([relative_l2(pred[:, s], true[:, s]) for s in range(pred.shape[1])]).mean()


class Unroll(nn.Module):
    """Apply `model` `steps` times, feeding predictions back: x (B, history, …) → (B, steps, …).

    With history > 1 (FNO) the input window slides: the oldest frame drops out, the prediction
    enters. Gradients flow through the whole chain. It is a module so that DistributedDataParallel
    wraps the entire unrolled chain (one forward per step of the optimiser, as DDP requires).
    """

    def __init__(self, model: nn.Module, steps: int, history: int = 1):
        super().__init__()
        self.model, self.steps, self.history = model, steps, history

    def forward(self, x: torch.Tensor, lead: torch.Tensor | None = None) -> torch.Tensor:
        """`lead` (B,): each sample's Δt, for a Δt-conditioned model (every unrolled step takes the same)."""
        outs = []
        for _ in range(self.steps):
            inp = x if self.history > 1 else x[:, 0]
            y = self.model(inp) if lead is None else self.model(inp, lead=lead)
            outs.append(y)
            x = torch.cat([x[:, 1:], y[:, None]], dim=1) if self.history > 1 else y[:, None]
        return torch.stack(outs, dim=1)


# --------------------------------------------------------------------------- data
def _split_counts(n_train: int, val_fraction: float) -> tuple[int, int]:
    n_val = max(1, round(val_fraction * n_train)) if n_train > 1 else 0
    return n_train - n_val, n_val


def load_frames(cfg: TrainConfig) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) frames (trajectory, time, C, H, W), both from the file's training trajectories."""
    path = dataset_path(cfg.dataset, cfg.profile)
    if not path.exists():
        generate(cfg.dataset, cfg.profile)
    ds = open_dataset(path)
    n_fit, n_val = _split_counts(int(ds.attrs["n_train"]), cfg.val_fraction)
    frames = torch.stack([torch.from_numpy(ds[f].values[: n_fit + n_val]) for f in ds.data_vars], dim=2).float()
    return frames[:n_fit], frames[n_fit:]


def make_samples(cfg: TrainConfig, frames: torch.Tensor, encoder: nn.Module | None = None,
                 lead: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """All training pairs of one split as tensors: inputs (S, history, …) and targets (S, R, …).

    The autoencoder's sample is a frame and its target the same frame. Dynamics samples live in
    latent space: frames are encoded once by the frozen CAE (no gradient), then windowed, `lead`
    frames apart (default: the config's Δt).
    """
    if cfg.task == "autoencoder":
        x = frames.flatten(0, 1)[:, None]
        return x, x
    if encoder is not None:
        frames = encode_frames(encoder, frames)
    lead = cfg.lead if lead is None else int(lead)
    T = frames.shape[1]
    span = cfg.rollout * lead
    first = (cfg.history - 1) * lead
    t0 = torch.arange(first, T - span)
    if len(t0) == 0:
        raise ValueError(f"{cfg.dataset}: {T} frames are too few for history={cfg.history}, lead={lead}, "
                         f"rollout={cfg.rollout}")
    hist = t0[:, None] - lead * torch.arange(cfg.history - 1, -1, -1)[None]
    targ = t0[:, None] + lead * torch.arange(1, cfg.rollout + 1)[None]
    x = frames[:, hist].flatten(0, 1)  # (traj·windows, history, …)
    y = frames[:, targ].flatten(0, 1)
    return x, y


@torch.no_grad()
def encode_frames(encoder: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """Frames (N, T, C, H, W) → latents (N, T, …) through a frozen autoencoder, `eval_batch` frames at a time."""
    return in_batches(encoder.encode, frames.flatten(0, 1)).unflatten(0, frames.shape[:2])


def lead_samples(cfg: TrainConfig, frames: torch.Tensor, encoder: nn.Module | None = None) -> tuple[torch.Tensor, ...]:
    """`make_samples` for a run on several Δt (`cfg.leads`): every Δt's windows, concatenated, and
    each sample's Δt (S,). The frames are encoded once."""
    if encoder is not None:
        frames = encode_frames(encoder, frames)
    parts = [make_samples(cfg, frames, lead=dt) for dt in cfg.leads]
    lead = torch.cat([torch.full((len(x),), int(dt), device=x.device) for (x, _), dt in zip(parts, cfg.leads)])
    return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts]), lead


def epoch_batches(n: int, cfg: TrainConfig, epoch: int, rank: int = 0, world: int = 1) -> list[torch.Tensor]:
    """This rank's share of every global batch of `epoch`: a permutation drawn from (seed, epoch) only."""
    g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
    order = torch.randperm(n, generator=g)
    if cfg.batch_size % world:
        raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {world} DDP processes")
    per_rank = cfg.batch_size // world
    batches = []
    for b in range(0, n - cfg.batch_size + 1 if n >= cfg.batch_size else 0, cfg.batch_size):  # full batches only
        batches.append(order[b + rank * per_rank : b + (rank + 1) * per_rank])
    if not batches:  # fewer samples than one batch: one (smaller) batch, still split evenly
        usable = (n // world) * world
        batches.append(order[:usable][rank::world])
    return batches


# --------------------------------------------------------------------------- tasks
class Task:
    """What the loop needs from a task: build the model, load data, serve batches, compute losses.

    The loop calls, in order: `prepare` (train what the task depends on), `build_model` (after
    seeding), `load_data`, `wrap` (the module DistributedDataParallel wraps: its forward is one
    optimisation step's forward), then per step `batch` and `loss`, and per epoch `validate`.
    """

    def __init__(self, cfg: TrainConfig, dev: torch.device):
        self.cfg, self.dev = cfg, dev

    @staticmethod
    def build_model(cfg: TrainConfig) -> nn.Module:
        raise NotImplementedError

    def prepare(self, device: str, root, progress: bool) -> None:
        pass

    def load_data(self) -> None:
        raise NotImplementedError

    def wrap(self, model: nn.Module) -> nn.Module:
        return model

    n_train: int = 0  # training samples (one epoch visits each once)
    find_unused_parameters = False  # DDP: a step may leave parameters without a gradient

    val_details: dict[str, float] = {}  # extra validation numbers for the history (e.g. per dataset)

    def epoch_batches(self, epoch: int, rank: int, world: int) -> list[Any]:
        """This rank's batches of `epoch` (what `batch` takes), drawn from (seed, epoch) alone."""
        return epoch_batches(self.n_train, self.cfg, epoch, rank, world)

    def batch(self, idx: Any) -> Any:
        raise NotImplementedError

    def loss(self, module: nn.Module, batch: Any) -> torch.Tensor:
        raise NotImplementedError

    def validate(self, module: nn.Module) -> float | None:
        """The validation score that picks the best epoch (None: no validation split)."""
        raise NotImplementedError

    def trainable(self, model: nn.Module) -> list[nn.Parameter]:
        """The parameters the optimiser updates (all, unless the task freezes some)."""
        return list(model.parameters())

    def dry_prepare(self) -> None:
        """`prepare` without training: what the task depends on, built at random (`dry_step`)."""

    def synthetic_batches(self, batch_size: int, grid: tuple[int, int] | None = None) -> list[Any]:
        """Random batches of the shapes `batch` would serve, from the dataset registry alone (no file
        read): what `dry_step` trains on, one per dataset of the run; `grid` replaces the registry's
        H × W where the model's parameters do not depend on it (MATEY)."""
        raise NotImplementedError


def registry_shape(dataset: str, profile: str) -> tuple[list[str], int, int]:
    """(fields, H, W) of `dataset`'s files in `profile`, from its spec (nothing generated or read)."""
    from .data.generation import coordinates
    from .data.registry import get_spec
    spec = get_spec(dataset, profile)
    c = coordinates(spec)
    return list(spec.fields), len(c["y"]), len(c["x"])


class SampleTask(Task):
    """The tensor tasks (autoencoder, dynamics, fno): every training pair held as tensors, R-step
    unrolled loss (relative L2)."""
    encoder: nn.Module | None = None  # dynamics: the frozen autoencoder whose latents it works in

    @property
    def steps(self) -> int:
        return self.cfg.rollout

    def samples(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """(inputs, targets, each sample's Δt or None) of one split."""
        if self.cfg.leads:
            return lead_samples(self.cfg, frames, self.encoder)
        return (*make_samples(self.cfg, frames, self.encoder), None)

    def load_data(self):
        cfg, dev = self.cfg, self.dev
        train_frames, val_frames = load_frames(cfg)
        self.x_tr, self.y_tr, self.d_tr = self.samples(train_frames.to(dev))
        self.x_va, self.y_va, self.d_va = self.samples(val_frames.to(dev)) if len(val_frames) else (None, None, None)
        if cfg.max_train_samples is not None and cfg.max_train_samples < len(self.x_tr):
            keep = torch.randperm(len(self.x_tr), generator=torch.Generator().manual_seed(cfg.seed))[: cfg.max_train_samples]
            self.x_tr, self.y_tr = self.x_tr[keep.to(dev)], self.y_tr[keep.to(dev)]
            self.d_tr = None if self.d_tr is None else self.d_tr[keep.to(dev)]
        self.n_train = len(self.x_tr)

    def wrap(self, model):
        self.unrolled = Unroll(model, self.steps, self.cfg.history)
        return self.unrolled

    def batch(self, idx):
        idx = idx.to(self.dev)
        return (self.x_tr[idx], self.y_tr[idx]) + (() if self.d_tr is None else (self.d_tr[idx],))

    def loss(self, module, batch):
        return rollout_loss(module(batch[0], *batch[2:]), batch[1])

    def validate(self, module):
        return evaluate_loss(self.unrolled, self.x_va, self.y_va, self.d_va) if self.x_va is not None else None

    def synthetic_batches(self, batch_size, grid=None):
        if grid is not None:
            raise ValueError(f"grid: a {self.cfg.task} model's shapes follow its dataset's grid; only matey takes another")
        fields, H, W = registry_shape(self.cfg.dataset, self.cfg.profile)
        shape = (len(fields), H, W)
        if self.encoder is not None:  # dynamics: the autoencoder's latent grid
            shape = tuple(self.encoder.encode(torch.zeros(1, *shape, device=self.dev)).shape[1:])
        x = torch.randn(batch_size, self.cfg.history if self.cfg.task != "autoencoder" else 1, *shape, device=self.dev)
        if self.cfg.task == "autoencoder":
            return [(x, x)]
        y = torch.randn(batch_size, self.steps, *shape, device=self.dev)
        if self.cfg.leads:  # a Δt-conditioned model: each sample one of its Δt
            return [(x, y, torch.tensor(self.cfg.leads, device=self.dev)[torch.arange(batch_size) % len(self.cfg.leads)])]
        return [(x, y)]


class AutoencoderTask(SampleTask):
    steps = 1  # a frame reconstructs itself

    @staticmethod
    def build_model(cfg):
        from .models.cae import CAEConfig, ConvAutoencoder
        return ConvAutoencoder(CAEConfig(**cfg.model))


class DynamicsTask(SampleTask):
    @staticmethod
    def build_model(cfg):
        from .models.mst import LatentTransformer, MSTConfig
        return LatentTransformer(MSTConfig(**cfg.model))

    def prepare(self, device, root, progress):
        self.encoder = train(self.cfg.autoencoder, device=device, root=root, progress=progress).model.to(self.dev).eval()
        for p in self.encoder.parameters():
            p.requires_grad_(False)

    def dry_prepare(self):
        self.encoder = AutoencoderTask.build_model(TrainConfig.from_dict(self.cfg.autoencoder)).to(self.dev).eval()
        self.encoder.requires_grad_(False)


class FNOTask(SampleTask):
    @staticmethod
    def build_model(cfg):
        from .models.fno import FNOBaseline, FNOConfig
        return FNOBaseline(FNOConfig(**{"history": cfg.history, **cfg.model}))


class FieldsBound(nn.Module):
    """A MATEY model with each source's field names bound: forward(x, source, lead) → prediction
    (what DDP wraps)."""

    def __init__(self, model: nn.Module, fields: list[list[str]], lead: int):
        super().__init__()
        self.model, self.fields, self.lead = model, fields, lead

    def forward(self, x: torch.Tensor, source: int = 0, lead: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(x, self.fields[source], lead=self.lead if lead is None else lead)


def trajectory_subset(n_fit: int, k: int | None, seed: int) -> list[int]:
    """The k training trajectories of a fine-tuning data size: a seeded subset of the fit
    trajectories 0 … n_fit−1 (never a validation or test one); all of them for k None."""
    if k is None:
        return list(range(n_fit))
    if k > n_fit:
        raise ValueError(f"train_trajectories: {k} asked, the training split has {n_fit} (after validation)")
    g = torch.Generator().manual_seed(seed * 7919 + 11)
    return sorted(torch.randperm(n_fit, generator=g)[:k].tolist())


@dataclass
class Source:
    """One dataset of a matey run: its fields, training and validation windows, training samples."""
    name: str
    fields: list[str]
    train: Any  # TrajectoryWindows
    val: Any | None
    samples: torch.Tensor


class MateyTask(Task):
    """matey: windows of `history` frames → the frame `lead` later; MATEY's NMSE loss, NRMSE validation.

    Windows are read on demand from the files (`TrajectoryWindows`), never all materialised.
    With `datasets` (multi-physics pretraining, as MATEY/MPP) every step draws one dataset uniformly
    with a generator seeded by (seed, epoch), then a batch from that dataset's shuffled windows, so
    the datasets' grids and fields need not match; each dataset is validated every epoch and the
    best epoch is the one with the lowest mean of their NRMSEs. `steps_per_epoch` fixes the batches
    per epoch whatever the data size (fine-tuning sweeps compare like with like); `train_trajectories`
    keeps k training trajectories; `max_train_samples` a fixed random subset of the windows;
    `freeze` = "prepost" trains only the field embedding and the output layer; `lead_max` draws each
    sample's lead in 1 … lead_max (validation stays at `lead`); `frames` = [first, end) takes every
    window (inputs and target) from those frames of each trajectory.
    """
    find_unused_parameters = True  # an adaptive batch may refine no patch, leaving the fine level idle

    @staticmethod
    def build_model(cfg: TrainConfig) -> nn.Module:
        from .models.matey import Matey, MateyConfig
        return Matey(MateyConfig(**{"history": cfg.history, **cfg.model}))

    def trainable(self, model):
        from .models.matey import set_trainable
        set_trainable(model, self.cfg.freeze)
        return [p for p in model.parameters() if p.requires_grad]

    def load_data(self):
        from .data.fields import dataset_fields
        from .data.windows import TrajectoryWindows
        cfg = self.cfg
        window = cfg.lead_max or cfg.lead  # windows admissible at every lead that can be drawn
        self.sources = []
        for d, name in enumerate(cfg.datasets or [cfg.dataset]):
            path = dataset_path(name, cfg.profile)
            if not path.exists():
                generate(name, cfg.profile)
            with validate_file(path, check_values=False) as ds:
                n_train, fields = int(ds.attrs["n_train"]), dataset_fields(ds)
            n_fit, n_val = _split_counts(n_train, cfg.val_fraction)
            train_w = TrajectoryWindows(path, trajectory_subset(n_fit, cfg.train_trajectories, cfg.seed), cfg.history, window,
                                        frames=cfg.frames)
            val_w = TrajectoryWindows(path, range(n_fit, n_fit + n_val), cfg.history, cfg.lead,
                                      frames=cfg.frames) if n_val else None
            samples = torch.arange(len(train_w))
            if cfg.max_train_samples is not None and cfg.max_train_samples < len(samples):
                g = torch.Generator().manual_seed(cfg.seed + 1009 * d)
                samples = torch.randperm(len(samples), generator=g)[: cfg.max_train_samples]
            self.sources.append(Source(name, fields, train_w, val_w, samples))
        self.n_train = sum(len(s.samples) for s in self.sources)

    def epoch_batches(self, epoch, rank, world):
        cfg = self.cfg
        if len(self.sources) == 1 and cfg.steps_per_epoch is None:  # one pass over the windows, as every task
            samples = self.sources[0].samples
            if cfg.lead_max is None:
                return [(0, samples[idx], None) for idx in epoch_batches(self.n_train, cfg, epoch, rank, world)]
            # leads are drawn per global batch (the same draws whatever the number of processes)
            batches = [(0, samples[idx]) for idx in epoch_batches(self.n_train, cfg, epoch, 0, 1)]
        else:
            batches = self._drawn_batches(epoch, world)
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch + 17)
        per_rank, out = len(batches[0][1]) // world, []
        for d, b in batches:
            leads = None if cfg.lead_max is None else torch.randint(1, cfg.lead_max + 1, (len(b),), generator=g)
            part = slice(rank * per_rank, (rank + 1) * per_rank) if world > 1 else slice(None)
            out.append((d, b[part], None if leads is None else leads[part]))
        return out

    def _drawn_batches(self, epoch, world):
        """Global batches (dataset, windows) of an epoch of `steps_per_epoch` draws."""
        cfg = self.cfg
        if cfg.batch_size % world:
            raise ValueError(f"batch_size {cfg.batch_size} must be divisible by the {world} DDP processes")
        n_steps = cfg.steps_per_epoch or max(1, self.n_train // cfg.batch_size)
        g = torch.Generator().manual_seed(cfg.seed * 100_003 + epoch)
        picks = torch.randint(len(self.sources), (n_steps,), generator=g).tolist()  # the same on every rank
        streams, used = [], [0] * len(self.sources)
        for d, src in enumerate(self.sources):  # each dataset's windows, reshuffled whenever they run out
            need = picks.count(d) * cfg.batch_size
            perms = [src.samples[torch.randperm(len(src.samples), generator=g)] for _ in range(-(-need // len(src.samples)))]
            streams.append(torch.cat(perms) if perms else src.samples[:0])
        out = []
        for d in picks:
            out.append((d, streams[d][used[d] : used[d] + cfg.batch_size]))
            used[d] += cfg.batch_size
        return out

    def wrap(self, model):
        self.bound = FieldsBound(model, [s.fields for s in self.sources], self.cfg.lead)
        return self.bound

    def batch(self, key):
        d, idx, leads = key
        x, y = self.sources[d].train.batch(idx, leads)
        return d, x.to(self.dev), y.to(self.dev), None if leads is None else leads.to(self.dev, torch.float32)

    def loss(self, module, batch):
        from .metrics import nmse_per_channel
        d, x, y, leads = batch
        return nmse_per_channel(module(x, d, leads), y).mean()

    def synthetic_batches(self, batch_size, grid=None):
        from .data.fields import qualified
        from .data.registry import get_spec
        cfg, out = self.cfg, []
        self.sources = []
        for d, name in enumerate(cfg.datasets or [cfg.dataset]):
            fields, H, W = registry_shape(name, cfg.profile)
            H, W = grid or (H, W)
            self.sources.append(Source(name, qualified(get_spec(name, cfg.profile).system, fields), None, None,
                                       torch.arange(0)))
            x = torch.randn(batch_size, cfg.history, len(fields), H, W, device=self.dev)
            leads = (None if cfg.lead_max is None
                     else torch.randint(1, cfg.lead_max + 1, (batch_size,), device=self.dev).float())
            out.append((d, x, torch.randn(batch_size, len(fields), H, W, device=self.dev), leads))
        return out

    @torch.no_grad()
    def validate(self, module, batch: int = 32):
        from .metrics import channel_nrmse
        module.eval()
        self.val_details = {}
        for d, src in enumerate(self.sources):
            if src.val is None:
                continue
            scores = []
            for i in range(0, len(src.val), batch):
                x, y = src.val.batch(range(i, min(i + batch, len(src.val))))
                scores.append(channel_nrmse(module(x.to(self.dev), d), y.to(self.dev)))
            self.val_details[f"val_{src.name}"] = float(torch.cat(scores).mean())
        if not self.val_details:
            return None
        return sum(self.val_details.values()) / len(self.val_details)


TASK_CLASSES: dict[str, type[Task]] = {"autoencoder": AutoencoderTask, "dynamics": DynamicsTask, "fno": FNOTask,
                                       "matey": MateyTask}
assert tuple(TASK_CLASSES) == TASKS


# --------------------------------------------------------------------------- distributed
def _dist_info() -> tuple[int, int, int]:
    if "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ.get("LOCAL_RANK", 0))
    return 0, 1, 0


def _setup_distributed(device: torch.device) -> tuple[int, int]:
    rank, world, _ = _dist_info()
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return rank, world


# --------------------------------------------------------------------------- the run
@dataclass
class Run:
    """A finished (or loaded) training run: its config, model (best epoch) and history."""
    config: TrainConfig
    model: nn.Module
    history: list[dict[str, float]]
    best_epoch: int
    path: Path
    train_seconds: float
    n_parameters: int

    @property
    def metrics(self) -> dict[str, Any]:
        return json.loads((self.path / "metrics.json").read_text())

    @property
    def optimiser_steps(self) -> int:
        """Epochs × batches per epoch as `epoch_batches` draws them (full batches only, one when the
        data hold less than a batch; `steps_per_epoch` where the run fixes it)."""
        per_epoch = self.config.steps_per_epoch or max(1, int(self.metrics["n_train_samples"]) // self.config.batch_size)
        return len(self.history) * per_epoch


def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:
        torch.save(state, tmp)


def _load(path: Path) -> dict:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise RuntimeError(f"{path}: cannot load checkpoint ({type(exc).__name__}: {exc}); delete it to retrain") from None


def load_run(cfg: TrainConfig, root=None) -> Run | None:
    """The finished run of `cfg` from the results cache, or None."""
    d = cfg.run_dir(root)
    if not (d / "metrics.json").exists() or not (d / "model.pt").exists():
        return None
    metrics = json.loads((d / "metrics.json").read_text())
    model = build_model(cfg)
    model.load_state_dict(_load(d / "model.pt"))
    return Run(cfg, model.eval(), metrics["history"], metrics["best_epoch"], d, metrics["train_seconds"],
               metrics["n_parameters"])


def train(cfg: TrainConfig | dict, device: str = "auto", root=None, progress: bool = True) -> Run:
    """Train `cfg` (or load it from the results cache); its dependencies are trained first, once.

    One process at a time trains a given config: a second one (another book kernel side by side)
    waits for the first and then loads its result, so no model is trained twice. Under DDP the ranks
    of one job train together and take no lock."""
    cfg = cfg if isinstance(cfg, TrainConfig) else TrainConfig.from_dict(cfg)
    cached = load_run(cfg, root)
    if cached is not None:
        return cached
    if _dist_info()[1] > 1:
        return _train(cfg, device, root, progress)
    run_dir = cfg.run_dir(root)
    with exclusive(run_dir / "train.lock", waiting=f"{run_dir}: another process is training this config; waiting for it"):
        cached = load_run(cfg, root)
        return cached if cached is not None else _train(cfg, device, root, progress)


def training_elsewhere(cfg: TrainConfig, root=None) -> bool:
    """Whether another process (a book kernel side by side) is training `cfg` now: `train` would wait for it."""
    return held_elsewhere(cfg.run_dir(root) / "train.lock")


def shorter_run(cfg: TrainConfig, root=None) -> Path | None:
    """The run directory of the longest finished run in the results cache whose config differs from
    `cfg` only in having fewer `epochs`, or None. Its final checkpoint is the state `cfg`'s run reaches
    after that many epochs (see the module's docstring)."""
    def without_epochs(c: TrainConfig) -> str:
        return json.dumps({k: v for k, v in _hashed(c.to_dict()).items() if k != "epochs"}, sort_keys=True)

    best, best_epochs, mine = None, 0, without_epochs(cfg)
    for d in sorted(cfg.run_dir(root).parent.glob(f"{cfg.dataset}-{cfg.profile}-*")):
        if not ((d / "metrics.json").exists() and (d / "checkpoint.pt").exists() and (d / "config.yaml").exists()):
            continue
        try:
            other = TrainConfig.from_yaml(d / "config.yaml")
        except ValueError:
            continue  # a config this version cannot read is not a prefix of anything it trains
        if best_epochs < other.epochs < cfg.epochs and without_epochs(other) == mine:
            best, best_epochs = d, other.epochs
    return best


def _train(cfg: TrainConfig, device: str, root, progress: bool) -> Run:
    dev = get_device(device)
    rank, world = _setup_distributed(dev)
    if world > 1 and dev.type == "cuda":
        dev = torch.device("cuda", _dist_info()[2])
        torch.cuda.set_device(dev)

    task = TASK_CLASSES[cfg.task](cfg, dev)
    task.prepare(device, root, progress)

    torch.manual_seed(cfg.seed)
    model = task.build_model(cfg).to(dev)
    if cfg.init_from is not None:  # transfer learning: start from the weights of another (finished) run
        load_pretrained(model, train(cfg.init_from, device=device, root=root, progress=progress).model)
    n_params = sum(p.numel() for p in model.parameters())
    params = task.trainable(model)
    task.load_data()
    module = task.wrap(model)
    ddp_model = (nn.parallel.DistributedDataParallel(module, find_unused_parameters=task.find_unused_parameters)
                 if world > 1 else module)

    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=cfg.plateau_factor, patience=cfg.plateau_patience)
    run_dir = cfg.run_dir(root)
    ckpt_path = run_dir / "checkpoint.pt"
    history: list[dict[str, float]] = []
    best = {"val": math.inf, "epoch": -1, "state": None}
    start_epoch, seconds = 0, 0.0
    prefix = None if ckpt_path.exists() else shorter_run(cfg, root)
    continued_from = None
    resume_from = ckpt_path if ckpt_path.exists() else prefix / "checkpoint.pt" if prefix is not None else None
    if resume_from is not None:  # resume this run, or continue the shorter run it extends
        ck = _load(resume_from)
        continued_from = prefix.name if prefix is not None else ck.get("continued_from")
        model.load_state_dict(ck["model"]), opt.load_state_dict(ck["optimizer"]), sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"])
        history, start_epoch, seconds = ck["history"], ck["epoch"] + 1, ck["seconds"]
        best = {"val": ck["best_val"], "epoch": ck["best_epoch"], "state": ck["best_state"]}

    is_main = rank == 0
    run_dir.mkdir(parents=True, exist_ok=True)
    if is_main:
        (run_dir / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
    bar = tqdm(range(start_epoch, cfg.epochs), initial=start_epoch, total=cfg.epochs, disable=not (progress and is_main),
               desc=f"{cfg.task} {cfg.dataset} Δt={cfg.leads or cfg.lead} R={cfg.rollout}", unit="epoch")
    for epoch in bar:
        share_cores()  # side by side in a book build: the kernels' share of the cores (utils.share_cores)
        t0 = time.perf_counter()
        ddp_model.train()
        losses, norms = [], []
        batches = task.epoch_batches(epoch, rank, world)
        for key in batches:
            loss = task.loss(ddp_model, task.batch(key))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            norms.append(float(nn.utils.clip_grad_norm_(params, cfg.grad_clip)))
            opt.step()
            losses.append(loss.detach())
        train_loss = torch.stack(losses).mean()
        if world > 1:
            dist.all_reduce(train_loss)
            train_loss /= world
        val_loss = task.validate(module)
        val_loss = float(train_loss) if val_loss is None else val_loss
        sched.step(val_loss)
        dt = time.perf_counter() - t0
        seconds += dt
        history.append(dict(epoch=epoch, train_loss=float(train_loss), val_loss=val_loss, lr=opt.param_groups[0]["lr"],
                            grad_norm=sum(norms) / len(norms), grad_norm_max=max(norms), seconds=dt,
                            samples_per_s=len(batches) * cfg.batch_size / dt, **task.val_details))
        if val_loss < best["val"]:
            best = {"val": val_loss, "epoch": epoch, "state": copy.deepcopy(model.state_dict())}
        bar.set_postfix(train=f"{float(train_loss):.4f}", val=f"{val_loss:.4f}")
        if is_main:
            _save_checkpoint(ckpt_path, dict(model=model.state_dict(), optimizer=opt.state_dict(),
                                             scheduler=sched.state_dict(), rng=torch.get_rng_state(), epoch=epoch,
                                             history=history, seconds=seconds, best_val=best["val"],
                                             best_epoch=best["epoch"], best_state=best["state"],
                                             continued_from=continued_from))
        if world > 1:
            dist.barrier()

    model.load_state_dict(best["state"])
    if is_main:
        _save_checkpoint(run_dir / "model.pt", model.state_dict())
        metrics = dict(history=history, best_epoch=best["epoch"], best_val_loss=best["val"], train_seconds=seconds,
                       n_parameters=n_params, n_train_samples=task.n_train, world_size=world, device=str(dev),
                       **({"continued_from": continued_from} if continued_from else {}))
        with atomic_path(run_dir / "metrics.json") as tmp:
            tmp.write_text(json.dumps(metrics, indent=1))
    if world > 1:
        dist.barrier()
    return Run(cfg, model.eval(), history, best["epoch"], run_dir, seconds, n_params)


def load_pretrained(model: nn.Module, pretrained: nn.Module) -> None:
    """Start `model` from `pretrained`'s weights. Field rows are matched by name (a model with a
    longer vocabulary gains rows for its new fields); a lead-time embedding the pretrained model
    did not have keeps its initialisation. Any other mismatch is an error."""
    missing, unexpected = model.load_state_dict(pretrained.state_dict(), strict=False)
    missing = [k for k in missing if not k.startswith("lead_time.")]
    if missing or unexpected:
        raise ValueError(f"init_from: the pretrained model does not match (missing {missing}, unexpected {unexpected})")


def dry_step(cfg: TrainConfig | dict, device: str = "meta", batch_size: int = 1,
             grid: tuple[int, int] | None = None) -> dict[str, Any]:
    """One optimisation step of `cfg`'s model, at its full size, on random batches of the shapes its
    data would have (the registry's grids and fields: nothing is generated, read or written): a
    configuration too big for this machine (the paper profile) meets every shape, parameter,
    pretrained checkpoint's layout and the optimiser before a GPU run does. On the meta device
    nothing is allocated (shapes only); a model whose shapes depend on the data (adaptive tokens)
    needs a real device, where `grid` (H, W) can stand in for the dataset's (a MATEY model's
    parameters do not depend on the grid). Returns the loss (NaN on meta), parameter counts, and
    the trainable parameters left without a gradient."""
    cfg = cfg if isinstance(cfg, TrainConfig) else TrainConfig.from_dict(cfg)
    dev = torch.device(device)
    task = TASK_CLASSES[cfg.task](cfg, dev)
    torch.manual_seed(cfg.seed)
    with torch.device(dev):  # parameters are made where they live: on meta, no memory at all
        task.dry_prepare()
        model = task.build_model(cfg)
        if cfg.init_from is not None:  # the pretrained layout must load, rows matched by field name
            init = TrainConfig.from_dict(cfg.init_from)
            load_pretrained(model, TASK_CLASSES[init.task].build_model(init))
    params = task.trainable(model)
    batches = task.synthetic_batches(batch_size, grid)
    module = task.wrap(model)
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=False)
    loss = sum(task.loss(module, b) for b in batches) / len(batches)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    unused = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    opt.step()
    return dict(loss=float("nan") if dev.type == "meta" else float(loss.detach()), unused=unused,
                parameters=sum(p.numel() for p in model.parameters()), trainable=sum(p.numel() for p in params),
                batches=[tuple(b[1].shape) if cfg.task == "matey" else tuple(b[0].shape) for b in batches])


@torch.no_grad()
def evaluate_loss(unrolled: Unroll, x: torch.Tensor, y: torch.Tensor, lead: torch.Tensor | None = None,
                  batch: int | None = None) -> float:
    """Mean rollout loss over (x, y) in slices of `batch` samples (default `eval_batch` of the device)."""
    unrolled.eval()
    batch = batch or eval_batch(x.device)
    total = sum(rollout_loss(unrolled(x[i : i + batch], *(() if lead is None else (lead[i : i + batch],))),
                             y[i : i + batch]) * len(x[i : i + batch])
                for i in range(0, len(x), batch))
    return float(total / len(x))


def main(argv: list[str] | None = None) -> int:
    """`pdestudy train --config FILE` (also under torchrun)."""
    p = argparse.ArgumentParser(prog="pdestudy train", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="YAML file with TrainConfig fields")
    p.add_argument("--device", default="auto")
    p.add_argument("--results", default=None, help="results root (default $PDESTUDY_RESULTS or data/results)")
    args = p.parse_args(argv)
    run = train(TrainConfig.from_yaml(args.config), device=args.device, root=args.results)
    if _dist_info()[0] == 0:
        print(f"{run.path}  best epoch {run.best_epoch}  val loss {run.history[run.best_epoch]['val_loss']:.5f}")
    if dist.is_initialized():
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":  # python -m pdestudy.train --config FILE (what torchrun launches)
    raise SystemExit(main())
