"""Validation experiments for the colliding-thermals solver, shared by the tests and the data chapter.

Each function runs a small experiment with `pdestudy.data.thermals.ThermalSolver` and returns
plain numbers and arrays; `TOLERANCES` (below) is what the tests assert and the book prints next
to the measured values. What is checked, and why it should hold:

* mass: periodic in x, no flux through the walls, a flux-form update → Σρ changes only by
  round-off; the same holds for Σ(ρθ)' (and Σρu);
* rest: the scheme evolves perturbations of a hydrostatic state whose pressure is subtracted with
  the same formula, so zero perturbations give exactly zero tendencies: a rest state stays at rest;
* symmetry: the centred collision is mirror-symmetric about x = 10 km, and the stencils are
  written so that mirror images round identically;
* refinement: errors against a finer-grid reference fall as the grid is refined; the observed
  rate is reported (formally 2nd order: dimension-by-dimension finite volumes with point values
  on faces and the alternating split are both 2nd order; the cos² bubbles are only C¹ at their edge).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..thermals import (
    C0,
    COLLISION,
    CP,
    CV,
    GAMMA,
    GRAV,
    P0,
    RD,
    ThermalSolver,
    time_step,
)
from .common import check_rows, rate_row, time_steps

CFL, MAX_SPEED = 1.5, 450.0


def solver(nx: int, frame_interval: float = 10.0, **kw) -> tuple[ThermalSolver, int]:
    """A 2:1 solver (nz = nx/2, square cells) with miniWeather's step; returns (solver, steps per frame)."""
    nz = nx // 2
    dt, steps = time_step(20_000.0 / nx, 10_000.0 / nz, kw.pop("cfl", CFL), MAX_SPEED, frame_interval)
    return ThermalSolver(nx, nz, dt, **kw), steps


def collision(n: int = 1, **overrides) -> dict[str, np.ndarray]:
    """miniWeather's collision bubbles (±20 K, R = 2 km at (10, 2) and (10, 8) km) for n trajectories."""
    return {k: np.full(n, float(overrides.get(k, v))) for k, v in COLLISION.items()}


def _totals(s: ThermalSolver, q: np.ndarray) -> np.ndarray:
    """Σ over cells (× cell area) of full ρ, full ρθ and ρu: (B, 3)."""
    area = s.dx * s.dz
    return np.stack([(q[:, 0] + s.rho_cell).sum(axis=(1, 2)), (q[:, 3] + s.rt_cell).sum(axis=(1, 2)),
                     q[:, 1].sum(axis=(1, 2))], axis=1) * area


def conservation(nx: int = 64, t_final: float = 700.0, bubbles: dict | None = None) -> dict:
    """Total mass, Σρθ and Σρu every frame of a collision run: relative changes over the run.

    Σρu starts at zero, so its drift is reported relative to Σ ρ·max|u| at the end (a momentum scale).
    """
    s, steps = solver(nx)
    q = s.initial_state(bubbles or collision())
    n_frames = round(t_final / 10.0)
    totals = [_totals(s, q)]
    for _ in range(n_frames):
        for _ in range(steps):
            q = s.step(q)
        totals.append(_totals(s, q))
    totals = np.array(totals)[:, 0]  # (T, 3) of the first trajectory
    speed = np.abs(q[0, 1] / (q[0, 0] + s.rho_cell)).max()
    return dict(times=np.arange(n_frames + 1) * 10.0, mass=totals[:, 0], rho_theta=totals[:, 1], momentum_x=totals[:, 2],
                mass_change=float(np.abs(totals[:, 0] / totals[0, 0] - 1).max()),
                rho_theta_change=float(np.abs(totals[:, 1] / totals[0, 1] - 1).max()),
                momentum_change=float(np.abs(totals[:, 2]).max() / (totals[0, 0] * max(speed, 1e-300))), nx=nx)


