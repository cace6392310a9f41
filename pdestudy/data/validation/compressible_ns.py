"""Validation experiments for the compressible Navier–Stokes solver, shared by the tests and the data chapter.

* `exact_riemann`: Toro's exact Riemann solver (ch. 4) for the Euler equations, star pressure by
  scipy's Brent root finder, sampled on x/t;
* `sod`: the Sod shock tube on a quasi-1-D strip (one cell across) of a *doubled periodic* domain
  [0, 2): the left state fills x < 0.5 and x > 1.5, the right state the middle, so the periodic solver
  sees two mirror-image Riemann problems whose waves do not reach [0, 1] before t = 0.2;
* `isentropic_vortex`: a smooth, exact, inviscid solution (a vortex advected by a uniform flow) on a
  periodic box, for the observed order of convergence;
* `conservation`: totals of mass, momentum and energy over a run of a dataset's initial conditions;
* `throughput`: cell updates per second of the solver on this machine.

Each returns plain numbers and arrays; the tolerances are in `TOLERANCES`, read by the tests and the book.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from scipy.optimize import brentq

from ...utils import get_device
from ..compressible_ns import (
    CompressibleSolver,
    conserved,
    initial_state,
    primitive,
)
from ..registry import get_spec
from ..solver_support import deterministic_fft
from .common import check_rows, rate_row, time_steps

SOD_LEFT = (1.0, 0.0, 1.0)  # (ρ, u, p), Toro's test 1
SOD_RIGHT = (0.125, 0.0, 0.1)


# ---------------------------------------------------------------------------------------- exact Riemann solver
def _pressure_function(p, rho, pk, c, gamma):
    """Toro's f_K(p) (4.6–4.7): the velocity jump across the left/right wave for star pressure p."""
    if p > pk:  # shock
        A, B = 2 / ((gamma + 1) * rho), (gamma - 1) / (gamma + 1) * pk
        return (p - pk) * math.sqrt(A / (p + B))
    return 2 * c / (gamma - 1) * ((p / pk) ** ((gamma - 1) / (2 * gamma)) - 1)  # rarefaction


def star_state(left, right, gamma: float) -> tuple[float, float]:
    """(p*, u*) of the Riemann problem (ρ, u, p)_L | (ρ, u, p)_R: root of f_L(p) + f_R(p) + u_R − u_L = 0."""
    (rL, uL, pL), (rR, uR, pR) = left, right
    cL, cR = math.sqrt(gamma * pL / rL), math.sqrt(gamma * pR / rR)
    if 2 * (cL + cR) / (gamma - 1) <= uR - uL:
        raise ValueError("the Riemann data generate a vacuum; the exact solver here does not handle it")
    f = lambda p: _pressure_function(p, rL, pL, cL, gamma) + _pressure_function(p, rR, pR, cR, gamma) + uR - uL
    lo, hi = 1e-14 * min(pL, pR), max(pL, pR)
    while f(hi) < 0:  # f increases with p: widen the bracket until it changes sign
        hi *= 2
    p_star = brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps, maxiter=200)
    u_star = 0.5 * (uL + uR) + 0.5 * (_pressure_function(p_star, rR, pR, cR, gamma)
                                      - _pressure_function(p_star, rL, pL, cL, gamma))
    return p_star, u_star


def exact_riemann(left, right, gamma: float, x, t: float, x0: float = 0.0) -> dict:
    """The exact solution (ρ, u, p) at positions x and time t > 0 (Toro 4.5, sampling on S = (x − x0)/t)."""
    (rL, uL, pL), (rR, uR, pR) = left, right
    p_s, u_s = star_state(left, right, gamma)
    S = (np.asarray(x, dtype=float) - x0) / t
    g1, g2 = (gamma - 1) / (2 * gamma), (gamma + 1) / (2 * gamma)
    g6 = (gamma - 1) / (gamma + 1)
    rho, u, p = np.empty_like(S), np.empty_like(S), np.empty_like(S)

    def side(mask, rk, uk, pk, sign):
        # sign = −1: the left wave (moves at u − c); +1: the right wave. Mirror-symmetric formulas.
        ck = math.sqrt(gamma * pk / rk)
        if p_s > pk:  # shock
            speed = uk + sign * ck * math.sqrt(g2 * p_s / pk + g1)
            r_star = rk * (p_s / pk + g6) / (g6 * p_s / pk + 1)
            outside = mask & (sign * (S - speed) >= 0)
            star = mask & ~outside
            fan = np.zeros_like(mask)
        else:  # rarefaction
            c_star = ck * (p_s / pk) ** g1
            head, tail = uk + sign * ck, u_s + sign * c_star
            r_star = rk * (p_s / pk) ** (1 / gamma)
            outside = mask & (sign * (S - head) >= 0)
            star = mask & (sign * (S - tail) <= 0)
            fan = mask & ~outside & ~star
            base = 2 / (gamma + 1) - sign * g6 / ck * (uk - S[fan])
            rho[fan] = rk * base ** (2 / (gamma - 1))
            u[fan] = 2 / (gamma + 1) * (-sign * ck + (gamma - 1) / 2 * uk + S[fan])
            p[fan] = pk * base ** (2 * gamma / (gamma - 1))
        rho[outside], u[outside], p[outside] = rk, uk, pk
        rho[star], u[star], p[star] = r_star, u_s, p_s

    on_left = S <= u_s
    side(on_left, rL, uL, pL, -1)
    side(~on_left, rR, uR, pR, +1)
    return dict(density=rho, velocity=u, pressure=p, p_star=p_s, u_star=u_s)


