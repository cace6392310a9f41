"""2-D incompressible Navier–Stokes in vorticity form on a periodic square, pseudo-spectrally.

    ∂t ω + u·∇ω = ν Δω + f,      u = (∂y ψ, −∂x ψ),      −Δψ = ω,      (x, y) ∈ [0, L)²

This is the FNO recipe (Li et al. 2021, `ns_2d.py`): real FFTs (rfft2), the 2/3 rule on the
nonlinear term, and two time steppers:

* ``"cn-euler"`` – the FNO step: Crank–Nicolson on diffusion, forward Euler on advection and
  forcing. First order in time, and forward Euler is unstable for pure advection, so it needs a
  tiny dt (the FNO data used dt = 1e-4; at ν = 1e-5 it goes NaN unless dt ≤ 5e-4).
* ``"ifrk4"`` – integrating-factor RK4: diffusion is integrated exactly through exp(ν Δ t), the
  rest by classical RK4. Fourth order, exact for pure diffusion, stable up to an advective CFL of
  about 1 (we stop at a conservative limit, see `cfl_limit`).

Every array is batched: shape (batch, n, n) with index order [y, x]. The solver is written
once for any domain length L and any forcing, so Kolmogorov flow (`kolmogorov.py`) is this same
solver on [0, 2π)² with another forcing.

Why we truncate the initial condition to the 2/3-rule modes: the nonlinear term of a truncated
field, computed on the grid and truncated again, is exactly the Galerkin projection (no aliasing),
and that projection conserves energy and enstrophy. So the enstrophy budget of the discrete
system closes to round-off, which the validation tests check.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from tqdm.auto import tqdm

from ..utils import get_device
from .solver_support import SolverInstability, deterministic_fft


def wavenumbers(n: int, length: float, device=None, dtype=torch.float64):
    """Angular wavenumbers (ky[:, None], kx[None, :]) of the rfft2 layout on an n×n grid of side L."""
    scale = 2 * math.pi / length
    ky = torch.fft.fftfreq(n, d=1.0 / n, device=device, dtype=dtype) * scale
    kx = torch.fft.rfftfreq(n, d=1.0 / n, device=device, dtype=dtype) * scale
    return ky[:, None], kx[None, :]


def dealias_mask(n: int, device=None) -> torch.Tensor:
    """2/3 rule: keep integer modes |kx|, |ky| < n/3, so quadratic products alias outside them."""
    kmax = (n - 1) // 3
    ky = torch.fft.fftfreq(n, d=1.0 / n, device=device).abs()
    kx = torch.fft.rfftfreq(n, d=1.0 / n, device=device)
    return (ky[:, None] <= kmax) & (kx[None, :] <= kmax)


def grid(n: int, length: float, device=None, dtype=torch.float64):
    """Cell positions x[j] = j·L/n (the FFT grid), returned as (y[:, None], x[None, :])."""
    x = torch.arange(n, device=device, dtype=dtype) * (length / n)
    return x[:, None], x[None, :]


def to_spectral(w: torch.Tensor) -> torch.Tensor:
    # norm="forward": coefficients are independent of the resolution and ŵ[0, 0] is the mean,
    # which makes spectral interpolation/truncation a pure copy of modes.
    return torch.fft.rfft2(w, norm="forward")


def to_physical(w_hat: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """Inverse of `to_spectral`; with `n` different from the source grid, interpolates (n larger)
    or truncates (n smaller) spectrally."""
    if n is not None and n != w_hat.shape[-2]:
        w_hat = resample_spectral(w_hat, n)
    size = w_hat.shape[-2]
    return torch.fft.irfft2(w_hat, s=(size, size), norm="forward")


def resample_spectral(w_hat: torch.Tensor, n: int) -> torch.Tensor:
    """Copy the Fourier modes of an (…, m, m//2+1) spectrum into an (…, n, n//2+1) one.

    Modes that do not exist on the smaller grid are dropped, the Nyquist row/column is zeroed
    (it has no unambiguous real counterpart), so the result is the L²-closest band-limited field.
    """
    m = w_hat.shape[-2]
    k = min(m, n) // 2  # modes |k| < k survive in both grids
    out = w_hat.new_zeros(*w_hat.shape[:-2], n, n // 2 + 1)
    out[..., :k, :k] = w_hat[..., :k, :k]
    out[..., n - k + 1 :, :k] = w_hat[..., m - k + 1 :, :k]
    return out


def spectral_weights(n: int, device=None, dtype=torch.float64) -> torch.Tensor:
    """Weights that turn a sum over the rfft half-plane into a sum over all modes (Parseval)."""
    w = torch.full((n // 2 + 1,), 2.0, device=device, dtype=dtype)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w[None, :]


@dataclass
class VorticitySolver:
    """Pseudo-spectral solver for the vorticity equation on [0, L)² with n×n points.

    Parameters
    ----------
    n: grid points per side.
    nu: kinematic viscosity ν.
    length: domain side L (1 for the FNO unit torus, 2π for Kolmogorov flow).
    forcing: f(y, x) → tensor, evaluated once on the grid; None for unforced flow.
    dt: time step.
    scheme: "ifrk4" (default) or "cn-euler" (the FNO step).
    cfl_limit: the advective CFL number max|u|·dt/dx at which a step is declared unstable.
    """

    n: int
    nu: float
    length: float = 1.0
    forcing: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
    dt: float = 1e-2
    scheme: str = "ifrk4"
    cfl_limit: float = 1.0
    device: str | torch.device = "auto"
    dtype: torch.dtype = torch.float64
    name: str = "navier_stokes"

    def __post_init__(self):
        if self.scheme not in ("ifrk4", "cn-euler"):
            raise ValueError(f"scheme must be 'ifrk4' or 'cn-euler', got {self.scheme!r}")
        if self.n < 4 or self.n % 2:
            raise ValueError(f"n (grid points per side) must be an even number ≥ 4, got {self.n}")
        if self.dt <= 0 or self.nu < 0:
            raise ValueError(f"need dt > 0 and nu ≥ 0, got dt={self.dt}, nu={self.nu}")
        self.device = get_device(self.device)
        dev, dt_ = self.device, self.dtype
        self.ky, self.kx = wavenumbers(self.n, self.length, dev, dt_)
        self.k2 = self.kx**2 + self.ky**2
        self.inv_k2 = torch.where(self.k2 > 0, 1.0 / self.k2.clamp_min(1e-30), torch.zeros_like(self.k2))
        self.mask = dealias_mask(self.n, dev)
        self.dx = self.length / self.n
        if self.forcing is None:
            self.f_hat = None
        else:
            y, x = grid(self.n, self.length, dev, dt_)
            self.f_hat = to_spectral(self.forcing(y, x).expand(self.n, self.n)) * self.mask
        lam = -self.nu * self.k2  # the diffusion operator in Fourier space, ν Δ → −ν|k|²
        self.E_half = torch.exp(lam * self.dt / 2)
        self.E = self.E_half**2
        self.cn_num = 1 + 0.5 * self.dt * lam
        self.cn_den = 1 - 0.5 * self.dt * lam

    # ------------------------------------------------------------------ physics
    def velocity_hat(self, w_hat):
        psi_hat = w_hat * self.inv_k2  # −Δψ = ω
        return 1j * self.ky * psi_hat, -1j * self.kx * psi_hat

    def nonlinear(self, w_hat):
        """N(ω̂) = −(u·∇ω)^ + f̂ on the dealiased modes, and the max speed per trajectory."""
        u_hat, v_hat = self.velocity_hat(w_hat)
        n = self.n
        u = torch.fft.irfft2(u_hat, s=(n, n), norm="forward")
        v = torch.fft.irfft2(v_hat, s=(n, n), norm="forward")
        wx = torch.fft.irfft2(1j * self.kx * w_hat, s=(n, n), norm="forward")
        wy = torch.fft.irfft2(1j * self.ky * w_hat, s=(n, n), norm="forward")
        adv_hat = to_spectral(u * wx + v * wy) * self.mask
        rhs = -adv_hat if self.f_hat is None else self.f_hat - adv_hat
        speed = torch.sqrt(u**2 + v**2).amax(dim=(-2, -1))
        return rhs, speed

    def diffusion_rate(self, w_hat):
        return -self.nu * self.k2 * w_hat

    # ------------------------------------------------------------------ time stepping
    def step(self, w_hat):
        """One time step; returns (ω̂ at t + dt, max speed per trajectory seen during the step)."""
        dt = self.dt
        if self.scheme == "cn-euler":
            N, speed = self.nonlinear(w_hat)
            return (self.cn_num * w_hat + dt * N) / self.cn_den, speed
        E, E2 = self.E_half, self.E
        k1, s1 = self.nonlinear(w_hat)
        k2, s2 = self.nonlinear(E * (w_hat + 0.5 * dt * k1))
        k3, s3 = self.nonlinear(E * w_hat + 0.5 * dt * k2)
        k4, s4 = self.nonlinear(E2 * w_hat + dt * E * k3)
        w_new = E2 * w_hat + dt / 6 * (E2 * k1 + 2 * E * (k2 + k3) + k4)
        return w_new, torch.stack([s1, s2, s3, s4]).amax(0)

    def prepare(self, w0: torch.Tensor) -> torch.Tensor:
        """Physical initial vorticity (…, n, n) → its dealiased spectrum on this solver's device."""
        w0 = torch.as_tensor(w0, dtype=self.dtype, device=self.device)
        if w0.shape[-1] != self.n or w0.shape[-2] != self.n:
            raise ValueError(f"initial vorticity has grid {tuple(w0.shape[-2:])}, solver expects {(self.n, self.n)}")
        return to_spectral(w0) * self.mask

    def check(self, w_hat, speed, t, trajectory_ids):
        """Raise SolverInstability naming the trajectory and time if a step went wrong."""
        cfl = speed * self.dt / self.dx
        finite = torch.isfinite(w_hat).flatten(1).all(1) & torch.isfinite(cfl)
        bad = (~finite) | (cfl > self.cfl_limit)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            traj = trajectory_ids[i] if trajectory_ids is not None else i
            why = "non-finite vorticity" if not bool(finite[i]) else f"CFL {float(cfl[i]):.2f} > {self.cfl_limit}"
            raise SolverInstability(
                f"{self.name}: trajectory {traj} became unstable at t = {t:.4g} ({why}; scheme "
                f"{self.scheme}, dt = {self.dt:g}, n = {self.n}). Reduce dt or raise the resolution."
            )

    def run(
        self,
        w0: torch.Tensor,
        frame_times: Sequence[float],
        out_n: int | None = None,
        spinup: float = 0.0,
        trajectory_ids: Sequence[int] | None = None,
        progress: bool | tqdm = False,
    ) -> torch.Tensor:
        """Integrate from `w0` (batch, n, n), returning frames at `frame_times` (after `spinup`).

        Frames are returned on an `out_n` grid (spectral truncation; default: the solver's grid)
        as a float64 tensor (batch, len(frame_times), out_n, out_n) on the CPU.
        """
        with deterministic_fft(self.device):
            return self._run(w0, frame_times, out_n, spinup, trajectory_ids, progress)

    def _run(self, w0, frame_times, out_n, spinup, trajectory_ids, progress):
        w_hat = self.prepare(w0)
        squeeze = w_hat.dim() == 2
        if squeeze:
            w_hat = w_hat[None]
        out_n = out_n or self.n
        times = [spinup + float(t) for t in frame_times]
        if any(b < a for a, b in zip(times, times[1:])) or (times and times[0] < 0):
            raise ValueError("frame_times must be non-negative and increasing")
        steps_at = [round(t / self.dt) for t in times]
        for t, s in zip(times, steps_at):
            if abs(s * self.dt - t) > 1e-9 * max(1.0, t):
                raise ValueError(f"frame time {t} is not a multiple of dt = {self.dt}")
        frames = torch.empty(w_hat.shape[0], len(times), out_n, out_n, dtype=torch.float64)
        bar = progress if isinstance(progress, tqdm) else tqdm(total=steps_at[-1] if steps_at else 0, disable=not progress, desc=self.name, unit="step", leave=False)
        step, k = 0, 0
        while k < len(steps_at):
            while k < len(steps_at) and steps_at[k] == step:
                frames[:, k] = to_physical(w_hat, out_n).cpu()
                k += 1
            if k == len(steps_at):
                break
            w_hat, speed = self.step(w_hat)
            step += 1
            self.check(w_hat, speed, step * self.dt, trajectory_ids)
            bar.update(1)
        if not isinstance(progress, tqdm):
            bar.close()
        return frames[0] if squeeze else frames

    # ------------------------------------------------------------------ diagnostics
    def inner(self, a_hat, b_hat):
        """Spatial mean of a·b from two spectra (Parseval on the rfft half-plane)."""
        w = spectral_weights(self.n, a_hat.device, self.dtype)
        return (w * (a_hat * b_hat.conj()).real).sum(dim=(-2, -1))

    def enstrophy_rates(self, w_hat):
        """Terms of dZ/dt for Z = ½⟨ω²⟩: (advection, dissipation, forcing). Advection is zero in exact
        arithmetic for the dealiased Galerkin system."""
        N, _ = self.nonlinear(w_hat)
        forcing = self.inner(w_hat, self.f_hat.expand_as(w_hat)) if self.f_hat is not None else torch.zeros(w_hat.shape[:-2], dtype=self.dtype, device=w_hat.device)
        advection = self.inner(w_hat, N) - forcing
        dissipation = self.inner(w_hat, self.diffusion_rate(w_hat))
        return advection, dissipation, forcing


def fno_forcing(y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """f = 0.1 (sin 2π(x+y) + cos 2π(x+y)) on the unit torus (Li et al. 2021)."""
    s = 2 * math.pi * (x + y)
    return 0.1 * (torch.sin(s) + torch.cos(s))


def gaussian_random_field(
    n: int,
    seeds: Sequence[int],
    length: float = 1.0,
    alpha: float = 2.5,
    tau: float = 7.0,
    sigma: float | None = None,
    dtype=torch.float64,
) -> torch.Tensor:
    """Samples of N(0, σ²(−Δ + τ²I)^(−α)) on [0, L)², zero mean, one per seed: (len(seeds), n, n).

    σ defaults to √2·τ^(α − 1) = √2·7^(3/2), what the FNO data generator (`GaussianRF`) actually
    draws: its σ = τ^(½(2α − d)) multiplies the standard deviation, not the covariance as the FNO
    paper's N(0, 7^(3/2)(−Δ + 49I)^(−2.5)) reads, and it carries an extra √2. We follow the code,
    because the published datasets came from it. Each sample is
    drawn from its own generator, so sample i does not depend on which other seeds are in the batch.
    White noise is filtered in Fourier space: its rfft2 (orthonormal) has unit-variance Hermitian
    coefficients, so the field's pointwise variance is Σ_k σ²(|k|² + τ²)^(−α).
    """
    if sigma is None:
        sigma = math.sqrt(2.0) * tau ** (0.5 * (2 * alpha - 2))
    ky, kx = wavenumbers(n, length, dtype=dtype)
    k2 = kx**2 + ky**2
    amp = sigma * (k2 + tau**2) ** (-alpha / 2)
    amp[0, 0] = 0.0  # zero mean
    out = torch.empty(len(seeds), n, n, dtype=dtype)
    for i, seed in enumerate(seeds):
        g = torch.Generator().manual_seed(int(seed))
        noise = torch.randn(n, n, generator=g, dtype=dtype)
        out[i] = torch.fft.irfft2(n * amp * torch.fft.rfft2(noise, norm="ortho"), s=(n, n), norm="ortho")
    return out


# ---------------------------------------------------------------------- dataset generation
def frame_times(params: dict) -> list[float]:
    """Stored frame times 0, Δ, 2Δ, …, T (t = 0 kept; after any spin-up)."""
    count = round(params["t_final"] / params["frame_interval"])
    return [k * params["frame_interval"] for k in range(count + 1)]


def simulate_with(solver: VorticitySolver, spec, seeds, trajectory_ids, progress=False) -> dict:
    """Run `solver` from the GRF initial conditions of `seeds`; returns {"vorticity": (B, T, n, n)}."""
    p = spec.params
    w0 = gaussian_random_field(solver.n, seeds, length=p["length"])
    frames = solver.run(w0, frame_times(p), out_n=spec.resolution, spinup=p.get("spinup", 0.0),
                        trajectory_ids=trajectory_ids, progress=progress)
    return {"vorticity": frames.numpy()}


def make_solver(spec, device="auto") -> VorticitySolver:
    p = spec.params
    return VorticitySolver(n=p["solve_resolution"], nu=p["nu"], length=p["length"], forcing=fno_forcing,
                           dt=p["dt"], scheme=p["scheme"], device=device, name=spec.name)


def simulate(spec, seeds, trajectory_ids, device="auto", progress=False) -> dict:
    return simulate_with(make_solver(spec, device), spec, seeds, trajectory_ids, progress)


def describe_solver(spec) -> str:
    p = spec.params
    return (f"pseudo-spectral (rfft2), 2/3-rule dealiasing, {p['scheme']} (dt = {p['dt']:g}), solved at "
            f"{p['solve_resolution']}², stored at {spec.resolution}² by Fourier truncation, float64")
