"""The performance protocol: what a surrogate's speed is worth beside the solver that made its data.

Notebooks call these functions (book/beyond/performance.ipynb). The models come from the results
cache through the chapters' own config functions (`mst.standard_multiscale`, `mst.fno_configs`,
`matey.tokenization_configs`), so in a book build the page trains nothing the chapters did not.

The protocol follows McGreivy & Hakim (Nature Machine Intelligence 2024, "Weak baselines and
reporting biases lead to overoptimism in machine learning for fluid-related partial differential
equations"): a speed-up is only meaningful against a strong baseline at equal accuracy.

* **Equal resolution and horizon.** Surrogate and solver advance the same states (the stored frame
  at t = START of the first `trajectories` test trajectories, one batch) over the same horizon and
  are scored against the same stored frames with the MST protocol's nRMSE. The solver is the
  dataset's own (scheme, grid, step: the *data recipe*). We report wall-clock per rollout (one
  trajectory) and per frame, and the ratio. On a CPU the solvers step on one thread (bitwise
  batch independence, `deterministic_fft`) and the surrogates on torch's threads, so the ratio per
  core-second is given beside the wall-clock one.
* **Equal accuracy.** The data recipe reproduces its own data to round-off, far below any
  surrogate's error, so a speed-up against it compares answers of very different accuracy. The solver is therefore also run on
  coarser grids and with larger steps from the same states; its error is scored exactly as the
  surrogate's, and `coarsest_matching` picks the cheapest configuration (fewest grid cells ×
  steps) that is at least as accurate as the surrogate. Configurations that go unstable (the CFL
  limit) are kept in the search as unstable, not dropped silently.
* **The papers' recipe.** The FNO data (Li et al. 2021, which MST reuses) was solved at 256² with
  dt = 1e-4 (Crank–Nicolson / forward Euler) and stored at 64². A few of its steps are timed and
  extrapolated to the horizon; the page says that it is extrapolated.
* **Cost beyond the rollout.** Training time per model with the optimiser steps it took; FLOPs of
  one training step counted by `torch.utils.flop_counter.FlopCounterMode` and the achieved FLOP/s
  against the machine's measured matmul peak; attention cost with uniform and adaptive tokens
  (MATEY); data generation with one worker process and with all cores (the files compared bit for
  bit).
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..data.generation import dataset_path, generate, system_module
from ..data.io import open_dataset, validate_file
from ..data.navier_stokes import to_physical, to_spectral
from ..data.registry import DatasetSpec, get_spec
from ..data.solver_support import SolverInstability, deterministic_fft
from ..metrics import channel_nrmse
from ..train import Run, TASK_CLASSES, TrainConfig
from ..utils import best_seconds, get_device, synchronize
from . import matey as M  # its import also registers the CPU attention kernels with FlopCounterMode
from .mst import START, TestSet, evaluate_scale_sets, rollout_fno, score, truth

PAPER_RECIPE = dict(n=256, dt=1e-4, scheme="cn-euler")  # the FNO data (Li et al. 2021, ns_2d.py): solved at 256², stored at 64²


# --------------------------------------------------------------------------- timing
def cores_used(device: torch.device | str, solver: bool) -> int | None:
    """CPU cores a timing used: a solver steps on one thread (`deterministic_fft`; the numpy solvers
    are single-threaded), a surrogate on torch's threads; None on a GPU (no core count to compare)."""
    if get_device(device).type != "cpu":
        return None
    return 1 if solver else torch.get_num_threads()


@dataclass
class Timed:
    """One method's rollout of a benchmark batch: what it cost and, where it makes fields, its error.

    `seconds` is the wall-clock of the whole batch of `trajectories` rollouts (or prediction
    windows), each producing `frames` frames; `cores` the CPU cores it ran on (None: a GPU).
    """
    method: str
    kind: str  # "solver" or "surrogate"
    trajectories: int
    frames: int
    seconds: float
    cores: int | None
    nrmse: float = math.nan
    per_trajectory: np.ndarray | None = None
    extrapolated: bool = False
    note: str = ""

    @property
    def per_rollout(self) -> float:
        return self.seconds / self.trajectories

    @property
    def per_frame(self) -> float:
        return self.per_rollout / self.frames


def speed_rows(entries: Sequence[Timed], reference: Timed, error: str = "nRMSE") -> list[dict[str, Any]]:
    """Wall-clock per rollout and per frame of every entry, its error (named `error`), and how many times
    faster than `reference` it is (> 1: faster), by the clock and per core-second (cores × seconds,
    where both ran on CPUs)."""
    rows = []
    for e in entries:
        core_ratio = math.nan
        if e.cores and reference.cores:
            core_ratio = reference.per_rollout * reference.cores / (e.per_rollout * e.cores)
        rows.append({"method": e.method, "kind": e.kind, "trajectories": e.trajectories, "frames / rollout": e.frames,
                     "batch (s)": e.seconds, "per rollout (ms)": 1e3 * e.per_rollout, "per frame (ms)": 1e3 * e.per_frame,
                     "cores": e.cores if e.cores else "GPU", error: e.nrmse,
                     "× faster than the data recipe": reference.per_rollout / e.per_rollout,
                     "× per core-second": core_ratio, "note": ("extrapolated; " if e.extrapolated else "") + e.note})
    return rows


# --------------------------------------------------------------------------- the Navier–Stokes solver, from the test states
def subset(test: TestSet, trajectories: int | None) -> TestSet:
    """The first `trajectories` test trajectories (None: all): the batch every method of the page advances."""
    if trajectories is not None and not 1 <= trajectories <= len(test.frames):
        raise ValueError(f"trajectories: 1 … {len(test.frames)} test trajectories of {test.dataset}, got {trajectories}")
    return test if trajectories is None else dataclasses.replace(test, frames=test.frames[:trajectories])


def ns_solver(spec: DatasetSpec, n: int, dt: float, scheme: str | None = None, device: str = "auto"):
    """The dataset's vorticity solver (its forcing, viscosity, domain; Navier–Stokes or Kolmogorov)
    on an n² grid with step dt and `scheme` (default: the data's)."""
    params = {**spec.params, "solve_resolution": int(n), "dt": float(dt), "scheme": scheme or spec.params["scheme"]}
    return system_module(spec).make_solver(dataclasses.replace(spec, params=params), device)


def steps_per_frame(frame_interval: float, dt: float) -> int:
    """Time steps between stored frames; a step that does not divide the frame interval is an error
    (the frames would fall between steps)."""
    k = frame_interval / dt
    if dt <= 0 or abs(k - round(k)) > 1e-9 * max(1.0, k):
        raise ValueError(f"dt = {dt:g} does not divide the frame interval {frame_interval:g}: use frame_interval / k")
    return round(k)


