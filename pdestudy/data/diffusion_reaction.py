"""2-D diffusion–reaction (PDEBench's FitzHugh–Nagumo activator–inhibitor system), finite volumes + RK4.

    ∂t u = Du Δu + u − u³ − k − v,      ∂t v = Dv Δv + u − v,      (x, y) ∈ [−1, 1]²

with Du = 1e-3, Dv = 5e-3, k = 5e-3, homogeneous Neumann boundaries (no flux through the walls)
and initial u, v drawn i.i.d. N(0, 1) in every cell, as in PDEBench (Takamoto et al. 2022,
"2D diffusion-reaction"). Frames every 0.05 up to t = 5 (101 frames).

Space: cell-centred finite volumes on an n×n grid (dx = 2/n). The Laplacian is the 5-point one in
flux form, (F_{i+½} − F_{i−½})/dx with F_{i+½} = (w_{i+1} − w_i)/dx, and the Neumann condition is a
ghost cell that mirrors its neighbour, so the flux through a wall is exactly zero. Two facts we
test follow from this: the sum over cells of the Laplacian is zero (the mean is conserved without
reaction), and the discrete cosine modes cos(πm(x + 1)/2) — the DCT-II basis — are exact
eigenvectors with eigenvalue −(4/dx²) sin²(πm/2n) per direction.

Time: classical explicit RK4 with a fixed dt that divides the frame interval. Why explicit: at the
grids we store (64², 128²) the two sources of stiffness are comparable — diffusion, with spectral
radius 8 Dv/dx² (41 at 64², 164 at 128²), and the cubic reaction of grid-scale N(0, 1) noise,
|∂(u − u³)/∂u| = |1 − 3u²| ≈ 50–90 for the largest |u| ≈ 4–5.5 of 10⁴–10⁶ samples. An
implicit/exponential treatment of diffusion alone would not lift the reaction limit, and RK4's
stability interval on the negative real axis (|λ dt| ≤ 2.78) is the widest of the cheap explicit
schemes. The noise is smoothed by diffusion within t ≈ 0.1, after which the problem is mild.

Stability check, every step and per trajectory: the Gershgorin bound of the Jacobian of the
semi-discrete system, ρ = max(8 Du/dx² + |1 − 3u²| + 1, 8 Dv/dx² + 2), must satisfy ρ·dt ≤ 2.78;
otherwise (or on a non-finite value) `SolverInstability` names the dataset, trajectory and time.

Everything is elementwise or a per-trajectory max, so trajectory i is bitwise independent of the
batch it is solved in; arrays are torch float64 of shape (batch, n, n), index order [y, x], and run
unchanged on CUDA.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..utils import get_device
from .solver_support import SolverInstability, deterministic_fft

RK4_STABILITY = 2.785  # RK4's stability interval on the negative real axis: |λ dt| ≤ 2.785


def cell_centres(n: int, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """Centres of n equal cells on [lo, hi], written about the midpoint so that they are exactly
    mirror-symmetric (x[n−1−j] = 2·mid − x[j] bitwise): the symmetry tests rely on it."""
    return 0.5 * (lo + hi) + (np.arange(n) + 0.5 - 0.5 * n) * ((hi - lo) / n)


def neumann_laplacian(w: torch.Tensor, dx: float) -> torch.Tensor:
    """5-point Laplacian of cell averages (…, n, n) in flux form with mirrored ghost cells (zero wall flux)."""
    fx = torch.diff(w, dim=-1)  # interior face fluxes ×dx, (…, n, n−1); wall faces carry exactly zero
    fy = torch.diff(w, dim=-2)
    zx = torch.zeros_like(w[..., :, :1])
    zy = torch.zeros_like(w[..., :1, :])
    div_x = torch.diff(torch.cat([zx, fx, zx], dim=-1), dim=-1)
    div_y = torch.diff(torch.cat([zy, fy, zy], dim=-2), dim=-2)
    return (div_x + div_y) / dx**2


def neumann_eigenvalue(m: int, n: int, dx: float) -> float:
    """Eigenvalue of the 1-D discrete Neumann Laplacian for the cosine mode cos(πm(j + ½)/n)."""
    return -4.0 / dx**2 * np.sin(np.pi * m / (2 * n)) ** 2


@dataclass
class DiffusionReactionSolver:
    """FitzHugh–Nagumo diffusion–reaction on [−1, 1]² with n×n cells, explicit RK4.

    reaction=False drops the reaction terms (pure diffusion, for the validation experiments).
    """

    n: int
    dt: float
    Du: float = 1e-3
    Dv: float = 5e-3
    k: float = 5e-3
    length: float = 2.0
    reaction: bool = True
    device: str | torch.device = "auto"
    name: str = "diffusion_reaction"

    def __post_init__(self):
        if self.n < 2:
            raise ValueError(f"n (cells per side) must be ≥ 2, got {self.n}")
        if not self.dt > 0:
            raise ValueError(f"dt must be > 0, got {self.dt}")
        if self.Du < 0 or self.Dv < 0:
            raise ValueError(f"diffusion coefficients must be ≥ 0, got Du={self.Du}, Dv={self.Dv}")
        self.device = get_device(self.device)
        self.dx = self.length / self.n
        self.diffusion_radius = 8 * max(self.Du, self.Dv) / self.dx**2  # Gershgorin bound of D·Δ

    def rhs(self, u, v):
        du = self.Du * neumann_laplacian(u, self.dx)
        dv = self.Dv * neumann_laplacian(v, self.dx)
        if self.reaction:
            du = du + (u - u**3 - self.k - v)
            dv = dv + (u - v)
        return du, dv

    def step(self, u, v):
        dt = self.dt
        k1u, k1v = self.rhs(u, v)
        k2u, k2v = self.rhs(u + 0.5 * dt * k1u, v + 0.5 * dt * k1v)
        k3u, k3v = self.rhs(u + 0.5 * dt * k2u, v + 0.5 * dt * k2v)
        k4u, k4v = self.rhs(u + dt * k3u, v + dt * k3v)
        return (u + dt / 6 * (k1u + 2 * k2u + 2 * k3u + k4u),
                v + dt / 6 * (k1v + 2 * k2v + 2 * k3v + k4v))

    def stiffness(self, u) -> torch.Tensor:
        """ρ·dt per trajectory: the Gershgorin bound of the Jacobian times dt (RK4 is stable below 2.785)."""
        du = 8 * self.Du / self.dx**2
        dv = 8 * self.Dv / self.dx**2
        if self.reaction:
            react = (1 - 3 * u**2).abs().amax(dim=(-2, -1)) + 1
            rho = torch.maximum(du + react, torch.full_like(react, dv + 2))
        else:
            rho = torch.full(u.shape[:-2], max(du, dv), dtype=u.dtype, device=u.device)
        return rho * self.dt

    def check(self, u, v, t, trajectory_ids):
        """Raise SolverInstability naming the trajectory and time if a step left the stable regime."""
        finite = torch.isfinite(u).flatten(1).all(1) & torch.isfinite(v).flatten(1).all(1)
        stiff = self.stiffness(torch.where(torch.isfinite(u), u, torch.zeros_like(u)))
        bad = (~finite) | (stiff > RK4_STABILITY)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            traj = trajectory_ids[i] if trajectory_ids is not None else i
            why = ("non-finite u or v" if not bool(finite[i]) else
                   f"stiffness ρ·dt = {float(stiff[i]):.3g} > {RK4_STABILITY} (RK4's stability limit)")
            raise SolverInstability(f"{self.name}: trajectory {traj} became unstable at t = {t:.4g} ({why}; "
                                    f"explicit RK4, dt = {self.dt:g}, n = {self.n}). Reduce dt.")

    def run(self, u0, v0, frame_times: Sequence[float], trajectory_ids=None, progress=False):
        """Integrate from (u0, v0) (batch, n, n); returns float64 CPU tensors (batch, len(frame_times), n, n) each."""
        with deterministic_fft(self.device):
            return self._run(u0, v0, frame_times, trajectory_ids, progress)

    def _run(self, u0, v0, frame_times, trajectory_ids, progress):
        u = torch.as_tensor(u0, dtype=torch.float64, device=self.device)
        v = torch.as_tensor(v0, dtype=torch.float64, device=self.device)
        if u.shape != v.shape or u.dim() != 3 or u.shape[-2:] != (self.n, self.n):
            raise ValueError(f"initial u, v must both have shape (batch, {self.n}, {self.n}); got "
                             f"{tuple(u.shape)} and {tuple(v.shape)}")
        steps_at = [round(float(t) / self.dt) for t in frame_times]
        for t, s in zip(frame_times, steps_at):
            if abs(s * self.dt - t) > 1e-9 * max(1.0, t) or t < 0:
                raise ValueError(f"frame time {t} is not a non-negative multiple of dt = {self.dt}")
        if any(b < a for a, b in zip(steps_at, steps_at[1:])):
            raise ValueError("frame_times must be increasing")
        self.check(u, v, 0.0, trajectory_ids)
        B = u.shape[0]
        out_u = torch.empty(B, len(steps_at), self.n, self.n, dtype=torch.float64)
        out_v = torch.empty_like(out_u)
        step, k = 0, 0
        with tqdm(total=steps_at[-1] if steps_at else 0, disable=not progress, desc=self.name, unit="step",
                  leave=False) as bar:
            while k < len(steps_at):
                while k < len(steps_at) and steps_at[k] == step:
                    out_u[:, k], out_v[:, k] = u.cpu(), v.cpu()
                    k += 1
                if k == len(steps_at):
                    break
                u, v = self.step(u, v)
                step += 1
                self.check(u, v, step * self.dt, trajectory_ids)
                bar.update(1)
        return out_u, out_v


# ---------------------------------------------------------------------- dataset generation
def initial_condition(n: int, seeds: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """u, v i.i.d. N(0, 1) per cell, each trajectory from its own generator: (len(seeds), n, n) twice."""
    uv = np.stack([np.random.default_rng(int(s)).standard_normal((2, n, n)) for s in seeds]) if len(seeds) else \
        np.zeros((0, 2, n, n))
    return uv[:, 0], uv[:, 1]


def frame_times(params: dict) -> np.ndarray:
    count = round(params["t_final"] / params["frame_interval"])
    return np.arange(count + 1) * params["frame_interval"]


def make_solver(spec, device="auto") -> DiffusionReactionSolver:
    p = spec.params
    if p.get("scheme", "rk4") != "rk4":
        raise ValueError(f"{spec.name}: scheme must be 'rk4', got {p['scheme']!r}")
    steps = p["frame_interval"] / p["dt"]
    if abs(steps - round(steps)) > 1e-9 * steps:
        raise ValueError(f"{spec.name}: dt = {p['dt']} must divide the frame interval {p['frame_interval']}")
    return DiffusionReactionSolver(n=spec.resolution, dt=p["dt"], Du=p["Du"], Dv=p["Dv"], k=p["k"], length=2.0,
                                   device=device, name=spec.name)


def simulate(spec, seeds, trajectory_ids, device="auto", progress=False) -> dict:
    solver = make_solver(spec, device)
    u0, v0 = initial_condition(spec.resolution, seeds)
    u, v = solver.run(u0, v0, frame_times(spec.params), trajectory_ids=trajectory_ids, progress=progress)
    return {"u": u.numpy(), "v": v.numpy()}


def coordinates(spec) -> dict:
    x = cell_centres(spec.resolution)
    return {"time": frame_times(spec.params), "y": x, "x": x}


def batch_size(spec) -> int:
    # elementwise work: larger batches amortise Python overhead; ~2^17 cells (32 trajectories at 64²)
    return max(1, 2**17 // spec.resolution**2)


def describe_solver(spec) -> str:
    p = spec.params
    return (f"cell-centred finite volumes, 5-point Laplacian with mirrored ghost cells (Neumann), explicit RK4 "
            f"(dt = {p['dt']:g}, stiffness ρ·dt ≤ {RK4_STABILITY} checked every step), {spec.resolution}² cells, float64")
