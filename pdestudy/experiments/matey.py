"""The MATEY protocol: configs, held-out scores with persistence beside them, and counted cost.

Notebooks call these functions; training goes through `pdestudy.train` (task "matey", one loop,
results cache).

Protocols: attention schemes and tokenization (MATEY §4.1–4.2, on colliding thermals), then
multi-physics pretraining and fine-tuning on new physics (§4.3; the second half of this module).

Attention and tokenization (on colliding thermals): from T frames predict the frame `lead` steps
later; score every window of the file's *test* trajectories. The score is MATEY/MPP's NRMSE (per
sample and channel sqrt(mean (ŷ−y)² / mean y²), averaged over channels, then samples) and, beside
it, the relative L² nRMSE of the MST chapters (‖ŷ − y‖ / ‖y‖ over all channels jointly), so both
papers' numbers sit on one scale. The trivial baseline — persist the last input frame — is always
scored with the same windows.

Cost is counted, not guessed: tokens per sample (as processed), FLOPs of attention and of a whole
forward + backward pass from `torch.utils.flop_counter.FlopCounterMode` (with the analytic
attention formula beside it), measured wall-clock per training step, peak memory, and the achieved
FLOP/s against the machine's measured matmul peak.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from dataclasses import dataclass
from typing import Any, Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode, register_flop_formula, sdpa_backward_flop_count, sdpa_flop_count

from ..data.fields import dataset_fields
from ..data.generation import dataset_path, generate
from ..data.io import validate_file
from ..data.windows import TrajectoryWindows
from ..metrics import channel_nrmse, nmse_per_channel, nrmse
from ..models.matey import MIXERS, Matey, MateyConfig
from ..train import Run, TrainConfig, registry_shape, train
from ..utils import best_seconds, get_device
from .scorecard import record as record_claims, run_scale  # noqa: F401 — the chapters record verdicts through the protocol

DATASET = "colliding_thermals"  # where MATEY ran its attention and tokenization studies (its small miniWeather set)

# --------------------------------------------------------------------------- the study's standard settings
# Per profile: the grid's patch sizes (coarse, middle, fine = coarse/4), history T, lead (frames of
# 10 s: at one frame, our CPU-budget models did not beat persistence; at four they do) and the
# training budget shared by both chapters, so a model both chapters train (e.g. SViT at the middle
# patch size) is trained once (results cache). Chapter-specific choices are notebook parameters.
STANDARD: dict[str, dict[str, Any]] = {
    "smoke": dict(patches=(8, 4, 2), history=2, lead=4, layer_scale=0.1,
                  train=dict(epochs=1, batch_size=8, lr=3e-3, max_train_samples=32)),
    # 600 steps of 4 windows (2 400 samples): on 2 cores, every model of both chapters beats persistence at this
    # lead, and the tokenization chapter (16 models) stays near its 12-minute budget; 300 steps of 8 (the same
    # samples) left the smallest ViT above persistence
    "default": dict(patches=(16, 8, 4), history=2, lead=4, layer_scale=0.1,
                    train=dict(epochs=5, batch_size=4, lr=3e-3, max_train_samples=480)),
    # MATEY's small-miniWeather runs: T = 16, batch 128, 200 epochs (its AdamW at 1e-4; the loop's Adam here)
    "paper": dict(patches=(32, 16, 8), history=16, lead=1, layer_scale=1e-6,
                  train=dict(epochs=200, batch_size=128, lr=1e-4)),
}


def dataset_grid(dataset: str, profile: str) -> tuple[int, int]:
    """(H, W) of `dataset`'s files in `profile`, from the registry: no data generated or read."""
    return registry_shape(dataset, profile)[1:]


def matey_config(profile: str, attention: str = "svit", patch_size: int | None = None, fine_patch_size: int | None = None,
                 scheme: str = "mix", gamma: float | None = None, refine_ratio: float | None = None,
                 width: int | None = None, depth: int | None = None, heads: int | None = None, size: str | None = None,
                 dataset: str = DATASET, seed: int = 0, **train_overrides) -> TrainConfig:
    """The TrainConfig of one MATEY model on `dataset` at the profile's standard budget.

    `patch_size` defaults to the profile's middle patch; adaptive models need `fine_patch_size` and
    one of `gamma` / `refine_ratio`. A patch that does not tile the dataset's grid is a ValueError.
    """
    std = STANDARD[profile]
    patch_size = patch_size or std["patches"][1]
    H, W = dataset_grid(dataset, profile)
    if H % patch_size or W % patch_size:
        raise ValueError(f"patch_size {patch_size} does not tile the {H}×{W} grid of {dataset} ({profile})")
    model = dict(attention=attention, patch_size=patch_size, fine_patch_size=fine_patch_size, scheme=scheme,
                 gamma=gamma if fine_patch_size else None, refine_ratio=refine_ratio if fine_patch_size else None,
                 width=width, depth=depth, heads=heads, size=size, layer_scale=std["layer_scale"])
    if fine_patch_size and gamma is None and refine_ratio is None:
        raise ValueError("an adaptive model (fine_patch_size set) needs gamma or refine_ratio")
    MateyConfig(**{"history": std["history"], **model})  # every bad configuration fails here, before training
    kw = {**std["train"], **train_overrides}
    return TrainConfig(task="matey", dataset=dataset, profile=profile, history=std["history"], lead=std["lead"],
                       model=model, seed=seed, **kw)


# --------------------------------------------------------------------------- held-out scores
def test_windows(dataset: str, profile: str, history: int, lead: int = 1,
                 frames: Sequence[int] | None = None) -> TrajectoryWindows:
    path = dataset_path(dataset, profile)
    if not path.exists():
        generate(dataset, profile)
    with validate_file(path, check_values=False) as ds:
        n_train, n = int(ds.attrs["n_train"]), int(ds.sizes["trajectory"])
    return TrajectoryWindows(path, range(n_train, n), history, lead, frames=frames)


def fields_of(dataset: str, profile: str) -> list[str]:
    with validate_file(dataset_path(dataset, profile), check_values=False) as ds:
        return dataset_fields(ds)


def _summary(per_sample: torch.Tensor) -> tuple[float, float]:
    return float(per_sample.mean()), float(per_sample.std()) if len(per_sample) > 1 else 0.0


@torch.no_grad()
def evaluate(run_or_model: Run | Matey | None, dataset: str, profile: str, history: int, lead: int = 1,
             device: str = "auto", batch: int = 32, frames: Sequence[int] | None = None) -> dict[str, Any]:
    """Scores on every test window (of `frames` = [first, end) only, where given): NRMSE (MATEY) and
    relative L² (MST), mean ± std over windows, per channel NRMSE; `None` scores persistence (the
    last input frame)."""
    dev = get_device(device)
    model = run_or_model.model if isinstance(run_or_model, Run) else run_or_model
    if model is not None:
        model = model.to(dev).eval()
    windows = test_windows(dataset, profile, history, lead, frames)
    fields = fields_of(dataset, profile)
    nr, rel, per_channel = [], [], []
    for i in range(0, len(windows), batch):
        x, y = windows.batch(range(i, min(i + batch, len(windows))))
        pred = x[:, -1] if model is None else model(x.to(dev), fields, lead=lead).cpu()
        nr.append(channel_nrmse(pred, y))
        rel.append(nrmse(pred, y, dims=3))
        per_channel.append(nmse_per_channel(pred, y).sqrt())
    nr, rel, per_channel = torch.cat(nr), torch.cat(rel), torch.cat(per_channel)
    (m, s), (rm, rs) = _summary(nr), _summary(rel)
    return dict(nrmse=m, nrmse_std=s, nrmse_se=s / math.sqrt(len(windows)), rel_l2=rm, rel_l2_std=rs, windows=len(windows),
                per_channel={f.split("/")[-1]: float(v) for f, v in zip(fields, per_channel.mean(0))})