# ---------------------------------------------------------------------------------------- Sod shock tube
def sod(n: int = 200, t_final: float = 0.2, gamma: float = 1.4, limiter: str = "mc", cfl: float = 0.4,
        eta: float = 0.0) -> dict:
    """The Sod tube on [0, 1] with n cells (a strip of 2n × 1 cells on the doubled periodic domain [0, 2)).

    Returns the numerical and exact (ρ, u, p) at the cell centres of [0, 1] and their L1 errors
    Σ|q − q_exact| dx. γ = 1.4 (Toro's test 1, with its published star state) unless asked otherwise.
    """
    solver = CompressibleSolver(nx=2 * n, ny=1, lx=2.0, ly=1.0 / n, gamma=gamma, eta=eta, zeta=eta, cfl=cfl,
                                limiter=limiter, device="cpu", name="sod")
    x = (np.arange(2 * n) + 0.5) / n
    inside = (x > 0.5) & (x < 1.5)
    W0 = np.empty((1, 4, 1, 2 * n))
    for k, (a, b) in enumerate(zip((SOD_LEFT[0], SOD_LEFT[1], 0.0, SOD_LEFT[2]),
                                   (SOD_RIGHT[0], SOD_RIGHT[1], 0.0, SOD_RIGHT[2]), strict=True)):
        W0[0, k, 0] = np.where(inside, b, a)
    with deterministic_fft(solver.device):
        W = solver.run(W0, [0.0, t_final])[0, -1, :, 0].numpy()
    keep = x < 1.0
    xs = x[keep]
    exact = exact_riemann(SOD_LEFT, SOD_RIGHT, gamma, xs, t_final, x0=0.5)
    num = dict(density=W[0, keep], velocity=W[1, keep], pressure=W[3, keep])
    l1 = {k: float(np.abs(num[k] - exact[k]).sum() / n) for k in num}
    return dict(x=xs, numerical=num, exact=exact, l1=l1, n=n, t_final=t_final, gamma=gamma, limiter=limiter,
                states=(SOD_LEFT, SOD_RIGHT),
                steps=int(solver.steps[0]), max_transverse_velocity=float(np.abs(W[2]).max()))


# ---------------------------------------------------------------------------------------- isentropic vortex
def _vortex_conserved(x, y, t, gamma, beta, length, background):
    """Exact conserved state of the advected isentropic vortex at points (x, y) and time t."""
    u0, v0 = background
    xc = (length / 2 + u0 * t) % length
    yc = (length / 2 + v0 * t) % length
    dx = (x - xc + length / 2) % length - length / 2  # nearest periodic image
    dy = (y - yc + length / 2) % length - length / 2
    r2 = dx * dx + dy * dy
    bump = np.exp(0.5 * (1 - r2))
    u = u0 - beta / (2 * math.pi) * bump * dy
    v = v0 + beta / (2 * math.pi) * bump * dx
    T = 1 - (gamma - 1) * beta**2 / (8 * gamma * math.pi**2) * bump**2
    rho = T ** (1 / (gamma - 1))
    p = rho * T
    return np.stack([rho, rho * u, rho * v, p / (gamma - 1) + 0.5 * rho * (u * u + v * v)])


def vortex_cell_averages(n: int, t: float, gamma: float = 5 / 3, beta: float = 5.0, length: float = 10.0,
                         background=(1.0, 1.0), points: int = 3) -> np.ndarray:
    """Cell averages (4, n, n) of the conserved vortex state by tensor Gauss–Legendre quadrature."""
    nodes, weights = np.polynomial.legendre.leggauss(points)
    h = length / n
    centres = (np.arange(n) + 0.5) * h
    total = np.zeros((4, n, n))
    for a, wa in zip(nodes, weights, strict=True):
        for b, wb in zip(nodes, weights, strict=True):
            y = (centres + 0.5 * h * a)[:, None]
            x = (centres + 0.5 * h * b)[None, :]
            total += 0.25 * wa * wb * _vortex_conserved(x, y, t, gamma, beta, length, background)
    return total