def solve_ns(solver, w0: torch.Tensor, horizon: int, frame_interval: float,
             out_n: int | None = None) -> tuple[torch.Tensor, float]:
    """Advance vorticity fields `w0` (N, m, m) by `horizon` frames with `solver`, from their spectrum
    resampled to the solver's grid; returns the frames 1 … horizon resampled back to m² (or `out_n`²),
    (N, horizon, 1, m, m) float32 like a surrogate's prediction, and the wall-clock seconds of the solve."""
    m = out_n or w0.shape[-1]
    w = to_physical(to_spectral(torch.as_tensor(w0, dtype=torch.float64)), solver.n)
    times = [k * frame_interval for k in range(horizon + 1)]
    synchronize(solver.device)
    t0 = time.perf_counter()
    frames = solver.run(w, times, out_n=m)
    synchronize(solver.device)
    return frames[:, 1:, None].float(), time.perf_counter() - t0


@dataclass
class SolverPoint:
    """One solver configuration on the accuracy–cost curve: its error against the stored frames over
    the horizon (the MST protocol's nRMSE, or MATEY's NRMSE for MATEY's data) and its wall-clock.

    `work` = grid cells × time steps is the cost `coarsest_matching` minimises: it is deterministic,
    unlike a timing on a busy machine. The wall-clock follows it on large grids; on small ones a
    step's fixed overhead dominates, so there fewer steps save more than fewer cells (the tables
    give both)."""
    grid: str
    cells: int
    dt: float
    steps: int  # time steps over the horizon
    scheme: str
    trajectories: int
    nrmse: float = math.inf
    nrmse_std: float = math.nan
    per_trajectory: np.ndarray | None = None
    seconds: float = math.nan  # the whole batch
    stable: bool = True
    data_recipe: bool = False
    note: str = ""
    frames: int = 1  # frames each rollout produces
    cores: int | None = 1  # CPU cores it stepped on (None: a GPU)

    @property
    def work(self) -> float:
        return float(self.cells) * self.steps

    @property
    def per_rollout(self) -> float:
        return self.seconds / self.trajectories

    @property
    def label(self) -> str:
        return f"{self.grid}, dt = {self.dt:.3g}"

    def timed(self, method: str | None = None) -> Timed:
        """This configuration's solve as a `Timed` entry (one CPU core, or the GPU the solver ran on)."""
        return Timed(method or f"solver: {self.label}", "solver", self.trajectories, self.frames, self.seconds, self.cores,
                     self.nrmse, self.per_trajectory, note=f"{self.steps:,} steps a rollout")

    def row(self) -> dict[str, Any]:
        return {"grid": self.grid, "dt": self.dt, "scheme": self.scheme, "steps": self.steps,
                "data recipe": "yes" if self.data_recipe else "", "stable": self.stable,
                "error": self.nrmse if self.stable else math.nan, "± std": self.nrmse_std if self.stable else math.nan,
                "batch (s)": self.seconds, "per rollout (ms)": 1e3 * self.per_rollout, "note": self.note}


def _ns_point(spec: DatasetSpec, test: TestSet, n: int, dt: float, scheme: str, horizon: int, start: int,
              device: str) -> SolverPoint:
    fi = float(spec.params.get("frame_interval", 1.0))
    k = steps_per_frame(fi, dt)
    solver = ns_solver(spec, n, dt, scheme, device)
    point = SolverPoint(f"{n}²", n * n, dt, k * horizon, scheme, len(test.frames), frames=horizon,
                        cores=cores_used(solver.device, True),
                        data_recipe=(n == spec.params["solve_resolution"] and math.isclose(dt, spec.params["dt"])
                                     and scheme == spec.params["scheme"]))
    t0 = time.perf_counter()
    try:
        pred, point.seconds = solve_ns(solver, test.frames[:, start, 0], horizon, fi)
    except SolverInstability as exc:  # the step is too large for this grid: part of the answer, not a failure
        point.stable, point.seconds = False, time.perf_counter() - t0
        point.note = str(exc).split(": ", 1)[-1].split(". Reduce")[0]
        return point
    sc = score(pred, truth(test.frames, start, horizon))
    point.nrmse, point.nrmse_std, point.per_trajectory = sc["nrmse"], sc["nrmse_std"], sc["per_trajectory"]
    return point


def accuracy_cost_curve(dataset: str, profile: str, test: TestSet, grids: Sequence[int], dts: Sequence[float],
                        horizon: int | None = None, start: int = START, scheme: str | None = None,
                        device: str = "auto", known: Sequence[SolverPoint] = ()) -> list[SolverPoint]:
    """The dataset's solver on every grid × step of `grids` × `dts`, and with the data recipe (its own
    grid and step), from the stored frame at `start` of each test trajectory over `horizon` frames,
    scored against the stored frames; ordered by grid, then step. Points in `known` (same grid, step
    and scheme) are reused, not solved again."""
    spec = get_spec(dataset, profile)
    scheme = scheme or spec.params["scheme"]
    horizon = horizon or test.frames.shape[1] - 1 - start
    fi = float(spec.params.get("frame_interval", 1.0))
    configs = {(int(n), float(d)) for n in grids for d in dts}
    if scheme == spec.params["scheme"]:
        configs.add((int(spec.params["solve_resolution"]), float(spec.params["dt"])))
    for _, d in configs:
        steps_per_frame(fi, d)  # every step checked before anything is solved
    cache = {(p.cells, round(p.dt, 12), p.scheme): p for p in known}
    out = []
    for n, d in sorted(configs):
        p = cache.get((n * n, round(d, 12), scheme))
        out.append(p if p is not None else _ns_point(spec, test, n, d, scheme, horizon, start, device))
    return out


def data_recipe_point(dataset: str, profile: str, test: TestSet, horizon: int | None = None, start: int = START,
                      device: str = "auto") -> SolverPoint:
    """The solver that made the data (its scheme, grid and step) on the test states: equal resolution and horizon."""
    spec = get_spec(dataset, profile)
    horizon = horizon or test.frames.shape[1] - 1 - start
    return _ns_point(spec, test, int(spec.params["solve_resolution"]), float(spec.params["dt"]), spec.params["scheme"],
                     horizon, start, device)


