"""Validation experiments for the vorticity solver, shared by the tests and the data chapter.

Each function runs a small, fast experiment (≤ 64² unless asked otherwise) and returns plain
numbers and arrays; the tests assert on them, the book plots them. Nothing here is tuned to pass:
the tolerances live in the tests and are stated in the book next to the measured values.
"""
from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
import torch

from .. import kolmogorov
from ..navier_stokes import VorticitySolver, fno_forcing, gaussian_random_field, grid, resample_spectral, to_physical
from ..solver_support import deterministic_fft


def taylor_green(n: int = 32, nu: float = 1e-3, t_final: float = 5.0, dt: float = 0.05, scheme: str = "ifrk4",
                 mode: tuple[int, int] = (1, 1)) -> dict:
    """Unforced single-shell Taylor–Green vortex ω = sin(2πkx x) sin(2πky y).

    Its advection term vanishes identically (ω is proportional to ψ), so it decays exactly as
    exp(−4π²|k|²νt). Returns the measured and exact amplitude over time and the max relative error.
    """
    solver = VorticitySolver(n=n, nu=nu, dt=dt, scheme=scheme, device="cpu")
    y, x = grid(n, 1.0)
    kx, ky = mode
    shape = torch.sin(2 * math.pi * kx * x) * torch.sin(2 * math.pi * ky * y)
    steps = round(t_final / dt)
    times = [i * dt for i in range(0, steps + 1, max(1, steps // 50))]
    frames = solver.run(shape[None], times)[0]
    amplitude = (frames * shape).sum(dim=(-2, -1)) / (shape * shape).sum()
    exact = torch.exp(torch.tensor(times, dtype=torch.float64) * (-4 * math.pi**2 * (kx**2 + ky**2) * nu))
    residual = (frames - exact[:, None, None] * shape).flatten(1).norm(dim=1) / (exact * shape.norm())
    return dict(times=np.array(times), amplitude=amplitude.numpy(), exact=exact.numpy(),
                max_rel_error=float(residual.max()), scheme=scheme, dt=dt, n=n, nu=nu)


def _grf_run(solver: VorticitySolver, seeds: Sequence[int], n_ic: int, t_final: float, out_n: int):
    """Run from GRF samples drawn on an n_ic grid (spectrally interpolated to the solver grid)."""
    w0_hat = torch.fft.rfft2(gaussian_random_field(n_ic, seeds), norm="forward")
    w0 = to_physical(resample_spectral(w0_hat, solver.n))
    return solver.run(w0, [0.0, t_final], out_n=out_n)[:, -1]


def refinement(n: int = 32, nu: float = 1e-3, dt: float = 0.02, t_final: float = 2.0, seeds: Sequence[int] = (0, 1),
               scheme: str = "ifrk4") -> dict:
    """Relative change of the forced solution at t_final when dt is halved and the grid doubled.

    Both runs start from the same band-limited initial condition (drawn on the n grid); the finer
    solution is truncated to n² for comparison.
    """
    coarse = _grf_run(VorticitySolver(n=n, nu=nu, forcing=fno_forcing, dt=dt, scheme=scheme, device="cpu"), seeds, n, t_final, n)
    fine = _grf_run(VorticitySolver(n=2 * n, nu=nu, forcing=fno_forcing, dt=dt / 2, scheme=scheme, device="cpu"), seeds, n, t_final, n)
    rel = (coarse - fine).flatten(1).norm(dim=1) / fine.flatten(1).norm(dim=1)
    return dict(rel_change=float(rel.max()), n=n, dt=dt, t_final=t_final, nu=nu, scheme=scheme)


def time_convergence(scheme: str = "ifrk4", dts: Sequence[float] = (0.1, 0.05, 0.025, 0.0125), n: int = 32,
                     nu: float = 1e-3, t_final: float = 2.0, seeds: Sequence[int] = (0,)) -> dict:
    """Error at t_final against a reference with dt = min(dts)/8, for each dt: the observed order."""
    def run(dt):
        return _grf_run(VorticitySolver(n=n, nu=nu, forcing=fno_forcing, dt=dt, scheme=scheme, device="cpu",
                                        cfl_limit=10.0), seeds, n, t_final, n)
    ref = run(min(dts) / 8)
    errors = np.array([float((run(dt) - ref).norm() / ref.norm()) for dt in dts])
    order = np.polyfit(np.log(dts), np.log(errors), 1)[0]
    return dict(dts=np.array(dts), errors=errors, order=float(order), scheme=scheme)


def mean_vorticity(n: int = 32, nu: float = 1e-3, t_final: float = 5.0, dt: float = 0.02, seeds=(0, 1, 2)) -> dict:
    """The domain mean of ω is exactly conserved (the forcing has zero mean): max |mean| over time."""
    solver = VorticitySolver(n=n, nu=nu, forcing=fno_forcing, dt=dt, device="cpu")
    steps = round(t_final / dt)
    frames = solver.run(gaussian_random_field(n, seeds), [k * dt for k in range(0, steps + 1, max(1, steps // 10))])
    means = frames.mean(dim=(-2, -1))
    return dict(max_abs_mean=float(means.abs().max()), rms=float(frames.pow(2).mean().sqrt()))


def laminar_kolmogorov(n: int = 32, nu: float = 1 / 40, t_final: float = 5.0, dt: float = 0.02) -> dict:
    """The laminar state ω = −cos(4y)/(4ν) of Kolmogorov flow is steady: max relative drift."""
    solver = kolmogorov.solver(n, nu=nu, dt=dt, device="cpu")
    y, x = grid(n, kolmogorov.LENGTH)
    w_lam = kolmogorov.laminar_vorticity(y, nu).expand(n, n)
    steps = round(t_final / dt)
    times = [k * dt for k in range(0, steps + 1, max(1, steps // 20))]
    frames = solver.run(w_lam[None], times)[0]
    drift = (frames - w_lam).flatten(1).norm(dim=1) / w_lam.norm()
    return dict(times=np.array(times), drift=drift.numpy(), max_drift=float(drift.max()))


def enstrophy_budget(n: int = 32, nu: float = 1e-3, t_final: float = 2.0, dt: float = 0.01, seed: int = 0,
                     forcing=fno_forcing, length: float = 1.0) -> dict:
    """Z = ½⟨ω²⟩ obeys dZ/dt = −ν⟨|∇ω|²⟩ + ⟨fω⟩ (advection drops out of the Galerkin system).

    We record Z and the three rates at every step and compare Z(t) − Z(0) with the time integral
    (trapezoid rule) of dissipation + forcing. Also reports the largest |advection rate| relative to
    the dissipation rate, which is round-off for a dealiased run.
    """
    solver = VorticitySolver(n=n, nu=nu, forcing=forcing, length=length, dt=dt, device="cpu")
    w_hat = solver.prepare(gaussian_random_field(n, [seed], length=length))
    steps = round(t_final / dt)
    Z, adv, dis, frc = [], [], [], []
    for s in range(steps + 1):
        Z.append(float(0.5 * solver.inner(w_hat, w_hat)[0]))
        a, d, f = (float(v[0]) for v in solver.enstrophy_rates(w_hat))
        adv.append(a), dis.append(d), frc.append(f)
        if s < steps:
            w_hat, _ = solver.step(w_hat)
    t = np.arange(steps + 1) * dt
    Z, adv, dis, frc = map(np.array, (Z, adv, dis, frc))
    integral = np.concatenate([[0.0], np.cumsum(0.5 * dt * ((dis + frc)[1:] + (dis + frc)[:-1]))])
    change = Z - Z[0]
    scale = np.abs(np.concatenate([[0.0], np.cumsum(0.5 * dt * (np.abs(dis[1:]) + np.abs(dis[:-1])))])).max()
    return dict(times=t, enstrophy=Z, advection=adv, dissipation=dis, forcing=frc, change=change,
                integrated_rates=integral, budget_residual=float(np.abs(change - integral).max() / scale),
                max_advection_rate=float(np.abs(adv).max() / np.abs(dis).max()))


def throughput(resolutions: Sequence[int] = (32, 64, 128), batch_sizes: Sequence[int] = (1, 8), steps: int = 20,
               scheme: str = "ifrk4", device: str = "auto") -> list[dict]:
    """Solver throughput measured here: cell-updates per second (cells × steps / s) and steps per second.

    Timed inside the same single-threaded FFT context that `VorticitySolver.run` (and so dataset
    generation) uses, so the figure describes what generation actually does.
    """
    rows = []
    for n in resolutions:
        for b in batch_sizes:
            solver = VorticitySolver(n=n, nu=1e-3, forcing=fno_forcing, dt=1e-3, scheme=scheme, device=device)
            w_hat = solver.prepare(gaussian_random_field(n, list(range(b))))
            with deterministic_fft(solver.device):
                w_hat, _ = solver.step(w_hat)  # warm-up (plans, allocations)
                if solver.device.type == "cuda":
                    torch.cuda.synchronize(solver.device)
                start = time.perf_counter()
                for _ in range(steps):
                    w_hat, speed = solver.step(w_hat)
                    solver.check(w_hat, speed, 0.0, None)  # generation checks every step too
                if solver.device.type == "cuda":
                    torch.cuda.synchronize(solver.device)
                sec = time.perf_counter() - start
            rows.append(dict(resolution=n, batch=b, scheme=scheme, device=str(solver.device),
                             steps_per_s=steps / sec, cell_updates_per_s=b * n * n * steps / sec))
    return rows


# What the tests assert (tests/test_navier_stokes.py) and the data chapter reports: one place, so the
# book's "test asserts" column cannot drift from the tests. Bounds hold at the tests' sizes (32²).
TOLERANCES = {
    "taylor_green_ifrk4": 1e-12,  # max relative error, exact up to round-off
    "taylor_green_cn": 1e-5,  # CN–Euler, dt = 0.05
    "cn_error_ratio": (4.0, 0.05),  # error(dt)/error(dt/2): 2nd order on the linear part, ±5 %
    "order_ifrk4": (4.0, 0.3),
    "order_cn": (1.0, 0.2),
    "refinement": 1e-3,  # halving dt and doubling n at ν = 1e-3
    "mean_vorticity": 1e-13,  # max |⟨ω⟩| / max(1, rms ω)
    "laminar_drift": 1e-10,
    "advection_rate": 1e-10,  # max |advection enstrophy rate| / max |dissipation rate|
    "budget_residual": 1e-4,
}


def within(name: str, value: float) -> bool:
    tol = TOLERANCES[name]
    if isinstance(tol, tuple):
        target, spread = tol
        return abs(value - target) <= spread * (target if name == "cn_error_ratio" else 1.0)
    return value < tol


def checks(tg: dict, tg_half: dict, conv: Sequence[dict], refine: dict, mean: dict, laminar: dict,
           budgets: Sequence[dict]) -> list[dict]:
    """The validation summary table: measured value, what the test asserts, whether it holds.

    Arguments are results of the functions above: taylor_green per scheme ({"ifrk4": …, "cn-euler": …}),
    the CN run at dt/2, time_convergence for (ifrk4, cn-euler), refinement, mean_vorticity,
    laminar_kolmogorov and several enstrophy_budget runs.
    """
    measured = {
        "taylor_green_ifrk4": ("Taylor–Green, ifrk4: max relative error", tg["ifrk4"]["max_rel_error"]),
        "taylor_green_cn": (f"Taylor–Green, cn-euler (dt = {tg['cn-euler']['dt']:g}): max relative error",
                            tg["cn-euler"]["max_rel_error"]),
        "cn_error_ratio": ("Taylor–Green, cn-euler: error ratio dt → dt/2",
                           tg["cn-euler"]["max_rel_error"] / tg_half["max_rel_error"]),
        "order_ifrk4": ("time convergence, ifrk4: observed order", conv[0]["order"]),
        "order_cn": ("time convergence, cn-euler: observed order", conv[1]["order"]),
        "refinement": (f"refinement (dt/2, 2n), ν = {refine['nu']:g}: relative change", refine["rel_change"]),
        "mean_vorticity": ("mean vorticity: max |⟨ω⟩| / max(1, rms ω)", mean["max_abs_mean"] / max(1.0, mean["rms"])),
        "laminar_drift": ("laminar Kolmogorov: max relative drift", laminar["max_drift"]),
        "advection_rate": ("enstrophy: max |advection rate| / max |dissipation rate|",
                           max(b["max_advection_rate"] for b in budgets)),
        "budget_residual": ("enstrophy: budget residual / ∫|dissipation| dt", max(b["budget_residual"] for b in budgets)),
    }
    rows = []
    for name, (label, value) in measured.items():
        tol = TOLERANCES[name]
        bound = f"{tol[0]:g} ± {tol[1]:g}" + (" (relative)" if name == "cn_error_ratio" else "") if isinstance(tol, tuple) else f"< {tol:g}"
        rows.append({"check": label, "measured": float(value), "test asserts": bound, "passes": within(name, float(value))})
    return rows