def rest_state(nx: int = 64, t_final: float = 700.0) -> dict:
    """No bubbles: the hydrostatic state alone. Max |u|, |w| (m/s) and |ρ'| every frame."""
    s, steps = solver(nx)
    q = s.initial_state(collision(warm_amplitude=0.0, cold_amplitude=0.0))
    n_frames = round(t_final / 10.0)
    speeds, rho = [0.0], [0.0]
    for _ in range(n_frames):
        for _ in range(steps):
            q = s.step(q)
        f = s.fields(q)
        speeds.append(float(max(np.abs(f["vx"]).max(), np.abs(f["vy"]).max())))
        rho.append(float(np.abs(q[:, 0]).max()))
    return dict(times=np.arange(n_frames + 1) * 10.0, max_speed=np.array(speeds), max_rho_prime=np.array(rho),
                max_velocity=float(max(speeds)), nx=nx)


def mirror_asymmetry(fields: dict[str, np.ndarray], theta0: float = 300.0) -> dict[str, np.ndarray]:
    """max |f − P f| / max |f| per frame for each stored field, P the mirror x → L − x (u changes sign).

    θ and ρ are compared as departures from their horizontal means (θ − θ0 would hide nothing, but
    the mean row is the large part of ρ and would make the relative number meaninglessly small).
    """
    out = {}
    for name, f in fields.items():
        sign = -1.0 if name == "vx" else 1.0
        g = f - f.mean(axis=-1, keepdims=True) if name in ("density", "theta") else f
        diff = np.abs(g - sign * g[..., ::-1]).reshape(*g.shape[:-2], -1).max(axis=-1)
        scale = np.abs(g).reshape(*g.shape[:-2], -1).max(axis=-1)
        out[name] = diff / np.maximum(scale, 1e-300)
    return out


def symmetry(nx: int = 64, t_final: float = 700.0) -> dict:
    """The centred collision (both bubbles at x = 10 km): mirror asymmetry of every field over time."""
    s, steps = solver(nx)
    n_frames = round(t_final / 10.0) + 1
    out = s.run(s.initial_state(collision()), n_frames, steps)
    asym = mirror_asymmetry({k: v[0] for k, v in out.items()})
    return dict(times=np.arange(n_frames) * 10.0, asymmetry=asym,
                max_asymmetry=float(max(v.max() for v in asym.values())), nx=nx)


