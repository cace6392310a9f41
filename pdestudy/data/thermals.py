"""Colliding thermals: 2-D dry compressible Euler in x–z, the miniWeather "collision" case.

MATEY (arXiv 2412.20601) fine-tunes on this system. The model is miniWeather's (M. Norman, ORNL;
written here from its documentation and equations, not its code): the compressible Euler equations
for a dry ideal gas under gravity, written for perturbations from a hydrostatic background,

    ∂t ρ'      + ∂x(ρu)       + ∂z(ρw)            = 0
    ∂t (ρu)    + ∂x(ρu² + p)  + ∂z(ρuw)           = 0
    ∂t (ρw)    + ∂x(ρuw)      + ∂z(ρw² + p')      = −ρ' g
    ∂t (ρθ)'   + ∂x(ρuθ)      + ∂z(ρwθ)           = 0,        p = C0 (ρθ)^γ,

with ρ = ρ̄(z) + ρ', ρθ = ρ̄θ̄(z) + (ρθ)', p' = p − p̄(z), θ the potential temperature and
C0 = Rd^γ p0^(−Rd/cv) (so that p = ρ Rd T). The background has constant θ̄ = θ0 = 300 K and is in
hydrostatic balance, dp̄/dz = −ρ̄ g: its Exner pressure falls linearly, π̄(z) = 1 − g z/(cp θ0),
p̄ = p0 π̄^(cp/Rd). Subtracting it analytically (the ∂z p̄ + ρ̄ g terms cancel and are never
computed) is why a state at rest stays at rest to the last bit: the perturbations are zero and
every flux difference is exactly zero.

Domain [0, 20 km) × [0, 10 km]: periodic in x, solid walls at z = 0 and 10 km. The walls reflect:
two ghost rows mirror the first two interior rows (ρ', ρu, (ρθ)' even, ρw odd), so the
reconstructed ρw at a wall is exactly zero and the mass, ρu and (ρθ)' fluxes through it vanish
(the walls are no-flux and free-slip). miniWeather instead copies the boundary row into its ghosts
(w = 0 there) and damps (ρθ) and ρu through the walls by hyper-viscosity; we keep the reflecting
form (solid top and bottom), so total mass, ρu and (ρθ)' are conserved exactly.

Numerics (miniWeather's):

* finite volumes on nx × nz square cells, cell averages; the initial state and the background
  cell averages by 3×3-point Gauss–Legendre quadrature;
* interface values by the 4th-order 4-point reconstruction q = (−q₋₂ + 7q₋₁ + 7q₀ − q₁)/12, and a
  hyper-viscous flux K·d3 with d3 = −q₋₂ + 3q₋₁ − 3q₀ + q₁ (≈ Δ³ ∂³q) and K = hv_beta·Δ/(16 dt_s),
  dt_s the Runge–Kutta stage's step (so each stage damps the grid-scale mode by a fixed fraction,
  like miniWeather's hv_beta = 0.05);
* dimensional splitting: each step does an x sweep and a z sweep, each a full low-storage RK3
  (q₁ = q + dt/3·L(q), q₂ = q + dt/2·L(q₁), q ← q + dt·L(q₂)), the order alternating every step
  (x then z, z then x, …) so the splitting error cancels to second order;
* dt = cfl·min(dx, dz)/max_speed with cfl = 1.5, max_speed = 450 m/s (miniWeather's), lowered just
  enough that a whole number of steps fits into the 10 s frame interval (so frames are exact).

The collision case: a warm (+20 K) and a cold (−20 K) potential-temperature bubble
θ' = A cos²(π d/2) for d = |x − x_c|/R ≤ 1 (else 0), radius R = 2 km, centred at (10 km, 2 km) and
(10 km, 8 km), ρ' = u = w = 0 (so (ρθ)' = ρ̄ θ' and the bubbles start with a pressure excess or
deficit, which launches sound waves, exactly as in miniWeather). Each trajectory draws its
amplitudes, centres and radii from modest ranges around those values (`trajectory_parameters`).

Stored fields (index order [z, x], z upwards): `density` (full ρ, kg m⁻³), `theta` (full θ, K),
`vx` (u) and `vy` (w, m s⁻¹) at cell centres, every 10 s to 700 s. Everything is float64 numpy,
vectorised over the batch; every operation is elementwise per trajectory, so a trajectory's numbers
do not depend on the batch it is solved in. The stencils are written in mirror-symmetric form
(7(b + c) − (a + d)), so a case symmetric about x = 10 km stays symmetric to the last bit.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from tqdm.auto import tqdm

from .solver_support import SolverInstability

# physical constants of miniWeather (SI units)
GRAV = 9.8
CP = 1004.0
CV = 717.0
RD = 287.0
P0 = 1.0e5
GAMMA = CP / CV
C0 = RD**GAMMA * P0 ** (-RD / CV)  # p = C0 (ρθ)^γ

# 3-point Gauss–Legendre on [−½, ½] (offsets in cells) and its weights (sum 1)
GL_OFFSETS = np.array([-math.sqrt(3 / 5) / 2, 0.0, math.sqrt(3 / 5) / 2])
GL_WEIGHTS = np.array([5 / 18, 8 / 18, 5 / 18])

FIELDS = ("density", "theta", "vx", "vy")
BUBBLE_KEYS = ("warm_amplitude", "warm_x", "warm_z", "warm_radius",
               "cold_amplitude", "cold_x", "cold_z", "cold_radius")
# miniWeather's collision case (K, m)
COLLISION = dict(warm_amplitude=20.0, warm_x=10_000.0, warm_z=2_000.0, warm_radius=2_000.0,
                 cold_amplitude=-20.0, cold_x=10_000.0, cold_z=8_000.0, cold_radius=2_000.0)


def hydrostatic(z, theta0: float = 300.0):
    """(ρ̄, ρ̄θ̄, p̄) of the constant-θ background at heights z (Exner pressure linear in z)."""
    exner = 1.0 - GRAV * np.asarray(z, dtype=np.float64) / (CP * theta0)
    if np.any(exner <= 0):
        raise ValueError(f"the θ0 = {theta0:g} K background has no atmosphere above z = {CP * theta0 / GRAV:g} m")
    p = P0 * exner ** (CP / RD)
    rt = (p / C0) ** (1.0 / GAMMA)
    return rt / theta0, rt, p


def time_step(dx: float, dz: float, cfl: float, max_speed: float, frame_interval: float) -> tuple[float, int]:
    """(dt, steps per frame): the largest dt ≤ cfl·min(dx, dz)/max_speed that divides the frame interval."""
    dt_max = cfl * min(dx, dz) / max_speed
    steps = max(1, math.ceil(frame_interval / dt_max - 1e-9))  # 1e-9: 10/(1/6) must give 60, not 61
    return frame_interval / steps, steps


def _stencil(a, b, c, d):
    """Interface value (4th order) and third difference from the four cells a, b | c, d around it.

    Written as 7(b + c) − (a + d) and (d − a) + 3(b − c): a mirror image of the stencil gives the
    same value and the exact negative third difference, bit for bit (floating-point + commutes).
    """
    return (7.0 * (b + c) - (a + d)) / 12.0, (d - a) + 3.0 * (b - c)


class ThermalSolver:
    """miniWeather's finite-volume solver on an nx × nz grid, batched over trajectories.

    The state is an array (B, 4, nz, nx) of cell averages (ρ', ρu, ρw, (ρθ)'); use `initial_state`
    to build one, `step` to advance it, `fields` for the stored variables and `run` for frames.
    """

    def __init__(self, nx: int, nz: int, dt: float, xlen: float = 20_000.0, zlen: float = 10_000.0,
                 hv_beta: float = 0.05, theta0: float = 300.0, max_speed: float = 450.0, name: str = "thermals"):
        for label, n in (("nx", nx), ("nz", nz)):
            if not isinstance(n, (int, np.integer)) or n < 4:
                raise ValueError(f"{label} must be an integer ≥ 4 (the reconstruction stencil spans 4 cells), got {n!r}")
        for label, v in (("dt", dt), ("xlen", xlen), ("zlen", zlen), ("theta0", theta0), ("max_speed", max_speed)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise ValueError(f"{label} must be a positive finite number, got {v!r}")
        if not (math.isfinite(hv_beta) and hv_beta >= 0):
            raise ValueError(f"hv_beta must be ≥ 0, got {hv_beta!r}")
        self.nx, self.nz, self.dt = int(nx), int(nz), float(dt)
        self.xlen, self.zlen, self.hv_beta, self.theta0 = float(xlen), float(zlen), float(hv_beta), float(theta0)
        self.max_speed, self.name = float(max_speed), name
        self.dx, self.dz = self.xlen / self.nx, self.zlen / self.nz
        self.x = (np.arange(self.nx) + 0.5) * self.dx
        self.z = (np.arange(self.nz) + 0.5) * self.dz
        # background: cell averages (Gauss–Legendre in z) and point values at the nz + 1 interfaces
        zq = self.z[:, None] + GL_OFFSETS[None, :] * self.dz
        rho_q, rt_q, _ = hydrostatic(zq, self.theta0)
        self.rho_cell = (rho_q * GL_WEIGHTS).sum(axis=1)[:, None]  # (nz, 1): broadcasts over x
        self.rt_cell = (rt_q * GL_WEIGHTS).sum(axis=1)[:, None]
        rho_i, rt_i, _ = hydrostatic(np.arange(self.nz + 1) * self.dz, self.theta0)
        self.rho_int, self.rt_int = rho_i[:, None], rt_i[:, None]
        self.p_int = C0 * self.rt_int**GAMMA  # p̄ from the same formula as p, so p' = 0 exactly at rest
        self.steps = 0  # steps taken: the sweep order alternates with its parity

    # ------------------------------------------------------------------ initial condition
    def initial_state(self, bubbles: dict[str, Sequence[float]]) -> np.ndarray:
        """Cell averages of the collision state: two cos² θ' bubbles, ρ' = u = w = 0.

        `bubbles` holds arrays (B,) under `BUBBLE_KEYS` (amplitudes in K, positions and radii in m).
        Averages use 3×3 Gauss–Legendre points; the symmetric points are summed in pairs so that a
        bubble centred on the domain's middle gives an exactly mirror-symmetric field.
        """
        b = {k: np.asarray(bubbles[k], dtype=np.float64).reshape(-1) for k in BUBBLE_KEYS}
        n = len(b["warm_amplitude"])
        if any(len(v) != n for v in b.values()):
            raise ValueError(f"bubble parameters must all have the same length, got {[len(v) for v in b.values()]}")
        for side in ("warm", "cold"):
            if np.any(b[f"{side}_radius"] <= 0):
                raise ValueError(f"{side}_radius must be positive, got {b[f'{side}_radius']}")
        rho_q, _, _ = hydrostatic(self.z[:, None] + GL_OFFSETS[None, :] * self.dz, self.theta0)  # (nz, 3)
        rt = np.zeros((n, self.nz, self.nx))
        for qz in range(3):
            z = self.z + GL_OFFSETS[qz] * self.dz  # (nz,)
            # ±offset in x summed first (the same weight): a mirror-symmetric quadrature sum
            row = (GL_WEIGHTS[0] * (self._theta_prime(b, GL_OFFSETS[0], z) + self._theta_prime(b, GL_OFFSETS[2], z))
                   + GL_WEIGHTS[1] * self._theta_prime(b, 0.0, z))
            rt += GL_WEIGHTS[qz] * rho_q[None, :, qz, None] * row
        q = np.zeros((n, 4, self.nz, self.nx))
        q[:, 3] = rt
        return q

    def _theta_prime(self, b: dict[str, np.ndarray], offset: float, z: np.ndarray) -> np.ndarray:
        """θ' (B, nz, nx) of both bubbles at the points x_i + offset·dx (offset in cells), heights z."""
        th = np.zeros((len(b["warm_amplitude"]), self.nz, self.nx))
        for side in ("warm", "cold"):
            # distance from the centre first, then the quadrature offset: exact mirror images for a
            # centre on a cell face (x − x_c = ±(i + ½ − i_c)·dx ± offset·dx)
            xr = ((np.arange(self.nx) + 0.5) * self.dx)[None, None, :] - b[f"{side}_x"][:, None, None]
            xr = xr + offset * self.dx
            zr = z[None, :, None] - b[f"{side}_z"][:, None, None]
            rad = b[f"{side}_radius"][:, None, None]
            d = np.sqrt((xr / rad) ** 2 + (zr / rad) ** 2)
            th += np.where(d <= 1.0, b[f"{side}_amplitude"][:, None, None] * np.cos(0.5 * math.pi * d) ** 2, 0.0)
        return th

    # ------------------------------------------------------------------ tendencies
    def tendency_x(self, q: np.ndarray, dt_stage: float) -> np.ndarray:
        """−∂x F of the x fluxes (periodic): 4th-order interface values plus hyper-viscosity."""
        nx = self.nx
        pad = np.concatenate([q[..., -2:], q, q[..., :1]], axis=-1)  # pad[j] = q[j − 2]
        # interface i − ½ (i = 0 … nx−1) sits between cells i − 1 and i
        vals, d3 = _stencil(pad[..., 0:nx], pad[..., 1:nx + 1], pad[..., 2:nx + 2], pad[..., 3:nx + 3])
        rho = vals[:, 0] + self.rho_cell
        mu, mw = vals[:, 1], vals[:, 2]
        rt = vals[:, 3] + self.rt_cell
        u = mu / rho
        p = C0 * rt**GAMMA  # the full pressure: p̄ is constant along x, so its differences vanish exactly
        k = self.hv_beta * self.dx / (16.0 * dt_stage)
        flux = np.stack([mu, mu * u + p, mw * u, u * rt], axis=1) + k * d3
        flux = np.concatenate([flux, flux[..., :1]], axis=-1)  # periodic: the face at x = L is the face at 0
        return -(flux[..., 1:] - flux[..., :-1]) / self.dx

    def _ghost_z(self, q: np.ndarray) -> np.ndarray:
        """Two reflecting ghost rows at each wall: mirror images, ρw with its sign flipped."""
        sign = np.array([1.0, 1.0, -1.0, 1.0])[None, :, None, None]
        below = q[:, :, 1::-1] * sign  # rows (1, 0) mirrored into ghost rows (−2, −1)
        above = q[:, :, :-3:-1] * sign  # rows (nz−1, nz−2) into (nz, nz+1)
        return np.concatenate([below, q, above], axis=2)

    def tendency_z(self, q: np.ndarray, dt_stage: float) -> np.ndarray:
        """−∂z G of the z fluxes (reflecting walls) and the buoyancy −ρ' g on ρw."""
        nz = self.nz
        pad = self._ghost_z(q)  # pad[j] = q[j − 2]
        # interface k (k = 0 … nz) sits between cells k − 1 and k; k = 0 and nz are the walls
        vals, d3 = _stencil(pad[:, :, 0:nz + 1], pad[:, :, 1:nz + 2], pad[:, :, 2:nz + 3], pad[:, :, 3:nz + 4])
        rho = vals[:, 0] + self.rho_int
        mu, mw = vals[:, 1], vals[:, 2]
        mw[:, [0, -1]] = 0.0  # no flow through the walls (already exactly 0 from the odd ghosts)
        rt = vals[:, 3] + self.rt_int
        w = mw / rho
        p_prime = C0 * rt**GAMMA - self.p_int  # exactly 0 where the state is the background
        k = self.hv_beta * self.dz / (16.0 * dt_stage)
        flux = np.stack([mw, w * mu, mw * w + p_prime, w * rt], axis=1) + k * d3
        tend = -(flux[:, :, 1:] - flux[:, :, :-1]) / self.dz
        tend[:, 2] -= q[:, 0] * GRAV
        return tend

    # ------------------------------------------------------------------ time stepping
    def _rk3(self, q: np.ndarray, tendency) -> np.ndarray:
        dt = self.dt
        q1 = q + dt / 3 * tendency(q, dt / 3)
        q2 = q + dt / 2 * tendency(q1, dt / 2)
        return q + dt * tendency(q2, dt)

    def step(self, q: np.ndarray) -> np.ndarray:
        """One split step: x then z on even steps, z then x on odd ones (miniWeather's alternation)."""
        sweeps = (self.tendency_x, self.tendency_z) if self.steps % 2 == 0 else (self.tendency_z, self.tendency_x)
        for tendency in sweeps:
            q = self._rk3(q, tendency)
        self.steps += 1
        return q

    # ------------------------------------------------------------------ diagnostics
    def fields(self, q: np.ndarray) -> dict[str, np.ndarray]:
        """The stored variables: full density and potential temperature, the velocities u and w."""
        rho = q[:, 0] + self.rho_cell
        return dict(density=rho, theta=(q[:, 3] + self.rt_cell) / rho, vx=q[:, 1] / rho, vy=q[:, 2] / rho)

    def signal_speed(self, q: np.ndarray) -> np.ndarray:
        """max over the grid of max(|u|, |w|) + c per trajectory, c = √(γ p/ρ) the sound speed."""
        rho = q[:, 0] + self.rho_cell
        p = C0 * np.abs(q[:, 3] + self.rt_cell) ** GAMMA
        c = np.sqrt(GAMMA * p / np.abs(rho))
        return (np.maximum(np.abs(q[:, 1]), np.abs(q[:, 2])) / np.abs(rho) + c).reshape(len(q), -1).max(axis=1)

    def check(self, q: np.ndarray, t: float, trajectory_ids: Sequence[int]) -> None:
        """Raise SolverInstability naming the first bad trajectory: non-finite values, ρ ≤ 0 or ρθ ≤ 0,
        or a signal speed above max_speed (the speed dt was sized for, so the step's CFL is broken)."""
        finite = np.isfinite(q).reshape(len(q), -1).all(axis=1)
        rho_min = (q[:, 0] + self.rho_cell).reshape(len(q), -1).min(axis=1)
        rt_min = (q[:, 3] + self.rt_cell).reshape(len(q), -1).min(axis=1)
        speed = np.where(finite, self.signal_speed(np.where(finite[:, None, None, None], q, 0.0)), np.inf)
        for b, tid in enumerate(trajectory_ids):
            cause = None
            if not finite[b]:
                cause = "non-finite values"
            elif rho_min[b] <= 0 or rt_min[b] <= 0:
                cause = f"non-positive density or ρθ (min ρ = {rho_min[b]:.3g}, min ρθ = {rt_min[b]:.3g})"
            elif speed[b] > self.max_speed:
                cause = (f"signal speed max(|u|, |w|) + c = {speed[b]:.1f} m/s exceeds max_speed = {self.max_speed:g} m/s "
                         f"(CFL number {speed[b] * self.dt / min(self.dx, self.dz):.2f} at dt = {self.dt:g} s)")
            if cause:
                raise SolverInstability(f"{self.name}: trajectory {tid} became unstable at t = {t:g} s "
                                        f"(step {self.steps}, dt = {self.dt:g} s, {self.nx}×{self.nz}): {cause}")

    def run(self, q: np.ndarray, n_frames: int, steps_per_frame: int, trajectory_ids: Sequence[int] | None = None,
            progress: bool = False) -> dict[str, np.ndarray]:
        """Frames 0 … n_frames − 1, `steps_per_frame` steps apart: {field: (B, n_frames, nz, nx)}.

        Checks the state after every step (a blow-up is caught where it starts, never stored).
        """
        ids = list(range(len(q))) if trajectory_ids is None else list(trajectory_ids)
        out = {k: np.empty((len(q), n_frames, self.nz, self.nx)) for k in FIELDS}
        self.steps = 0
        for k, v in self.fields(q).items():
            out[k][:, 0] = v
        for frame in tqdm(range(1, n_frames), desc=f"{self.name} {ids[0]}–{ids[-1]}", leave=False,
                          disable=not progress):
            for _ in range(steps_per_frame):
                q = self.step(q)
                self.check(q, self.steps * self.dt, ids)
            for k, v in self.fields(q).items():
                out[k][:, frame] = v
        return out