def isentropic_vortex(resolutions: Sequence[int] = (32, 64, 128), t_final: float = 1.0, gamma: float = 5 / 3,
                      beta: float = 5.0, limiter: str = "mc", cfl: float = 0.4) -> dict:
    """Errors of the density cell averages at t_final against the exact advected vortex, per grid, and orders.

    The vortex (Shu's, strength β = 5, on the periodic box [0, 10)², carried by the flow (1, 1)) is
    smooth, so a second-order scheme should show order 2 in L1; in L∞ the limiter clips the slopes
    at the extrema of the smooth profile (the density minimum at the vortex centre), where the
    reconstruction drops to first order, so the L∞ order is expected below 2.
    """
    length = 10.0
    l1, linf, steps = [], [], []
    for n in resolutions:
        solver = CompressibleSolver(nx=n, lx=length, gamma=gamma, cfl=cfl, limiter=limiter, device="cpu", name="vortex")
        U0 = torch.tensor(vortex_cell_averages(n, 0.0, gamma, beta, length))[None]
        with deterministic_fft(solver.device):
            W = solver.run(primitive(U0, gamma), [0.0, t_final])[:, -1]
        rho = conserved(W, gamma)[0, 0].numpy()
        exact = vortex_cell_averages(n, t_final, gamma, beta, length)[0]
        err = np.abs(rho - exact)
        l1.append(float(err.mean() * length**2)), linf.append(float(err.max())), steps.append(int(solver.steps[0]))
    h = length / np.asarray(resolutions, dtype=float)
    order_l1 = float(np.polyfit(np.log(h), np.log(l1), 1)[0])
    order_linf = float(np.polyfit(np.log(h), np.log(linf), 1)[0])
    return dict(resolutions=np.asarray(resolutions), l1=np.array(l1), linf=np.array(linf), order_l1=order_l1,
                order_linf=order_linf, steps=np.array(steps), limiter=limiter, t_final=t_final)


# ---------------------------------------------------------------------------------------- conservation
def totals(W: torch.Tensor | np.ndarray, gamma: float, cell_area: float) -> np.ndarray:
    """Domain totals of (mass, x-momentum, y-momentum, energy) of primitive states (…, 4, ny, nx)."""
    U = conserved(torch.as_tensor(W, dtype=torch.float64).reshape(-1, *W.shape[-3:]), gamma)
    return (U.sum(dim=(-2, -1)) * cell_area).reshape(*W.shape[:-3], 4).numpy()


def conservation(dataset: str = "cns_rand_m1_eta1e-8", n: int = 32, t_final: float = 0.5, seeds: Sequence[int] = (0, 1),
                 eta: float | None = None, frames: int = 11) -> dict:
    """Run a dataset's initial conditions on n² (optionally with another η = ζ) and track the totals.

    Relative drift of each total: max_t |Q(t) − Q(0)| / Σ_cells |q(0)| dA (the scale of the
    round-off; momentum totals start near zero, so we do not divide by them).
    """
    spec = get_spec(dataset, "smoke")
    p = dict(spec.params)
    if eta is not None:
        p.update(eta=eta, zeta=eta)
    solver = CompressibleSolver(nx=n, gamma=p["gamma"], eta=p["eta"], zeta=p["zeta"], cfl=p["cfl"],
                                limiter=p["limiter"], device="cpu", name=dataset)
    W0 = np.stack([initial_state(p, n, s) for s in seeds])
    times = np.linspace(0.0, t_final, frames)
    with deterministic_fft(solver.device):
        W = solver.run(W0, times).numpy()  # (B, T, 4, n, n)
    area = 1.0 / n**2
    Q = totals(W, p["gamma"], area)  # (B, T, 4)
    scale = np.abs(conserved(torch.tensor(W[:, 0]), p["gamma"]).numpy()).sum(axis=(-2, -1)) * area  # (B, 4)
    drift = np.abs(Q - Q[:, :1]) / scale[:, None, :]
    names = ("mass", "x-momentum", "y-momentum", "energy")
    return dict(times=times, totals=Q, drift=drift, max_drift={k: float(drift[..., i].max()) for i, k in enumerate(names)},
                dataset=dataset, eta=p["eta"], n=n, steps=solver.steps.copy(),
                kinetic=0.5 * (W[:, :, 0] * (W[:, :, 1] ** 2 + W[:, :, 2] ** 2)).mean(axis=(-2, -1)))


# ---------------------------------------------------------------------------------------- throughput
def _timed_step(solver: CompressibleSolver, U: torch.Tensor, t: torch.Tensor, ids: list[int]) -> torch.Tensor:
    """What one step of `CompressibleSolver.run` does: primitives, checks, CFL step, SSP-RK2 update."""
    W = primitive(U, solver.gamma)
    solver.check(W, t, ids)
    return solver.step(U, solver.stable_dt(W), W, t, ids)