def coarsest_matching(points: Sequence[SolverPoint], target: float) -> SolverPoint:
    """The cheapest stable configuration (least `work`; the coarser grid on a tie) whose error is at
    most `target`: the solver at the surrogate's accuracy. A ValueError names why none qualifies."""
    if not points:
        raise ValueError("no solver configuration was searched")
    stable = [p for p in points if p.stable and math.isfinite(p.nrmse)]
    unstable = [p.label for p in points if not p.stable]
    if not stable:
        raise ValueError(f"every searched solver configuration went unstable ({', '.join(unstable)}): "
                         "search smaller steps")
    ok = [p for p in stable if p.nrmse <= target]
    if not ok:
        best = min(stable, key=lambda p: p.nrmse)
        raise ValueError(f"no searched solver configuration reaches an error of {target:.4g}: the most accurate, "
                         f"{best.label}, has {best.nrmse:.4g}"
                         + (f" ({len(unstable)} others went unstable)" if unstable else "")
                         + " — search finer grids or smaller steps")
    return min(ok, key=lambda p: (p.work, p.cells))


def equal_accuracy_rows(surrogates: Sequence[Timed], points: Sequence[SolverPoint],
                        error: str = "nRMSE") -> list[dict[str, Any]]:
    """Per surrogate: the cheapest solver configuration at least as accurate (`coarsest_matching`) and
    how many times faster than the surrogate it is (> 1: the solver is faster)."""
    rows = []
    for s in surrogates:
        row: dict[str, Any] = {"surrogate": s.method, f"its {error}": s.nrmse, "its rollout (ms)": 1e3 * s.per_rollout}
        try:
            p = coarsest_matching(points, s.nrmse)
        except ValueError as exc:
            row.update({"solver as accurate": f"none: {exc}", f"solver {error}": math.nan,
                        "solver rollout (ms)": math.nan, "solver × faster": math.nan})
        else:
            row.update({"solver as accurate": p.label, f"solver {error}": p.nrmse, "solver rollout (ms)": 1e3 * p.per_rollout,
                        "solver × faster": s.per_rollout / p.per_rollout})
        rows.append(row)
    return rows


def time_recipe(dataset: str, profile: str, test: TestSet, n: int = PAPER_RECIPE["n"], dt: float = PAPER_RECIPE["dt"],
                scheme: str = PAPER_RECIPE["scheme"], horizon: int | None = None, start: int = START, steps: int = 5,
                device: str = "auto") -> Timed:
    """`steps` time steps (after one warm-up step) of the dataset's equation with another recipe, on the
    test states resampled to n², extrapolated to the horizon: a recipe too slow to run to the end
    (the FNO data's 256², dt = 1e-4: 400 000 steps for 40 frames). Error is not measured."""
    spec = get_spec(dataset, profile)
    horizon = horizon or test.frames.shape[1] - 1 - start
    total = steps_per_frame(float(spec.params.get("frame_interval", 1.0)), dt) * horizon
    solver = ns_solver(spec, n, dt, scheme, device)
    w = to_physical(to_spectral(test.frames[:, start, 0].double()), n)
    ids = list(range(len(w)))
    with deterministic_fft(solver.device):
        w_hat = solver.prepare(w)
        w_hat, _ = solver.step(w_hat)
        synchronize(solver.device)
        t0 = time.perf_counter()
        for i in range(steps):
            w_hat, speed = solver.step(w_hat)
            solver.check(w_hat, speed, (i + 2) * dt, ids)  # as `run` does after every step
        synchronize(solver.device)
        per_step = (time.perf_counter() - t0) / steps
    return Timed(f"solver, FNO data recipe ({n}², dt = {dt:g}, {scheme})", "solver", len(w), horizon, per_step * total,
                 cores_used(solver.device, True), extrapolated=True,
                 note=f"{steps} of {total:,} steps timed ({1e3 * per_step:.2f} ms a step)")


# --------------------------------------------------------------------------- the surrogates on the same batch
def mst_timings(autoencoder: nn.Module, models: dict[int, nn.Module], test: TestSet, horizon: int | None = None,
                device: str = "auto", repeats: int = 3) -> tuple[dict[str, Timed], dict[str, dict[str, Any]]]:
    """MST 1S and 4S on the batch (`mst.evaluate_scale_sets`: nRMSE, best-of-`repeats` timings), as
    `Timed` entries: the full rollout (encode, latent steps, decode every frame), the latent steps
    alone (no field is decoded: the part of the rollout that is the transformer) and the final state
    alone (the greedy decomposition, one decoded frame)."""
    res = evaluate_scale_sets(autoencoder, models, test, scale_sets={"1S": (1,), "4S": (1, 2, 4, 8)}, horizon=horizon,
                              device=device, repeats=repeats)
    horizon = horizon or test.frames.shape[1] - 1 - START
    n, cores = len(test.frames), cores_used(device, False)
    out = {}
    for name in ("1S", "4S"):
        r = res[name]
        out[f"MST {name}"] = Timed(f"MST {name}", "surrogate", n, horizon, r["rollout_seconds"], cores, r["nrmse"],
                                   r["per_trajectory"], note=f"encode + decode {decode_share(r):.0%} of the rollout")
    r = res["4S"]
    out["MST 4S latent steps"] = Timed("MST 4S, latent steps only", "surrogate", n, horizon, r["latent_seconds"], cores,
                                       note="no frame decoded: not a usable output, the transformer's share")
    out["MST 4S final state"] = Timed("MST 4S, final state only", "surrogate", n, 1, r["final_seconds"], cores,
                                      note=f"{r['final_calls']} model calls, one decoded frame (error {r['final_error']:.3g})")
    return out, res


def decode_share(result: dict[str, Any]) -> float:
    """Fraction of a full MST rollout spent outside the latent steps (encoding the start, decoding every frame)."""
    return max(0.0, 1.0 - result["latent_seconds"] / result["rollout_seconds"])  # two best-of timings: never below 0


def fno_timing(model: nn.Module, test: TestSet, history: int, horizon: int | None = None, start: int = START,
               device: str = "auto", repeats: int = 3) -> Timed:
    """The FNO's autoregressive rollout of the batch (`mst.rollout_fno`), scored, best of `repeats`."""
    horizon = horizon or test.frames.shape[1] - 1 - start
    pred, _ = rollout_fno(model, test.frames, history, start=start, horizon=horizon, device=device)  # also the warm-up
    sec = best_seconds(lambda: rollout_fno(model, test.frames, history, start=start, horizon=horizon, device=device),
                       repeats, device, warmup=False)
    sc = score(pred, truth(test.frames, start, horizon))
    return Timed(f"FNO k={history}", "surrogate", len(test.frames), horizon, sec, cores_used(device, False), sc["nrmse"],
                 sc["per_trajectory"], note=f"{history} input frames")