# ---------------------------------------------------------------------- the dataset interface
def _validate(spec) -> dict:
    p = spec.params
    nx, nz = spec.resolution, p.get("ny")
    if not isinstance(nz, int) or nz < 4:
        raise ValueError(f"{spec.name}: params['ny'] (cells in z) must be an integer ≥ 4, got {nz!r}")
    if not isinstance(nx, int) or nx < 4:
        raise ValueError(f"{spec.name}: resolution (cells in x) must be an integer ≥ 4, got {nx!r}")
    if not math.isclose(p["xlen"] / nx, p["zlen"] / nz, rel_tol=1e-12):
        raise ValueError(f"{spec.name}: cells must be square (xlen/nx = zlen/ny), got {p['xlen'] / nx:g} m × "
                         f"{p['zlen'] / nz:g} m for {nx}×{nz}")
    for key in ("cfl", "max_speed", "frame_interval", "t_final", "hv_beta", "theta0"):
        v = p[key]
        if not (isinstance(v, (int, float)) and math.isfinite(v) and (v > 0 or (key == "hv_beta" and v == 0))):
            raise ValueError(f"{spec.name}: params['{key}'] must be a positive number, got {v!r}")
    frames = p["t_final"] / p["frame_interval"]
    if abs(frames - round(frames)) > 1e-9:
        raise ValueError(f"{spec.name}: t_final = {p['t_final']:g} is not a whole number of frame intervals "
                         f"({p['frame_interval']:g} s)")
    for key in ("amplitude_range", "x_range", "warm_z_range", "cold_z_range", "radius_range"):
        lo, hi = p[key]
        if not lo <= hi:
            raise ValueError(f"{spec.name}: params['{key}'] = {p[key]} is not an interval [low, high]")
    if p["radius_range"][0] <= 0 or p["amplitude_range"][0] < 0:
        raise ValueError(f"{spec.name}: radii must be positive and amplitudes |A| ≥ 0, got radius_range "
                         f"{p['radius_range']}, amplitude_range {p['amplitude_range']}")
    return dict(nx=nx, nz=nz, n_frames=round(frames) + 1)