def throughput(resolutions: Sequence[int] = (32, 64, 128), batch_sizes: Sequence[int] = (1, 8), steps: int = 10,
               dataset: str = "cns_rand_m1_eta1e-8", device: str = "auto") -> list[dict]:
    """Cell updates per second (cells × steps / s) of the SSP-RK2 step, including the per-step checks.

    Timed on one torch thread (inside `deterministic_fft`), as dataset generation runs.
    """
    rows = []
    dev = get_device(device)
    for n in resolutions:
        spec = get_spec(dataset, "smoke")
        p = spec.params
        for b in batch_sizes:
            solver = CompressibleSolver(nx=n, gamma=p["gamma"], eta=p["eta"], zeta=p["zeta"], cfl=p["cfl"],
                                        limiter=p["limiter"], device=dev, name=dataset)
            W = torch.tensor(np.stack([initial_state(p, n, s) for s in range(b)]), device=dev)
            U = conserved(W, solver.gamma)
            t = torch.zeros(b, dtype=torch.float64, device=dev)
            ids = list(range(b))
            sec = time_steps(lambda U: _timed_step(solver, U, t, ids), U, steps, dev)
            rows.append(rate_row(b * n * n, steps, sec, resolution=n, batch=b, scheme="MUSCL–HLLC–SSP-RK2",
                                 device=str(dev)))
    return rows


# ---------------------------------------------------------------------------------------- tolerances and checks
# One place for what the tests assert and the chapter reports. Sizes: the functions' defaults.
TOLERANCES = {
    # Exact solver vs Toro's published star state of test 1 (p* = 0.30313, u* = 0.92745, 5 digits given)
    "sod_exact_star": 1e-5,
    # L1 errors of MUSCL–HLLC at 200 cells on [0, 1], t = 0.2: dominated by the smeared contact and shock
    # (a few cells wide, first order there). Measured 2.5e-3, 4.6e-3, 1.7e-3 (deterministic); bounds ~1.5× that,
    # below what the minmod limiter gives (4.2e-3 for ρ) and far below a first-order scheme
    "sod_l1_density": 4e-3,
    "sod_l1_velocity": 7e-3,
    "sod_l1_pressure": 2.5e-3,
    # A second-order scheme on a smooth solution: L1 order 2, minus a little for the limiter clipping at the
    # vortex centre (a second-order scheme whose limiter clips only there stays well above 1.7)
    "vortex_order_l1": 1.7,
    # Finite-volume fluxes telescope: totals change by round-off only (measured ~2e-16, a few ε; the bound
    # is ~50 ε); any non-conservative term would show at the 1e-4 level
    "mass_drift": 1e-14,
    "momentum_drift": 1e-14,
    "energy_drift": 1e-14,
}


def within(name: str, value: float) -> bool:
    """Lower bound for the convergence order, upper bound for everything else."""
    tol = TOLERANCES[name]
    return value >= tol if name.startswith("vortex_order") else value < tol


def checks(star_error: float, sod_result: dict, vortex: dict, conservation_runs: Sequence[dict]) -> list[dict]:
    """The chapter's validation table: measured values against `TOLERANCES`."""
    drift = lambda k: max(r["max_drift"][k] for r in conservation_runs)
    measured = {
        "sod_exact_star": ("exact Riemann solver: |(p*, u*) − Toro's test 1|", star_error),
        "sod_l1_density": (f"Sod, {sod_result['n']} cells: L1 error of ρ", sod_result["l1"]["density"]),
        "sod_l1_velocity": (f"Sod, {sod_result['n']} cells: L1 error of u", sod_result["l1"]["velocity"]),
        "sod_l1_pressure": (f"Sod, {sod_result['n']} cells: L1 error of p", sod_result["l1"]["pressure"]),
        "momentum_drift": ("conservation: max relative drift of momentum", max(drift("x-momentum"), drift("y-momentum"))),
        "mass_drift": ("conservation: max relative drift of mass", drift("mass")),
        "energy_drift": ("conservation: max relative drift of energy", drift("energy")),
    }
    rows = check_rows(measured, TOLERANCES)
    # the order is a lower bound, which check_rows does not express: one row by hand
    rows.append({"check": f"isentropic vortex ({vortex['limiter']}): observed L1 order", "measured": vortex["order_l1"],
                 "test asserts": f"≥ {TOLERANCES['vortex_order_l1']:g}", "passes": within("vortex_order_l1", vortex["order_l1"])})
    return rows


def toro_star_error(gamma: float = 1.4) -> float:
    """Largest deviation of our exact (p*, u*) from Toro's table 4.3, test 1: p* = 0.30313, u* = 0.92745."""
    p_s, u_s = star_state(SOD_LEFT, SOD_RIGHT, gamma)
    return max(abs(p_s - 0.30313), abs(u_s - 0.92745))