# --------------------------------------------------------------------------- MATEY against the thermals solver
def is_cached(configs: dict[Any, TrainConfig]) -> dict[Any, bool]:
    """Which configs the results cache already holds (trained by a chapter): the page says how many it
    trains. A finished run is what `train.load_run` loads: its metrics and its model file."""
    return {k: (cfg.run_dir() / "metrics.json").exists() and (cfg.run_dir() / "model.pt").exists()
            for k, cfg in configs.items()}


def best_by_validation(runs: dict[str, Run]) -> str:
    """The run whose kept epoch has the lowest validation score (validation, not test: the test
    trajectories stay for scoring)."""
    if not runs:
        raise ValueError("no runs to choose from")
    return min(runs, key=lambda k: runs[k].history[runs[k].best_epoch]["val_loss"])


def window_subset(n_windows: int, count: int | None) -> list[int]:
    """`count` window indices evenly spread over `n_windows` (all of them for None)."""
    if count is None or count >= n_windows:
        return list(range(n_windows))
    return sorted({round(i * (n_windows - 1) / max(1, count - 1)) for i in range(count)})


def _block_mean(a: np.ndarray, f: int) -> np.ndarray:
    B, nz, nx = a.shape
    return a.reshape(B, nz // f, f, nx // f, f).mean(axis=(2, 4))


def prolong(a: np.ndarray, f: int) -> np.ndarray:
    """Cell averages (B, nz, nx) to a grid f times finer: bilinear between cell centres, periodic in x,
    constant into the wall half-cells in z (the thermals grid)."""
    if f == 1:
        return a
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))[:, None]
    t = torch.cat([t[..., -1:], t, t[..., :1]], dim=-1)  # one periodic cell each side in x
    t = nn.functional.interpolate(t, scale_factor=f, mode="bilinear", align_corners=False)
    return t[:, 0, :, f:-f].numpy()


def _advance_thermals(solver, q: np.ndarray, steps: int, parity: int, ids: Sequence[int]) -> dict[str, np.ndarray]:
    """`steps` steps of a `thermals.ThermalSolver` from state `q`, its step count starting at `parity`
    (the sweep order), checked after every step as `ThermalSolver.run` does; the fields at the end."""
    solver.steps = parity
    for _ in range(steps):
        q = solver.step(q)
        solver.check(q, (solver.steps - parity) * solver.dt, ids)
    return solver.fields(q)


def thermal_point(spec: DatasetSpec, x_last: torch.Tensor, y: torch.Tensor, fields: Sequence[str], lead: int,
                  start_frames: Sequence[int], factor: int = 1) -> tuple[SolverPoint, torch.Tensor]:
    """The thermals solver of `spec` on a grid `factor` times coarser (the step follows from the data
    recipe's CFL number), from the stored frames `x_last` (B, C, nz, nx; channels named by `fields`; frame
    `start_frames[b]` of its trajectory) over `lead` frames, scored against `y` with MATEY's NRMSE;
    returns the point and the prediction.

    The state is rebuilt from the stored fields (ρ' = ρ − ρ̄, ρu, ρw, (ρθ)' = ρθ − ρ̄θ̄); a coarse grid
    gets the block means of the conserved variables and hands its fields back interpolated (`prolong`).
    The solver alternates the order of its x and z sweeps with the parity of its step count, so each
    window restarts with the parity the generating run had at its frame: at the data's grid the
    solver then repeats the data's steps (up to the float32 rounding of the stored start)."""
    from ..data import thermals
    p = spec.params
    nz, nx = x_last.shape[-2:]
    if nx % factor or nz % factor or nz // factor < 4:
        raise ValueError(f"a {nx}×{nz} grid cannot be coarsened {factor}× (cells must tile it, at least 4 in z)")
    f = {name: x_last[:, i].double().numpy() for i, name in enumerate(fields)}
    cons = {"rho": f["density"], "mu": f["density"] * f["vx"], "mw": f["density"] * f["vy"],
            "rt": f["density"] * f["theta"]}
    cons = {k: _block_mean(v, factor) for k, v in cons.items()}
    ncx, ncz = nx // factor, nz // factor
    dt, steps = thermals.time_step(p["xlen"] / ncx, p["zlen"] / ncz, p["cfl"], p["max_speed"], p["frame_interval"])
    solver = thermals.ThermalSolver(ncx, ncz, dt, xlen=p["xlen"], zlen=p["zlen"], hv_beta=p["hv_beta"],
                                    theta0=p["theta0"], max_speed=p["max_speed"], name=spec.name)
    q = np.stack([cons["rho"] - solver.rho_cell, cons["mu"], cons["mw"], cons["rt"] - solver.rt_cell], axis=1)
    point = SolverPoint(f"{ncx}×{ncz}", ncx * ncz, dt, steps * lead, p["scheme"], len(q), data_recipe=factor == 1)  # numpy: one core
    parity = np.array([int(t) * steps % 2 for t in start_frames])
    out = {name: np.empty((len(q), ncz, ncx)) for name in fields}
    t0 = time.perf_counter()
    try:
        for odd in (0, 1):  # one batch per sweep order
            sel = np.flatnonzero(parity == odd)
            if len(sel):
                last = _advance_thermals(solver, q[sel], steps * lead, odd, [int(i) for i in sel])
                for name in fields:
                    out[name][sel] = last[name]
    except SolverInstability as exc:
        point.stable, point.seconds, point.note = False, time.perf_counter() - t0, str(exc).split(": ", 1)[-1]
        return point, torch.full_like(y, math.nan)
    point.seconds = time.perf_counter() - t0
    pred = torch.from_numpy(np.stack([prolong(out[name], factor) for name in fields], axis=1)).float()
    nr = channel_nrmse(pred, y)
    point.nrmse, point.nrmse_std, point.per_trajectory = float(nr.mean()), float(nr.std()) if len(nr) > 1 else 0.0, nr.numpy()
    return point, pred


@dataclass
class MateyComparison:
    """MATEY's chosen model against the thermals solver on the same prediction windows."""
    label: str
    config: TrainConfig
    windows: list[int]  # indices into the test windows
    surrogate: Timed
    points: list[SolverPoint]
    persistence: float  # MATEY's NRMSE of the last input frame, on the same windows
    reference: SolverPoint = field(init=False)

    def __post_init__(self):
        self.reference = next(p for p in self.points if p.data_recipe)

    def reference_timed(self) -> Timed:
        p = self.reference
        return p.timed(f"thermals solver, data recipe ({p.grid}, dt = {p.dt:.3g} s)")