def make_solver(spec) -> tuple[ThermalSolver, int]:
    """The solver of `spec` and the number of steps per stored frame."""
    p = spec.params
    _validate(spec)
    nx, nz = spec.resolution, p["ny"]
    dt, steps = time_step(p["xlen"] / nx, p["zlen"] / nz, p["cfl"], p["max_speed"], p["frame_interval"])
    solver = ThermalSolver(nx, nz, dt, xlen=p["xlen"], zlen=p["zlen"], hv_beta=p["hv_beta"], theta0=p["theta0"],
                           max_speed=p["max_speed"], name=spec.name)
    return solver, steps


def trajectory_parameters(spec, seeds: Sequence[int], trajectory_ids: Sequence[int] | None = None) -> dict[str, np.ndarray]:
    """Each trajectory's bubbles, drawn from its own generator (seeded by its seed) in a fixed order.

    Warm amplitude U(a₀, a₁) K, cold −U(a₀, a₁) K; both centres' x ~ U(x_range); warm z ~
    U(warm_z_range), cold z ~ U(cold_z_range); radii ~ U(radius_range) (each bubble its own).
    """
    p = spec.params
    # (stored name, range parameter, sign), in the order of the draws
    draws = [("warm_amplitude", "amplitude_range", 1.0), ("warm_x", "x_range", 1.0), ("warm_z", "warm_z_range", 1.0),
             ("warm_radius", "radius_range", 1.0), ("cold_amplitude", "amplitude_range", -1.0),
             ("cold_x", "x_range", 1.0), ("cold_z", "cold_z_range", 1.0), ("cold_radius", "radius_range", 1.0)]
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(int(seed))
        rows.append({name: sign * float(rng.uniform(*p[key])) for name, key, sign in draws})
    return {k: np.array([r[k] for r in rows], dtype=np.float64) for k in BUBBLE_KEYS}


