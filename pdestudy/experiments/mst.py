"""The MST protocol: configs for each experiment, rollouts on held-out trajectories, scores, timings.

Notebooks call these functions; training goes through `pdestudy.train` (one loop, results cache).

Protocol (MST paper, §3): start from the true frame at t = 10 and predict every frame up to T
(40 / 20 / 10 frames for ν = 1e-3 / 1e-4 / 1e-5); Kolmogorov flow: 40-step rollouts from several
start times. nRMSE = ‖pred − true‖₂ / ‖true‖₂ per test trajectory over all predicted frames jointly,
averaged over trajectories. Scores are on the file's test trajectories only, and the trivial
baseline (persist the last known frame) is always reported beside the models.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from ..data.generation import dataset_path, generate
from ..data.io import open_dataset, parameters, validate_file
from ..data.registry import get_spec
from ..metrics import nrmse, nrmse_per_step
from ..models.mst import AtLead, MultiScaleStepper, chain_depths
from ..train import Run, TrainConfig, train, training_elsewhere
from ..utils import eval_batch, get_device, in_batches, synchronize
from .scorecard import run_scale  # noqa: F401 — the chapters state their scale through the protocol

START = 10  # the MST protocol's first known frame


# --------------------------------------------------------------------------- configs
def autoencoder_config(dataset: str, profile: str, channels: Sequence[int] = (16, 32, 64, 128), **train_kw) -> TrainConfig:
    return TrainConfig(task="autoencoder", dataset=dataset, profile=profile, model=dict(channels=list(channels)), **train_kw)


def dynamics_config(ae: TrainConfig, encoding: str = "M4", depth: int = 4, heads: int = 8, lead: int = 1,
                    rollout: int = 1, init_from: TrainConfig | None = None, leads: Sequence[int] | None = None,
                    **train_kw) -> TrainConfig:
    """An MST dynamics model in the latent space of the autoencoder `ae` (whose config it carries);
    with `leads`, one Δt-conditioned model trained on every listed Δt."""
    channels = ae.model.get("channels", [16, 32, 64, 128])
    try:  # the registry's grid: a config is made without generating (or reading) its data
        res = get_spec(ae.dataset, ae.profile).resolution
    except KeyError:  # a dataset the registry does not know (a reader's file): its own attribute
        res = int(open_dataset_attrs(ae.dataset, ae.profile)["resolution"])
    model = dict(width=channels[-1], depth=depth, heads=heads, encoding=encoding, latent_size=res // 2 ** len(channels))
    if leads is not None:
        model["leadtime"] = True
        train_kw["leads"] = [int(d) for d in leads]
    return TrainConfig(task="dynamics", dataset=ae.dataset, profile=ae.profile, autoencoder=ae.to_dict(), model=model,
                       lead=lead, rollout=rollout, init_from=init_from.to_dict() if init_from else None, **train_kw)


def multiscale_configs(ae: TrainConfig, scales: Sequence[int] = (1, 2, 4, 8), **dyn_kw) -> dict[int, TrainConfig]:
    """One config per Δt; Δt = 2 starts from the trained Δt = 1 model, 4 from 2, 8 from 4 (fresh optimiser)."""
    configs: dict[int, TrainConfig] = {}
    previous = None
    for dt in sorted(scales):
        configs[dt] = dynamics_config(ae, lead=dt, init_from=previous, **dyn_kw)
        previous = configs[dt]
    return configs


def fno_config(dataset: str, profile: str, history: int = 10, rollout: int = 1, **kw) -> TrainConfig:
    model = {k: kw.pop(k) for k in ("n_modes", "hidden_channels", "n_layers") if k in kw}
    return TrainConfig(task="fno", dataset=dataset, profile=profile, history=history, rollout=rollout, model=model, **kw)


def open_dataset_attrs(dataset: str, profile: str) -> dict[str, Any]:
    path = dataset_path(dataset, profile)
    if not path.exists():
        generate(dataset, profile)
    with validate_file(path, check_values=False) as ds:  # attributes only: don't read 100 MB of values
        return dict(ds.attrs)


def train_all(configs: dict[Any, TrainConfig], device: str = "auto", progress: bool = True) -> dict[Any, Run]:
    """Train (or fetch from the results cache) every config of a dict, keeping its keys."""
    return {k: train(cfg, device=device, progress=progress) for k, cfg in configs.items()}


# --------------------------------------------------------------------------- data
@dataclass
class TestSet:
    """The held-out trajectories of a dataset: frames (N, T, C, H, W), float32, and their metadata."""
    dataset: str
    frames: torch.Tensor
    time: torch.Tensor
    length: float

    @property
    def horizon(self) -> int:
        """Frames predicted by the protocol from t = START: 40 / 20 / 10 for ν = 1e-3 / 1e-4 / 1e-5."""
        return self.frames.shape[1] - 1 - START


def test_set(dataset: str, profile: str) -> TestSet:
    path = dataset_path(dataset, profile)
    if not path.exists():
        generate(dataset, profile)
    ds = open_dataset(path)
    n_train = int(ds.attrs["n_train"])
    frames = torch.stack([torch.from_numpy(ds[f].values[n_train:]) for f in ds.data_vars], dim=2).float()
    return TestSet(dataset, frames, torch.tensor(ds["time"].values), float(parameters(ds).get("length", 1.0)))


# --------------------------------------------------------------------------- rollouts

@torch.no_grad()
def rollout_mst(autoencoder: nn.Module, models: dict[int, nn.Module], frames: torch.Tensor, start: int = START,
                horizon: int | None = None, device: str = "auto") -> tuple[torch.Tensor, float]:
    """Encode the frame at `start`, advance hierarchically with the given Δt models, decode.

    Returns predictions for frames start+1 … start+horizon, (N, horizon, C, H, W) on the CPU, and the
    wall-clock seconds of the whole rollout (encode + latent steps + decode).
    """
    dev = get_device(device)
    horizon = horizon or frames.shape[1] - 1 - start
    ae = autoencoder.to(dev).eval()
    stepper = MultiScaleStepper({dt: m.to(dev).eval() for dt, m in models.items()})
    x0 = frames[:, start].to(dev)
    synchronize(dev)
    t0 = time.perf_counter()
    z = stepper.rollout(in_batches(ae.encode, x0), horizon)  # (N, horizon, C, n, n)
    pred = in_batches(ae.decode, z.flatten(0, 1)).unflatten(0, z.shape[:2])  # every frame, eval_batch at a time
    synchronize(dev)
    return pred.cpu(), time.perf_counter() - t0


@torch.no_grad()
def final_state_mst(autoencoder: nn.Module, models: dict[int, nn.Module], frames: torch.Tensor, target: int,
                    start: int = START, device: str = "auto") -> tuple[torch.Tensor, float, int]:
    """Only the frame at `target`, through the greedy decomposition of target − start: (pred, seconds, calls)."""
    dev = get_device(device)
    ae = autoencoder.to(dev).eval()
    stepper = MultiScaleStepper({dt: m.to(dev).eval() for dt, m in models.items()})
    x0 = frames[:, start].to(dev)
    synchronize(dev)
    t0 = time.perf_counter()
    z, calls = stepper.final_state(in_batches(ae.encode, x0), target - start)
    pred = in_batches(ae.decode, z)
    synchronize(dev)
    return pred.cpu(), time.perf_counter() - t0, calls


@torch.no_grad()
def rollout_fno(model: nn.Module, frames: torch.Tensor, history: int, start: int = START, horizon: int | None = None,
                device: str = "auto") -> tuple[torch.Tensor, float]:
    """Autoregressive FNO rollout from the `history` frames ending at `start`: (N, horizon, C, H, W), seconds.
    The trajectories advance `eval_batch` at a time."""
    dev = get_device(device)
    horizon = horizon or frames.shape[1] - 1 - start
    if start - history + 1 < 0:
        raise ValueError(f"an FNO with history {history} cannot start at frame {start}")
    model = model.to(dev).eval()
    windows = frames[:, start - history + 1 : start + 1].to(dev)
    synchronize(dev)
    t0 = time.perf_counter()
    parts = []
    for window in windows.split(eval_batch(dev)):
        outs = []
        for _ in range(horizon):
            y = model(window if history > 1 else window[:, 0])
            outs.append(y)
            window = torch.cat([window[:, 1:], y[:, None]], dim=1)
        parts.append(torch.stack(outs, dim=1))
    synchronize(dev)
    return torch.cat(parts).cpu(), time.perf_counter() - t0


def persistence(frames: torch.Tensor, start: int = START, horizon: int | None = None) -> torch.Tensor:
    """The trivial baseline: the last known frame, repeated."""
    horizon = horizon or frames.shape[1] - 1 - start
    return frames[:, start : start + 1].expand(-1, horizon, *frames.shape[2:])


def truth(frames: torch.Tensor, start: int = START, horizon: int | None = None) -> torch.Tensor:
    horizon = horizon or frames.shape[1] - 1 - start
    return frames[:, start + 1 : start + 1 + horizon]


def score(pred: torch.Tensor, true: torch.Tensor) -> dict[str, Any]:
    """nRMSE per trajectory over all predicted frames jointly (mean ± std over trajectories), and per step."""
    per_traj = nrmse(pred, true, dims=pred.dim() - 1)
    per_step = nrmse_per_step(pred, true)
    return dict(nrmse=float(per_traj.mean()), nrmse_std=float(per_traj.std()) if len(per_traj) > 1 else 0.0,
                per_trajectory=per_traj.numpy(), per_step=per_step.mean(0).numpy())


def starts_for(test: TestSet, horizon: int = 40, count: int = 3, history: int = 10) -> list[int]:
    """Evenly spaced start frames for `horizon`-step rollouts (Kolmogorov protocol); each leaves room for
    an FNO history of `history` frames before it."""
    first, last = history - 1, test.frames.shape[1] - 1 - horizon
    if last < first:
        raise ValueError(f"{test.dataset}: {test.frames.shape[1]} frames leave no room for {horizon}-step rollouts")
    if count == 1:
        return [first]
    return sorted({round(first + i * (last - first) / (count - 1)) for i in range(count)})


def depth_table(horizon: int, scale_sets: dict[str, Sequence[int]]) -> list[dict[str, Any]]:
    """Longest error chain and final-state calls for each combination of scales (1S … 4S)."""
    rows = []
    for name, scales in scale_sets.items():
        d = chain_depths(horizon, list(scales))
        rows.append({"model": name, "scales Δt": ", ".join(map(str, sorted(scales))), "longest chain": max(d),
                     "mean chain": sum(d[1:]) / horizon, "calls to the final state": d[horizon]})
    return rows


SCALE_SETS = {"1S": (1,), "2S": (1, 2), "3S": (1, 2, 4), "4S": (1, 2, 4, 8)}


# --------------------------------------------------------------------------- benchmarks
def solver_frames_per_second(dataset: str, profile: str, n_trajectories: int, frames: int, device: str = "auto") -> dict:
    """The numerical solver producing `frames` frames for `n_trajectories` trajectories (its spec's resolution, dt)."""
    from ..data.generation import system_module, trajectory_seeds
    from ..data.registry import get_spec
    import dataclasses as dc
    spec = get_spec(dataset, profile)
    spec = dc.replace(spec, params={**spec.params, "t_final": frames * spec.params.get("frame_interval", 1.0), "spinup": 0.0})
    module = system_module(spec)
    seeds = trajectory_seeds(spec)[:n_trajectories]
    dev = get_device(device)
    t0 = time.perf_counter()
    module.simulate(spec, seeds, list(range(n_trajectories)), device=dev)
    sec = time.perf_counter() - t0
    return dict(method="numerical solver", frames_per_s=n_trajectories * frames / sec, seconds=sec,
                resolution=f"solved {spec.params.get('solve_resolution', spec.resolution)}², stored {spec.resolution}²")


def surrogate_frames_per_second(autoencoder: nn.Module, models: dict[int, nn.Module], test: TestSet, horizon: int,
                                device: str = "auto", repeats: int = 3) -> dict:
    """MST rollout (encode, latent steps, decode) of all test trajectories; the best of `repeats` timings."""
    rollout_mst(autoencoder, models, test.frames, horizon=horizon, device=device)  # warm-up
    sec = min(rollout_mst(autoencoder, models, test.frames, horizon=horizon, device=device)[1] for _ in range(repeats))
    return dict(method=f"MST ({'+'.join(map(str, sorted(models)))})", frames_per_s=len(test.frames) * horizon / sec,
                seconds=sec, resolution=f"{test.frames.shape[-1]}²")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# --------------------------------------------------------------------------- autoencoder and seed studies
@torch.no_grad()
def reconstruct(autoencoder: nn.Module, frames: torch.Tensor, device: str = "auto", batch: int | None = None) -> torch.Tensor:
    """decode(encode(x)) of every frame of `frames` (…, C, H, W), returned with the same shape on the CPU;
    `batch` frames at a time (default `eval_batch`)."""
    dev = get_device(device)
    ae = autoencoder.to(dev).eval()
    flat = frames.reshape(-1, *frames.shape[-3:])
    return torch.cat([ae(x.to(dev)).cpu() for x in flat.split(batch or eval_batch(dev))]).view(frames.shape)


def autoencoder_summary(run: Run, test: TestSet, device: str = "auto", start: int = START) -> dict[str, Any]:
    """What the latent-size study reports of one trained CAE, measured on the held-out test trajectories.

    error / error_std: relative L² error of each test frame (mean ± std over all frames of all test
    trajectories); per_frame: those errors, (trajectory, time); floor / floor_std: the protocol's
    nRMSE of the reconstructed truth over the frames a rollout from `start` predicts, per trajectory.
    No rollout in this latent space can be expected to beat it: it is what a perfect latent model
    would score after decoding. uniform: every reconstruction is spatially constant (to 1e-5 of the
    data's spread), as the decoder of a 1×1 latent must make it (`autoencoder_takeaway`).
    """
    rec = reconstruct(run.model, test.frames, device=device)
    spatial_spread = rec.flatten(-2).std(-1)  # (N, T, C): each reconstruction's spread over the grid
    per_frame = nrmse_per_step(rec, test.frames)  # (N, T)
    floor = score(truth(rec, start), truth(test.frames, start))
    C, H, W = test.frames.shape[-3:]
    n_h, n_w = H // run.model.downsampling, W // run.model.downsampling
    latent_numbers = n_h * n_w * run.model.latent_channels
    metrics = run.metrics
    return dict(channels=list(run.model.config.channels), stages=len(run.model.config.channels),
                latent=f"{n_h}×{n_w}×{run.model.latent_channels}", tokens=n_h * n_w, latent_numbers=latent_numbers,
                compression=C * H * W / latent_numbers, parameters=run.n_parameters, epochs=run.config.epochs,
                best_epoch=run.best_epoch, train_frames=int(metrics.get("n_train_samples", 0)),
                train_seconds=run.train_seconds, error=float(per_frame.mean()), error_std=float(per_frame.std()),
                per_frame=per_frame.numpy(), floor=floor["nrmse"], floor_std=floor["nrmse_std"],
                uniform=bool((spatial_spread <= 1e-5 * test.frames.std()).all()))


def autoencoder_takeaway(summaries: Sequence[dict[str, Any]], ablation_epochs: int) -> list[str]:
    """The autoencoder chapter's takeaway, one bullet per finding, from `autoencoder_summary`s: the
    standard AE first, then the ablation AEs (one budget, any order)."""
    std, abl = summaries[0], sorted(summaries[1:], key=lambda s: -s["latent_numbers"])
    same = [s for s in abl if s["latent"] == std["latent"]]
    errors = [s["error"] for s in abl]
    monotone = all(a <= b for a, b in zip(errors, errors[1:]))
    lines = [
        f"* **Standard autoencoder ({std['latent']}, {std['tokens']} tokens).** Relative L² error on the test frames "
        f"{std['error']:.4f} ± {std['error_std']:.4f} ({std['parameters']:,} parameters, {std['epochs']} epochs on "
        f"{std['train_frames']} frames, {std['train_seconds']:.0f} s). Mean error of the first frames (t = 0): "
        f"{std['per_frame'][:, 0].mean():.4f}. The floor it sets for a rollout from t = {START}: "
        f"nRMSE {std['floor']:.4f} ± {std['floor_std']:.4f} over test trajectories."]
    if abl:
        lines.append(f"* **Latent size, at the ablation budget** ({ablation_epochs} epoch{'s' if ablation_epochs != 1 else ''}, "
                     f"{abl[0]['train_frames']} training frames each): "
                     + ", ".join(f"{s['latent']} {s['error']:.4f}" for s in abl)
                     + ", from the finest to the coarsest latent. The error "
                     + ("grows monotonically as the latent shrinks." if monotone else
                        "does **not** grow monotonically as the latent shrinks."))
    for s in abl:
        if s["uniform"]:
            # circular convolutions and bilinear upsampling commute with periodic shifts, and a 1×1 grid is
            # invariant under every shift: so is everything decoded from it
            lines.append(f"* **The {s['latent']} latent cannot hold a pattern.** Every reconstruction of that AE is "
                         "spatially uniform (measured), as it must be: its decoder (circular convolutions, bilinear "
                         "upsampling) commutes with periodic shifts, and a single latent vector is invariant under all of "
                         f"them. Its error {s['error']:.4f} is that of a uniform frame, near 1 for a field of mean ≈ 0: a "
                         "property of this architecture at one token, not a failure of its training.")
    informative = [s for s in abl if not s["uniform"]]
    if len(informative) > 1:
        worst, best = max(informative, key=lambda s: s["error"]), min(informative, key=lambda s: s["error"])
        lines.append(f"* **Range** (the latents that can hold a pattern). The worst-to-best error ratio is "
                     f"{worst['error'] / best['error']:.1f}× ({worst['latent']} vs {best['latent']}), for "
                     f"{best['latent_numbers'] / worst['latent_numbers']:.0f}× fewer latent numbers and "
                     f"{best['tokens'] / worst['tokens']:.0f}× fewer tokens.")
    if same:
        lines.append(f"* **Budget.** The same {std['latent']} architecture reaches {same[0]['error']:.4f} with the ablation "
                     f"budget and {std['error']:.4f} with the standard one "
                     f"({std['train_frames']} frames × {std['epochs']} epochs vs {same[0]['train_frames']} × {same[0]['epochs']}).")
    lines.append("* **The paper** uses the 4×4×128 latent. We quote no reconstruction error of its CAE here, so these "
                 "numbers are not set against a number of the paper.")
    return lines


def score_mst(autoencoder: nn.Module, models: dict[int, nn.Module], test: TestSet, start: int = START,
              device: str = "auto") -> dict[str, Any]:
    """The protocol in one call: roll out from `start` on the test trajectories, score against the truth."""
    pred, seconds = rollout_mst(autoencoder, models, test.frames, start=start, device=device)
    return {**score(pred, truth(test.frames, start, pred.shape[1])), "rollout_seconds": seconds}


def seed_summary(runs: dict[tuple[Any, int], Run], scores: dict[tuple[Any, int], dict]) -> list[dict[str, Any]]:
    """One row per model over its seeds; `runs` and `scores` are keyed by (model name, seed).

    nRMSE is the mean over seeds of each seed's test score (itself a mean over test trajectories),
    ± the standard deviation over seeds; the best validation loss is the one-step loss of the kept
    epoch; times are means over seeds.
    """
    rows = []
    for name in dict.fromkeys(k[0] for k in runs):
        keys = [k for k in runs if k[0] == name]
        v = torch.tensor([scores[k]["nrmse"] for k in keys], dtype=torch.float64)
        rows.append({"model": name, "seeds": len(keys), "nRMSE": float(v.mean()),
                     "± std over seeds": float(v.std()) if len(v) > 1 else 0.0,
                     "per seed": ", ".join(f"{x:.4f}" for x in v.tolist()),
                     "best val loss": sum(runs[k].history[runs[k].best_epoch]["val_loss"] for k in keys) / len(keys),
                     "parameters": runs[keys[0]].n_parameters,
                     "train (s)": sum(runs[k].train_seconds for k in keys) / len(keys),
                     "rollout (s)": sum(scores[k].get("rollout_seconds", float("nan")) for k in keys) / len(keys)})
    return rows


# --------------------------------------------------------------------------- rollout and multi-scale studies
def training_summary(run: Run) -> dict[str, Any]:
    """Cost and convergence of one training run, from the history `train` records.

    Epoch numbers count from 1 (as the figures draw them). "best val loss" is the run's own
    validation loss at its kept epoch: the mean over *its* R unrolled steps of Δt each, so it is
    comparable only between runs with the same R and Δt. Seconds / epoch and samples / s are means
    over epochs and include each epoch's validation pass; "steps / s" counts model applications
    (samples × R). Gradient norms are taken before clipping: "grad norm" is the mean over epochs
    of each epoch's mean over optimiser steps, "grad norm max" the largest of any step.
    """
    h = run.history
    if not h:
        raise ValueError(f"{run.path}: the run has no recorded epochs")
    n, R = len(h), int(run.config.rollout)
    samples_per_s = sum(e["samples_per_s"] for e in h) / n
    return {"epochs": n, "best epoch": run.best_epoch + 1, "best val loss": h[run.best_epoch]["val_loss"],
            "train (s)": run.train_seconds, "s / epoch": sum(e["seconds"] for e in h) / n,
            "samples / s": samples_per_s, "steps / s": samples_per_s * R,
            "grad norm": sum(e["grad_norm"] for e in h) / n, "grad norm max": max(e["grad_norm_max"] for e in h),
            "parameters": run.n_parameters}


def _latent_rollout_seconds(autoencoder: nn.Module, models: dict[int, nn.Module], x0: torch.Tensor, horizon: int,
                            device: torch.device) -> float:
    """Wall-clock of the latent steps alone (no encode, no decode) of one hierarchical rollout."""
    stepper = MultiScaleStepper({dt: m.to(device).eval() for dt, m in models.items()})
    with torch.no_grad():
        z0 = autoencoder.to(device).eval().encode(x0.to(device))
        synchronize(device)
        t0 = time.perf_counter()
        stepper.rollout(z0, horizon)
        synchronize(device)
    return time.perf_counter() - t0


def evaluate_scale_sets(autoencoder: nn.Module, models: dict[int, nn.Module], test: TestSet,
                        scale_sets: dict[str, Sequence[int]] | None = None, starts: Sequence[int] = (START,),
                        horizon: int | None = None, device: str = "auto", repeats: int = 3,
                        baseline: bool = True) -> dict[str, dict[str, Any]]:
    """Every combination of Δt models (1S … 4S) on the held-out trajectories, from each start frame.

    For each entry of `scale_sets` (default `SCALE_SETS`; every Δt it names must be in `models`):
    the hierarchical rollout of `horizon` frames (default: the protocol's, from START) from each
    start, scored against the truth; the frame at start + horizon alone via `final_state_mst`; and
    wall-clock times, each the best of `repeats` runs from the first start (after the scored run,
    which warms up). With `baseline`, a "persistence" entry is scored the same way (no timings).

    Each entry: scales; nrmse / nrmse_std (mean ± std over trajectories × starts of the protocol's
    nRMSE over all predicted frames); per_trajectory (starts × trajectories,): those nRMSEs, start
    by start, so entries can be compared pairwise; per_start ({start: nrmse}); per_step (horizon,)
    and per_step_all (starts × trajectories, horizon): error of each predicted frame; depths (the
    chain depth of frames 0 … horizon) and longest_chain; rollout_seconds (encode + latent steps
    + decode of all frames), latent_seconds (the latent steps alone); final_seconds, final_calls
    and final_error (relative L² error of the final frame, mean over trajectories × starts).
    """
    scale_sets = dict(SCALE_SETS if scale_sets is None else scale_sets)
    if not starts:
        raise ValueError("evaluate_scale_sets needs at least one start frame")
    horizon = horizon or test.frames.shape[1] - 1 - START
    for s in starts:
        if s < 0 or s + horizon > test.frames.shape[1] - 1:
            raise ValueError(f"{test.dataset}: a {horizon}-step rollout from frame {s} needs frames up to "
                             f"{s + horizon}; the trajectories have {test.frames.shape[1]}")
    dev = get_device(device)
    frames = test.frames
    out: dict[str, dict[str, Any]] = {}

    def scored(preds: dict[int, torch.Tensor]) -> dict[str, Any]:
        per_traj, per_step, per_start = [], [], {}
        for s, p in preds.items():
            sc = score(p, truth(frames, s, horizon))
            per_traj.append(torch.as_tensor(sc["per_trajectory"]))
            per_step.append(nrmse_per_step(p, truth(frames, s, horizon)))
            per_start[s] = sc["nrmse"]
        v = torch.cat(per_traj)
        steps = torch.cat(per_step)
        return dict(nrmse=float(v.mean()), nrmse_std=float(v.std()) if len(v) > 1 else 0.0, per_start=per_start,
                    per_trajectory=v.numpy(), per_step=steps.mean(0).numpy(), per_step_all=steps.numpy())

    for name, scales in scale_sets.items():
        missing = sorted(set(scales) - set(models))
        if missing:
            raise KeyError(f"scale set {name!r} needs Δt = {missing}; models were given for Δt = {sorted(models)}")
        subset = {dt: models[dt] for dt in sorted(scales)}
        preds = {s: rollout_mst(autoencoder, subset, frames, start=s, horizon=horizon, device=device)[0] for s in starts}
        entry = scored(preds)
        s0 = starts[0]
        rollout_s = min(rollout_mst(autoencoder, subset, frames, start=s0, horizon=horizon, device=device)[1]
                        for _ in range(max(1, repeats)))
        latent_s = min(_latent_rollout_seconds(autoencoder, subset, frames[:, s0], horizon, dev)
                       for _ in range(max(1, repeats)))
        finals, final_errors = [], []
        for s in starts:
            pred, sec, calls = final_state_mst(autoencoder, subset, frames, target=s + horizon, start=s, device=device)
            final_errors.append(nrmse(pred, frames[:, s + horizon], dims=pred.dim() - 1))
            finals.append((sec, calls))
        final_s = min(final_state_mst(autoencoder, subset, frames, target=s0 + horizon, start=s0, device=device)[1]
                      for _ in range(max(1, repeats)))
        depths = chain_depths(horizon, list(subset))
        out[name] = dict(scales=tuple(subset), **entry, depths=depths, longest_chain=max(depths),
                         rollout_seconds=rollout_s, latent_seconds=latent_s, final_seconds=final_s,
                         final_calls=finals[0][1], final_error=float(torch.cat(final_errors).mean()))
    if baseline:
        out["persistence"] = dict(scales=(), **scored({s: persistence(frames, s, horizon) for s in starts}))
    return out


def scale_set_rows(results: dict[str, dict[str, Any]], frames_per_rollout: int | None = None) -> list[dict[str, Any]]:
    """Table rows of `evaluate_scale_sets`: errors, chain lengths, model calls and wall-clock times.

    frames_per_rollout: frames predicted by one timed rollout (trajectories × horizon), to add the
    rollout's throughput in frames per second.
    """
    rows = []
    for name, r in results.items():
        timed = "rollout_seconds" in r
        row = {"model": name, "scales Δt": ", ".join(map(str, r["scales"])) or "–", "nRMSE": r["nrmse"],
               "± std": r["nrmse_std"], "last-frame error": float(r["per_step"][-1]),
               "longest chain": r.get("longest_chain", float("nan")),
               "full rollout (s)": r["rollout_seconds"] if timed else float("nan"),
               "latent steps (s)": r["latent_seconds"] if timed else float("nan"),
               "final state (s)": r["final_seconds"] if timed else float("nan"),
               "final-state calls": r.get("final_calls", float("nan"))}
        if frames_per_rollout:
            row["frames / s"] = frames_per_rollout / r["rollout_seconds"] if timed else float("nan")
        rows.append(row)
    return rows


# --------------------------------------------------------------------------- the study's standard budgets
# Models that several chapters share (the autoencoder of each dataset, the Δt chain of MST) must be
# configured identically everywhere, so the results cache trains them once: their budgets live here,
# per profile, not in the notebooks. Measured on a 2-core CPU (default data, ν = 1e-3): one CAE epoch
# ≈ 10 s, one MST epoch ≈ 3 s × R, one FNO sample ≈ 14 ms. Chapter-specific budgets (seeds, R values,
# sample caps for ablations) are notebook parameters in book/profiles/.
STANDARD: dict[str, dict[str, dict[str, Any]]] = {
    "smoke": dict(autoencoder=dict(channels=(8, 16, 32), epochs=2, batch_size=16, max_train_samples=128),
                  dynamics=dict(depth=1, heads=2, rollout=2, epochs=2, batch_size=16, max_train_samples=96),
                  fno=dict(n_modes=[8, 8], hidden_channels=8, epochs=2, batch_size=16, max_train_samples=64)),
    "default": dict(autoencoder=dict(channels=(16, 32, 64, 128), epochs=25, batch_size=32),
                    dynamics=dict(depth=4, heads=8, rollout=2, epochs=12, batch_size=32, max_train_samples=2000),
                    fno=dict(epochs=8, batch_size=16, max_train_samples=500)),
    "paper": dict(autoencoder=dict(channels=(16, 32, 64, 128), epochs=100, batch_size=32),
                  dynamics=dict(depth=4, heads=8, rollout=2, epochs=100, batch_size=32),
                  fno=dict(epochs=100, batch_size=20)),
}
KOLMOGOROV_DEPTH = 8  # the paper uses 8 layers for Kolmogorov flow, 4 for Navier–Stokes


def is_kolmogorov(dataset: str) -> bool:
    return dataset.startswith("kolmogorov")


def _standard(profile: str, kind: str) -> dict[str, Any]:
    if profile not in STANDARD:
        raise KeyError(f"unknown profile {profile!r}; profiles are {', '.join(STANDARD)}")
    return dict(STANDARD[profile][kind])


def standard_autoencoder(dataset: str, profile: str, seed: int = 0) -> TrainConfig:
    """The autoencoder of `dataset` that every MST chapter uses."""
    return autoencoder_config(dataset, profile, seed=seed, **_standard(profile, "autoencoder"))


def _dynamics_kw(dataset: str, profile: str, overrides: dict[str, Any]) -> dict[str, Any]:
    kw = _standard(profile, "dynamics")
    if is_kolmogorov(dataset) and profile != "smoke":
        kw["depth"] = KOLMOGOROV_DEPTH
    return {**kw, **overrides}


def standard_dynamics(dataset: str, profile: str, **overrides) -> TrainConfig:
    """An MST Δt = 1 model on the standard autoencoder; `overrides` change single fields (encoding, rollout, …)."""
    return dynamics_config(standard_autoencoder(dataset, profile), **_dynamics_kw(dataset, profile, overrides))


def standard_multiscale(dataset: str, profile: str, scales: Sequence[int] = (1, 2, 4, 8), **overrides) -> dict[int, TrainConfig]:
    """The Δt chain of MST (Δt = 1 first, each larger Δt initialised from the previous)."""
    return multiscale_configs(standard_autoencoder(dataset, profile), scales=scales,
                              **_dynamics_kw(dataset, profile, overrides))


def standard_one_model(dataset: str, profile: str, leads: Sequence[int] = (1, 2, 4, 8), **overrides) -> TrainConfig:
    """One Δt-conditioned model for every Δt of `leads`, at the cost of the whole standard chain.

    The chain trains len(leads) models, each on ≤ max_train_samples windows of its Δt for the same
    epochs; this model sees len(leads) × that many windows drawn from every Δt's windows (all of
    them when the chain uses all), with the same epochs and batch: as many optimiser steps of the
    same per-step cost as the whole chain, in one model of a chain model's size. It starts from
    scratch, as the chain's Δt = 1 model does (the chain's larger Δt start from the smaller).
    """
    kw = _dynamics_kw(dataset, profile, overrides)
    if "max_train_samples" not in overrides and kw.get("max_train_samples") is not None:
        kw["max_train_samples"] = kw["max_train_samples"] * len(leads)
    return dynamics_config(standard_autoencoder(dataset, profile), leads=leads, **kw)


def at_leads(model: nn.Module, leads: Sequence[int]) -> dict[int, nn.Module]:
    """A Δt-conditioned model as the {Δt: model} dict every MST rollout takes (one module, Δt fixed per entry)."""
    return {int(dt): AtLead(model, dt) for dt in leads}


def paired_difference(a: Any, b: Any) -> dict[str, float]:
    """a − b over paired samples (the same test trajectories and starts): mean, its standard error,
    whether |mean| exceeds two standard errors (resolved), and how often a is the lower."""
    a, b = torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)
    if a.shape != b.shape or a.numel() < 2:
        raise ValueError(f"paired_difference needs two equal-shaped sets of ≥ 2 paired scores, got {tuple(a.shape)} "
                         f"and {tuple(b.shape)}")
    d = (a - b).flatten()
    se = float(d.std() / math.sqrt(d.numel()))
    return dict(mean=float(d.mean()), se=se, resolved=abs(float(d.mean())) > 2 * se,
                a_lower=int((d < 0).sum()), n=int(d.numel()))


