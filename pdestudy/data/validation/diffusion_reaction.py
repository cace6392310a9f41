"""Validation experiments for the diffusion–reaction solver, shared by the tests and the data chapter.

Each function runs a small experiment (32² unless asked otherwise, seconds) and returns plain
numbers and arrays. Three exact facts of the discrete system, and the time-stepper's order:

* without reaction, the spatial mean is conserved to round-off (the flux-form Laplacian with
  zero wall fluxes sums to zero);
* a Neumann cosine mode cos(πmx(x+1)/2) cos(πmy(y+1)/2) is an eigenvector of the discrete
  Laplacian, so under pure diffusion it keeps its shape and decays as exp(D λ t) with the
  discrete eigenvalue λ (in closed form); what remains is RK4's error, of order dt⁴;
* a uniform state has a zero Laplacian, so it follows the reaction ODE, which we compare with
  `scipy.integrate.solve_ivp` at tight tolerance.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.integrate import solve_ivp

from ..diffusion_reaction import (
    DiffusionReactionSolver,
    cell_centres,
    initial_condition,
    neumann_eigenvalue,
)
from .common import check_rows, rate_row, time_steps


def mean_conservation(n: int = 32, t_final: float = 1.0, dt: float = 0.01, seeds: Sequence[int] = (0, 1, 2)) -> dict:
    """Pure diffusion (reaction off) from N(0, 1) noise: the largest change of the spatial means of u and v."""
    solver = DiffusionReactionSolver(n=n, dt=dt, reaction=False, device="cpu")
    u0, v0 = initial_condition(n, seeds)
    steps = round(t_final / dt)
    times = np.arange(0, steps + 1, max(1, steps // 20)) * dt
    u, v = solver.run(u0, v0, times)
    drift = torch.stack([(w.mean(dim=(-2, -1)) - w[:, :1].mean(dim=(-2, -1))).abs() for w in (u, v)])
    return dict(times=times, drift_u=drift[0].amax(0).numpy(), drift_v=drift[1].amax(0).numpy(),
                max_drift=float(drift.max()), n=n, dt=dt)


def cosine_mode(n: int = 32, mode: tuple[int, int] = (3, 2), D: float = 5e-3, t_final: float = 2.0,
                dt: float = 0.01) -> dict:
    """A Neumann cosine mode under pure diffusion: measured amplitude vs the discrete and continuous decay.

    Returns the amplitude over time, exp(D λ_h t) with the discrete eigenvalue λ_h, exp(D λ t) with
    the continuous one λ = −(π/2)²(mx² + my²), the max relative field error against the discrete
    solution (RK4's error only), against RK4's own amplification R(D λ_h dt)^steps relative to the
    initial size (round-off only),
    and the relative gap between λ_h and λ (the O(dx²) space error).
    """
    mx, my = mode
    solver = DiffusionReactionSolver(n=n, dt=dt, Du=D, Dv=D, reaction=False, device="cpu")
    x = cell_centres(n)
    shape = np.cos(np.pi * my * (x[:, None] + 1) / 2) * np.cos(np.pi * mx * (x[None, :] + 1) / 2)
    lam_h = neumann_eigenvalue(mx, n, solver.dx) + neumann_eigenvalue(my, n, solver.dx)
    lam = -(np.pi / 2) ** 2 * (mx**2 + my**2)
    steps = round(t_final / dt)
    times = np.arange(0, steps + 1, max(1, steps // 50)) * dt
    u, _ = solver.run(shape[None], shape[None], times)
    u = u[0].numpy()
    amplitude = (u * shape).sum(axis=(-2, -1)) / (shape * shape).sum()
    exact = np.exp(D * lam_h * times)
    z = D * lam_h * dt  # RK4 multiplies the mode by its stability polynomial R(z) each step
    exact_rk4 = (1 + z + z**2 / 2 + z**3 / 6 + z**4 / 24) ** np.round(times / dt)

    def residual(reference):
        return np.linalg.norm((u - reference[:, None, None] * shape).reshape(len(times), -1), axis=1)

    norm = np.linalg.norm(shape)
    return dict(times=times, amplitude=amplitude, exact_discrete=exact, exact_continuous=np.exp(D * lam * times),
                exact_rk4=exact_rk4, max_rel_error=float((residual(exact) / (exact * norm)).max()),
                # round-off is relative to the initial size: a fast mode decays to 1e-5 of it, where the
                # rounding of the first steps dominates any relative comparison with the current size
                max_rel_error_rk4=float(residual(exact_rk4).max() / norm),
                eigenvalue_discrete=lam_h, eigenvalue_continuous=lam,
                eigenvalue_gap=abs(lam_h / lam - 1), n=n, dt=dt, mode=mode, D=D)


def _order(dts, errors) -> float:
    return float(np.polyfit(np.log(dts), np.log(errors), 1)[0])


def cosine_time_convergence(n: int = 32, mode: tuple[int, int] = (12, 12), D: float = 5e-3, t_final: float = 1.0,
                            dts: Sequence[float] = (0.04, 0.02, 0.01, 0.005)) -> dict:
    """RK4's order on a fast cosine mode: error against the exact discrete decay exp(D λ_h t) at t_final.

    A high mode (|D λ_h dt| up to ≈ 1) keeps RK4's error far above round-off at every dt.
    """
    errors = np.array([cosine_mode(n, mode, D, t_final, dt)["max_rel_error"] for dt in dts])
    return dict(dts=np.array(dts), errors=errors, order=_order(dts, errors), scheme="rk4 (cosine mode)")


def time_convergence(n: int = 32, t_final: float = 0.5, dts: Sequence[float] = (0.01, 0.005, 0.0025, 0.00125),
                     seeds: Sequence[int] = (0,)) -> dict:
    """The full nonlinear problem from N(0, 1) noise: error at t_final against dt = min(dts)/8, per dt.

    The grid-scale noise makes the first instants stiff (|D λ dt| and |1 − 3u²| dt up to ≈ 0.4 at
    dt = 0.01): at larger dt the observed order is above 4 (pre-asymptotic), so we use small steps.
    """
    u0, v0 = initial_condition(n, seeds)

    def run(dt):
        u, v = DiffusionReactionSolver(n=n, dt=dt, device="cpu").run(u0, v0, [0.0, t_final])
        return torch.cat([u[:, -1], v[:, -1]])

    ref = run(min(dts) / 8)
    errors = np.array([float((run(dt) - ref).norm() / ref.norm()) for dt in dts])
    return dict(dts=np.array(dts), errors=errors, order=_order(dts, errors), scheme="rk4 (nonlinear)")


def reaction_ode(state: tuple[float, float] = (2.0, -1.0), n: int = 8, t_final: float = 5.0, dt: float = 0.01,
                 k: float = 5e-3) -> dict:
    """A uniform state follows u' = u − u³ − k − v, v' = u − v: the solver vs solve_ivp (DOP853, rtol 1e-12).

    Returns both solutions at every step of 0.05, the max absolute error, and the largest spread
    max − min over the grid (the Laplacian of a uniform field is exactly zero, so it stays uniform).
    """
    u0, v0 = state
    solver = DiffusionReactionSolver(n=n, dt=dt, k=k, device="cpu")
    times = np.arange(0, round(t_final / 0.05) + 1) * 0.05
    u, v = solver.run(np.full((1, n, n), u0), np.full((1, n, n), v0), times)
    u, v = u[0].numpy(), v[0].numpy()

    def f(_, y):
        return [y[0] - y[0] ** 3 - k - y[1], y[0] - y[1]]

    ref = solve_ivp(f, (0.0, t_final), [u0, v0], method="DOP853", t_eval=times, rtol=1e-12, atol=1e-14)
    mean_u, mean_v = u.mean(axis=(-2, -1)), v.mean(axis=(-2, -1))
    error = np.maximum(np.abs(mean_u - ref.y[0]), np.abs(mean_v - ref.y[1]))
    spread = max(float(np.ptp(u.reshape(len(times), -1), axis=1).max()), float(np.ptp(v.reshape(len(times), -1), axis=1).max()))
    return dict(times=times, u=mean_u, v=mean_v, u_ref=ref.y[0], v_ref=ref.y[1], error=error,
                max_error=float(error.max()), spread=spread, state=state, dt=dt)


def throughput(resolutions: Sequence[int] = (32, 64, 128), batch_sizes: Sequence[int] = (1, 32), steps: int = 20,
               dt: float = 0.002, device: str = "auto") -> list[dict]:
    """RK4 steps per second and cell updates per second (cells × steps / s) measured here, with the
    per-step stability check that generation runs too, in the same single-threaded context."""
    rows = []
    for n in resolutions:
        for b in batch_sizes:
            solver = DiffusionReactionSolver(n=n, dt=dt, device=device)
            u0, v0 = initial_condition(n, list(range(b)))
            u = torch.as_tensor(u0, device=solver.device)
            v = torch.as_tensor(v0, device=solver.device)
            def step(state, solver=solver):
                u, v = solver.step(*state)
                solver.check(u, v, 0.0, None)  # generation checks every step too
                return u, v

            sec = time_steps(step, (u, v), steps, solver.device)
            rows.append(rate_row(b * n * n, steps, sec, resolution=n, batch=b, scheme="rk4", device=str(solver.device)))
    return rows


# What tests/test_diffusion_reaction.py asserts and the chapter reports (sizes: the functions' defaults).
TOLERANCES = {
    # |Δ mean| over t ≤ 1 from N(0, 1) noise: each step adds O(1e-16) rounding per cell, averaged over n² cells
    "mean_conservation": 1e-13,
    # cosine mode (3, 2) at dt = 0.01 vs exp(D λ_h t): RK4's error, (D λ_h dt)⁵/120 ≈ 3e-16 a step, so round-off
    "cosine_mode": 1e-12,
    # any cosine mode vs RK4's amplification polynomial R(D λ_h dt)^steps: the discrete answer, round-off
    "cosine_mode_rk4": 1e-12,
    # RK4 is 4th order; on the pure-diffusion mode the error is exactly the Taylor remainder of exp
    "cosine_order": (4.0, 0.15),
    "nonlinear_order": (4.0, 0.3),
    # uniform state (2, −1) vs solve_ivp over t ≤ 5 at dt = 0.01: RK4's global error, not round-off
    # (the cubic is stiff at u = 2, ∂f/∂u = −11); the next check shows it is the O(dt⁴) truncation error
    "reaction_ode": 1e-7,
    "reaction_ode_ratio": (16.0, 1.0),  # error(dt) / error(dt/2) → 2⁴ for RK4
    # a uniform field stays uniform bitwise: its discrete Laplacian is exactly zero
    "uniform_spread": (0.0, 0.0),
}


def checks(mean: dict, cosine: dict, cosine_conv: dict, conv: dict, ode: dict, ode_half: dict) -> list[dict]:
    """The chapter's summary table: results of mean_conservation, cosine_mode, cosine_time_convergence,
    time_convergence and reaction_ode (at dt and dt/2) against TOLERANCES."""
    return check_rows({
        "mean_conservation": ("no reaction: max |Δ mean| of u, v", mean["max_drift"]),
        "cosine_mode": (f"cosine mode {cosine['mode']}: max relative error vs exp(D λ_h t), dt = {cosine['dt']:g}",
                        cosine["max_rel_error"]),
        "cosine_mode_rk4": ("cosine mode: max relative error vs RK4's R(D λ_h dt)^steps", cosine["max_rel_error_rk4"]),
        "cosine_order": ("cosine mode: observed RK4 order", cosine_conv["order"]),
        "nonlinear_order": ("nonlinear run from noise: observed RK4 order", conv["order"]),
        "reaction_ode": (f"uniform state {ode['state']} vs solve_ivp: max |error|", ode["max_error"]),
        "reaction_ode_ratio": (f"uniform state: error ratio dt = {ode['dt']:g} → {ode_half['dt']:g}",
                               ode["max_error"] / ode_half["max_error"]),
        "uniform_spread": ("uniform state: max spread over the grid", ode["spread"]),
    }, TOLERANCES)