def _restrict(q: np.ndarray, factor: int) -> np.ndarray:
    """Cell averages of a finer grid on one `factor` times coarser (exact for finite volumes)."""
    b, v, nz, nx = q.shape
    return q.reshape(b, v, nz // factor, factor, nx // factor, factor).mean(axis=(3, 5))


def refinement(grids: Sequence[int] = (32, 64, 128), reference: int = 256, t_final: float = 50.0) -> dict:
    """Centred collision at t_final on each grid vs the `reference` grid's solution averaged onto it.

    Errors are relative L² norms of (ρθ)' (i.e. θ' weighted by ρ̄) and of ρw, the two fields the
    thermals are made of; `orders` are log2 of successive error ratios, `order_fit` the slope of a
    least-squares line through all grids.
    """
    def run(nx):
        s, steps = solver(nx, frame_interval=t_final)
        q = s.initial_state(collision())
        for _ in range(steps):
            q = s.step(q)
        return q

    ref = run(reference)
    names = {"rho_theta": 3, "w_momentum": 2}
    errors = {k: [] for k in names}
    for nx in grids:
        q, r = run(nx), _restrict(ref, reference // nx)
        for k, v in names.items():
            errors[k].append(float(np.sqrt(((q[:, v] - r[:, v]) ** 2).mean() / (r[:, v] ** 2).mean())))
    errors = {k: np.array(e) for k, e in errors.items()}
    h = 20_000.0 / np.array(grids)
    orders = {k: np.log2(e[:-1] / e[1:]) for k, e in errors.items()}
    fit = {k: float(np.polyfit(np.log(h), np.log(e), 1)[0]) for k, e in errors.items()}
    return dict(grids=np.array(grids), dx=h, reference=reference, t_final=t_final, errors=errors, orders=orders,
                order_fit=fit, finest_order=float(min(o[-1] for o in orders.values())),
                max_error_ratio=float(max((e[1:] / e[:-1]).max() for e in errors.values())))


def statistics(ds) -> dict:
    """Per (trajectory, time) statistics of a stored dataset: total mass, total energy, max |w|.

    Energy per unit length E = Σ ρ(½(u² + w²) + cv T + g z) dx dz, T = θ (p/p0)^(Rd/cp), p = C0 (ρθ)^γ,
    from the stored (float32) fields, so changes below ~1e-7 of the total are not resolved.
    """
    rho, theta = ds["density"].values.astype(np.float64), ds["theta"].values.astype(np.float64)
    u, w = ds["vx"].values.astype(np.float64), ds["vy"].values.astype(np.float64)
    z = ds["y"].values[:, None]
    dx = float(ds["x"].values[1] - ds["x"].values[0])
    dz = float(ds["y"].values[1] - ds["y"].values[0])
    p = C0 * (rho * theta) ** GAMMA
    temperature = theta * (p / P0) ** (RD / CP)
    kinetic = 0.5 * rho * (u**2 + w**2)
    energy = kinetic + rho * CV * temperature + rho * GRAV * z
    area = dx * dz
    return dict(times=ds["time"].values, mass=rho.sum(axis=(-2, -1)) * area, energy=energy.sum(axis=(-2, -1)) * area,
                kinetic=kinetic.sum(axis=(-2, -1)) * area, max_w=np.abs(w).max(axis=(-2, -1)),
                theta_prime_range=(theta.min(axis=(-2, -1)) - 300.0, theta.max(axis=(-2, -1)) - 300.0))


def throughput(resolutions: Sequence[int] = (64, 128, 256), batch_sizes: Sequence[int] = (1, 8), steps: int = 10) -> list[dict]:
    """Cell updates per second (cells × steps / s) of the solver measured here, checks included.

    A step is two sweeps × three RK stages; the check after each step is what generation does too.
    """
    rows = []
    for nx in resolutions:
        for b in batch_sizes:
            s, _ = solver(nx)
            q = s.initial_state(collision(b))
            def step(q, s=s, ids=list(range(b))):
                q = s.step(q)
                s.check(q, 0.0, ids)  # generation checks every step too
                return q

            sec = time_steps(step, q, steps)
            rows.append(rate_row(b * nx * (nx // 2), steps, sec, grid=f"{nx}×{nx // 2}", batch=b, device="cpu (numpy)"))
    return rows


# What the tests assert (tests/test_thermals.py) and the data chapter reports: one place.
TOLERANCES = {
    "mass": 1e-12,  # relative change of Σρ over 700 s: flux form, no boundary flux → round-off only
    "rho_theta": 1e-12,  # relative change of Σρθ: the same flux form
    "momentum_x": 1e-12,  # |Σρu| / (Σρ · max|u|): periodic x, no ρu flux through the walls
    "rest_velocity": 1e-12,  # m/s: the perturbation form keeps the background exactly at rest
    "symmetry": 1e-12,  # relative mirror asymmetry of the centred case (exact: mirror-symmetric stencils)
    "refinement_ratio": 0.5,  # each halving of dx at least halves the error (θ' and w, t = 50 s)
    "refinement_order": (2.0, 0.5),  # observed order on the finest pair: formally 2, pre-asymptotic here
}


def checks(cons: dict, rest: dict, sym: dict, refine: dict) -> list[dict]:
    """The validation summary table from conservation, rest_state, symmetry and refinement results."""
    measured = {
        "mass": (f"mass: max relative change over {cons['times'][-1]:g} s ({cons['nx']}×{cons['nx'] // 2})", cons["mass_change"]),
        "rho_theta": ("Σρθ: max relative change", cons["rho_theta_change"]),
        "momentum_x": ("Σρu: max |Σρu| / (Σρ·max|u|)", cons["momentum_change"]),
        "rest_velocity": (f"rest state: max |u|, |w| over {rest['times'][-1]:g} s (m/s)", rest["max_velocity"]),
        "symmetry": ("centred collision: max relative mirror asymmetry", sym["max_asymmetry"]),
        "refinement_ratio": ((f"refinement {'→'.join(map(str, refine['grids']))} vs {refine['reference']}: "
                              "largest error ratio per halving"), refine["max_error_ratio"]),
        "refinement_order": ("refinement: observed order, finest pair (min over θ', w)", refine["finest_order"]),
    }
    return check_rows(measured, TOLERANCES)