@torch.no_grad()
def matey_vs_solver(label: str, run: Run, windows: int | None = 16, factors: Sequence[int] = (1, 2, 4),
                    device: str = "auto", repeats: int = 3) -> MateyComparison:
    """MATEY `run` and the thermals solver on `windows` evenly spread test windows: each predicts the
    frame `lead` frames after the window's last (the solver from that last frame, at the data's grid
    and `factors` times coarser), both scored with MATEY's NRMSE against the stored frame."""
    cfg = run.config
    spec = get_spec(cfg.dataset, cfg.profile)
    if spec.system != "thermals":
        raise ValueError(f"{cfg.dataset}: the MATEY comparison solves the thermals system, not {spec.system}")
    tw = M.test_windows(cfg.dataset, cfg.profile, cfg.history, cfg.lead)
    ks = window_subset(len(tw), windows)
    x, y = tw.batch(ks)
    names = M.fields_of(cfg.dataset, cfg.profile)
    dev = get_device(device)
    model = run.model.to(dev).eval()
    pred = model(x.to(dev), names, lead=cfg.lead).cpu()  # also the warm-up
    sec = best_seconds(lambda: model(x.to(dev), names, lead=cfg.lead).cpu(), repeats, dev, warmup=False)
    nr = channel_nrmse(pred, y)
    surrogate = Timed(f"MATEY {label}", "surrogate", len(ks), 1, sec, cores_used(dev, False), float(nr.mean()), nr.numpy(),
                      note=f"one call, {cfg.lead} frames ahead")
    starts = [tw.index[k][1] for k in ks]
    points = [thermal_point(spec, x[:, -1], y, tw.fields, cfg.lead, starts, f)[0] for f in sorted(set(factors) | {1})]
    return MateyComparison(label, cfg, ks, surrogate, points, float(channel_nrmse(x[:, -1], y).mean()))


# --------------------------------------------------------------------------- counted cost of a training step
def count_flops(fn: Callable[[], Any]) -> int:
    """FLOPs of everything `fn()` computes, as FlopCounterMode counts them: matrix products and
    convolutions (2 per multiply-add), attention kernels; not FFTs or elementwise work. A complex
    product counts as one real one."""
    with FlopCounterMode(display=False) as counter:
        fn()
    return int(counter.get_total_flops())


def achieved(flops: float, seconds: float, peak: float) -> dict[str, float]:
    """FLOP/s achieved by `flops` in `seconds`, and as a fraction of the machine's `peak` FLOP/s."""
    if seconds <= 0 or peak <= 0:
        raise ValueError(f"seconds and peak must be positive, got {seconds}, {peak}")
    return {"achieved_flops": flops / seconds, "of_peak": flops / seconds / peak}


def training_step_cost(cfg: TrainConfig, device: str = "auto", batch_size: int | None = None,
                       repeats: int = 3) -> dict[str, Any]:
    """One training step of `cfg`'s model: FLOPs of its forward + backward pass (counted), seconds per
    step (the best of `repeats` after a warm-up: forward, backward, clipping, Adam) and achieved FLOP/s.

    The autoencoder, MST and FNO step on random batches of their data's shapes (`Task.synthetic_batches`:
    these dense models cost the same whatever the values; an MST model's latents come from an untrained
    autoencoder of the right shape). MATEY steps on real windows (`matey.step_cost`): adaptive tokens
    depend on the data."""
    if cfg.task == "matey":
        return from_step_cost(M.step_cost(cfg, device=device, batch_size=batch_size, repeats=repeats))
    dev = get_device(device)
    task = TASK_CLASSES[cfg.task](cfg, dev)
    torch.manual_seed(cfg.seed)
    with torch.device(dev):
        task.dry_prepare()
        model = task.build_model(cfg)
    B = batch_size or cfg.batch_size
    batch = task.synthetic_batches(B)[0]
    module = task.wrap(model)
    params = task.trainable(model)
    opt = torch.optim.Adam(params, lr=cfg.lr)

    def forward_backward():
        loss = task.loss(module, batch)
        opt.zero_grad(set_to_none=True)
        loss.backward()

    def step():
        forward_backward()
        nn.utils.clip_grad_norm_(params, cfg.grad_clip)
        opt.step()

    module.train()
    flops = count_flops(forward_backward)
    seconds = best_seconds(step, repeats, dev)
    return dict(batch=B, flops=flops, step_seconds=seconds, achieved_flops=flops / seconds,
                parameters=sum(p.numel() for p in model.parameters()),
                note="FFTs not counted: a lower bound" if cfg.task == "fno" else "")


def from_step_cost(c: dict[str, Any]) -> dict[str, Any]:
    """A `matey.step_cost` result in `training_step_cost`'s terms."""
    return dict(batch=c["batch"], flops=c["flops"], step_seconds=c["step_seconds"], achieved_flops=c["achieved_flops"],
                parameters=c["parameters"], note="real training windows")


def flops_rows(costs: dict[str, dict[str, Any]], peak: float) -> list[dict[str, Any]]:
    """Counted FLOPs per training step, time per step and the achieved rate against `peak`."""
    rows = []
    for name, c in costs.items():
        a = achieved(c["flops"], c["step_seconds"], peak)
        rows.append({"model": name, "batch": c["batch"], "parameters": c["parameters"], "GFLOP / step": c["flops"] / 1e9,
                     "s / step": c["step_seconds"], "achieved GFLOP/s": a["achieved_flops"] / 1e9,
                     "of matmul peak": f"{a['of_peak']:.1%}", "note": c.get("note", "")})
    return rows


def _step_key(cfg: TrainConfig) -> str:
    """Configs whose training step costs the same: the same task, model, batch, unroll and data shapes
    (the Δt models of one MST chain differ only in their lead and initialisation)."""
    if cfg.task == "matey":
        return cfg.key()
    return json.dumps([cfg.task, cfg.model, cfg.batch_size, cfg.rollout, cfg.history, cfg.dataset, cfg.profile,
                       (cfg.autoencoder or {}).get("model")], sort_keys=True, default=str)