def simulate(spec, seeds: Sequence[int], trajectory_ids: Sequence[int], device="auto", progress: bool = False) -> dict:
    """{field: (B, T, ny, nx)} for the bubbles of `seeds` (numpy on the CPU: `device` is ignored)."""
    sizes = _validate(spec)
    solver, steps = make_solver(spec)
    q = solver.initial_state(trajectory_parameters(spec, seeds, trajectory_ids))
    return solver.run(q, sizes["n_frames"], steps, trajectory_ids=trajectory_ids, progress=progress)


def coordinates(spec) -> dict[str, np.ndarray]:
    """Frame times (s) and cell centres (m): y is the height z."""
    sizes = _validate(spec)
    p = spec.params
    return dict(time=np.arange(sizes["n_frames"]) * float(p["frame_interval"]),
                y=(np.arange(sizes["nz"]) + 0.5) * (p["zlen"] / sizes["nz"]),
                x=(np.arange(sizes["nx"]) + 0.5) * (p["xlen"] / sizes["nx"]))


def batch_size(spec) -> int:
    """~16k cells a batch: measured fastest here (`validation.thermals.throughput`); larger batches spill the
    (B, 4, nz, nx) temporaries out of the cache and run slower per cell."""
    return max(1, 2**14 // (spec.resolution * spec.params["ny"]))


def describe_solver(spec) -> str:
    p = spec.params
    solver, steps = make_solver(spec)
    return (f"finite volume, 4th-order 4-point interface reconstruction, hyper-viscosity hv_beta = {p['hv_beta']:g}, "
            f"dimensionally split low-storage RK3 (x/z order alternating), dt = {solver.dt:.6g} s ({steps} steps a "
            f"{p['frame_interval']:g} s frame; cfl = {p['cfl']:g} at {p['max_speed']:g} m/s), {spec.resolution}×{p['ny']} "
            f"cells, periodic x, reflecting walls in z, perturbations of a θ0 = {p['theta0']:g} K hydrostatic state, float64 "
            f"(numpy)")