def one_model_rows(chain: dict[str, dict[str, Any]], one: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per scale set (1S … 4S): the chain's and the one model's nRMSE (`evaluate_scale_sets` results
    on the same trajectories and starts) and their paired difference."""
    rows = []
    for name in [n for n in chain if n in one and n != "persistence"]:
        d = paired_difference(one[name]["per_trajectory"], chain[name]["per_trajectory"])
        rows.append({"inference": name, "chain of models": chain[name]["nrmse"], "one model": one[name]["nrmse"],
                     "one − chain": d["mean"], "± s.e.": d["se"], "resolved": "yes" if d["resolved"] else "no",
                     "one model lower on": f"{d['a_lower']} of {d['n']}"})
    return rows


def one_model_takeaway(chain: dict[str, dict[str, Any]], one: dict[str, dict[str, Any]], chain_runs: dict[int, Run],
                       one_run: Run, inference: str = "4S") -> list[str]:
    """The chapter's takeaway, decided from its numbers: is one Δt-conditioned model as good as the
    chain of one model per Δt, in multi-scale inference, at equal training cost?"""
    pers = chain["persistence"]["nrmse"]
    c, o = chain[inference]["nrmse"], one[inference]["nrmse"]
    d = paired_difference(one[inference]["per_trajectory"], chain[inference]["per_trajectory"])
    n_chain = sum(r.n_parameters for r in chain_runs.values())
    t_chain = sum(r.train_seconds for r in chain_runs.values())
    steps_chain = sum(r.optimiser_steps for r in chain_runs.values())
    steps_one = one_run.optimiser_steps
    beats = [name for name, res in (("the chain", chain), ("the one model", one))
             if (lambda v: v["resolved"] and v["mean"] < 0)(paired_difference(res[inference]["per_trajectory"],
                                                                         chain["persistence"]["per_trajectory"]))]
    if d["resolved"]:
        outcome = (f"the one model is **{'better' if d['mean'] < 0 else 'worse'}** than the chain by "
                   f"{abs(d['mean']):.4f} ± {d['se']:.4f} (paired over {d['n']} test rollouts, more than two standard errors)")
    else:
        outcome = (f"the two are **not distinguishable**: the one model's paired difference is {d['mean']:+.4f} "
                   f"± {d['se']:.4f} over {d['n']} test rollouts, within two standard errors")
    lines = [f"* **Error ({inference} inference, {len(chain[inference]['per_step'])} frames).** Chain of "
             f"{len(chain_runs)} models {c:.4f}, one Δt-conditioned model {o:.4f}, persistence {pers:.4f}: {outcome}.",
             "* **Informative?** " + (f"Yes: {' and '.join(beats)} beat{'s' if len(beats) == 1 else ''} persistence "
                                      "by more than two paired standard errors." if beats else
                                      "No: neither clearly beats persistence (by two paired standard errors) at this "
                                      "budget, so the comparison says little about the models."),
             f"* **Cost.** Parameters: one model {one_run.n_parameters:,} against {n_chain:,} for the chain "
             f"({n_chain / one_run.n_parameters:.1f}×). Training: {steps_one} optimiser steps in "
             f"{one_run.train_seconds:.0f} s against {steps_chain} steps in {t_chain:.0f} s for the chain, on the "
             "machine that built this page.",
             "* **Seeds.** One seed each: the spread over training seeds is not measured here (the positional-"
             "encoding chapter measures it for one Δt = 1 model); the standard error above is over test "
             "rollouts only."]
    return lines


def standard_fno(dataset: str, profile: str, history: int = 10, **overrides) -> TrainConfig:
    kw = _standard(profile, "fno")
    kw.update(overrides)
    return fno_config(dataset, profile, history=history, **kw)


# --------------------------------------------------------------------------- MST vs FNO (chapter "MST vs FNO")
# FNO-2D (the recurrent 2-D FNO, 10 input frames), relative L2 error on the test set, as printed in the FNO
# paper (Li et al. 2021, Table 1; 1000 training trajectories, T = 50 / 30 / 20). Quoted, not measured here.
FNO_PAPER_NRMSE = {"ns_nu1e-3": 0.0128, "ns_nu1e-4": 0.1559, "ns_nu1e-5": 0.1556}


@dataclass
class MstFnoRuns:
    """The trained models of one dataset: the standard autoencoder, the MST Δt chain, the FNOs by history k."""
    dataset: str
    autoencoder: Run
    mst: dict[int, Run]
    fno: dict[int, Run]

    def mst_models(self, scales: Sequence[int]) -> dict[int, nn.Module]:
        return {dt: self.mst[dt].model for dt in scales}

    def fno_models(self) -> dict[int, nn.Module]:
        return {k: run.model for k, run in self.fno.items()}


def fno_configs(dataset: str, profile: str, histories: Sequence[int] = (10, 1), **overrides) -> dict[int, TrainConfig]:
    """One standard FNO per history k; `overrides` change the standard budget (epochs, sample cap, …)."""
    return {int(k): standard_fno(dataset, profile, history=int(k), **overrides) for k in histories}


def train_mst_and_fno(dataset: str, profile: str, fno_histories: Sequence[int] = (10, 1),
                     fno_overrides: dict[str, Any] | None = None, device: str = "auto",
                     progress: bool = True) -> MstFnoRuns:
    """Train (or load) the standard MST chain (with its autoencoder) and the FNOs of one dataset."""
    mst = train_all(standard_multiscale(dataset, profile), device=device, progress=progress)
    ae = train(standard_autoencoder(dataset, profile), device=device, progress=progress)
    fno = train_all(fno_configs(dataset, profile, fno_histories, **(fno_overrides or {})), device=device,
                    progress=progress)
    return MstFnoRuns(dataset, ae, mst, fno)


def train_mst_and_fno_all(datasets: Sequence[str], profile: str, fno_histories: Sequence[int] = (10, 1),
                         fno_overrides: dict[str, Any] | None = None, device: str = "auto",
                         progress: bool = True) -> dict[str, MstFnoRuns]:
    """`train_mst_and_fno` for every dataset, returned in `datasets` order. They are trained in that
    order too, except that a dataset one of whose models another process is training now (the
    multi-scale chapter, side by side, trains ν = 1e-3's and Kolmogorov flow's chains) waits until no
    other is left: this kernel computes meanwhile instead of waiting for a lock."""
    def configs(name: str) -> list[TrainConfig]:
        return [standard_autoencoder(name, profile), *standard_multiscale(name, profile).values(),
                *fno_configs(name, profile, fno_histories, **(fno_overrides or {})).values()]
    pending, runs = list(datasets), {}
    while pending:
        free = [name for name in pending if not any(training_elsewhere(c) for c in configs(name))]
        name = (free or pending)[0]
        runs[name] = train_mst_and_fno(name, profile, fno_histories, fno_overrides, device=device, progress=progress)
        pending.remove(name)
    return {name: runs[name] for name in datasets}


def protocol_starts(test: TestSet, horizon: int = 40, count: int = 3, history: int = 10) -> tuple[list[int], int]:
    """Start frames and horizon of the protocol for a test set.

    Navier–Stokes: one start at t = START, predicting every frame to the end (40 / 20 / 10 frames).
    Kolmogorov flow: `count` evenly spaced starts with `horizon`-step rollouts, each leaving room for
    an FNO history of `history` frames.
    """
    if is_kolmogorov(test.dataset):
        return starts_for(test, horizon=horizon, count=count, history=history), horizon
    if START - history + 1 < 0:
        raise ValueError(f"an FNO history of {history} frames does not fit before the start frame {START}")
    return [START], test.horizon


MST_FNO_MODELS = ("MST 4S", "MST 1S", "FNO k=10", "FNO k=1", "persistence")


def model_label(kind: str, key: Any) -> str:
    """'MST 4S', 'MST 1S' (by number of scales) and 'FNO k=10' style names used in tables and figures."""
    if kind == "mst":
        return f"MST {len(key)}S"
    return f"FNO k={key}"


@dataclass
class MstFnoComparison:
    """Rollouts of every model on one test set from the protocol's start frames.

    Predictions and truth are (starts·N, horizon, C, H, W): the rollouts of all test trajectories
    from the first start, then from the second, …; `seconds` is the mean wall-clock time of one
    batched rollout of all N test trajectories (over the starts, after a one-step warm-up).
    """
    dataset: str
    starts: list[int]
    horizon: int
    n_test: int
    truth: torch.Tensor
    predictions: dict[str, torch.Tensor]
    seconds: dict[str, float]
    scores: dict[str, dict[str, Any]]
    per_step: dict[str, Any]  # {model: (starts·N, horizon) numpy array of per-frame nRMSE}


def compare_mst_fno(test: TestSet, runs: MstFnoRuns, starts: Sequence[int], horizon: int,
                     mst_scales: dict[str, Sequence[int]] | None = None, device: str = "auto") -> MstFnoComparison:
    """Roll out MST (each scale set), every FNO and persistence from each start; score against the truth."""
    mst_scales = mst_scales or {"4S": SCALE_SETS["4S"], "1S": SCALE_SETS["1S"]}
    f = test.frames
    models: dict[str, Any] = {}
    for _, scales in mst_scales.items():
        mods = runs.mst_models(scales)
        models[model_label("mst", scales)] = lambda s, h, mods=mods: rollout_mst(runs.autoencoder.model, mods, f, start=s,
                                                                                 horizon=h, device=device)
    for k, m in sorted(runs.fno_models().items(), reverse=True):
        models[model_label("fno", k)] = lambda s, h, m=m, k=k: rollout_fno(m, f, history=k, start=s, horizon=h,
                                                                           device=device)
    models["persistence"] = lambda s, h: _timed(lambda: persistence(f, start=s, horizon=h))
    true = torch.cat([truth(f, start=s, horizon=horizon) for s in starts])
    preds, seconds = {}, {}
    for name, fn in models.items():
        fn(starts[0], 1)  # warm-up: first calls allocate and pick kernels
        outs, secs = zip(*(fn(s, horizon) for s in starts))
        preds[name], seconds[name] = torch.cat(outs), sum(secs) / len(secs)
    scores = {name: score(p, true) for name, p in preds.items()}
    per_step = {name: nrmse_per_step(p, true).numpy() for name, p in preds.items()}
    return MstFnoComparison(test.dataset, list(starts), horizon, len(f), true, preds, seconds, scores, per_step)


def _timed(fn) -> tuple[torch.Tensor, float]:
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def late_spectrum(frames: torch.Tensor, length: float, n_frames: int) -> tuple[Any, Any]:
    """Energy spectrum of the first channel (vorticity) of (N, T, C, H, W), averaged over N and the last `n_frames` frames."""
    from ..metrics import energy_spectrum

    w = frames[:, -n_frames:, 0]
    k, E = energy_spectrum(w, length=length)
    return k, E.reshape(-1, E.shape[-1]).mean(0)


def _mean_std(sc: dict[str, Any]) -> str:
    return f"{sc['nrmse']:.4f} ± {sc['nrmse_std']:.4f}"


def mst_fno_rows(comparisons: dict[str, MstFnoComparison], quoted: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """One row per model, one column per dataset: measured nRMSE mean ± std over test trajectories (× starts);
    then one row of the FNO paper's quoted FNO-2D numbers, labelled as quoted."""
    quoted = FNO_PAPER_NRMSE if quoted is None else quoted
    names = [m for m in MST_FNO_MODELS if any(m in c.scores for c in comparisons.values())]
    names += [m for c in comparisons.values() for m in c.scores if m not in names]
    rows = []
    for m in names:
        row: dict[str, Any] = {"model": f"{m} (ours, measured)"}
        for ds, c in comparisons.items():
            row[ds] = _mean_std(c.scores[m]) if m in c.scores else "—"
        rows.append(row)
    row = {"model": "FNO-2D k=10 (FNO paper, quoted; 1000 training trajectories)"}
    for ds in comparisons:
        row[ds] = f"{quoted[ds]:.4f}" if ds in quoted else "—"
    rows.append(row)
    return rows


def budget_row(dataset: str, profile: str, fno_overrides: dict[str, Any] | None = None,
               fno_histories: Sequence[int] = (10, 1)) -> dict[str, Any]:
    """Trajectories, frames, training samples and epochs that the standard configs of `profile` use on `dataset`."""
    from ..data.registry import get_spec
    from ..train import _split_counts

    spec = get_spec(dataset, profile)
    frames = int(round(spec.params["t_final"] / spec.params.get("frame_interval", 1.0))) + 1
    n_fit, n_val = _split_counts(spec.n_train, TrainConfig.val_fraction)
    ae = _standard(profile, "autoencoder")
    dyn = _standard(profile, "dynamics")
    fno = {**_standard(profile, "fno"), **(fno_overrides or {})}

    def samples(windows: int, cap: int | None) -> int:
        n = n_fit * max(windows, 0)
        return min(n, cap) if cap is not None else n

    ae_n = samples(frames, ae.get("max_train_samples"))
    mst_n = {dt: samples(frames - dyn["rollout"] * dt, dyn.get("max_train_samples")) for dt in (1, 2, 4, 8)}
    fno_n = {k: samples(frames - k - (fno.get("rollout", 1) - 1), fno.get("max_train_samples")) for k in fno_histories}
    return {"dataset": dataset, "profile": profile, "train / val / test trajectories": f"{n_fit} / {n_val} / {spec.n_test}",
            "frames": frames, "resolution": f"{spec.resolution}²",
            "AE: samples × epochs": f"{ae_n} × {ae['epochs']}",
            "MST Δt=1,2,4,8: samples × epochs": f"{', '.join(str(v) for v in mst_n.values())} × {dyn['epochs']}",
            **{f"FNO k={k}: samples × epochs": f"{n} × {fno['epochs']}" for k, n in fno_n.items()}}


def mst_fno_cost_rows(runs: dict[str, MstFnoRuns], comparisons: dict[str, MstFnoComparison]) -> list[dict[str, Any]]:
    """Parameters, training time and rollout time per dataset and model.

    MST counts its autoencoder: 4S = AE + the Δt = 1, 2, 4, 8 models (the chain trains them in
    sequence), 1S = AE + Δt = 1. Rollout time: one batched rollout of all test trajectories
    over the protocol's horizon, and that divided by the number of trajectories.
    """
    rows = []
    for ds, r in runs.items():
        c = comparisons[ds]
        ae_p = r.autoencoder.n_parameters
        entries: dict[str, tuple[int, float]] = {}
        for name, scales in (("MST 4S", SCALE_SETS["4S"]), ("MST 1S", SCALE_SETS["1S"])):
            entries[name] = (ae_p + sum(r.mst[dt].n_parameters for dt in scales), mst_training_seconds(r, scales))
        for k, run in sorted(r.fno.items(), reverse=True):
            entries[model_label("fno", k)] = (run.n_parameters, run.train_seconds)
        for name, (params, secs) in entries.items():
            if name not in c.seconds:
                continue
            rows.append({"dataset": ds, "model": name, "parameters": params, "training (s)": secs,
                         "rollout of all test trajectories (s)": c.seconds[name],
                         "per trajectory (ms)": 1e3 * c.seconds[name] / c.n_test,
                         "frames predicted": c.horizon})
    return rows


def mst_training_seconds(runs: MstFnoRuns, scales: Sequence[int] = SCALE_SETS["4S"]) -> float:
    """What MST cost to train: its autoencoder and the Δt models of `scales` (the chain trains them in turn)."""
    return runs.autoencoder.train_seconds + sum(runs.mst[dt].train_seconds for dt in scales)


@dataclass
class EqualCost:
    """MST 4S against the FNO k at its standard budget and at a budget near MST's training time."""
    dataset: str
    history: int
    fno_run: Run  # the FNO at the larger budget
    comparison: MstFnoComparison  # MST 4S / 1S, the standard FNOs and persistence (the chapter's own)
    scores: dict[str, Any]  # the larger-budget FNO's score on the same rollouts
    per_step: Any



def equal_cost_fno(test: TestSet, runs: MstFnoRuns, comparison: MstFnoComparison, fno_run: Run,
                   device: str = "auto") -> EqualCost:
    """Score an FNO trained with a larger budget (`fno_run`) on the rollouts of `comparison`."""
    k = int(fno_run.config.history)
    preds = torch.cat([rollout_fno(fno_run.model, test.frames, history=k, start=s, horizon=comparison.horizon,
                                   device=device)[0] for s in comparison.starts])
    return EqualCost(test.dataset, k, fno_run, comparison, score(preds, comparison.truth),
                     nrmse_per_step(preds, comparison.truth).numpy())


def equal_cost_rows(runs: MstFnoRuns, eq: EqualCost) -> list[dict[str, Any]]:
    """Error against training time: MST 1S / 4S, the standard FNO and the larger-budget FNO, persistence."""
    c, k = eq.comparison, eq.history
    t_mst = mst_training_seconds(runs)
    entries = [("MST 4S", c.scores["MST 4S"], t_mst), ("MST 1S", c.scores["MST 1S"], mst_training_seconds(runs, (1,)))]
    if k in runs.fno:
        entries.append((f"FNO k={k} (standard budget)", c.scores[model_label("fno", k)], runs.fno[k].train_seconds))
    entries.append((f"FNO k={k} (larger budget)", eq.scores, eq.fno_run.train_seconds))
    rows = [{"model": name, "nRMSE": sc["nrmse"], "± std": sc["nrmse_std"], "training (s)": secs,
             "× MST 4S's training time": secs / t_mst} for name, sc, secs in entries]
    rows.append({"model": "persistence", "nRMSE": c.scores["persistence"]["nrmse"],
                 "± std": c.scores["persistence"]["nrmse_std"], "training (s)": 0.0, "× MST 4S's training time": 0.0})
    return rows


def mst_fno_training_rows(runs: dict[str, MstFnoRuns]) -> list[dict[str, Any]]:
    """Every run behind the comparison: best epoch of how many (a best epoch at the end means it was still
    improving), best validation loss (relative L², one step of the run's own Δt; the AE's is reconstruction)
    and training time."""
    rows = []
    for ds, r in runs.items():
        named = [("autoencoder", r.autoencoder)] + [(f"MST Δt={dt}", run) for dt, run in sorted(r.mst.items())]
        named += [(model_label("fno", k), run) for k, run in sorted(r.fno.items(), reverse=True)]
        for name, run in named:
            rows.append({"dataset": ds, "run": name, "parameters": run.n_parameters,
                         "best epoch": f"{run.best_epoch + 1} of {run.config.epochs}",
                         "best val loss": run.history[run.best_epoch]["val_loss"],
                         "train samples": int(run.metrics.get("n_train_samples", 0)),
                         "training (s)": run.train_seconds})
    return rows


def mst_fno_summary(comparisons: dict[str, MstFnoComparison], mst: str = "MST 4S",
                    fno: str = "FNO k=10") -> list[dict[str, Any]]:
    """Per dataset: the nRMSE of MST, of the FNO and of persistence, the ratio MST / FNO and which is lower."""
    rows = []
    for ds, c in comparisons.items():
        m, f, p = (c.scores[n]["nrmse"] if n in c.scores else float("nan") for n in (mst, fno, "persistence"))
        best_fno = min((n for n in c.scores if n.startswith("FNO")), key=lambda n: c.scores[n]["nrmse"], default=None)
        rows.append({"dataset": ds, mst: m, fno: f, "persistence": p, f"{mst} / {fno}": m / f,
                     "lower": (mst if m < f else fno) if m == m and f == f else "—", "best FNO": best_fno,
                     "quoted FNO-2D (FNO paper)": FNO_PAPER_NRMSE.get(ds, float("nan"))})
    return rows


def mst_fno_takeaway(summary: Sequence[dict[str, Any]], comparisons: dict[str, MstFnoComparison],
                     runs: dict[str, MstFnoRuns], long: dict[str, MstFnoComparison] | None = None,
                     spectra: dict[str, dict[str, Any]] | None = None,
                     equal_cost: dict[str, EqualCost] | None = None) -> list[str]:
    """The MST-vs-FNO chapter's takeaway, one bullet per finding, decided from its numbers: the
    scores per dataset (`mst_fno_summary` rows), the paper's claim on the Navier–Stokes sets, the
    long Kolmogorov rollouts' spectra, cost, and the comparison at equal training cost."""
    lines = []
    for r in summary:
        quoted = (f"; the FNO paper's FNO-2D (quoted, 1000 training trajectories): {r['quoted FNO-2D (FNO paper)']:.4f}"
                  if math.isfinite(r["quoted FNO-2D (FNO paper)"]) else "")
        lines.append(f"* **{r['dataset']}.** MST 4S {r['MST 4S']:.4f}, FNO k=10 {r['FNO k=10']:.4f} "
                     f"(ratio MST / FNO {r['MST 4S / FNO k=10']:.2f}: **{r['lower']}** is lower), best FNO: {r['best FNO']}, "
                     f"MST 1S {comparisons[r['dataset']].scores['MST 1S']['nrmse']:.4f}, persistence {r['persistence']:.4f}"
                     + quoted + ".")
    ns = [r for r in summary if not is_kolmogorov(r["dataset"])]
    held = [r["dataset"] for r in ns if r["lower"] == "MST 4S"]
    skill = [r["dataset"] for r in ns if r["MST 4S"] < r["persistence"]]
    if ns:
        given = {r["dataset"]: (equal_cost or {}).get(r["dataset"]) for r in ns}
        equal = {n: e for n, e in given.items() if e is not None and at_equal_cost(runs[n], e)}
        won = [n for n, e in equal.items() if comparisons[n].scores["MST 4S"]["nrmse"] <= e.scores["nrmse"]]
        paired = {n: equal_cost_difference(e) for n, e in equal.items()}
        resolved = {n: d for n, d in paired.items() if d is not None and d["resolved"]}
        beyond = lambda names: f"{len(names)} ({', '.join(names)})" if names else "none"  # noqa: E731
        spread = (f"; beyond the paired spread (twice the standard error over the test rollouts, as the verdict "
                  f"requires) MST 4S is lower on {beyond([n for n, d in resolved.items() if d['mean'] < 0])} and the "
                  f"FNO on {beyond([n for n, d in resolved.items() if d['mean'] > 0])}"
                  if any(d is not None for d in paired.values()) else "")
        at_equal = (f" At equal training cost, which decides the scorecard's verdict, MST 4S is lower than the FNO "
                    f"k={next(iter(equal.values())).history} on {len(won)} of {len(equal)} ({', '.join(won) or 'none'})"
                    + spread + "." if equal else "")
        lines.append(f"* **The paper's claim** (MST at least as accurate as FNO on Navier–Stokes): in this run, at the "
                     f"standard budgets, MST 4S is lower than our FNO k=10 on {len(held)} of {len(ns)} Navier–Stokes datasets "
                     f"({', '.join(held) or 'none'}), and lower than persistence on {len(skill)} of {len(ns)} "
                     f"({', '.join(skill) or 'none'})." + at_equal + " A model that does not beat persistence has learnt "
                     f"little of the dynamics, whatever its rank against the other model.")
    for name, s in (spectra or {}).items():
        k = s["truth"][0]
        kmid = k[len(k) // 4]
        parts = [f"{m} {spectral_ratio(k, v[1], s['truth'][1]):.2g} / {spectral_ratio(k, v[1], s['truth'][1], kmin=kmid):.2g}"
                 for m, v in s.items() if m != "truth"]
        lines.append(f"* **{name}, long rollout** (energy of the prediction / the truth's, all shells / shells k ≥ {kmid}, "
                     f"last frames): " + ", ".join(parts) + "; nRMSE over the whole long rollout: "
                     + ", ".join(f"{m} {sc['nrmse']:.3f}" for m, sc in long[name].scores.items()) + ".")
    cost = {(r["dataset"], r["model"]): r for r in mst_fno_cost_rows(runs, comparisons)}
    for name in comparisons:
        m, f = cost.get((name, "MST 4S")), cost.get((name, "FNO k=10"))
        if m and f:
            lines.append(f"* **Cost, {name}.** MST 4S: {m['parameters']:,} parameters, {m['training (s)']:.3g} s training, "
                         f"{m['per trajectory (ms)']:.3g} ms per trajectory rollout; FNO k=10: {f['parameters']:,} parameters, "
                         f"{f['training (s)']:.3g} s training, {f['per trajectory (ms)']:.3g} ms per trajectory rollout.")
    for name, eq in (equal_cost or {}).items():
        t_mst, t_fno = mst_training_seconds(runs[name]), eq.fno_run.train_seconds
        m, f = comparisons[name].scores["MST 4S"]["nrmse"], eq.scores["nrmse"]
        lines.append(f"* **At equal training cost, {name}.** MST 4S {m:.4f} after {t_mst:.0f} s of training; FNO "
                     f"k={eq.history} {f:.4f} after {t_fno:.0f} s ({t_fno / t_mst:.2f}× MST's time): **"
                     + ("MST 4S" if m < f else f"FNO k={eq.history}") + "** is lower" + _difference_text(equal_cost_difference(eq))
                     + ("" if at_equal_cost(runs[name], eq) else
                        " (the times are more than a factor of two apart: not at equal cost)") + ".")
    return lines


def spectral_ratio(k: Any, E: Any, E_ref: Any, kmin: float = 0, kmax: float = float("inf"),
                   floor: float = 1e-12) -> float:
    """Energy in shells kmin ≤ k ≤ kmax relative to the reference's: 1 = right amount at those scales.

    Shells where the reference is below `floor` × its maximum (beyond the solver's 2/3-rule cutoff,
    round-off only) are left out, so energy a model puts there does not count."""
    import numpy as np

    k, E, E_ref = np.asarray(k), np.asarray(E, dtype=float), np.asarray(E_ref, dtype=float)
    sel = (k >= kmin) & (k <= kmax) & (E_ref > floor * E_ref.max())
    return float(E[sel].sum() / E_ref[sel].sum())



# --------------------------------------------------------------------------- verdicts for the scorecard
# Each chapter's takeaway states these outcomes in words; these functions decide them from the same
# numbers, for `scorecard.record`. "Informative" means the best model beats persistence.
def _encodings_outcome(summary: dict[str, dict[str, Any]]) -> tuple[str, list[str], str, float, float]:
    """M4 against the other encodings (rows of `seed_summary` by name): (outcome, ranking, runner-up
    to M4, gap = runner-up − M4 nRMSE, largest spread over seeds). Holds when M4 is first by more than
    the spread; partly when within the spread of the other side (first by less, or behind the best
    by less: the seeds do not tell them apart); does not hold when behind by more."""
    enc = list(summary)
    ranked = sorted(enc, key=lambda e: summary[e]["nRMSE"])
    spread = max(summary[e]["± std over seeds"] for e in enc)
    runner = next(e for e in ranked if e != "M4")
    gap = summary[runner]["nRMSE"] - summary["M4"]["nRMSE"]  # > 0: M4 is first; < 0: it is behind the best
    outcome = "holds" if gap > spread else "partly" if abs(gap) <= spread else "does not hold"
    return outcome, ranked, runner, gap, spread


def encodings_claim(summary: dict[str, dict[str, Any]], persistence: float, scale: str):
    """M4 best of the encodings, as `_encodings_outcome` decides; "not tested" when M4 or its rivals
    were not trained, or when no encoding beats persistence."""
    from .scorecard import verdict
    if "M4" not in summary or len(summary) < 2:
        return verdict("mst.encodings", "not tested", "M4 or its rivals not trained", scale)
    outcome, ranked, runner, _, spread = _encodings_outcome(summary)
    return verdict("mst.encodings", outcome, f"best {ranked[0]} {summary[ranked[0]]['nRMSE']:.4f}; M4 "
                   f"{summary['M4']['nRMSE']:.4f}, {runner} {summary[runner]['nRMSE']:.4f}; largest seed spread {spread:.4f}; "
                   f"persistence {persistence:.4f}", scale, summary[ranked[0]]["nRMSE"] < persistence,
                   "no encoding beats persistence")


def encodings_takeaway(summary: dict[str, dict[str, Any]], persistence: float, floor: float, runs: dict[tuple[str, int], Run],
                       horizon: int, kernel_spread: dict[str, float] | None = None) -> list[str]:
    """The positional-encoding chapter's takeaway, one bullet per finding, from its numbers: the
    ranking over seeds, the references, the paper's claim (decided as `encodings_claim` decides it),
    one step against 40, effect size against seed spread, whether the learned G is relative
    (`kernel_spread`: its largest spread over pairs with one displacement, per encoding) and budget."""
    encodings = list(summary)
    seeds = sorted({s for _, s in runs})
    ranked = sorted(encodings, key=lambda e: summary[e]["nRMSE"])
    best = ranked[0]
    spread = max(summary[e]["± std over seeds"] for e in encodings)
    fmt = lambda e: f"{e} {summary[e]['nRMSE']:.4f} ± {summary[e]['± std over seeds']:.4f}"  # noqa: E731
    n_beat = sum(summary[e]["nRMSE"] < persistence for e in encodings)
    lines = [f"* **Ranking** (test nRMSE, {horizon} steps from t = {START}, mean ± std over {len(seeds)} seeds): "
             + "; ".join(fmt(e) for e in ranked) + ".",
             f"* **References.** Persistence {persistence:.4f}; autoencoder floor {floor:.4f}. "
             f"{n_beat} of {len(encodings)} encodings beat persistence on average."]
    if "M4" in encodings and len(encodings) > 1:
        outcome, _, runner, gap, _ = _encodings_outcome(summary)
        rank = f"M4 ranks {ranked.index('M4') + 1} of {len(ranked)}, {-gap:.4f} above it"
        text = {"holds": f"**held here**: M4 is best, {gap:.4f} below the runner-up {runner}, more than the largest "
                         "spread over seeds.",
                "partly": (f"**is not confirmed at our scale**: M4 ranks first, but only {gap:.4f} below the runner-up "
                           f"{runner}, less than the largest spread over seeds ({spread:.4f}), so the seeds do not resolve it."
                           if best == "M4" else
                           f"**holds only partly at our scale**: {best} is best and {rank}, less than the largest spread "
                           "over seeds: at this budget and number of seeds the two are not distinguishable."),
                "does not hold": f"**did not hold at our scale**: {best} is best and {rank}, more than the largest "
                                 "spread over seeds."}[outcome]
        if not n_beat:
            text += (" No encoding beats persistence at this budget, though, so this ranks models that all predict worse "
                     "than the trivial baseline.")
        lines.append("* **The paper's claim** (M4, relative and multiplied after the softmax, is the best encoding) " + text
                     + " We quote no number of the paper's ablation beside ours.")
    one_step = sorted(encodings, key=lambda e: summary[e]["best val loss"])
    lines.append("* **At one step** (validation loss of the kept epoch, mean over seeds, the quantity training minimises): "
                 + "; ".join(f"{e} {summary[e]['best val loss']:.4f}" for e in one_step)
                 + (f". The one-step and {horizon}-step rankings agree on the best encoding." if one_step[0] == best else
                    f". The best one-step encoding ({one_step[0]}) is not the best over {horizon} steps ({best}): "
                    "accuracy of one step and stability of a long rollout are different properties."))
    total = max(summary[e]["nRMSE"] for e in encodings) - summary[best]["nRMSE"]
    lines.append(f"* **Effect size.** Best to worst encoding: {total:.4f} nRMSE, against a largest spread over seeds of {spread:.4f}.")
    if kernel_spread:
        lines.append("* **G is relative.** Largest difference of G between token pairs with the same periodic displacement: "
                     + ", ".join(f"{enc} {v:.1e}" for enc, v in kernel_spread.items()) + " (zero up to round-off by construction).")
    params = sorted(summary[e]["parameters"] for e in encodings)
    first = next(iter(runs.values()))
    epochs = first.config.epochs
    lines.append(f"* **Budget.** {len(runs)} models of {params[0]:,}–{params[-1]:,} parameters, "
                 f"{epochs} epoch{'s' if epochs != 1 else ''} on {first.metrics['n_train_samples']} windows; "
                 f"{sum(r.train_seconds for r in runs.values()):.0f} s of training in all.")
    return lines


def rollout_claim(err: dict[int, float], persistence: float, scale: str):
    """R = 2 and 4 below R = 1: holds when both are, partly when one is."""
    from .scorecard import verdict
    trained = [R for R in (2, 4) if R in err]
    if 1 not in err or not trained:
        return verdict("mst.rollout", "not tested", "R = 1 or R = 2, 4 not trained", scale)
    better = [R for R in trained if err[R] < err[1]]
    outcome = "holds" if len(better) == len(trained) else "partly" if better else "does not hold"
    return verdict("mst.rollout", outcome, ", ".join(f"R = {R}: {e:.4f}" for R, e in sorted(err.items()))
                   + f"; persistence {persistence:.4f}", scale, min(err.values()) < persistence,
                   "no rollout length beats persistence")


# Two wall-clock times within this fraction of each other count as equal: the same models' time ratios
# moved by up to ±12 % between builds on one kind of machine (the tokenization chapter's 4.2×, 4.5×,
# 3.6×), so a ratio near 1 says nothing about which is faster; the tolerance is wider than that spread.
TIMING_TOLERANCE = 0.15


def multiscale_claim(results: dict[str, dict[str, Any]], scale: str):
    """4S against 1S (rows of `evaluate_scale_sets`): lower error, and a full rollout faster by more
    than TIMING_TOLERANCE. Equal times (a full rollout predicts every frame once whatever the scales,
    so on a CPU the work is the same) leave the cost half unconfirmed: "partly". The final state
    alone (fewer model calls) is reported beside, not deciding: it is cheaper by construction."""
    from .scorecard import verdict
    r1, r4, pers = results["1S"], results["4S"], results["persistence"]["nrmse"]
    ratio = r4["rollout_seconds"] / r1["rollout_seconds"]
    lower, faster = r4["nrmse"] < r1["nrmse"], ratio < 1 - TIMING_TOLERANCE
    outcome = "holds" if lower and faster else "partly" if lower or faster else "does not hold"
    timing = ("faster" if faster else "slower" if ratio > 1 + TIMING_TOLERANCE else
              f"equal within the {TIMING_TOLERANCE:.0%} timing tolerance")
    final = (f"; the final state alone {r1['final_calls']} vs {r4['final_calls']} model calls, "
             f"{r1['final_seconds'] / r4['final_seconds']:.1f}× faster" if "final_seconds" in r4 and "final_seconds" in r1 else "")
    return verdict("mst.multiscale", outcome, f"4S {r4['nrmse']:.4f} vs 1S {r1['nrmse']:.4f} nRMSE; full rollout "
                   f"{r4['rollout_seconds']:.3f} vs {r1['rollout_seconds']:.3f} s ({ratio:.2f}×: {timing}){final}; "
                   f"persistence {pers:.4f}", scale, min(r1["nrmse"], r4["nrmse"]) < pers, "neither chain beats persistence")


def multiscale_takeaway(results: dict[str, dict[str, Any]], runs: dict[int, Run], scale: str, speed: Sequence[dict[str, Any]],
                        bench_trajectories: int, device: str = "auto",
                        kolmogorov: dict[str, dict[str, Any]] | None = None, kolmogorov_starts: int = 0,
                        kolmogorov_trajectories: int = 0, kolmogorov_horizon: int = 0):
    """The multi-scale chapter's takeaway, one bullet per finding, and its scorecard verdict
    (`multiscale_claim`, stated in the last bullet): from `evaluate_scale_sets` of ν = 1e-3 (`results`)
    and, where run, of Kolmogorov flow (`kolmogorov`); `runs` the Δt models, `speed` the rows of
    `solver_frames_per_second` + `surrogate_frames_per_second` (solver first, 1S second, 4S last)."""
    sets = [n for n in SCALE_SETS if n in results]
    err = {n: results[n]["nrmse"] for n in sets}
    pers = results["persistence"]["nrmse"]
    r1, r4 = results["1S"], results["4S"]
    horizon, n_test = len(r1["per_step"]), len(r1["per_trajectory"])
    monotone = all(err[a] > err[b] for a, b in zip(sets, sets[1:]))
    wins = int((r4["per_trajectory"] < r1["per_trajectory"]).sum())
    one_call = {dt: float(r4["per_step"][dt - 1]) for dt in runs if dt > 1}
    many_calls = {dt: float(r1["per_step"][dt - 1]) for dt in runs if dt > 1}
    lines = [
        f"* **Error.** {horizon}-frame nRMSE from t = {START} on {n_test} test trajectories: "
        + ", ".join(f"{n} {err[n]:.4f}" for n in sets) + f"; persistence {pers:.4f}. Longest chains "
        + ", ".join(f"{n} {results[n]['longest_chain']}" for n in sets) + ".",
        f"* **Claim: multi-scale lowers the error.** 4S vs 1S: {err['4S'] / err['1S']:.2f}× the error "
        + ("(held" if err["4S"] < err["1S"] else "(**did not hold** at this scale")
        + f"; 4S is better on {wins} of {n_test} test trajectories). "
        + ("More scales lowered it at every step " + " → ".join(sets) + "." if monotone else
           "It did not fall at every step " + " → ".join(sets) + ": best " + min(err, key=err.get) + "."),
        "* **One big step vs many small ones** (error at frame Δt): "
        + ", ".join(f"Δt = {dt}: {one_call[dt]:.4f} vs {many_calls[dt]:.4f}" for dt in one_call) + ".",
        f"* **Wall-clock, full rollout** (all {n_test} trajectories): 1S {r1['rollout_seconds']:.3f} s, "
        f"4S {r4['rollout_seconds']:.3f} s ({r1['rollout_seconds'] / r4['rollout_seconds']:.2f}× faster); latent steps alone "
        f"{r1['latent_seconds']:.3f} s vs {r4['latent_seconds']:.3f} s ({r1['latent_seconds'] / r4['latent_seconds']:.2f}×).",
        f"* **Final state only:** {r1['final_calls']} vs {r4['final_calls']} calls, {r1['final_seconds'] * 1e3:.1f} ms vs "
        f"{r4['final_seconds'] * 1e3:.1f} ms ({r1['final_seconds'] / r4['final_seconds']:.1f}×); its error "
        f"{r1['final_error']:.4f} (1S) vs {r4['final_error']:.4f} (4S).",
        f"* **Surrogate vs solver** ({bench_trajectories} trajectories, {horizon} frames, {speed[0]['resolution']}): solver "
        f"{speed[0]['frames_per_s']:.0f} frames/s; MST 1S {speed[1]['frames_per_s']:.0f}, 4S {speed[-1]['frames_per_s']:.0f} "
        f"frames/s ({speed[1]['× solver']:.1f}× and {speed[-1]['× solver']:.1f}× the solver) on {get_device(device)}.",
        "* **Training** (samples/s, from the run histories): " + ", ".join(
            f"Δt = {dt} {training_summary(r)['samples / s']:.0f}" for dt, r in runs.items())
        + f"; total {sum(r.train_seconds for r in runs.values()):.0f} s for the four models.",
    ]
    if kolmogorov is not None:
        k1, k4, kp = (kolmogorov[n]["nrmse"] for n in ("1S", "4S", "persistence"))
        kwins = int((kolmogorov["4S"]["per_trajectory"] < kolmogorov["1S"]["per_trajectory"]).sum())
        lines.append(f"* **Kolmogorov flow** ({kolmogorov_starts} starts × {kolmogorov_trajectories} test trajectories, "
                     f"{kolmogorov_horizon} frames): 1S {k1:.4f}, 4S {k4:.4f}, persistence {kp:.4f}; 4S is better on "
                     f"{kwins} of {len(kolmogorov['4S']['per_trajectory'])} rollouts. "
                     + ("4S was worse than 1S, consistent with the authors' note that only Δt = 1 worked."
                        if k4 > k1 else "4S was not worse than 1S here, unlike the authors' note that only Δt = 1 worked.")
                     + (" Neither beat persistence." if min(k1, k4) >= kp else ""))
    else:
        lines.append("* **Kolmogorov flow** was not run in this profile.")
    claim = multiscale_claim(results, scale)  # faster only beyond the timing tolerance; the final state reported beside
    lines.append(f"* **Claim: multi-scale lowers the error and the cost** (the scorecard's verdict): **{claim.verdict}**. "
                 f"{claim.ours}.")
    return lines, claim


EQUAL_COST = (0.5, 2.0)  # training times within this factor of each other count as "equal cost"


def at_equal_cost(runs: "MstFnoRuns", eq: EqualCost) -> bool:
    """Whether the larger-budget FNO trained within EQUAL_COST of MST 4S's training time."""
    return EQUAL_COST[0] <= eq.fno_run.train_seconds / mst_training_seconds(runs) <= EQUAL_COST[1]


def equal_cost_difference(eq: EqualCost, mst: str = "MST 4S") -> dict[str, float] | None:
    """MST − the larger-budget FNO over the same test rollouts (`paired_difference`), or None where the
    per-rollout scores are not there (fewer than two rollouts)."""
    a = (eq.comparison.scores.get(mst, {}).get("per_trajectory") if eq.comparison is not None else None)
    b = eq.scores.get("per_trajectory")
    if a is None or b is None or len(a) < 2 or len(a) != len(b):
        return None
    return paired_difference(a, b)


def _difference_text(d: dict[str, float] | None) -> str:
    if d is None:
        return ""
    return (f"; paired over the {d['n']} test rollouts MST − FNO = {d['mean']:+.4f} ± {2 * d['se']:.4f} (2 SE)"
            + ("" if d["resolved"] else ": within the spread"))


def mst_fno_claims(summary: Sequence[dict[str, Any]], runs: dict[str, "MstFnoRuns"],
                   mst: str = "MST 4S", fno: str = "FNO k=10", equal_cost: dict[str, EqualCost] | None = None) -> list:
    """Per dataset (rows of `mst_fno_summary`): MST at least as accurate as the FNO, at the MST chain's
    scale, with both training times beside (the MST chain counts its autoencoder). Where the chapter
    trained the FNO near MST's cost (`equal_cost`), that FNO decides; elsewhere the verdict says by
    how much the training times differ, and a comparison at training times more than a factor
    EQUAL_COST apart is "partly" at most: MST beating an FNO trained for a fraction of its time
    says little about the methods. Against that FNO, a difference within twice the standard error of
    the paired differences over the test rollouts (`equal_cost_difference`) is "partly" too."""
    from .scorecard import CLAIMS, verdict
    out = []
    for r in summary:
        cid = f"mst.fno.{r['dataset']}"
        if cid not in CLAIMS:
            continue
        run = runs[r["dataset"]]
        scale = run_scale(run.mst[min(run.mst)].config)
        t_mst = mst_training_seconds(run)
        eq = (equal_cost or {}).get(r["dataset"])
        diff = None
        if eq is not None:
            name, err, t_fno = f"FNO k={eq.history} (larger budget)", eq.scores["nrmse"], eq.fno_run.train_seconds
            diff = equal_cost_difference(eq, mst)
        else:
            k = int(fno.split("=")[1])
            name, err, t_fno = fno, r[fno], run.fno[k].train_seconds if k in run.fno else float("nan")
        equal = EQUAL_COST[0] <= t_fno / t_mst <= EQUAL_COST[1]
        outcome = "holds" if r[mst] <= err else "does not hold"
        if (outcome == "holds" and not equal) or (diff is not None and not diff["resolved"]):
            outcome = "partly"  # a win bought with more training, or a difference within the rollouts' spread
        cost = (f"trained {t_mst:.0f} s vs {t_fno:.0f} s" + ("" if equal else
                f": not at equal cost (the FNO {t_fno / t_mst:.2f}× MST's training time)"))
        out.append(verdict(cid, outcome, f"{mst} {r[mst]:.4f} vs {name} {err:.4f} nRMSE (persistence "
                                         f"{r['persistence']:.4f}){_difference_text(diff)}; {cost}", scale,
                           min(r[mst], err) < r["persistence"], "neither model beats persistence"))
    return out