# --------------------------------------------------------------------------- counted cost
_ATEN = torch.ops.aten
# FlopCounterMode counts SDPA's CUDA kernels; on the CPU, SDPA runs its own flash kernel, which the
# counter does not know: register the same formulas (dense over the sequence, as the kernel computes).
if hasattr(_ATEN, "_scaled_dot_product_flash_attention_for_cpu"):
    from torch.utils.flop_counter import flop_registry

    if _ATEN._scaled_dot_product_flash_attention_for_cpu not in flop_registry:
        @register_flop_formula(_ATEN._scaled_dot_product_flash_attention_for_cpu, get_raw=True)
        def _sdpa_cpu_flops(query, key, value, *args, out_val=None, **kwargs) -> int:
            return sdpa_flop_count(query.shape, key.shape, value.shape)

        @register_flop_formula(_ATEN._scaled_dot_product_flash_attention_for_cpu_backward, get_raw=True)
        def _sdpa_cpu_backward_flops(grad_out, query, key, value, *args, out_val=None, **kwargs) -> int:
            return sdpa_backward_flop_count(grad_out.shape, query.shape, key.shape, value.shape)

ATTENTION_OPS = tuple(getattr(_ATEN, name) for name in (
    "_scaled_dot_product_flash_attention_for_cpu", "_scaled_dot_product_flash_attention_for_cpu_backward",
    "_scaled_dot_product_flash_attention", "_scaled_dot_product_flash_attention_backward",
    "_scaled_dot_product_efficient_attention", "_scaled_dot_product_efficient_attention_backward",
    "_scaled_dot_product_cudnn_attention", "_scaled_dot_product_cudnn_attention_backward") if hasattr(_ATEN, name))


def attention_flops_formula(config: MateyConfig, lengths: Sequence[int], grid: tuple[int, int] | None = None) -> int:
    """Analytic forward FLOPs of the attention products (QKᵀ and AV: 4·S²·d per sequence of S tokens)
    of all blocks, for samples of `lengths` tokens per frame over T frames (`grid` for avit).

    As the model runs them: attention over time on each sample's real tokens; attention over a frame
    (svit) or the whole window (vit) dense over the batch's longest, padded sequence."""
    T, d = config.history, config.width
    lengths = [int(n) for n in lengths]
    L, real = max(lengths), sum(lengths)
    per_block = 0
    for kind in MIXERS[config.attention]:
        if kind == "time":
            per_block += real * 4 * T * T * d
        elif kind == "space":
            per_block += len(lengths) * T * 4 * L * L * d
        elif kind == "joint":
            per_block += len(lengths) * 4 * (T * L) ** 2 * d
        else:  # axial: along x (ny·T sequences of nx) and along y
            ny, nx = grid
            per_block += len(lengths) * T * (ny * 4 * nx * nx * d + nx * 4 * ny * ny * d)
    return config.depth * per_block


def count_flops(model: Matey, x: torch.Tensor, y: torch.Tensor, fields: Sequence[str],
                lead: int = 1) -> dict[str, int]:
    """FLOPs of one training step's forward and backward pass, total and attention only (counted)."""
    model.train()
    with FlopCounterMode(display=False) as counter:
        pred = model(x, fields, lead=lead)
        forward = counter.get_total_flops()
        forward_attention = sum(counter.get_flop_counts()["Global"].get(op, 0) for op in ATTENTION_OPS)
        nmse_per_channel(pred, y).mean().backward()
    counts = counter.get_flop_counts()["Global"]
    model.zero_grad(set_to_none=True)
    return dict(forward=int(forward), total=int(counter.get_total_flops()), attention_forward=int(forward_attention),
                attention=int(sum(counts.get(op, 0) for op in ATTENTION_OPS)))


@contextlib.contextmanager
def _quiet_stderr():
    """Silence file descriptor 2 inside the block: the profiler's C++ layer prints a start and a stop
    line there on every use (no setting turns them off), which would litter the book's cells."""
    sys.stderr.flush()
    saved = os.dup(2)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def peak_memory(fn, device: torch.device) -> int:
    """Peak bytes allocated while `fn()` runs (CUDA: the allocator's peak; CPU: the profiler's memory events)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        base = torch.cuda.memory_allocated(device)
        fn()
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device) - base)
    with _quiet_stderr(), torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU],
                                                 profile_memory=True) as prof:
        fn()
    # every allocation (+bytes) and free (−bytes) of the CPU allocator, in time order; the running sum's
    # maximum is the peak of memory allocated inside fn (the summary tables keep only per-op totals)
    events = sorted((e.start_ns(), e.nbytes()) for e in prof.profiler.kineto_results.events() if e.name() == "[memory]")
    live = peak = 0
    for _, nbytes in events:
        live += nbytes
        peak = max(peak, live)
    return int(peak)



def matmul_peak(device: str = "auto", n: int = 1024, repeats: int = 5) -> float:
    """The machine's measured float32 matmul FLOP/s (best of `repeats` n×n products, after a warm-up)."""
    dev = get_device(device)
    a, b = torch.randn(n, n, device=dev), torch.randn(n, n, device=dev)
    return 2 * n**3 / best_seconds(lambda: a @ b, repeats=repeats, device=dev)