def training_costs(groups: dict[str, dict[str, Run]], device: str = "auto", repeats: int = 3,
                   known: dict[str, dict[str, Any]] | None = None) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Per model, a group of named runs (MST 4S: its autoencoder and four Δt models): parameters, training
    seconds (as the runs recorded them), optimiser steps and counted training FLOPs (steps × FLOPs of one
    step, `training_step_cost`), and the generation seconds its dataset's file records.

    Also returns the step cost of every distinct training step, named by the first group and run that
    takes it ("MST 4S: Δt = 1"; the group's name alone for a group of one run): the FLOP/s table.
    `known` holds `matey.step_cost` results by config key, measured already, so they are not measured again."""
    cache = {k: from_step_cost(v) for k, v in (known or {}).items()}
    named: dict[str, dict[str, Any]] = {}
    rows = []
    for name, runs in groups.items():
        total_flops, steps = 0.0, 0
        for label, r in runs.items():
            key = _step_key(r.config)
            if key not in cache:
                cache[key] = training_step_cost(r.config, device=device, repeats=repeats)
            if not any(v is cache[key] for v in named.values()):
                named[name if len(runs) == 1 else f"{name}: {label}"] = cache[key]
            s = r.optimiser_steps
            steps += s
            total_flops += s * cache[key]["flops"]
        cfg = next(iter(runs.values())).config
        rows.append({"model": name, "runs": len(runs), "parameters": sum(r.n_parameters for r in runs.values()),
                     "training (s)": sum(r.train_seconds for r in runs.values()), "optimiser steps": steps,
                     "training TFLOP (counted)": total_flops / 1e12,
                     "its data generated in (s)": generation_seconds(cfg.dataset, cfg.profile)})
    return rows, named


def generation_seconds(dataset: str, profile: str) -> float:
    """The solver time the dataset's file records for its own generation (all trajectories)."""
    path = dataset_path(dataset, profile)
    if not path.exists():
        return math.nan
    with validate_file(path, check_values=False) as ds:
        return float(ds.attrs.get("generation_seconds", math.nan))


def break_even(fixed_seconds: float, solver_per_rollout: float, surrogate_per_rollout: float) -> float:
    """Rollouts after which a surrogate that cost `fixed_seconds` to make (data and training) has
    saved that time against the solver; infinite where it is not faster per rollout."""
    saving = solver_per_rollout - surrogate_per_rollout
    return fixed_seconds / saving if saving > 0 else math.inf


def break_even_rows(training: Sequence[dict[str, Any]], timed: dict[str, Timed], references: dict[str, Timed],
                    points: dict[str, Sequence[SolverPoint]]) -> list[dict[str, Any]]:
    """Per model of `training` (rows of `training_costs`) found in `timed`: what making it cost (its data's
    generation and its training), its rollout against the data recipe of its system (`references[model]`)
    and against the cheapest solver as accurate (`coarsest_matching` on `points[model]`, its system's
    curve), and the rollouts after which the time saved has paid for making it (infinite: it saves nothing)."""
    rows = []
    for r in training:
        name = r["model"]
        if name not in timed:
            continue
        t, ref = timed[name], references[name]
        data = r["its data generated in (s)"]
        fixed = r["training (s)"] + (data if math.isfinite(data) else 0.0)
        try:
            match = coarsest_matching(points[name], t.nrmse).per_rollout
        except ValueError:
            match = math.nan
        rows.append({"model": name, "data + training (s)": fixed, "its rollout (ms)": 1e3 * t.per_rollout,
                     "data recipe's rollout (ms)": 1e3 * ref.per_rollout,
                     "rollouts to break even vs the data recipe": break_even(fixed, ref.per_rollout, t.per_rollout),
                     "solver as accurate: rollout (ms)": 1e3 * match,
                     "rollouts to break even vs it": break_even(fixed, match, t.per_rollout) if math.isfinite(match)
                     else math.nan})
    return rows


# --------------------------------------------------------------------------- attention: uniform against adaptive tokens
def attention_rows(costs: dict[str, dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    """`matey.step_cost` results side by side: tokens, attention FLOPs (counted forward + backward, and
    the forward beside the analytic formula), all FLOPs, time per step, and each as a multiple of `reference`'s."""
    ref = costs[reference]
    rows = []
    for name, c in costs.items():
        rows.append({"tokens": name, "tokens / sample": c["tokens"], "refined fraction": c["refined_fraction"],
                     "attention GFLOP (fwd + bwd)": c["attention_flops"] / 1e9,
                     "attention GFLOP fwd: counted": c["attention_flops_forward"] / 1e9,
                     "fwd: formula": c["attention_flops_formula"] / 1e9,
                     "attention share of FLOPs": c["attention_flops"] / c["flops"], "s / step": c["step_seconds"],
                     f"attention FLOPs / {reference}": c["attention_flops"] / max(ref["attention_flops"], 1),
                     f"s / step / {reference}": c["step_seconds"] / ref["step_seconds"]})
    return rows


def attention_configs(configs: dict[str, TrainConfig], attention: str, profile: str, gamma: float) -> dict[str, str]:
    """{display name: key of `configs`} of one attention scheme's uniform coarse / middle / fine models
    and its adaptive models at `gamma` (the tokenization chapter's names)."""
    coarse, middle, fine = M.STANDARD[profile]["patches"]
    out = {f"uniform {p}": f"{attention} {n} {p}" for n, p in (("coarse", coarse), ("middle", middle), ("fine", fine))}
    for scheme in ("mix", "mul"):
        key = f"{attention} {scheme} γ={gamma}"
        if key in configs:
            out[f"adaptive {coarse}→{fine} {scheme.capitalize()} γ={gamma}"] = key
    return {k: v for k, v in out.items() if v in configs}


# --------------------------------------------------------------------------- data generation on every core
def files_equal(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when two dataset files hold the same variables and coordinates, bit for bit (attributes such
    as the creation time and the measured generation time may differ)."""
    x, y = open_dataset(a), open_dataset(b)
    names = set(x.variables)
    if names != set(y.variables):
        return False
    for n in names:
        u, v = np.asarray(x[n].values), np.asarray(y[n].values)
        if u.dtype != v.dtype or u.shape != v.shape or u.tobytes() != v.tobytes():
            return False
    return True


def generation_speedup(dataset: str, profile: str, workers: Sequence[int] | None = None, batch_size: int | None = None,
                       root: str | os.PathLike | None = None) -> list[dict[str, Any]]:
    """Generate `dataset` (`profile`) on the CPU once per worker count of `workers` (default: 1 and every
    core), timing each, and compare every file with the first, bit for bit. The files go to
    `root`/workers<N>/ (None: a temporary folder, removed afterwards), never to the data root the
    chapters read."""
    workers = list(dict.fromkeys(workers or [1, os.cpu_count() or 1]))
    rows, first = [], None
    with tempfile.TemporaryDirectory(prefix="pdestudy-generation-") as tmp:
        for w in workers:
            t0 = time.perf_counter()
            path = generate(dataset, profile, root=Path(root or tmp) / f"workers{w}", force=True, batch_size=batch_size,
                            device="cpu", progress=False, workers=int(w))
            seconds = time.perf_counter() - t0
            with validate_file(path, check_values=False) as ds:
                solve, n = float(ds.attrs["generation_seconds"]), int(ds.sizes["trajectory"])
            first = first or (path, seconds)
            rows.append({"dataset": dataset, "profile": profile, "trajectories": n, "workers": w, "wall-clock (s)": seconds,
                         "solver time, all workers (s)": solve, "speed-up": first[1] / seconds,
                         "bitwise equal to the first": files_equal(first[0], path)})
    return rows


# --------------------------------------------------------------------------- the page's takeaway, from its numbers
def _faster(ratio: float) -> str:
    """'3.2× faster' or '**3.2× slower**' for a speed ratio (> 1: faster)."""
    if not math.isfinite(ratio) or ratio <= 0:
        return "not measured"
    return f"{ratio:.3g}× faster" if ratio >= 1 else f"**{1 / ratio:.3g}× slower**"


def _paid_back(n: float) -> str:
    if math.isnan(n):
        return "not measured"
    return "never (not faster per rollout)" if math.isinf(n) else f"after {n:,.0f} rollouts"


def takeaway(dataset: str, reference: SolverPoint, paper: Timed, surrogates: dict[str, Timed],
             mst_results: dict[str, dict[str, Any]], curve: Sequence[SolverPoint], persistence: float,
             matey: MateyComparison | None = None, attention: Sequence[dict[str, Any]] = (),
             break_even: Sequence[dict[str, Any]] = (), flops: Sequence[dict[str, Any]] = (),
             generation: Sequence[dict[str, Any]] = (), device: str = "auto") -> list[str]:
    """The page's conclusions as Markdown bullet lines, every number from the measured objects: the
    speed ratios at equal resolution, where (and why) a surrogate is not faster, the solver at equal
    accuracy, the papers' recipe, MATEY, attention, training, FLOP/s and data generation."""
    dev = get_device(device)
    solver = reference.timed()
    full = [n for n in ("MST 1S", "MST 4S") if n in surrogates] + [n for n in surrogates if n.startswith("FNO")]
    cores = {surrogates[n].cores for n in full}
    lines = [f"* **Equal resolution and horizon** ({dataset}, {solver.trajectories} test trajectories × {solver.frames} "
             f"frames from t = {START}, on {dev.type}): the solver that made the data ({reference.label}, {reference.scheme}) "
             f"takes {1e3 * solver.per_rollout:.4g} ms per rollout, {1e3 * solver.per_frame:.3g} ms per frame. "
             + "; ".join(f"{n} {1e3 * surrogates[n].per_rollout:.4g} ms ({_faster(solver.per_rollout / surrogates[n].per_rollout)})"
                         for n in full) + "."]
    if dev.type == "cpu":
        lines.append(f"* **Cores.** The solver steps on one core (bitwise batch independence); the surrogates ran on "
                     f"{', '.join(str(c) for c in sorted(c for c in cores if c))} thread(s). Per core-second: "
                     + "; ".join(f"{n} {_faster(solver.per_rollout / (surrogates[n].per_rollout * (surrogates[n].cores or 1)))}"
                                 for n in full) + ".")
    for n in ("MST 1S", "MST 4S"):
        if n not in surrogates:
            continue
        s, r = surrogates[n], mst_results[n.split()[1]]
        latent = s.per_rollout * (1 - decode_share(r))
        if s.per_rollout > solver.per_rollout:
            final = surrogates.get("MST 4S final state")
            lines.append(
                f"* **The full {n} rollout is not faster than the solver here.** It takes {1e3 * s.per_rollout:.4g} ms per "
                f"rollout against the solver's {1e3 * solver.per_rollout:.4g} ms, and encoding the start and decoding every "
                f"frame take {decode_share(r):.0%} of it: the latent steps alone take {1e3 * latent:.3g} ms "
                f"({_faster(solver.per_rollout / latent)} than the solver)"
                + (f", the final state alone {1e3 * final.per_rollout:.3g} ms ({_faster(solver.per_rollout / final.per_rollout)})"
                   if final and n == "MST 4S" else "")
                + (". The transformer on the latent tokens is cheap; the convolutional decoder that turns every latent "
                   "back into a full-resolution field is not, and a rollout must decode every frame." if decode_share(r) >= 0.5
                   else ". Most of it is the latent steps themselves: the transformer calls, one after another."))
        else:
            lines.append(f"* **{n} is faster than the solver** at equal resolution ({_faster(solver.per_rollout / s.per_rollout)}); "
                         f"encoding and decoding take {decode_share(r):.0%} of its rollout.")
    per_step = solver.seconds / reference.steps
    for n in (n for n in full if n.startswith("FNO")):
        s = surrogates[n]
        if s.per_rollout > solver.per_rollout:
            lines.append(f"* **{n} is not faster than the solver here**: one call per frame costs {1e3 * s.per_frame:.3g} ms "
                         f"per trajectory, a solver step {1e3 * per_step / solver.trajectories:.3g} ms, and the data recipe "
                         f"needs {reference.steps // reference.frames} steps a frame: {1e3 * solver.per_frame:.3g} ms.")
    # equal accuracy
    parts, faster = [], 0
    for n in full:
        s = surrogates[n]
        try:
            p = coarsest_matching(curve, s.nrmse)
        except ValueError as exc:
            parts.append(f"{n} (nRMSE {s.nrmse:.3g}): {exc}")
            continue
        ratio = s.per_rollout / p.per_rollout
        faster += ratio > 1
        parts.append(f"{n} (nRMSE {s.nrmse:.3g}{', no better than persistence' if s.nrmse >= persistence else ''}): the "
                     f"solver at {p.label} reaches {p.nrmse:.3g} in {1e3 * p.per_rollout:.3g} ms per rollout, "
                     + (f"**{ratio:.3g}× faster than the surrogate**" if ratio > 1 else f"{1 / ratio:.3g}× slower than the surrogate"))
    lines.append(f"* **Equal accuracy** (the cheapest of {len(curve)} solver configurations at least as accurate, scored "
                 f"like the surrogates; persistence {persistence:.3g}): " + "; ".join(parts)
                 + f". At equal accuracy the solver is faster than {faster} of the {len(full)} surrogates.")
    best_error = min((surrogates[n].nrmse for n in full), default=math.nan)
    same_grid = [p for p in curve if p.stable and p.cells == reference.cells and p.dt > reference.dt
                 and p.nrmse < 0.01 * best_error]  # indistinguishable from the data at the surrogates' scale of error
    if same_grid:
        big = max(same_grid, key=lambda p: p.dt)
        lines.append(f"* **The data recipe has slack.** At its own grid the solver takes steps up to dt = {big.dt:.3g}, "
                     f"{big.dt / reference.dt:.3g}× the data's, with an error of {big.nrmse:.2g} against the data (under 1% "
                     f"of the best surrogate's, {best_error:.3g}) in {1e3 * big.per_rollout:.3g} ms per rollout: even the "
                     "equal-resolution baseline is slower than it needs to be.")
    try:
        ref_mst = coarsest_matching(curve, surrogates["MST 4S"].nrmse).per_rollout if "MST 4S" in surrogates else math.nan
    except ValueError:
        ref_mst = math.nan
    lines.append(f"* **The FNO paper's data recipe** ({paper.method[paper.method.find('(') + 1:-1]}; {paper.note}, **extrapolated** to "
                 f"the horizon): {paper.per_rollout:.4g} s per rollout, {paper.per_rollout / solver.per_rollout:,.0f}× the data "
                 "recipe's" + (f" and {paper.per_rollout / ref_mst:,.0f}× the cheapest solver as accurate as MST 4S"
                               if math.isfinite(ref_mst) else "")
                 + ". A speed-up quoted against that recipe is inflated by that factor.")
    if matey is not None:
        s, ref = matey.surrogate, matey.reference_timed()
        try:
            p = coarsest_matching(matey.points, s.nrmse)
            ratio = s.per_rollout / p.per_rollout  # > 1: the solver is faster
            eq = (f"the coarsest thermals grid as accurate, {p.label} s (NRMSE {p.nrmse:.3g}), takes "
                  f"{1e3 * p.per_rollout:.3g} ms, " + (f"**{ratio:.3g}× faster than MATEY**" if ratio > 1
                                                        else f"{1 / ratio:.3g}× slower than MATEY"))
        except ValueError as exc:
            eq = f"no searched thermals grid is as accurate ({exc})"
        lines.append(f"* **MATEY** ({matey.label}, the lowest validation NRMSE of the tokenization chapter's models) on "
                     f"{s.trajectories} test windows, {matey.config.lead} frames ahead: {1e3 * s.per_rollout:.3g} ms per "
                     f"prediction against the thermals solver's {1e3 * ref.per_rollout:.3g} ms at the data grid "
                     f"({ref.note.split(' a ')[0]}), so MATEY is {_faster(ref.per_rollout / s.per_rollout)}; its NRMSE "
                     f"{s.nrmse:.3g} (persistence {matey.persistence:.3g}"
                     + ("" if s.nrmse < matey.persistence else ": **no better**") + f"), the solver's {ref.nrmse:.2g}"
                     + (" (it repeats the data's steps from the stored frame)" if ref.nrmse < 1e-4 else "")
                     + f". At equal accuracy {eq}.")
    slower = [f"{n} at equal resolution ({_faster(solver.per_rollout / surrogates[n].per_rollout)} than the data recipe)"
              for n in full if surrogates[n].per_rollout > solver.per_rollout]
    for n in full:
        try:
            p = coarsest_matching(curve, surrogates[n].nrmse)
        except ValueError:
            continue
        if p.per_rollout < surrogates[n].per_rollout:
            slower.append(f"{n} at equal accuracy (the solver on the {p.grid} grid, {p.steps // max(1, p.frames)} steps a "
                          f"frame, already reaches its error)")
    if matey is not None:
        ref = matey.reference_timed()
        if matey.surrogate.per_rollout > ref.per_rollout:
            slower.append(f"MATEY at equal resolution ({ref.note.split(' a ')[0]} of the finite-volume solver cost less "
                          "than one forward pass)")
        try:
            p = coarsest_matching(matey.points, matey.surrogate.nrmse)
            if p.per_rollout < matey.surrogate.per_rollout:
                slower.append(f"MATEY at equal accuracy (the thermals solver on the {p.grid} grid reaches its error)")
        except ValueError:
            pass
    lines.append("* **Where the surrogate is not faster**: " + ("; ".join(slower) + "." if slower else
                                                                 "nowhere in this run."))
    uniform = [r for r in attention if r["tokens"].startswith("uniform")]
    if uniform:
        fine = max(uniform, key=lambda r: r["tokens / sample"])  # the most tokens: the finest uniform patches
        for r in (r for r in attention if r["tokens"].startswith("adaptive")):
            lines.append(f"* **Attention, {r['tokens']}** ({r['tokens / sample']:.0f} tokens a sample, "
                         f"{r['refined fraction']:.0%} of the coarse patches refined) against {fine['tokens']} "
                         f"({fine['tokens / sample']:.0f} tokens): "
                         f"{r['attention GFLOP (fwd + bwd)'] / max(fine['attention GFLOP (fwd + bwd)'], 1e-30):.3g}× the "
                         f"attention FLOPs, {r['s / step'] / fine['s / step']:.3g}× the time per training step.")
    if break_even:
        lines.append("* **Making the surrogate** (its data's generation + training, against the time it saves per rollout): "
                     + "; ".join(f"{r['model']} {r['data + training (s)']:.3g} s, paid back against the data recipe "
                                 f"{_paid_back(r['rollouts to break even vs the data recipe'])}, against the solver as "
                                 f"accurate {_paid_back(r['rollouts to break even vs it'])}" for r in break_even) + ".")
    if flops:
        lines.append("* **Training steps against the matmul peak** (FLOPs counted by FlopCounterMode; FFTs are not "
                     "counted): " + ", ".join(f"{r['model']} {r['achieved GFLOP/s']:.3g} GFLOP/s ({r['of matmul peak']})"
                                              for r in flops) + ".")
    if len(generation) > 1:
        one, many = generation[0], max(generation[1:], key=lambda r: r["workers"])
        lines.append(f"* **Data generation** ({one['dataset']}, {one['profile']}, {one['trajectories']} trajectories): "
                     f"{many['workers']} worker processes took {many['wall-clock (s)']:.3g} s, one {one['wall-clock (s)']:.3g} s "
                     f"({many['speed-up']:.2f}×)"
                     + (" — slower: this file is solved faster than a worker process starts (it imports torch)"
                        if many["speed-up"] < 1 else "")
                     + "; the files are " + ("bitwise equal." if all(r["bitwise equal to the first"] for r in generation)
                                             else "**not** bitwise equal."))
    elif generation:
        lines.append(f"* **Data generation** was timed with {generation[0]['workers']} worker(s) only: no speed-up to report.")
    return lines
