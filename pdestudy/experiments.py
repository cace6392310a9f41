"""The MST protocol: configs for each experiment, rollouts on held-out trajectories, scores, timings.

Notebooks call these functions; training goes through `pdestudy.train` (one loop, results cache).

Protocol (MST paper, §3): start from the true frame at t = 10 and predict every frame up to T
(40 / 20 / 10 frames for ν = 1e-3 / 1e-4 / 1e-5); Kolmogorov flow: 40-step rollouts from several
start times. nRMSE = ‖pred − true‖₂ / ‖true‖₂ per test trajectory over all predicted frames jointly,
averaged over trajectories. Scores are on the file's test trajectories only, and the trivial
baseline (persist the last known frame) is always reported beside the models.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch import nn

from .data.generation import dataset_path, generate
from .data.io import open_dataset, parameters
from .metrics import nrmse, nrmse_per_step
from .models.mst import MultiScaleStepper, chain_depths
from .train import Run, TrainConfig, train
from .utils import get_device

START = 10  # the MST protocol's first known frame


# --------------------------------------------------------------------------- configs
def autoencoder_config(dataset: str, profile: str, channels: Sequence[int] = (16, 32, 64, 128), **train_kw) -> TrainConfig:
    return TrainConfig(task="autoencoder", dataset=dataset, profile=profile, model=dict(channels=list(channels)), **train_kw)


def dynamics_config(ae: TrainConfig, encoding: str = "M4", depth: int = 4, heads: int = 8, lead: int = 1,
                    rollout: int = 1, init_from: TrainConfig | None = None, **train_kw) -> TrainConfig:
    """An MST dynamics model in the latent space of the autoencoder `ae` (whose config it carries)."""
    channels = ae.model.get("channels", [16, 32, 64, 128])
    res = int(open_dataset_attrs(ae.dataset, ae.profile)["resolution"])
    model = dict(width=channels[-1], depth=depth, heads=heads, encoding=encoding, latent_size=res // 2 ** len(channels))
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
    with open_dataset(path) as ds:
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
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


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
    _sync(dev)
    t0 = time.perf_counter()
    z = stepper.rollout(ae.encode(x0), horizon)  # (N, horizon, C, n, n)
    pred = ae.decode(z.flatten(0, 1)).unflatten(0, z.shape[:2])
    _sync(dev)
    return pred.cpu(), time.perf_counter() - t0


@torch.no_grad()
def final_state_mst(autoencoder: nn.Module, models: dict[int, nn.Module], frames: torch.Tensor, target: int,
                    start: int = START, device: str = "auto") -> tuple[torch.Tensor, float, int]:
    """Only the frame at `target`, through the greedy decomposition of target − start: (pred, seconds, calls)."""
    dev = get_device(device)
    ae = autoencoder.to(dev).eval()
    stepper = MultiScaleStepper({dt: m.to(dev).eval() for dt, m in models.items()})
    x0 = frames[:, start].to(dev)
    _sync(dev)
    t0 = time.perf_counter()
    z, calls = stepper.final_state(ae.encode(x0), target - start)
    pred = ae.decode(z)
    _sync(dev)
    return pred.cpu(), time.perf_counter() - t0, calls


@torch.no_grad()
def rollout_fno(model: nn.Module, frames: torch.Tensor, history: int, start: int = START, horizon: int | None = None,
                device: str = "auto") -> tuple[torch.Tensor, float]:
    """Autoregressive FNO rollout from the `history` frames ending at `start`: (N, horizon, C, H, W), seconds."""
    dev = get_device(device)
    horizon = horizon or frames.shape[1] - 1 - start
    if start - history + 1 < 0:
        raise ValueError(f"an FNO with history {history} cannot start at frame {start}")
    model = model.to(dev).eval()
    window = frames[:, start - history + 1 : start + 1].to(dev)
    _sync(dev)
    t0 = time.perf_counter()
    outs = []
    for _ in range(horizon):
        y = model(window if history > 1 else window[:, 0])
        outs.append(y)
        window = torch.cat([window[:, 1:], y[:, None]], dim=1)
    _sync(dev)
    return torch.stack(outs, dim=1).cpu(), time.perf_counter() - t0


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
    from .data.generation import system_module, trajectory_seeds
    from .data.registry import get_spec
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
                resolution=f"solved {spec.params['solve_resolution']}², stored {spec.resolution}²")


def surrogate_frames_per_second(autoencoder: nn.Module, models: dict[int, nn.Module], test: TestSet, horizon: int,
                                device: str = "auto", repeats: int = 3) -> dict:
    """MST rollout (encode, latent steps, decode) of all test trajectories; the best of `repeats` timings."""
    rollout_mst(autoencoder, models, test.frames, horizon=horizon, device=device)  # warm-up
    sec = min(rollout_mst(autoencoder, models, test.frames, horizon=horizon, device=device)[1] for _ in range(repeats))
    return dict(method=f"MST ({'+'.join(map(str, sorted(models)))})", frames_per_s=len(test.frames) * horizon / sec,
                seconds=sec, resolution=f"{test.frames.shape[-1]}²")


def parameter_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


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


def _standard(profile: str, kind: str) -> dict[str, Any]:
    if profile not in STANDARD:
        raise KeyError(f"unknown profile {profile!r}; profiles are {', '.join(STANDARD)}")
    return dict(STANDARD[profile][kind])


def standard_autoencoder(dataset: str, profile: str, seed: int = 0) -> TrainConfig:
    """The autoencoder of `dataset` that every MST chapter uses."""
    return autoencoder_config(dataset, profile, seed=seed, **_standard(profile, "autoencoder"))


def standard_dynamics(dataset: str, profile: str, **overrides) -> TrainConfig:
    """An MST Δt = 1 model on the standard autoencoder; `overrides` change single fields (encoding, rollout, …)."""
    kw = _standard(profile, "dynamics")
    if dataset.startswith("kolmogorov") and profile != "smoke":
        kw["depth"] = KOLMOGOROV_DEPTH
    kw.update(overrides)
    return dynamics_config(standard_autoencoder(dataset, profile), **kw)


def standard_multiscale(dataset: str, profile: str, scales: Sequence[int] = (1, 2, 4, 8), **overrides) -> dict[int, TrainConfig]:
    """The Δt chain of MST (Δt = 1 first, each larger Δt initialised from the previous)."""
    kw = _standard(profile, "dynamics")
    if dataset.startswith("kolmogorov") and profile != "smoke":
        kw["depth"] = KOLMOGOROV_DEPTH
    kw.update(overrides)
    return multiscale_configs(standard_autoencoder(dataset, profile), scales=scales, **kw)


def standard_fno(dataset: str, profile: str, history: int = 10, **overrides) -> TrainConfig:
    kw = _standard(profile, "fno")
    kw.update(overrides)
    return fno_config(dataset, profile, history=history, **kw)