def step_cost(cfg: TrainConfig, device: str = "auto", batch_size: int | None = None, repeats: int = 3) -> dict[str, Any]:
    """Counted cost of one training step of `cfg`'s model on a real batch of its training windows:
    tokens per sample, FLOPs (FlopCounterMode, and the analytic attention formula), seconds per
    step (the best of `repeats` after a warm-up), peak memory, achieved FLOP/s."""
    from ..train import build_model
    dev = get_device(device)
    torch.manual_seed(cfg.seed)
    model = build_model(cfg).to(dev)
    mc = model.config
    path = dataset_path(cfg.dataset, cfg.profile)
    with validate_file(path, check_values=False) as ds:
        n_train = int(ds.attrs["n_train"])
    windows = TrajectoryWindows(path, range(n_train), cfg.history, cfg.lead)
    B = batch_size or cfg.batch_size
    ks = torch.linspace(0, len(windows) - 1, B).long()
    x, y = (t.to(dev) for t in windows.batch(ks))
    fields = fields_of(cfg.dataset, cfg.profile)
    tok = model.tokenize(x)
    flops = count_flops(model, x, y, fields, cfg.lead)
    # the analytic formula, summed over the sequences the model actually runs
    H, W = x.shape[-2:]
    ny, nx = H // mc.patch_size, W // mc.patch_size
    if not mc.adaptive:
        formula = attention_flops_formula(mc, [ny * nx] * B, (ny, nx))
    elif mc.scheme == "mul":  # the coarse grid, plus one short sequence per refined patch
        r = mc.patch_size // mc.fine_patch_size
        n_refined = int(tok.refined.sum())
        formula = attention_flops_formula(mc, [ny * nx] * B, (ny, nx)) + (
            attention_flops_formula(mc, [r * r] * n_refined, (r, r)) if n_refined else 0)
    else:  # mix: each sample's own length, padded to the longest
        formula = attention_flops_formula(mc, tok.tokens_per_frame.tolist())
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)

    def step():
        loss = nmse_per_channel(model(x, fields, lead=cfg.lead), y).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    seconds = best_seconds(step, repeats, dev)  # after a warm-up step
    memory = peak_memory(step, dev)
    return dict(tokens=float(tok.tokens.float().mean()), tokens_per_frame=float(tok.tokens_per_frame.float().mean()),
                refined_fraction=float(tok.refined_fraction.mean()), batch=B,
                flops=flops["total"], attention_flops=flops["attention"],
                attention_flops_forward=flops["attention_forward"], attention_flops_formula=formula,
                step_seconds=seconds, peak_memory_mb=memory / 2**20, achieved_flops=flops["total"] / seconds,
                parameters=sum(p.numel() for p in model.parameters()))


# --------------------------------------------------------------------------- rows for the chapters
@dataclass
class Measured:
    """One trained model of a chapter: its run, held-out scores and counted cost."""
    label: str
    run: Run
    scores: dict[str, Any]
    cost: dict[str, Any]

    def row(self) -> dict[str, Any]:
        m = self.run.config.model
        return {"model": self.label, "attention": m["attention"], "patch": patch_label(m),
                "parameters": self.run.n_parameters, "tokens / sample": int(round(self.cost["tokens"])),
                "test NRMSE": f"{self.scores['nrmse']:.4f} ± {self.scores['nrmse_std']:.4f}",
                "test rel. L²": f"{self.scores['rel_l2']:.4f}",
                "train s": round(self.run.train_seconds, 1), "s / step": round(self.cost["step_seconds"], 3),
                "GFLOP / step": round(self.cost["flops"] / 1e9, 2),
                "attention GFLOP / step": round(self.cost["attention_flops"] / 1e9, 3),
                "peak MiB": round(self.cost["peak_memory_mb"], 1),
                "best epoch": self.run.best_epoch}


def patch_label(m: dict[str, Any]) -> str:
    if not m.get("fine_patch_size"):
        return f"{m['patch_size']}"
    sel = f"γ={m['gamma']}" if m.get("gamma") is not None else f"ρ={m['refine_ratio']}"
    return f"{m['patch_size']}→{m['fine_patch_size']} {m['scheme']} {sel}"


def measure(configs: dict[str, TrainConfig], device: str = "auto", progress: bool = True) -> dict[str, Measured]:
    """Train (or load) every config, score it on the test windows and count its step cost."""
    out = {}
    for label, cfg in configs.items():
        run = train(cfg, device=device, progress=progress)
        out[label] = Measured(label, run, evaluate(run, cfg.dataset, cfg.profile, cfg.history, cfg.lead, device=device),
                              step_cost(cfg, device=device))
    return out


def cost_rows(measured: dict[str, Measured], peak: float) -> list[dict[str, Any]]:
    """Counted against analytic attention FLOPs, and the training step's achieved FLOP rate against `peak`."""
    return [{"model": k, "tokens / sample": int(round(m.cost["tokens"])),
             "attention FLOP (counted, fwd)": m.cost["attention_flops_forward"],
             "attention FLOP (formula, fwd)": m.cost["attention_flops_formula"],
             "FLOP / step (fwd + bwd)": m.cost["flops"], "s / step": m.cost["step_seconds"],
             "achieved GFLOP/s": m.cost["achieved_flops"] / 1e9,
             "of matmul peak": f"{m.cost['achieved_flops'] / peak:.1%}"} for k, m in measured.items()]


def learning_curves(measured: dict[str, Measured]) -> dict[str, tuple[list[dict], int]]:
    """{label: (history, best epoch)} for `plots.training_curves` (validation NRMSE per epoch)."""
    return {k: (m.run.history, m.run.best_epoch) for k, m in measured.items()}


