"""2-D incompressible Navier–Stokes in a no-slip box with a passive scalar (PDEBench "inhomogeneous").

    ∂t u + (u·∇)u = −∇p + ν Δu + s F(x, y),      ∇·u = 0,
    ∂t s + u·∇s = κ Δs,                             (x, y) ∈ [0, 1]²

u = 0 on the walls (the top wall may move: u = (U_lid, 0) at y = 1), no scalar flux through them.
The scalar s ("particles") is a density that the flow carries; it also *drives* the flow: the body
force is s times a smooth random vector field F, fixed in time and drawn per trajectory. This is
the PDEBench inhomogeneous Navier–Stokes recipe (Takamoto et al. 2022, generated with PhiFlow):
ν = 0.01, random smooth initial velocity and particles, force = particles × random field.

Numerics (one solver; the lid-driven cavity is the configuration ``lid = 1, F = 0, s = 0``):

* **MAC grid.** n×n cells of side h = 1/n. u lives on the vertical faces (n, n+1), v on the
  horizontal faces (n+1, n), s and the pressure at the cell centres (n, n). Wall-normal velocities
  sit exactly on the walls and are zero; tangential no-slip enters through ghost values
  (u_ghost = 2 u_wall − u_inside) in the viscous term.
* **Momentum.** Advection in the divergence form ∂x(uu) + ∂y(vu) with second-order central
  interpolation (Harlow & Welch), explicit 5-point viscous term.
* **Projection** (Chorin; at every Runge–Kutta stage): solve L φ = ∇_h·u* and set u = u* − ∇_h φ.
  L is the cell-centred 5-point Laplacian with zero normal gradient (the wall-normal velocity is
  not corrected), which the type-II discrete cosine transform diagonalises exactly:
  eigenvalues −(4/h²)(sin²(πk/2n) + sin²(πl/2n)). So the pressure solve is a DCT, a division and an
  inverse DCT (`scipy.fft.dctn`), and ∇_h·u after projection is zero to round-off.
* **Scalar.** Finite-volume flux form ∂t s = −∇_h·(u s_face) with a MUSCL reconstruction limited
  by minmod (upwind-biased, TVD), plus κ Δ_h s with zero-flux walls. The fluxes telescope and
  vanish at the walls, so Σ s h² is conserved to round-off; with a discretely divergence-free
  velocity the limited scheme keeps s within its initial bounds (non-oscillatory, positive).
  We default to κ = 0 like PDEBench (which uses semi-Lagrangian advection and no scalar
  diffusion): the limiter's numerical diffusion, O(h²) in smooth regions and first order only at
  extrema, is what regularises the filaments the flow stretches.
* **Time.** Three-stage SSP Runge–Kutta (Shu–Osher), each stage projected. dt per trajectory
  from dt = min(cfl·h / max(|u| + |v|), d·h²/ν, d·h²/κ) with d = diffusion_number (explicit
  diffusion with RK3 is stable up to νdt/h² ≈ 0.31), shortened to land exactly on each frame.

Batching: every array has a leading batch axis and every trajectory has its own dt, time and
step count. A trajectory that has reached the next frame is frozen with `np.where` while the
others catch up, so its numbers never depend on the batch (the DCTs are done per trajectory).
Stored fields are at the cell centres: vx, vy by averaging the two faces of a cell, and s.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.fft
from tqdm.auto import tqdm

from .solver_support import SolverInstability

FIELDS = ("vx", "vy", "particles")


# ---------------------------------------------------------------------- the solver
@dataclass
class BoxFlow:
    """Projection solver for incompressible flow in the unit box with a passive, force-carrying scalar.

    Parameters
    ----------
    n: cells per side (the grid is n×n, h = 1/n).
    nu: kinematic viscosity ν > 0.
    kappa: scalar diffusivity κ ≥ 0.
    lid: tangential velocity of the top wall (1 for the lid-driven cavity, 0 for a closed box).
    cfl: target advective Courant number max(|u| + |v|)·dt/h of a step.
    diffusion_number: target ν dt/h² (and κ dt/h²) of a step.
    cfl_limit: a step whose Courant number, measured after the step, exceeds this is unstable.
    dt_max: the longest step allowed (a fluid at rest would otherwise take arbitrarily long ones).
    name: dataset name used in error messages.
    """

    n: int
    nu: float
    kappa: float = 0.0
    lid: float = 0.0
    cfl: float = 0.5
    diffusion_number: float = 0.25
    cfl_limit: float = 1.0
    dt_max: float = 0.1
    name: str = "incompressible_ns"

    def __post_init__(self):
        if int(self.n) != self.n or self.n < 4 or self.n % 2:
            raise ValueError(f"{self.name}: n (cells per side) must be an even integer ≥ 4, got {self.n}")
        if not self.nu > 0 or self.kappa < 0:
            raise ValueError(f"{self.name}: need viscosity nu > 0 and scalar diffusivity kappa ≥ 0, got nu={self.nu}, "
                             f"kappa={self.kappa}")
        if not (self.cfl > 0 and self.diffusion_number > 0 and self.dt_max > 0 and self.cfl_limit > 0):
            raise ValueError(f"{self.name}: cfl, diffusion_number, dt_max and cfl_limit must be positive, got "
                             f"cfl={self.cfl}, diffusion_number={self.diffusion_number}, dt_max={self.dt_max}, "
                             f"cfl_limit={self.cfl_limit}")
        n = self.n = int(self.n)
        self.h = 1.0 / n
        # eigenvalues of the Neumann Laplacian on cell centres in the DCT-II basis
        lam = -(4.0 / self.h**2) * np.sin(np.pi * np.arange(n) / (2 * n)) ** 2
        eig = lam[:, None] + lam[None, :]
        eig[0, 0] = 1.0  # the constant mode: its coefficient is set to zero below
        self.inv_eig = 1.0 / eig
        self.inv_eig[0, 0] = 0.0

    # ------------------------------------------------------------------ grid
    def centres(self) -> np.ndarray:
        return (np.arange(self.n) + 0.5) * self.h

    def faces(self) -> np.ndarray:
        return np.arange(self.n + 1) * self.h

    def zeros(self, batch: int):
        """(u, v, s) at rest with zero scalar: shapes (B, n, n+1), (B, n+1, n), (B, n, n)."""
        n = self.n
        return np.zeros((batch, n, n + 1)), np.zeros((batch, n + 1, n)), np.zeros((batch, n, n))

    # ------------------------------------------------------------------ operators
    def divergence(self, u, v):
        """Discrete divergence at the cell centres, (B, n, n)."""
        return (u[..., :, 1:] - u[..., :, :-1] + v[..., 1:, :] - v[..., :-1, :]) / self.h

    def solve_poisson(self, rhs):
        """φ with L φ = rhs (Neumann, zero mean), exact to round-off; one DCT pair per trajectory.

        Each trajectory is transformed on its own so that its numbers cannot depend on the batch
        (a batched transform may group lines of different trajectories into one SIMD pass).
        """
        out = np.empty_like(rhs)
        for b in range(rhs.shape[0]):
            c = scipy.fft.dctn(rhs[b], type=2, norm="ortho", workers=1)
            out[b] = scipy.fft.idctn(c * self.inv_eig, type=2, norm="ortho", workers=1)
        return out

    def project(self, u, v):
        """Remove the gradient part: returns a velocity whose discrete divergence is zero to round-off."""
        phi = self.solve_poisson(self.divergence(u, v))
        u, v = u.copy(), v.copy()
        u[..., :, 1:-1] -= (phi[..., :, 1:] - phi[..., :, :-1]) / self.h
        v[..., 1:-1, :] -= (phi[..., 1:, :] - phi[..., :-1, :]) / self.h
        return u, v

    def momentum_rate(self, u, v, s, force):
        """(∂t u, ∂t v) before projection: −∇·(u u) + ν Δu + s F on the interior faces (walls: 0)."""
        h, lid = self.h, self.lid
        B, n = u.shape[0], self.n
        # velocities at the cell corners (nodes, (n+1)×(n+1)); on the walls the wall values
        un = np.empty((B, n + 1, n + 1))
        un[:, 1:-1] = 0.5 * (u[:, 1:] + u[:, :-1])
        un[:, 0], un[:, -1] = 0.0, lid
        vn = np.empty((B, n + 1, n + 1))
        vn[:, :, 1:-1] = 0.5 * (v[:, :, 1:] + v[:, :, :-1])
        vn[:, :, 0] = vn[:, :, -1] = 0.0
        uv = un * vn  # flux of x-momentum through horizontal faces = flux of y-momentum through vertical ones
        uc = 0.5 * (u[:, :, 1:] + u[:, :, :-1])  # cell centres
        vc = 0.5 * (v[:, 1:, :] + v[:, :-1, :])
        du = np.zeros_like(u)
        dv = np.zeros_like(v)
        du[:, :, 1:-1] = -((uc[:, :, 1:] ** 2 - uc[:, :, :-1] ** 2) + (uv[:, 1:, 1:-1] - uv[:, :-1, 1:-1])) / h
        dv[:, 1:-1, :] = -((vc[:, 1:] ** 2 - vc[:, :-1] ** 2) + (uv[:, 1:-1, 1:] - uv[:, 1:-1, :-1])) / h
        # viscous term with no-slip ghosts: u_ghost = 2 u_wall − u_inside (u_wall = 0 below, lid above)
        ug = np.concatenate([-u[:, :1], u, 2 * lid - u[:, -1:]], axis=1)
        du[:, :, 1:-1] += self.nu / h**2 * (ug[:, 2:, 1:-1] + ug[:, :-2, 1:-1] - 4 * u[:, :, 1:-1]
                                            + u[:, :, 2:] + u[:, :, :-2])
        vg = np.concatenate([-v[:, :, :1], v, -v[:, :, -1:]], axis=2)
        dv[:, 1:-1, :] += self.nu / h**2 * (vg[:, 1:-1, 2:] + vg[:, 1:-1, :-2] - 4 * v[:, 1:-1, :]
                                            + v[:, 2:, :] + v[:, :-2, :])
        if force is not None:  # f = s F, with s averaged onto the faces
            fx, fy = force
            du[:, :, 1:-1] += 0.5 * (s[:, :, 1:] + s[:, :, :-1]) * fx[:, :, 1:-1]
            dv[:, 1:-1, :] += 0.5 * (s[:, 1:, :] + s[:, :-1, :]) * fy[:, 1:-1, :]
        return du, dv

    def scalar_rate(self, u, v, s):
        """∂t s = −∇·(u s) + κ Δs in flux form: MUSCL–minmod face values, zero flux through the walls."""
        h = self.h
        fx = np.zeros_like(u)
        fy = np.zeros_like(v)
        fx[:, :, 1:-1] = u[:, :, 1:-1] * _upwind_face(s, u[:, :, 1:-1], axis=2)
        fy[:, 1:-1, :] = v[:, 1:-1, :] * _upwind_face(s, v[:, 1:-1, :], axis=1)
        if self.kappa > 0:
            fx[:, :, 1:-1] -= self.kappa * (s[:, :, 1:] - s[:, :, :-1]) / h
            fy[:, 1:-1, :] -= self.kappa * (s[:, 1:, :] - s[:, :-1, :]) / h
        return -(fx[:, :, 1:] - fx[:, :, :-1] + fy[:, 1:, :] - fy[:, :-1, :]) / h

    # ------------------------------------------------------------------ time stepping
    def step(self, u, v, s, dt, force=None):
        """One SSP-RK3 step of length dt (B,) per trajectory, projected at every stage."""
        d = np.asarray(dt, dtype=np.float64)[:, None, None]

        def euler(u, v, s):
            du, dv = self.momentum_rate(u, v, s, force)
            ds = self.scalar_rate(u, v, s)
            un, vn = self.project(u + d * du, v + d * dv)
            return un, vn, s + d * ds

        u1, v1, s1 = euler(u, v, s)
        u2, v2, s2 = euler(u1, v1, s1)
        u2, v2, s2 = 0.75 * u + 0.25 * u2, 0.75 * v + 0.25 * v2, 0.75 * s + 0.25 * s2
        u3, v3, s3 = euler(u2, v2, s2)
        return u / 3 + 2 / 3 * u3, v / 3 + 2 / 3 * v3, s / 3 + 2 / 3 * s3

    def speed_sum(self, u, v):
        """max over cells of (largest |u| on its two x-faces + largest |v| on its two y-faces), per trajectory.

        It bounds the Courant number of every flux out of every cell, which is what the scalar's
        non-oscillatory update needs: Σ outflow·dt/h ≤ cfl for each cell.
        """
        au, av = np.abs(u), np.abs(v)
        return (np.maximum(au[:, :, 1:], au[:, :, :-1]) + np.maximum(av[:, 1:, :], av[:, :-1, :])).max(axis=(1, 2))

    def stable_dt(self, u, v):
        """The step each trajectory may take from its own state: advective and diffusive limits."""
        h = self.h
        diff = self.diffusion_number * h**2 / max(self.nu, self.kappa)
        speed = np.maximum(self.speed_sum(u, v), abs(self.lid))
        with np.errstate(divide="ignore"):
            adv = np.where(speed > 0, self.cfl * h / speed, np.inf)
        return np.minimum(np.minimum(adv, diff), self.dt_max)

    def check(self, u, v, s, dt, t, trajectory_ids, s_bounds=None):
        """Raise SolverInstability naming the trajectory and time if a step went wrong."""
        finite = np.isfinite(u).all(axis=(1, 2)) & np.isfinite(v).all(axis=(1, 2)) & np.isfinite(s).all(axis=(1, 2))
        with np.errstate(invalid="ignore", over="ignore"):
            cfl = np.where(finite, self.speed_sum(np.nan_to_num(u), np.nan_to_num(v)) * dt / self.h, np.inf)
        bad = ~finite | (cfl > self.cfl_limit)
        why = [""] * len(dt)
        if s_bounds is not None:  # the limited scheme keeps s within its initial range: leaving it means trouble
            lo, hi = s_bounds
            slack = 1e-9 * (hi - lo) + 1e-12 * np.maximum(np.abs(lo), np.abs(hi))  # round-off, not a real overshoot
            out = finite & ((s.min(axis=(1, 2)) < lo - slack) | (s.max(axis=(1, 2)) > hi + slack))
            for i in np.nonzero(out & ~bad)[0]:
                why[i] = f"scalar left its initial range [{lo[i]:.3g}, {hi[i]:.3g}]"
            bad |= out
        if bad.any():
            i = int(np.nonzero(bad)[0][0])
            traj = trajectory_ids[i] if trajectory_ids is not None else i
            cause = ("non-finite values" if not finite[i] else
                     f"Courant number {cfl[i]:.2f} > {self.cfl_limit}" if cfl[i] > self.cfl_limit else why[i])
            raise SolverInstability(
                f"{self.name}: trajectory {traj} became unstable at t = {float(t[i]):.4g} ({cause}; dt = {float(dt[i]):.3g}, "
                f"n = {self.n}, cfl = {self.cfl}). Lower cfl or dt_max, or raise the resolution.")

    def run(self, u, v, s, frame_times: Sequence[float], force=None, trajectory_ids=None, progress=False,
            on_frame=None):
        """Integrate each trajectory to every frame time, landing on it exactly.

        Returns the step counts per trajectory; `on_frame(k, u, v, s)` receives the state at frame k
        (frame 0 is the initial state when frame_times[0] == 0). Trajectories are independent:
        each has its own dt and clock, and one that has reached the frame waits (frozen) for the
        others.
        """
        times = [float(t) for t in frame_times]
        if any(b <= a for a, b in zip(times, times[1:])) or (times and times[0] < 0):
            raise ValueError(f"{self.name}: frame times must be non-negative and increasing")
        B = u.shape[0]
        t = np.zeros(B)
        steps = np.zeros(B, dtype=np.int64)
        s_bounds = (s.min(axis=(1, 2)), s.max(axis=(1, 2)))  # a discrete maximum principle holds for s
        bar = tqdm(total=len(times), disable=not progress, desc=self.name, unit="frame", leave=False)
        for k, target in enumerate(times):
            while True:
                active = t < target
                if not active.any():
                    break
                dt = self.stable_dt(u, v)
                remaining = target - t
                # land exactly on the frame; split a last step that would be much shorter than dt
                dt = np.where(remaining <= dt * (1 + 1e-9), remaining,
                              np.where(remaining < 2 * dt, 0.5 * remaining, dt))
                dt = np.where(active, dt, 0.0)
                un, vn, sn = self.step(u, v, s, dt, force)
                m = active[:, None, None]
                u, v, s = np.where(m, un, u), np.where(m, vn, v), np.where(m, sn, s)
                t = np.where(active, np.where(remaining <= dt * (1 + 1e-9), target, t + dt), t)
                steps += active
                self.check(u, v, s, np.where(active, dt, 0.0), t, trajectory_ids, s_bounds)
            if on_frame is not None:
                on_frame(k, u, v, s)
            bar.update(1)
        bar.close()
        return steps


def _upwind_face(s, vel, axis: int):
    """Face values of s on the interior faces along `axis`, reconstructed from the upwind cell.

    MUSCL: s_face = s_c ± ½ minmod(slopes), using the cell on the side the velocity comes from.
    The wall cells get zero slope (a zero-gradient ghost, which minmod would turn into zero anyway).
    """
    s, vel = np.moveaxis(s, axis, -1), np.moveaxis(vel, axis, -1)  # views: work along the last axis
    d = s[..., 1:] - s[..., :-1]  # s_{i+1} − s_i
    a, b = d[..., :-1], d[..., 1:]
    half = np.zeros_like(s)
    # ½ minmod(a, b) = ½ (max(0, min(a, b)) + min(0, max(a, b))): zero at extrema, the smaller slope elsewhere
    half[..., 1:-1] = 0.5 * (np.maximum(np.minimum(a, b), 0.0) + np.minimum(np.maximum(a, b), 0.0))
    from_low = s[..., :-1] + half[..., :-1]  # face between cells i and i+1 as seen from cell i
    from_high = s[..., 1:] - half[..., 1:]
    return np.moveaxis(np.where(vel > 0, from_low, from_high), -1, axis)


# ---------------------------------------------------------------------- random fields in the box
def cosine_field(rng: np.random.Generator, modes: int, alpha: float, y, x) -> np.ndarray:
    """A smooth Gaussian random field on [0, 1]²: Σ_{k,l ≤ modes} a_kl (1 + k² + l²)^(−α/2) cos πkx cos πly.

    a_kl ~ N(0, 1) from `rng`; (k, l) = (0, 0) is left out (zero mean). The cosine basis has zero
    normal derivative on the walls, the natural basis for a field in a closed box. Evaluated at
    y (ny,), x (nx,); returns (ny, nx).
    """
    k = np.arange(modes + 1)
    a = rng.standard_normal((modes + 1, modes + 1)) * (1.0 + k[:, None] ** 2 + k[None, :] ** 2) ** (-alpha / 2)
    a[0, 0] = 0.0
    cy = np.cos(np.pi * np.asarray(y)[:, None] * k[None, :])  # (ny, modes+1)
    cx = np.cos(np.pi * np.asarray(x)[:, None] * k[None, :])
    return cy @ a @ cx.T


def _window(z):
    # sin²(πz): vanishes with its derivative on both walls, so ψ·window gives zero wall velocity.
    # Set exactly zero on the walls (sin π is 1e-16, not 0), so the wall-normal velocity is exactly 0.
    w = np.sin(np.pi * z) ** 2
    return np.where((z <= 0) | (z >= 1), 0.0, w)


def initial_state(solver: BoxFlow, seed: int, p: dict):
    """Initial (u, v, s) and force (fx, fy) of one trajectory, all from `np.random.default_rng(seed)`.

    * velocity from a stream function ψ = g(x, y)·sin²(πx) sin²(πy) on the nodes, g a cosine random
      field: u = ∂yψ, v = −∂xψ as node differences, so ∇_h·u = 0 exactly and u = 0 on the walls;
      scaled to the rms speed `velocity_rms`;
    * particles s = exp(σ g₂)/mean, a log-normal density with mean 1 (positive, like a density);
    * force F = force_amplitude · (g₃, g₄)/rms, a smooth random vector field of `force_modes` modes.
    """
    rng = np.random.default_rng(int(seed))
    n, h = solver.n, solver.h
    nodes, centres = solver.faces(), solver.centres()
    psi = cosine_field(rng, p["ic_modes"], p["ic_alpha"], nodes, nodes) * _window(nodes)[:, None] * _window(nodes)[None, :]
    u = np.zeros((n, n + 1))
    v = np.zeros((n + 1, n))
    u[:, :] = (psi[1:, :] - psi[:-1, :]) / h
    v[:, :] = -(psi[:, 1:] - psi[:, :-1]) / h
    rms = math.sqrt(np.mean(u**2) + np.mean(v**2))  # rms speed
    if rms > 0:
        u, v = u * (p["velocity_rms"] / rms), v * (p["velocity_rms"] / rms)
    g = cosine_field(rng, p["ic_modes"], p["ic_alpha"], centres, centres)
    g /= max(g.std(), 1e-300)
    s = np.exp(p["particle_contrast"] * g)
    s /= s.mean()
    # force components on their own faces: fx at (y centres, x faces), fy at (y faces, x centres)
    fx = cosine_field(rng, p["force_modes"], p["force_alpha"], centres, nodes)
    fy = cosine_field(rng, p["force_modes"], p["force_alpha"], nodes, centres)
    frms = math.sqrt((np.mean(fx**2) + np.mean(fy**2)) / 2)
    fx, fy = fx * (p["force_amplitude"] / frms), fy * (p["force_amplitude"] / frms)
    return u, v, s, fx, fy


# ---------------------------------------------------------------------- dataset generation
REQUIRED = ("nu", "kappa", "lid_velocity", "t_final", "frame_interval", "cfl", "diffusion_number", "velocity_rms",
            "particle_contrast", "force_amplitude", "force_modes", "force_alpha", "ic_modes", "ic_alpha")


def _check_params(spec) -> dict:
    p = spec.params
    missing = [k for k in REQUIRED if k not in p]
    if missing:
        raise ValueError(f"{spec.name}: spec.params lacks {missing}")
    if p.get("length", 1.0) != 1.0:
        raise ValueError(f"{spec.name}: the box is the unit square; length must be 1, got {p['length']}")
    count = p["t_final"] / p["frame_interval"]
    if not (p["t_final"] > 0 and p["frame_interval"] > 0) or abs(count - round(count)) > 1e-9:
        raise ValueError(f"{spec.name}: t_final ({p['t_final']}) must be a positive multiple of frame_interval "
                         f"({p['frame_interval']})")
    for k in ("force_modes", "ic_modes"):
        if int(p[k]) != p[k] or p[k] < 1:
            raise ValueError(f"{spec.name}: {k} must be an integer ≥ 1, got {p[k]}")
    return p


def make_solver(spec) -> BoxFlow:
    p = _check_params(spec)
    return BoxFlow(n=spec.resolution, nu=p["nu"], kappa=p["kappa"], lid=p["lid_velocity"], cfl=p["cfl"],
                   diffusion_number=p["diffusion_number"], dt_max=p["frame_interval"], name=spec.name)


def frame_times(params: dict) -> np.ndarray:
    count = round(params["t_final"] / params["frame_interval"])
    return np.arange(count + 1) * params["frame_interval"]


def coordinates(spec) -> dict:
    centres = (np.arange(spec.resolution) + 0.5) / spec.resolution
    return {"time": frame_times(spec.params), "y": centres, "x": centres}


def to_centres(u, v):
    """Face velocities → cell-centre (vx, vy), the stored fields."""
    return 0.5 * (u[..., :, 1:] + u[..., :, :-1]), 0.5 * (v[..., 1:, :] + v[..., :-1, :])


def simulate(spec, seeds, trajectory_ids, device="auto", progress=False) -> dict:
    """{vx, vy, particles}: (B, T, n, n) float64 at the cell centres; `device` is ignored (numpy)."""
    solver = make_solver(spec)
    p = spec.params
    states = [initial_state(solver, seed, p) for seed in seeds]
    u, v, s, fx, fy = (np.stack(a) for a in zip(*states))
    times = frame_times(p)
    B, n = len(seeds), solver.n
    out = {k: np.empty((B, len(times), n, n)) for k in FIELDS}

    def store(k, u, v, s):
        out["vx"][:, k], out["vy"][:, k] = to_centres(u, v)
        out["particles"][:, k] = s

    solver.run(u, v, s, times, force=(fx, fy), trajectory_ids=list(trajectory_ids), progress=progress, on_frame=store)
    return out


def batch_size(spec) -> int:
    # one batch for small grids (vectorised numpy); fewer trajectories at a time on big ones to bound memory
    return max(1, min(spec.n_trajectories, 2**17 // spec.resolution**2))


def describe_solver(spec) -> str:
    p = spec.params
    return (f"projection method on a MAC grid ({spec.resolution}², cell-centred output), DCT-II pressure solve "
            f"(exact), central 2nd-order momentum advection, MUSCL-minmod scalar flux, SSP-RK3 with projection per "
            f"stage, per-trajectory dt (cfl {p['cfl']}, diffusion number {p['diffusion_number']}), float64 numpy")