@torch.no_grad()
def refinement_frames(cfg: TrainConfig, trajectory: int = 0, frames: Sequence[int] | None = None,
                      device: str = "auto") -> dict[str, Any]:
    """Which patches an adaptive config refines over one test trajectory, window by window: the last
    input frame of each window (its first field) and the refined-patch mask."""
    model = Matey(MateyConfig(**{"history": cfg.history, **cfg.model}))  # selection has no weights
    windows = test_windows(cfg.dataset, cfg.profile, cfg.history, cfg.lead)
    per_traj = len(windows) // len(windows.trajectories)
    picks = list(frames) if frames is not None else list(range(0, per_traj, max(1, per_traj // 6)))[:6]
    x, _ = windows.batch([trajectory * per_traj + t for t in picks])
    tok = model.tokenize(x)
    interval = json.loads(windows.attrs["parameters"]).get("frame_interval", 1.0)
    times = [interval * windows.index[trajectory * per_traj + t][1] for t in picks]
    return dict(frames=x[:, -1], refined=tok.refined, times=times, patch_size=cfg.model["patch_size"],
                tokens_per_frame=tok.tokens_per_frame)


# --------------------------------------------------------------------------- verdicts (computed from the numbers)
def _resolved(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """True when two scores (`evaluate` results) differ by at least twice the larger standard error
    of the mean over test windows. (Windows of one trajectory are correlated, so this criterion is,
    if anything, too ready to call a difference resolved.)"""
    return abs(a["nrmse"] - b["nrmse"]) >= 2 * max(a["nrmse_se"], b["nrmse_se"])


def _within_spread(a: Measured, b: Measured) -> bool:
    """Two models' test NRMSEs are not resolved by the test set (see `_resolved`)."""
    return not _resolved(a.scores, b.scores)


def _persistence_line(nr: dict[str, float], pers: float) -> str:
    best = min(nr, key=nr.get)
    beat = [k for k, v in nr.items() if v < pers]
    return (f"* **Against persistence** (test NRMSE {pers:.4f}): {len(beat)} of {len(nr)} models beat it"
            + ("" if len(beat) == len(nr) else f" (not: {', '.join(k for k in nr if k not in beat)})")
            + f"; the best, {best}, reaches {nr[best]:.4f} "
            + (f"({pers / nr[best]:.2f}× lower)." if nr[best] < pers else f"({nr[best] / pers:.2f}× higher)."))


def attention_verdict(measured: dict[str, Measured], attentions: Sequence[str], sizes: Sequence[str],
                      persistence: dict[str, Any], claims: list | None = None, scale: str = "") -> list[str]:
    """The attention chapter's takeaway, as Markdown bullet lines, from its measured models ("<attention> <size>").

    `sizes` are ordered small to large (by parameter count here, whatever order they come in). With
    `claims` (a list), the verdicts on the paper's claims are appended to it for the scorecard."""
    from .scorecard import verdict as _verdict
    sizes = sorted(sizes, key=lambda s: measured[f"{attentions[0]} {s}"].run.n_parameters)
    nr = {k: m.scores["nrmse"] for k, m in measured.items()}
    lines = [_persistence_line(nr, persistence["nrmse"])]
    for s in sizes:
        order = sorted(attentions, key=lambda a: nr[f"{a} {s}"])
        ms = [measured[f"{a} {s}"] for a in order]
        tied = [a for a, m in zip(order[1:], ms[1:]) if _within_spread(ms[0], m)]
        lines.append(f"* **{s}** ({ms[0].run.config.model['width']} wide): " + ", ".join(f"{a} {nr[f'{a} {s}']:.4f}" for a in order)
                     + (f" — {order[0]} lowest; {', '.join(tied)} within two standard errors of it (not resolved)."
                        if tied else f" — {order[0]} lowest, resolved by the test set."))
    if "avit" in attentions and len(attentions) > 1:
        others = [a for a in attentions if a != "avit"]
        worse = []  # sizes at which AViT is resolved-worse than the best other scheme of the same size
        for s in sizes:
            best_other = measured[min((f"{a} {s}" for a in others), key=nr.get)]
            av = measured[f"avit {s}"]
            if av.scores["nrmse"] > best_other.scores["nrmse"] and not _within_spread(av, best_other):
                worse.append(s)
        slower = all(measured[f"avit {s}"].cost["step_seconds"] >= max(measured[f"{a} {s}"].cost["step_seconds"]
                                                                        for a in others) for s in sizes)
        outcome = "holds" if len(worse) == len(sizes) else "partly" if worse else "does not hold"
        verdict = {"holds": "**holds**", "partly": "**partly holds**", "does not hold": "**does not hold at our scale**"}[outcome]
        informative = min(nr.values()) < persistence["nrmse"]
        if claims is not None:
            claims.append(_verdict("matey.avit", outcome, f"AViT resolved-worse than the best other scheme at "
                                   f"{len(worse)} of {len(sizes)} sizes; its step the slowest: {'yes' if slower else 'no'}",
                                   scale, informative, "no model beats persistence"))
        lines.append("* **AViT needs more weights and training time for the same accuracy** (the paper): " + verdict
                     + f" — AViT is resolved-worse than the best other scheme of its size at "
                     + (", ".join(worse) if worse else "no size") + f" of {len(sizes)}, and its training step is "
                     + ("the slowest" if slower else "not always the slowest") + " of the schemes ("
                     + ", ".join(f"{s}: " + " / ".join(f"{a} {measured[f'{a} {s}'].cost['step_seconds']:.3f} s"
                                                        for a in attentions) for s in sizes) + ").")
    if "svit" in attentions and "vit" in attentions:
        s = sizes[-1]
        sv, vi = measured[f"svit {s}"], measured[f"vit {s}"]
        cheaper = sv.cost["attention_flops"] < vi.cost["attention_flops"]
        close = _within_spread(sv, vi) or sv.scores["nrmse"] < vi.scores["nrmse"]
        if claims is not None:
            claims.append(_verdict("matey.svit", "holds" if cheaper and close else "partly" if cheaper or close else
                                   "does not hold", f"at {s}: SViT {sv.scores['nrmse']:.4f} vs ViT {vi.scores['nrmse']:.4f} "
                                   f"NRMSE, {sv.cost['attention_flops'] / max(vi.cost['attention_flops'], 1):.2f}× ViT's "
                                   "attention FLOPs", scale, min(nr.values()) < persistence["nrmse"],
                                   "no model beats persistence"))
        lines.append(f"* **SViT balances cost and accuracy** (the paper): at {s}, SViT {sv.scores['nrmse']:.4f} vs ViT "
                     f"{vi.scores['nrmse']:.4f}, attention FLOPs {sv.cost['attention_flops'] / max(vi.cost['attention_flops'], 1):.2f}× "
                     f"ViT's, {sv.cost['step_seconds']:.3f} vs {vi.cost['step_seconds']:.3f} s per step — "
                     + ("**holds**" if cheaper and close else "**partly holds**" if cheaper or close else "**does not hold**")
                     + " at our scale.")
    return lines


def tokenization_configs(profile: str, attentions: Sequence[str], size: dict[str, int], gamma: float,
                         gammas: Sequence[float], gamma_attention: str = "svit", schemes: Sequence[str] = ("mix", "mul"),
                         seed: int = 0) -> dict[str, TrainConfig]:
    """The tokenization chapter's models: per attention, uniform tokens at the profile's coarse, middle
    and fine patches, adaptive coarse → fine with each scheme it allows at `gamma`, and a γ sweep of
    `gamma_attention` with the Mix scheme (Mul for avit)."""
    coarse, middle, fine = STANDARD[profile]["patches"]
    out: dict[str, TrainConfig] = {}
    for a in attentions:
        for name, p in (("coarse", coarse), ("middle", middle), ("fine", fine)):
            out[f"{a} {name} {p}"] = matey_config(profile, a, patch_size=p, seed=seed, **size)
        for scheme in schemes:
            if a == "avit" and scheme == "mix":
                continue
            out[f"{a} {scheme} γ={gamma}"] = matey_config(profile, a, patch_size=coarse, fine_patch_size=fine, scheme=scheme,
                                                          gamma=gamma, seed=seed, **size)
    scheme = "mul" if gamma_attention == "avit" else "mix"
    for g in gammas:
        out.setdefault(f"{gamma_attention} {scheme} γ={g}",
                       matey_config(profile, gamma_attention, patch_size=coarse, fine_patch_size=fine, scheme=scheme,
                                    gamma=g, seed=seed, **size))
    return out


def cost_ratio(a: Measured, b: Measured) -> dict[str, float]:
    """How many times `a` costs `b`: tokens, attention FLOPs, all FLOPs, wall-clock per step."""
    return {"tokens": a.cost["tokens"] / b.cost["tokens"],
            "attention FLOPs": a.cost["attention_flops"] / max(b.cost["attention_flops"], 1),
            "FLOPs": a.cost["flops"] / b.cost["flops"], "s / step": a.cost["step_seconds"] / b.cost["step_seconds"]}


def tokenization_verdict(measured: dict[str, Measured], attentions: Sequence[str], gamma: float,
                         persistence: dict[str, Any], profile: str, claims: list | None = None,
                         scale: str = "") -> tuple[list[str], list[dict[str, Any]]]:
    """The tokenization chapter's takeaway lines and its adaptive-vs-uniform table, from its measured
    models; with `claims` (a list), the verdicts on the paper's two claims are appended to it.

    Cost decides by counted FLOPs (`FlopCounterMode`), as the paper estimates it from sequence length:
    a count is the same in every build, while a time-per-step ratio on a shared CPU moved by 10–20 %
    between builds and would flip a verdict resting on a ratio near 1. Time per step is reported
    beside every count. "Lower cost" means fewer attention FLOPs and fewer FLOPs per training step in
    all. "Almost 8×" holds where the cheapest uniform ViT as accurate as the best adaptive ViT costs
    at least 4× its FLOPs per step (the paper's factor, halved for "almost"); partly where only its
    attention FLOPs are 4× or more."""
    from .scorecard import verdict as _verdict
    coarse, middle, fine = STANDARD[profile]["patches"]
    nr = {k: m.scores["nrmse"] for k, m in measured.items()}
    lines = [_persistence_line(nr, persistence["nrmse"])]
    rows, holds, faster = [], [], []
    for a in attentions:
        mid, fin = measured[f"{a} middle {middle}"], measured[f"{a} fine {fine}"]
        for scheme in ("mix", "mul"):
            key = f"{a} {scheme} γ={gamma}"
            if key not in measured:
                continue
            ad = measured[key]
            vs_mid, vs_fine = cost_ratio(mid, ad), cost_ratio(fin, ad)
            accurate = ad.scores["nrmse"] <= mid.scores["nrmse"] or _within_spread(ad, mid)
            cheaper = vs_mid["attention FLOPs"] > 1 and vs_mid["FLOPs"] > 1
            holds.append(accurate and cheaper)
            faster.append(accurate and cheaper and vs_mid["s / step"] > 1)
            # efficiency at equal accuracy: the cheapest uniform model at least as accurate as the adaptive one
            uniform = [measured[f"{a} {n} {p}"] for n, p in (("coarse", coarse), ("middle", middle), ("fine", fine))]
            as_good = [u for u in uniform if u.scores["nrmse"] <= ad.scores["nrmse"] or _within_spread(u, ad)]
            ref = min(as_good, key=lambda u: u.cost["attention_flops"]) if as_good else None
            vs_ref = cost_ratio(ref, ad) if ref else dict.fromkeys(vs_mid, float("nan"))
            rows.append({"adaptive": key, "NRMSE": ad.scores["nrmse"], "middle NRMSE": mid.scores["nrmse"],
                         "fine NRMSE": fin.scores["nrmse"], "refined fraction": ad.cost["refined_fraction"],
                         "tokens: middle / adaptive": vs_mid["tokens"], "tokens: fine / adaptive": vs_fine["tokens"],
                         "attention FLOPs: middle / adaptive": vs_mid["attention FLOPs"],
                         "FLOPs: middle / adaptive": vs_mid["FLOPs"], "s/step: middle / adaptive": vs_mid["s / step"],
                         "attention FLOPs: fine / adaptive": vs_fine["attention FLOPs"],
                         "FLOPs: fine / adaptive": vs_fine["FLOPs"], "s/step: fine / adaptive": vs_fine["s / step"],
                         "equally accurate uniform": ref.label if ref else "none",
                         "its attention FLOPs / adaptive": vs_ref["attention FLOPs"],
                         "its FLOPs / adaptive": vs_ref["FLOPs"], "its s/step / adaptive": vs_ref["s / step"]})
    informative = min(nr.values()) < persistence["nrmse"]
    per_model = "; ".join(f"{r['adaptive']} {r['NRMSE']:.4f} vs middle {r['middle NRMSE']:.4f}, with "
                          f"{1 / r['FLOPs: middle / adaptive']:.2f}× the middle patches' FLOPs and "
                          f"{1 / r['s/step: middle / adaptive']:.2f}× their time per step" for r in rows)
    timed = (f"on this machine {sum(faster)} of those {sum(holds)} also take less time per step than the middle "
             f"patches (time per step is reported, it does not decide)")
    if claims is not None and holds:
        claims.append(_verdict("matey.adaptive", "holds" if all(holds) else "partly" if any(holds) else "does not hold",
                               f"holds for {sum(holds)} of {len(holds)} adaptive models by counted FLOPs; {timed}: "
                               + per_model, scale, informative, "no model beats persistence"))
    lines.append(f"* **Adaptive ≈ uniform middle patches at lower cost** (the paper): holds for {sum(holds)} of "
                 f"{len(holds)} adaptive models (accuracy at least the middle patches' within twice the standard error, "
                 f"with fewer attention FLOPs and fewer FLOPs per training step, both counted); {timed}. "
                 + per_model + ".")
    vit = [r for r in rows if r["adaptive"].startswith("vit ")]
    if vit:
        best = min(vit, key=lambda r: r["NRMSE"])
        found = best["equally accurate uniform"] != "none"
        costs = (f"the cheapest uniform ViT as accurate ({best['equally accurate uniform']}) costs "
                 f"{best['its FLOPs / adaptive']:.1f}× its FLOPs per step, {best['its attention FLOPs / adaptive']:.1f}× "
                 f"its attention FLOPs and {best['its s/step / adaptive']:.1f}× its time per step")
        lines.append(f"* **'Almost 8× more efficient than constant patch sizes for ViT'** (the paper): for {best['adaptive']}, "
                     + (costs if found else
                        "no uniform ViT is as accurate, so the ratio at equal accuracy is bounded below by the fine patches': "
                        f"{best['FLOPs: fine / adaptive']:.1f}× the FLOPs per step")
                     + f"; against uniform fine patches, {best['FLOPs: fine / adaptive']:.1f}× the FLOPs per step, "
                       f"{best['attention FLOPs: fine / adaptive']:.1f}× the attention FLOPs and "
                       f"{best['s/step: fine / adaptive']:.1f}× the time per step, for "
                       f"{best['tokens: fine / adaptive']:.1f}× the tokens. Paper: ≈ 8×.")
        if claims is not None:
            f, fa = best["its FLOPs / adaptive"], best["its attention FLOPs / adaptive"]
            outcome = ("does not hold" if not found else "holds" if f >= 4 else "partly" if fa >= 4 else "does not hold")
            claims.append(_verdict("matey.vit8x", outcome, f"{best['adaptive']}: " + (costs if found else
                                   "no uniform ViT as accurate"), scale, informative, "no model beats persistence"))
    return lines, rows


def token_scaling(profile: str, attention: str, size: dict[str, int], ratios: Sequence[float],
                  schemes: Sequence[str] = ("mix", "mul"), device: str = "auto", seed: int = 0) -> list[dict[str, Any]]:
    """Does the time per training step follow the tokens actually processed? Untrained models (the
    cost does not depend on the weights) of `attention`, refining the top ρ fraction of coarse
    patches for each ρ of `ratios`, against uniform fine tokens: tokens and seconds per step, and
    both as fractions of the uniform fine model's."""
    coarse, _, fine = STANDARD[profile]["patches"]
    ref = step_cost(matey_config(profile, attention, patch_size=fine, seed=seed, **size), device=device)
    rows = [dict(model=f"uniform fine {fine}", scheme="uniform", refine_ratio=1.0, tokens=ref["tokens"],
                 step_seconds=ref["step_seconds"], tokens_fraction=1.0, time_fraction=1.0)]
    for scheme in schemes:
        if attention == "avit" and scheme == "mix":
            continue
        for rho in ratios:
            c = step_cost(matey_config(profile, attention, patch_size=coarse, fine_patch_size=fine, scheme=scheme,
                                       refine_ratio=rho, seed=seed, **size), device=device)
            rows.append(dict(model=f"{scheme} ρ={rho:g}", scheme=scheme, refine_ratio=rho, tokens=c["tokens"],
                             step_seconds=c["step_seconds"], tokens_fraction=c["tokens"] / ref["tokens"],
                             time_fraction=c["step_seconds"] / ref["step_seconds"]))
    return rows


# =========================================================================== multi-physics pretraining, fine-tuning
# MATEY §4.3 (after MPP): pretrain on the PDEBench systems — every step one dataset, drawn uniformly
# — then fine-tune on systems with other physics and fields, colliding thermals and the MHD cavity,
# in four arms (PREPOST / ALL, from the pretrained weights or from random initialisation, INIT),
# over a sweep of data sizes in whole training trajectories.
PRETRAINING = ("shallow_water_dam_break", "diffusion_reaction", "cns_rand_m0.1_eta1e-2", "cns_rand_m1_eta1e-8",
               "cns_turb_m0.1_eta1e-8", "cns_turb_m1_eta1e-8", "incompressible_ns_scalar")
TARGETS = ("colliding_thermals", "mhd_cavity")
ARMS = ("PREPOST", "ALL", "PREPOST INIT", "ALL INIT")  # pretrained / random init × frozen middle / everything

# Per profile: the patch that tiles every grid of the study's sets, T, whether the model predicts the
# change from the last frame (CPU profiles: a full-state model at our budgets stays far above
# persistence one frame ahead; the paper profile predicts the full state, as MATEY), the pretraining
# and fine-tuning budgets (every arm and data size of a target the same steps and batch: `finetune`, with
# `target_finetune`'s changes for a target), the data sizes (trajectories; at most the
# training split left after validation), the fine-tuning lead per target and, where a target's flow
# settles, the frames [first, end) its windows (training, validation, test, persistence) come from.
TRANSFER: dict[str, dict[str, Any]] = {
    "smoke": dict(patch=4, history=2, layer_scale=0.1, residual=True,
                  pretrain=dict(epochs=1, steps_per_epoch=8, batch_size=4, lr=3e-3),
                  finetune=dict(epochs=1, steps_per_epoch=4, batch_size=4, lr=1e-3), target_finetune={},
                  sizes={"colliding_thermals": [1, 5], "mhd_cavity": [1, 3]},
                  leads={"colliding_thermals": 4, "mhd_cavity": 4}, frames={"mhd_cavity": [0, 26]}),
    # 1 000 pretraining steps of 8 (≈ 140 per dataset); 300 fine-tuning steps of 4 per arm and size
    "default": dict(patch=8, history=2, layer_scale=0.1, residual=True,
                    pretrain=dict(epochs=5, steps_per_epoch=200, batch_size=8, lr=3e-3),
                    finetune=dict(epochs=3, steps_per_epoch=100, batch_size=4, lr=1e-3),
                    # MHD (64², 64 tokens a frame) takes batches of 16 for 1.5× the time of 4: with 4, no arm
                    # resolved from persistence (measured: ALL k = 12, 0.092 ± 0.009 against 0.101)
                    target_finetune={"mhd_cavity": dict(batch_size=16)},
                    sizes={"colliding_thermals": [1, 2, 4, 8, 14], "mhd_cavity": [1, 3, 6, 12, 22]},
                    leads={"colliding_thermals": 4, "mhd_cavity": 4},
                    # the cavity settles: after t = 5 (frame 25) persistence's one-frame error is below 1e-3,
                    # so windows there hold no dynamics to learn; the MHD runs read the transient t ≤ 5
                    frames={"mhd_cavity": [0, 26]}),
    # MATEY's runs: T = 16, pretraining 500 epochs × 400 steps (batch 1472 on Frontier; ours 128),
    # fine-tuning 500 × 400 steps of 256 at lr 1e-4 (the paper's AdamW and cosine; the loop's Adam)
    "paper": dict(patch=32, history=16, layer_scale=1e-6, residual=False,
                  pretrain=dict(epochs=500, steps_per_epoch=400, batch_size=128, lr=1e-4),
                  finetune=dict(epochs=500, steps_per_epoch=400, batch_size=256, lr=1e-4), target_finetune={},
                  sizes={"colliding_thermals": [1, 2, 4, 8, 16], "mhd_cavity": [1, 3, 6, 12, 24]},
                  leads={"colliding_thermals": 1, "mhd_cavity": 1}, frames={}),
}

# MPP's published Ti-size test NRMSEs (McCabe et al. 2023, Table 1): another model, at another scale
MPP_TI = {"SWE": 0.0066, "DiffRe2D": 0.0168, "CNS M1.0": 0.0442, "CNS M0.1": 0.0312}
MPP_GROUPS = {"SWE": ("shallow_water_dam_break",), "DiffRe2D": ("diffusion_reaction",),
              "CNS M1.0": ("cns_rand_m1_eta1e-8", "cns_turb_m1_eta1e-8"),
              "CNS M0.1": ("cns_rand_m0.1_eta1e-2", "cns_turb_m0.1_eta1e-8")}


def pretraining_vocabulary(profile: str, datasets: Sequence[str] = PRETRAINING) -> list[str]:
    """The field names of the pretraining sets, in vocabulary order: the pretrained model's rows.
    Fine-tuning models use the whole vocabulary, so their new fields are rows the checkpoint lacks."""
    from ..data.fields import qualified, vocabulary
    from ..data.registry import get_spec
    names = {n for d in datasets for n in qualified(get_spec(d, profile).system, get_spec(d, profile).fields)}
    return [v for v in vocabulary() if v in names]


def _transfer_model(profile: str, attention: str, size: dict[str, int]) -> dict[str, Any]:
    t = TRANSFER[profile]
    return dict(attention=attention, patch_size=t["patch"], layer_scale=t["layer_scale"], residual=t["residual"], **size)


def pretrain_config(profile: str, attention: str, size: dict[str, int], datasets: Sequence[str] = PRETRAINING,
                    seed: int = 0) -> TrainConfig:
    """Multi-physics pretraining on `datasets` (one, for a single-system model with the same steps)."""
    t = TRANSFER[profile]
    model = {**_transfer_model(profile, attention, size), "vocabulary": pretraining_vocabulary(profile)}
    MateyConfig(**{"history": t["history"], **model})
    multi = len(datasets) > 1
    return TrainConfig(task="matey", dataset="pretraining" if multi else datasets[0], datasets=list(datasets) if multi else None,
                       profile=profile, history=t["history"], lead=1, model=model, seed=seed, **t["pretrain"])


def finetune_budget(profile: str, target: str) -> dict[str, Any]:
    """Epochs, steps per epoch, batch and lr of every fine-tuning run on `target` (all arms, all sizes)."""
    t = TRANSFER[profile]
    return {**t["finetune"], **t["target_finetune"].get(target, {})}


def finetune_config(profile: str, target: str, arm: str, trajectories: int, attention: str, size: dict[str, int],
                    seed: int = 0, lead_max: int | None = None, pretraining: Sequence[str] = PRETRAINING) -> TrainConfig:
    """One fine-tuning run: `arm` (one of ARMS) on `trajectories` training trajectories of `target`,
    from the model pretrained on `pretraining` (or its random-init twin). `lead_max` (off by default)
    conditions on the lead time, drawn per sample in 1 … lead_max."""
    if arm not in ARMS:
        raise ValueError(f"arm: one of {ARMS}, got {arm!r}")
    t = TRANSFER[profile]
    model = {**_transfer_model(profile, attention, size), **({"leadtime": True} if lead_max else {})}
    init = None if arm.endswith("INIT") else pretrain_config(profile, attention, size, pretraining, seed).to_dict()
    return TrainConfig(task="matey", dataset=target, profile=profile, history=t["history"], lead=t["leads"][target],
                       model=model, init_from=init, freeze="prepost" if arm.startswith("PREPOST") else "all",
                       train_trajectories=trajectories, lead_max=lead_max, frames=t["frames"].get(target), seed=seed,
                       **finetune_budget(profile, target))


@dataclass
class Scored:
    """A trained run and its held-out scores on one or more datasets."""
    label: str
    run: Run
    scores: dict[str, dict[str, Any]]  # dataset → evaluate()


def pretraining_study(profile: str, attentions: Sequence[str], size: dict[str, int], single_attention: str = "svit",
                      datasets: Sequence[str] = PRETRAINING, device: str = "auto", seed: int = 0,
                      progress: bool = True) -> dict[str, Any]:
    """The pretraining chapter's runs: one multi-physics model per attention, single-system models of
    `single_attention` (each the same steps on its one dataset), all scored on every test set they
    trained on, with persistence beside them."""
    h = TRANSFER[profile]["history"]
    pre, single = {}, {}
    for a in attentions:
        run = train(pretrain_config(profile, a, size, datasets, seed), device=device, progress=progress)
        pre[a] = Scored(f"{a} pretrained", run, {d: evaluate(run, d, profile, h, 1, device=device) for d in datasets})
    for d in datasets:
        run = train(pretrain_config(profile, single_attention, size, (d,), seed), device=device, progress=progress)
        single[d] = Scored(f"{single_attention} on {d} only", run, {d: evaluate(run, d, profile, h, 1, device=device)})
    persistence = {d: evaluate(None, d, profile, h, 1) for d in datasets}
    return dict(pretrained=pre, single=single, persistence=persistence, datasets=list(datasets),
                single_attention=single_attention)


def pretraining_rows(study: dict[str, Any]) -> list[dict[str, Any]]:
    """Per dataset: test NRMSE of each pretrained model, the single-system model and persistence."""
    rows = []
    for d in study["datasets"]:
        row = {"dataset": d, **{m.label: m.scores[d]["nrmse"] for m in study["pretrained"].values()},
               study["single"][d].label.split(" on ")[0] + " single-system": study["single"][d].scores[d]["nrmse"],
               "persistence": study["persistence"][d]["nrmse"]}
        rows.append(row)
    return rows


def mpp_context(study: dict[str, Any]) -> list[dict[str, Any]]:
    """Our pretrained models' NRMSE on MPP's four groups beside MPP's Ti (another model, another scale)."""
    out = []
    for group, sets in MPP_GROUPS.items():
        sets = [s for s in sets if s in study["datasets"]]
        if not sets:
            continue
        row = {"MPP group": group, "our sets": ", ".join(sets)}
        for a, m in study["pretrained"].items():
            row[f"ours ({a})"] = sum(m.scores[s]["nrmse"] for s in sets) / len(sets)
        row["MPP Ti (published)"] = MPP_TI[group]
        out.append(row)
    return out


def pretraining_verdict(study: dict[str, Any]) -> list[str]:
    """Does sharing one model across systems cost or help each system? From the study's numbers."""
    sa = study["single_attention"]
    pre = study["pretrained"].get(sa) or next(iter(study["pretrained"].values()))
    better = worse = tied = 0
    parts = []
    for d in study["datasets"]:
        p, s = pre.scores[d], study["single"][d].scores[d]
        if not _resolved(p, s):
            tied += 1
            tag = "≈"
        elif p["nrmse"] < s["nrmse"]:
            better += 1
            tag = "<"
        else:
            worse += 1
            tag = ">"
        parts.append(f"{d} {p['nrmse']:.4f} {tag} {s['nrmse']:.4f}")
    beat = {a: sum(m.scores[d]["nrmse"] < study["persistence"][d]["nrmse"] for d in study["datasets"])
            for a, m in study["pretrained"].items()}
    n = len(study["datasets"])
    steps = pre.run.config.epochs * (pre.run.config.steps_per_epoch or 0)
    lines = [f"* **Against persistence**: the pretrained models beat it on "
             + ", ".join(f"{a} {k} of {n}" for a, k in beat.items()) + " datasets.",
             f"* **One model for {n} systems vs one model per system** ({pre.label} against {sa} single-system models, "
             f"each {steps} steps of {pre.run.config.batch_size}: the pretrained model sees each system about 1/{n} as "
             f"often): better on {better}, worse on {worse}, within twice the standard error on {tied} of {n} "
             f"(pretrained vs single: " + "; ".join(parts) + ")."]
    best = min(study["pretrained"].values(), key=lambda m: sum(m.scores[d]["nrmse"] for d in study["datasets"]))
    lines.append(f"* **Attention**: the lowest mean test NRMSE over the {n} systems is {best.label}'s, "
                 + ", ".join(f"{a} {sum(m.scores[d]['nrmse'] for d in study['datasets']) / n:.4f}"
                             for a, m in study["pretrained"].items()) + ".")
    return lines


def finetuning_study(profile: str, attention: str, size: dict[str, int], targets: Sequence[str] = TARGETS,
                     arms: Sequence[str] = ARMS, sizes: dict[str, Sequence[int]] | None = None, device: str = "auto",
                     seed: int = 0, lead_max: int | None = None, pretraining: Sequence[str] = PRETRAINING,
                     progress: bool = True) -> dict[str, Any]:
    """Every arm × data size × target, trained (the pretrained model once, from the cache) and scored
    on the target's test trajectories, with persistence."""
    t = TRANSFER[profile]
    sizes = sizes or t["sizes"]
    runs: dict[tuple[str, str, int], Scored] = {}
    for target in targets:
        for arm in arms:
            for k in sizes[target]:
                cfg = finetune_config(profile, target, arm, k, attention, size, seed, lead_max, pretraining)
                run = train(cfg, device=device, progress=progress)
                runs[target, arm, k] = Scored(f"{arm} k={k}", run,
                                              {target: evaluate(run, target, profile, cfg.history, cfg.lead,
                                                                device=device, frames=cfg.frames)})
    persistence = {g: evaluate(None, g, profile, t["history"], t["leads"][g], frames=t["frames"].get(g)) for g in targets}
    return dict(runs=runs, persistence=persistence, targets=list(targets), arms=list(arms),
                sizes={g: list(sizes[g]) for g in targets}, attention=attention)


def finetuning_curves(study: dict[str, Any]) -> dict[str, dict[str, list[tuple[int, float, float]]]]:
    """{target: {arm: [(trajectories, NRMSE, standard error)]}} for the data-size figure."""
    return {g: {arm: [(k, study["runs"][g, arm, k].scores[g]["nrmse"], study["runs"][g, arm, k].scores[g]["nrmse_se"])
                      for k in study["sizes"][g]] for arm in study["arms"]} for g in study["targets"]}


def finetuning_rows(study: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for g in study["targets"]:
        for k in study["sizes"][g]:
            row = {"target": g, "trajectories": k}
            for arm in study["arms"]:
                s = study["runs"][g, arm, k].scores[g]
                row[arm] = f"{s['nrmse']:.4f} ± {s['nrmse_se']:.4f}"
            row["persistence"] = f"{study['persistence'][g]['nrmse']:.4f}"
            rows.append(row)
    return rows


def _gain(study, g, arm, k) -> float:
    """Relative NRMSE gain of the pretrained arm over its INIT twin: (INIT − pretrained) / INIT."""
    p, i = study["runs"][g, arm, k].scores[g]["nrmse"], study["runs"][g, f"{arm} INIT", k].scores[g]["nrmse"]
    return (i - p) / i


def transfer_verdict(study: dict[str, Any], claims: list | None = None, scale: str = "") -> list[str]:
    """The paper's four questions, answered from the fine-tuning numbers; with `claims` (a list), the
    verdict on the transfer claim is appended to it, from the targets where the best model resolves
    from persistence: it holds where pretrained arms beat their INIT twins (beyond twice the standard
    error) in more than half of the (target, arm, size) cases, with a larger gain at the smallest
    data size than at the largest, and PREPOST's mean gain at least ALL's; partly where they win
    more often than they lose."""
    from .scorecard import verdict as _verdict
    runs, lines = study["runs"], []
    pairs = [(g, arm, k) for g in study["targets"] for arm in ("PREPOST", "ALL") for k in study["sizes"][g]
             if (g, arm, k) in runs and (g, f"{arm} INIT", k) in runs]

    def helps(g, arm, k) -> str:
        p, i = runs[g, arm, k].scores[g], runs[g, f"{arm} INIT", k].scores[g]
        return "≈" if not _resolved(p, i) else ("better" if p["nrmse"] < i["nrmse"] else "worse")

    # 1. little data
    small = [(g, arm, study["sizes"][g][0]) for g in study["targets"] for arm in ("PREPOST", "ALL")
             if (g, arm, study["sizes"][g][0]) in runs]
    outcome = [helps(*p) for p in small]
    lines.append(f"* **Does pretraining help with little data?** (the paper: yes, most with frozen attention) At the "
                 f"smallest size, pretrained beats random init in {outcome.count('better')} of {len(small)} cases, loses in "
                 f"{outcome.count('worse')}, ties (within twice the standard error) in {outcome.count('≈')}: "
                 + "; ".join(f"{g} {arm} k={k}: {runs[g, arm, k].scores[g]['nrmse']:.4f} vs INIT "
                             f"{runs[g, f'{arm} INIT', k].scores[g]['nrmse']:.4f}" for g, arm, k in small) + ".")
    # 2. new fields: every target field is a vocabulary row the pretrained checkpoint lacks
    for g in study["targets"]:
        out = [helps(*p) for p in pairs if p[0] == g]
        lines.append(f"* **New fields, {g}** (all its fields are rows the pretraining never trained): over every arm and "
                     f"size, pretrained better in {out.count('better')}, worse in {out.count('worse')}, tied in "
                     f"{out.count('≈')} of {len(out)}; mean relative gain "
                     f"{sum(_gain(study, *p) for p in pairs if p[0] == g) / max(1, len(out)):+.1%}.")
    # 3. PREPOST vs ALL (pretrained)
    prepost_wins = [(g, k) for g in study["targets"] for k in study["sizes"][g]
                    if (g, "PREPOST", k) in runs and (g, "ALL", k) in runs
                    and runs[g, "PREPOST", k].scores[g]["nrmse"] < runs[g, "ALL", k].scores[g]["nrmse"]]
    total = sum(len(study["sizes"][g]) for g in study["targets"])
    lines.append(f"* **PREPOST vs ALL** (both pretrained): PREPOST is lower in {len(prepost_wins)} of {total} (target, size) "
                 f"cases" + (f" ({', '.join(f'{g} k={k}' for g, k in prepost_wins)})" if prepost_wins else "") + ".")
    # 4. the advantage against data size
    for arm in ("ALL", "PREPOST"):
        parts = []
        for g in study["targets"]:
            ks = study["sizes"][g]
            if (g, arm, ks[0]) in runs and (g, f"{arm} INIT", ks[-1]) in runs:
                parts.append(f"{g}: {_gain(study, g, arm, ks[0]):+.1%} at k={ks[0]} → {_gain(study, g, arm, ks[-1]):+.1%} "
                             f"at k={ks[-1]}")
        lines.append(f"* **Advantage against data size, {arm}** (the paper: vanishes with data for ALL, persists for "
                     f"PREPOST): relative gain of pretrained over INIT " + "; ".join(parts) + ".")
    beat = sum(r.scores[g]["nrmse"] < study["persistence"][g]["nrmse"] for (g, _, _), r in runs.items())
    lines.append(f"* **Against persistence**: {beat} of {len(runs)} fine-tuned models beat it ("
                 + ", ".join(f"{g} {study['persistence'][g]['nrmse']:.4f}" for g in study["targets"]) + ").")
    informative = []
    for g in study["targets"]:  # is the comparison on this target informative at all?
        best = min((r for (t, _, _), r in runs.items() if t == g), key=lambda r: r.scores[g]["nrmse"])
        pers = study["persistence"][g]
        if not (best.scores[g]["nrmse"] < pers["nrmse"] and _resolved(best.scores[g], pers)):
            lines.append(f"* **{g}: not informative at this budget.** The best fine-tuned model ({best.label}, "
                         f"{best.scores[g]['nrmse']:.4f}) does not beat persistence ({pers['nrmse']:.4f}) by more than "
                         f"twice the standard error, so the differences between arms on {g} above are noise, not "
                         f"evidence for or against the claim.")
        else:
            informative.append(g)
    if claims is not None:
        use = [p for p in pairs if p[0] in informative]
        out = [helps(*p) for p in use]
        gain = lambda arm, i: [_gain(study, g, arm, study["sizes"][g][i]) for g in informative  # noqa: E731
                               if (g, arm, study["sizes"][g][i]) in runs]
        mean = lambda v: sum(v) / len(v) if v else float("nan")  # noqa: E731
        small_first = all(mean(gain(a, 0)) > mean(gain(a, -1)) for a in ("ALL", "PREPOST") if gain(a, 0))
        prepost = mean(gain("PREPOST", 0) + gain("PREPOST", -1)) >= mean(gain("ALL", 0) + gain("ALL", -1))
        outcome = ("holds" if out and out.count("better") > len(out) / 2 and small_first and prepost
                   else "partly" if out.count("better") > out.count("worse") else "does not hold")
        claims.append(_verdict("matey.transfer", outcome, (
            f"on {', '.join(informative) or 'no target'}: pretrained better than INIT in {out.count('better')}, worse in "
            f"{out.count('worse')}, tied in {out.count('≈')} of {len(out)} cases; mean gain at the smallest / largest size "
            f"ALL {mean(gain('ALL', 0)):+.1%} / {mean(gain('ALL', -1)):+.1%}, PREPOST {mean(gain('PREPOST', 0)):+.1%} / "
            f"{mean(gain('PREPOST', -1)):+.1%}"), scale, bool(informative),
            "on no target does the best model beat persistence"))
    return lines
