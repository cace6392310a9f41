"""2-D compressible Navier–Stokes (PDEBench "2D CFD", Rand and Turb) by a finite-volume Godunov scheme.

    ∂t ρ       + ∇·(ρv)                      = 0
    ∂t (ρv)    + ∇·(ρ v⊗v + p I − σ')        = 0
    ∂t E       + ∇·((E + p) v − v·σ')        = 0,        E = p/(γ − 1) + ½ρ|v|²

    σ' = η (∇v + ∇vᵀ − ⅔ (∇·v) I) + ζ (∇·v) I            (shear viscosity η, bulk viscosity ζ)

an ideal gas with γ = 5/3 on the periodic square [0, 1)², no heat conduction (PDEBench's equations
have none). We store the primitive fields density ρ, velocity (vx, vy) and pressure p at the cell
centres, 21 frames on t ∈ [0, 1].

Numerics (a conservative finite-volume method on an n×n grid of cell averages):

* MUSCL reconstruction of the *primitive* variables (ρ, vx, vy, p): a limited slope per cell and
  direction (monotonised-central by default, or minmod), so face values stay between neighbouring
  cell values and ρ, p stay positive at the faces;
* the HLLC approximate Riemann solver (Toro, ch. 10) with Davis' wave-speed bounds
  S_L = min(u_L − c_L, u_R − c_R), S_R = max(u_L + c_L, u_R + c_R); it restores the contact wave
  that HLL smears, which matters for the density field;
* viscous stress by central differences at the faces (normal derivatives across the face, tangential
  ones averaged from the two neighbouring cells), added to the same face fluxes. Every flux lives on
  a face and enters two cells with opposite signs, so the totals of mass, momentum and energy
  telescope: they are conserved to round-off on the periodic domain, with viscosity too;
* SSP-RK2 (Heun, the strong-stability-preserving second-order Runge–Kutta) in time, dimensionally
  unsplit. We chose it over MUSCL–Hancock because the hyperbolic and the viscous terms then share
  one right-hand side (method of lines): both are second order without an operator splitting, and
  each stage is a convex combination of forward-Euler steps, so the positivity/TVD properties of the
  first-order step carry over. It costs two flux evaluations per step instead of one;
* a CFL-limited time step **per trajectory** (a vector over the batch, never a batch minimum):
  dt = C / max_cells[(|vx| + c)/dx + (|vy| + c)/dy + ν(1/dx² + 1/dy²)], ν = (4/3 η + ζ)/ρ, C = 0.4
  by default, cut short so that every trajectory lands exactly on each stored frame time.

Initial conditions, after PDEBench's description (Takamoto et al. 2022, §D / the 2D CFD data); where
the text is vague the choice is ours and named here:

* each of ρ, p, vx, vy starts from a random sum of sinusoids
  f(x, y) = Σ_{(i, j)} |k|^(−1/2) sin(2π(i x + j y) + φ_ij),  i, j ∈ {−4, …, 4}, (i, j) ≠ (0, 0),
  |k| = √(i² + j²), phases φ_ij uniform in [0, 2π), independent per field (our guesses: all 80
  integer modes of the square, no random amplitude factor beyond the phases);
* ρ = ρ₀ (1 + a f_ρ/max|f_ρ|), p = p₀ (1 + a f_p/max|f_p|) about the background ρ₀ = p₀ = 1, with the
  relative amplitude a = `perturbation` (0.2; our choice);
* "Turb": the velocity field is made divergence-free by a Helmholtz projection in Fourier space,
  v̂ ← v̂ − k (k·v̂)/|k|²; "Rand" keeps the random (compressible) velocity;
* the velocity is scaled so that M = max|v| / c₀ with c₀ = √(γ p₀/ρ₀) the background sound speed
  (our reading of "Mach number M": the peak speed, not the rms).

Everything is float64 torch on `device`, batched over trajectories (shape (B, 4, ny, nx), index
order [y, x]). The time loop uses only element-wise arithmetic (+ − × ÷, √, min/max, where) and
per-trajectory maxima, whose results do not depend on the batch or on the number of threads, so a
trajectory is bitwise the same whatever batch it is solved in (the tests check it).
"""
from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from ..utils import get_device
from .solver_support import SolverInstability, deterministic_fft

FIELDS = ("density", "vx", "vy", "pressure")
LIMITERS = ("mc", "minmod")
VARIANTS = ("rand", "turb")


# ---------------------------------------------------------------------------------------- state
def conserved(W: torch.Tensor, gamma: float) -> torch.Tensor:
    """Primitive (ρ, vx, vy, p) → conserved (ρ, ρvx, ρvy, E) along dim 1."""
    rho, u, v, p = W.unbind(1)
    return torch.stack([rho, rho * u, rho * v, p / (gamma - 1) + 0.5 * rho * (u * u + v * v)], 1)


def primitive(U: torch.Tensor, gamma: float) -> torch.Tensor:
    """Conserved (ρ, ρvx, ρvy, E) → primitive (ρ, vx, vy, p) along dim 1."""
    rho, mx, my, E = U.unbind(1)
    u, v = mx / rho, my / rho
    return torch.stack([rho, u, v, (gamma - 1) * (E - 0.5 * rho * (u * u + v * v))], 1)


# ---------------------------------------------------------------------------------------- fluxes
# Periodic neighbours by concatenating two slices: torch.roll along the last dimension is an order of
# magnitude slower on the CPU, and these shifts are most of the memory traffic of a step.
def nxt(x: torch.Tensor, dim: int) -> torch.Tensor:
    """x[i + 1] along `dim`, periodically."""
    n = x.shape[dim]
    return torch.cat([x.narrow(dim, 1, n - 1), x.narrow(dim, 0, 1)], dim)


def prv(x: torch.Tensor, dim: int) -> torch.Tensor:
    """x[i − 1] along `dim`, periodically."""
    n = x.shape[dim]
    return torch.cat([x.narrow(dim, n - 1, 1), x.narrow(dim, 0, n - 1)], dim)


def limited_slope(a: torch.Tensor, b: torch.Tensor, limiter: str) -> torch.Tensor:
    """Slope from the one-sided differences a (left) and b (right); zero at extrema (a·b ≤ 0).

    mc: minmod(2a, 2b, (a + b)/2) (van Leer's monotonised central, sharp and second order in smooth
    monotone regions); minmod: minmod(a, b) (the most diffusive TVD choice).
    """
    s = 0.5 * (torch.sign(a) + torch.sign(b))  # ±1 when a, b agree in sign, else 0
    if limiter == "mc":
        mag = torch.minimum(torch.minimum(2 * a.abs(), 2 * b.abs()), 0.5 * (a + b).abs())
    else:
        mag = torch.minimum(a.abs(), b.abs())
    return s * mag


def reconstruct(W: torch.Tensor, dim: int, limiter: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Left and right states at the faces i + ½ along `dim` (face i sits between cells i and i + 1)."""
    right = nxt(W, dim)
    d_plus = right - W  # difference across face i + ½
    slope = limited_slope(prv(d_plus, dim), d_plus, limiter)
    left_state = W + 0.5 * slope
    right_state = right - 0.5 * nxt(slope, dim)
    return left_state, right_state


def hllc(WL: torch.Tensor, WR: torch.Tensor, normal: int, gamma: float) -> torch.Tensor:
    """HLLC flux of the Euler equations through faces with normal x (normal=1) or y (normal=2).

    WL, WR: primitive states (B, 4, …) left/right of the faces. Returns the flux of (ρ, ρvx, ρvy, E).
    We evaluate only the side the contact wave picks (S* ≥ 0: left, else right):
    F = F_K + S_K⁻ (U*_K − U_K), with S_K⁻ = min(S_L, 0) on the left and max(S_R, 0) on the right,
    which is F_K, F*_K (or the other side) exactly as in Toro's four-case formula.
    """
    tangent = 3 - normal
    rL, unL, utL, pL = WL[:, 0], WL[:, normal], WL[:, tangent], WL[:, 3]
    rR, unR, utR, pR = WR[:, 0], WR[:, normal], WR[:, tangent], WR[:, 3]
    cL = torch.sqrt(gamma * pL / rL)
    cR = torch.sqrt(gamma * pR / rR)
    SL = torch.minimum(unL - cL, unR - cR)
    SR = torch.maximum(unL + cL, unR + cR)
    mL = rL * (SL - unL)  # mass flux relative to the left wave
    mR = rR * (SR - unR)
    s_star = (pR - pL + unL * mL - unR * mR) / (mL - mR)  # contact speed

    # select the side by 1·a + 0·b, exact for finite values (torch.where is ~10× slower on the CPU)
    wl = (s_star >= 0).to(s_star.dtype)
    wr = 1 - wl
    r, un, ut, p = wl * rL + wr * rR, wl * unL + wr * unR, wl * utL + wr * utR, wl * pL + wr * pR
    m, S = wl * mL + wr * mR, wl * SL + wr * SR
    S_clip = wl * torch.clamp(SL, max=0.0) + wr * torch.clamp(SR, min=0.0)

    E = p / (gamma - 1) + 0.5 * r * (un * un + ut * ut)
    mass = r * un
    F = [mass, mass * un + p, mass * ut, (E + p) * un]
    # star state U*_K = m_K/(S_K − S*) (1, S*, ut, E/ρ + (S* − un)(S* + p/m_K))
    factor = m / (S - s_star)
    U_star = [factor, factor * s_star, factor * ut, factor * (E / r + (s_star - un) * (s_star + p / m))]
    U = [r, mass, r * ut, E]
    f = [Fk + S_clip * (Us - Uk) for Fk, Us, Uk in zip(F, U_star, U)]
    f_mass, f_normal, f_tangent, f_energy = f
    if normal == 1:
        return torch.stack([f_mass, f_normal, f_tangent, f_energy], 1)
    return torch.stack([f_mass, f_tangent, f_normal, f_energy], 1)


def viscous_fluxes(W: torch.Tensor, dx: float, dy: float, eta: float, zeta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Viscous parts (0, −σ'_xn, −σ'_yn, −v·σ'_n) of the fluxes through the x-faces and the y-faces.

    Central differences: the derivative normal to a face is the difference of its two cells; the
    tangential one is the mean of the two cells' centred differences. Second order, and it lives on
    the faces, so it telescopes like the inviscid flux.
    """
    u, v = W[:, 1], W[:, 2]
    lam = zeta - 2.0 / 3.0 * eta  # σ' = η(∇v + ∇vᵀ) + λ (∇·v) I
    # centred cell derivatives, for the tangential derivatives at faces
    u_y = (nxt(u, -2) - prv(u, -2)) / (2 * dy)
    v_y = (nxt(v, -2) - prv(v, -2)) / (2 * dy)
    u_x = (nxt(u, -1) - prv(u, -1)) / (2 * dx)
    v_x = (nxt(v, -1) - prv(v, -1)) / (2 * dx)

    # x-faces (i + ½, j)
    ue, ve = nxt(u, -1), nxt(v, -1)
    dudx, dvdx = (ue - u) / dx, (ve - v) / dx
    dudy = 0.5 * (u_y + nxt(u_y, -1))
    dvdy = 0.5 * (v_y + nxt(v_y, -1))
    txx = 2 * eta * dudx + lam * (dudx + dvdy)
    txy = eta * (dudy + dvdx)
    work = 0.5 * (u + ue) * txx + 0.5 * (v + ve) * txy
    Fx = torch.stack([torch.zeros_like(u), -txx, -txy, -work], 1)

    # y-faces (i, j + ½)
    un, vn = nxt(u, -2), nxt(v, -2)
    dudy, dvdy = (un - u) / dy, (vn - v) / dy
    dudx = 0.5 * (u_x + nxt(u_x, -2))
    dvdx = 0.5 * (v_x + nxt(v_x, -2))
    tyy = 2 * eta * dvdy + lam * (dudx + dvdy)
    txy = eta * (dudy + dvdx)
    work = 0.5 * (u + un) * txy + 0.5 * (v + vn) * tyy
    Fy = torch.stack([torch.zeros_like(u), -txy, -tyy, -work], 1)
    return Fx, Fy


# ---------------------------------------------------------------------------------------- solver
class CompressibleSolver:
    """MUSCL–HLLC–SSP-RK2 finite volumes for the compressible Navier–Stokes equations, periodic box.

    Parameters: nx, ny cells; lengths lx, ly; gamma; eta, zeta (η, ζ); cfl (C of the time-step rule);
    limiter ("mc" or "minmod"); name (named in error messages, e.g. the dataset).
    """

    def __init__(self, nx: int, ny: int | None = None, lx: float = 1.0, ly: float | None = None, gamma: float = 5 / 3,
                 eta: float = 0.0, zeta: float = 0.0, cfl: float = 0.4, limiter: str = "mc",
                 device: str | torch.device = "auto", name: str = "compressible_ns"):
        ny = nx if ny is None else ny
        ly = lx * ny / nx if ly is None else ly
        if nx < 1 or ny < 1 or max(nx, ny) < 4:
            raise ValueError(f"need at least 4 cells along one side, got nx={nx}, ny={ny}")
        if not gamma > 1:
            raise ValueError(f"the ratio of specific heats gamma must be > 1, got {gamma}")
        if eta < 0 or zeta < 0:
            raise ValueError(f"viscosities must be ≥ 0, got eta={eta}, zeta={zeta}")
        if not cfl > 0:
            raise ValueError(f"the CFL number must be > 0, got {cfl}")
        if limiter not in LIMITERS:
            raise ValueError(f"limiter must be one of {LIMITERS}, got {limiter!r}")
        if not (lx > 0 and ly > 0):
            raise ValueError(f"domain lengths must be > 0, got lx={lx}, ly={ly}")
        self.nx, self.ny, self.lx, self.ly = nx, ny, float(lx), float(ly)
        self.dx, self.dy = self.lx / nx, self.ly / ny
        self.gamma, self.eta, self.zeta, self.cfl, self.limiter = float(gamma), float(eta), float(zeta), float(cfl), limiter
        self.device = get_device(device)
        self.name = name
        self.steps = None  # steps taken per trajectory by the last `run`

    # ------------------------------------------------------------------ spatial operator
    def rhs(self, W: torch.Tensor) -> torch.Tensor:
        """dU/dt = −∇·F of the cell averages, from their primitive variables W (B, 4, ny, nx)."""
        g = self.gamma
        Fx = hllc(*reconstruct(W, -1, self.limiter), normal=1, gamma=g)
        Fy = hllc(*reconstruct(W, -2, self.limiter), normal=2, gamma=g)
        if self.eta > 0 or self.zeta > 0:
            Vx, Vy = viscous_fluxes(W, self.dx, self.dy, self.eta, self.zeta)
            Fx, Fy = Fx + Vx, Fy + Vy
        return -(Fx - prv(Fx, -1)) / self.dx - (Fy - prv(Fy, -2)) / self.dy

    def stable_dt(self, W: torch.Tensor) -> torch.Tensor:
        """The CFL time step of each trajectory (B,): advective plus viscous rates, max over the cells."""
        rho, u, v, p = W.unbind(1)
        c = torch.sqrt(self.gamma * p / rho)
        rate = (u.abs() + c) / self.dx + (v.abs() + c) / self.dy
        if self.eta > 0 or self.zeta > 0:
            nu = (4.0 / 3.0 * self.eta + self.zeta) / rho
            # the discrete viscous operator's eigenvalues reach ≈ −4ν(1/dx² + 1/dy²) and SSP-RK2 is stable
            # to dt|λ| ≤ 2, i.e. ν dt (1/dx² + 1/dy²) ≤ ½: this rate keeps C × that limit (0.4 → 80 %)
            rate = rate + nu * (1 / self.dx**2 + 1 / self.dy**2)
        return self.cfl / rate.amax(dim=(-2, -1))

    def step(self, U: torch.Tensor, dt: torch.Tensor, W: torch.Tensor | None = None, t=None, ids=None) -> torch.Tensor:
        """One SSP-RK2 (Heun) step with a time step per trajectory, dt of shape (B,).

        U1 = U + dt L(U);  U_new = ½ U + ½ (U1 + dt L(U1)). With `t` and `ids`, the intermediate state
        is checked (a negative density there is reported at t + dt).
        """
        W = primitive(U, self.gamma) if W is None else W
        dt4 = dt[:, None, None, None]
        U1 = U + dt4 * self.rhs(W)
        W1 = primitive(U1, self.gamma)
        if ids is not None:
            self.check(W1, t + dt, ids)
        return 0.5 * U + 0.5 * (U1 + dt4 * self.rhs(W1))

    # ------------------------------------------------------------------ checks
    def check(self, W: torch.Tensor, t: torch.Tensor, ids: Sequence[int]) -> None:
        """Raise SolverInstability naming the first bad trajectory of primitive states W: non-finite, ρ ≤ 0 or p ≤ 0."""
        finite = torch.isfinite(W).flatten(1).all(1)
        rho_min = W[:, 0].amin(dim=(-2, -1))
        p_min = W[:, 3].amin(dim=(-2, -1))
        bad = ~finite | ~(rho_min > 0) | ~(p_min > 0)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            if not bool(finite[i]):
                why = "non-finite values"
            elif not float(rho_min[i]) > 0:
                why = f"negative density (min ρ = {float(rho_min[i]):.3g})"
            else:
                why = f"negative pressure (min p = {float(p_min[i]):.3g})"
            raise SolverInstability(
                f"{self.name}: trajectory {ids[i]} became unstable at t = {float(t[i]):.4g} ({why}; CFL number "
                f"{self.cfl:g}, grid {self.ny}×{self.nx}, η = {self.eta:g}, ζ = {self.zeta:g}). Lower the CFL number "
                f"or raise the resolution.")

    # ------------------------------------------------------------------ time loop
    def run(self, W0, frame_times: Sequence[float], trajectory_ids: Sequence[int] | None = None,
            progress: bool = False) -> torch.Tensor:
        """Integrate primitive initial states W0 (B, 4, ny, nx); returns primitive frames (B, T, 4, ny, nx) on the CPU.

        Each trajectory advances with its own CFL step and lands exactly on every frame time (a
        trajectory that has reached the next frame waits, and is left out of the arithmetic, until
        the others have). `self.steps` then holds the number of steps each trajectory took.
        """
        with torch.no_grad():
            return self._run(W0, frame_times, trajectory_ids, progress)

    def _run(self, W0, frame_times, trajectory_ids, progress):
        W0 = torch.as_tensor(W0, dtype=torch.float64, device=self.device)
        if W0.dim() != 4 or W0.shape[1:] != (4, self.ny, self.nx):
            raise ValueError(f"initial state must have shape (batch, 4, {self.ny}, {self.nx}), got {tuple(W0.shape)}")
        times = [float(t) for t in frame_times]
        if not times or times[0] < 0 or any(b <= a for a, b in itertools.pairwise(times)):
            raise ValueError(f"frame_times must be non-negative and strictly increasing, got {times}")
        B = W0.shape[0]
        ids = list(trajectory_ids) if trajectory_ids is not None else list(range(B))
        if len(ids) != B:
            raise ValueError(f"{len(ids)} trajectory ids for a batch of {B}")
        U = conserved(W0, self.gamma)
        t = torch.zeros(B, dtype=torch.float64, device=self.device)
        steps = torch.zeros(B, dtype=torch.long, device=self.device)
        frames = torch.empty(B, len(times), 4, self.ny, self.nx, dtype=torch.float64)
        bar = tqdm(total=times[-1], disable=not progress, desc=self.name, unit="time", leave=False,
                   bar_format="{l_bar}{bar}| t = {n:.3g}/{total:.3g} [{elapsed}<{remaining}]")
        for k, target in enumerate(times):
            while True:
                active = torch.nonzero(t < target).flatten()
                if len(active) == 0:
                    break
                whole = len(active) == B
                Ua = U if whole else U[active]
                ta = t if whole else t[active]
                ids_a = ids if whole else [ids[i] for i in active.tolist()]
                Wa = primitive(Ua, self.gamma)
                self.check(Wa, ta, ids_a)
                dt = self.stable_dt(Wa)
                remaining = target - ta
                land = dt >= remaining
                dt = torch.where(land, remaining, dt)
                Ua = self.step(Ua, dt, Wa, ta, ids_a)
                ta = torch.where(land, torch.full_like(ta, target), ta + dt)
                if whole:
                    U, t = Ua, ta
                else:
                    U[active], t[active] = Ua, ta
                steps[active] += 1
                bar.update(float(t.min()) - bar.n)
            W = primitive(U, self.gamma)
            self.check(W, t, ids)
            frames[:, k] = W.cpu()
        bar.close()
        self.steps = steps.cpu().numpy()
        return frames


# ---------------------------------------------------------------------------------------- initial conditions
def sinusoid_coefficients(rng: np.random.Generator, kmax: int, exponent: float = -0.5) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Modes (i, j), |i|, |j| ≤ kmax, (i, j) ≠ 0, and complex amplitudes |k|^exponent e^{iφ}, φ ~ U[0, 2π)."""
    i, j = np.meshgrid(np.arange(-kmax, kmax + 1), np.arange(-kmax, kmax + 1), indexing="xy")
    i, j = i.ravel(), j.ravel()
    keep = (i != 0) | (j != 0)
    i, j = i[keep], j[keep]
    phase = rng.uniform(0.0, 2 * math.pi, size=i.size)
    return i, j, np.hypot(i, j) ** exponent * np.exp(1j * phase)


def sinusoid_field(i, j, coef, n: int) -> np.ndarray:
    """Σ Im(c e^{2πi(i x + j y)}) = Σ |c| sin(2π(i x + j y) + arg c) at the cell centres ((m + ½)/n), (n, n) [y, x].

    Built as one inverse FFT of the mode array (exact for |i|, |j| < n/2), shifted to the cell centres.
    """
    if 2 * max(np.abs(i).max(), np.abs(j).max()) >= n:
        raise ValueError(f"{n} cells per side cannot represent wavenumber {max(np.abs(i).max(), np.abs(j).max())}")
    spec = np.zeros((n, n), dtype=np.complex128)
    np.add.at(spec, (j % n, i % n), coef * np.exp(1j * math.pi * (i + j) / n))  # half-cell shift
    return np.fft.ifft2(spec).imag * n * n


def initial_state(spec_params: dict, n: int, seed: int) -> np.ndarray:
    """Primitive initial state (4, n, n) of one trajectory: PDEBench-style random sinusoids (module docstring)."""
    p = spec_params
    rng = np.random.default_rng(int(seed))
    kmax, expo, amp = int(p["max_wavenumber"]), float(p["spectrum_exponent"]), float(p["perturbation"])
    rho0, p0, gamma = float(p["background_density"]), float(p["background_pressure"]), float(p["gamma"])
    modes = {name: sinusoid_coefficients(rng, kmax, expo) for name in FIELDS}
    unit = lambda f: f / np.abs(f).max()
    rho = rho0 * (1 + amp * unit(sinusoid_field(*modes["density"], n)))
    pres = p0 * (1 + amp * unit(sinusoid_field(*modes["pressure"], n)))
    (ix, jx, cx), (_, _, cy) = modes["vx"], modes["vy"]  # same mode list, independent phases
    if p["variant"] == "turb":
        # Helmholtz projection per mode: remove the component along k (k = (i, j) up to 2π/L)
        k2 = (ix * ix + jx * jx).astype(float)
        kdotc = (ix * cx + jx * cy) / k2
        cx, cy = cx - ix * kdotc, cy - jx * kdotc
    u = sinusoid_field(ix, jx, cx, n)
    v = sinusoid_field(ix, jx, cy, n)
    c0 = math.sqrt(gamma * p0 / rho0)
    scale = float(p["mach"]) * c0 / np.sqrt(u * u + v * v).max()
    return np.stack([rho, u * scale, v * scale, pres])


# ---------------------------------------------------------------------------------------- dataset interface
def _validate(spec) -> None:
    p = spec.params
    required = ("gamma", "eta", "zeta", "mach", "variant", "t_final", "frame_interval", "cfl", "limiter",
                "max_wavenumber", "spectrum_exponent", "perturbation", "background_density", "background_pressure")
    missing = [k for k in required if k not in p]
    if missing:
        raise ValueError(f"{spec.name}: parameters {missing} are missing")
    if p["variant"] not in VARIANTS:
        raise ValueError(f"{spec.name}: variant must be one of {VARIANTS}, got {p['variant']!r}")
    if not p["mach"] > 0:
        raise ValueError(f"{spec.name}: the Mach number must be > 0, got {p['mach']}")
    if not 0 <= p["perturbation"] < 1:
        raise ValueError(f"{spec.name}: the relative perturbation must be in [0, 1) to keep ρ, p > 0, got {p['perturbation']}")
    if not (p["background_density"] > 0 and p["background_pressure"] > 0):
        raise ValueError(f"{spec.name}: background density and pressure must be > 0")
    count = p["t_final"] / p["frame_interval"]
    if not (p["frame_interval"] > 0 and abs(count - round(count)) < 1e-9 and round(count) >= 1):
        raise ValueError(f"{spec.name}: t_final = {p['t_final']} must be a positive multiple of frame_interval = "
                         f"{p['frame_interval']}")
    if spec.resolution <= 2 * p["max_wavenumber"]:
        raise ValueError(f"{spec.name}: resolution {spec.resolution} cannot represent wavenumber {p['max_wavenumber']}")


def frame_times(params: dict) -> np.ndarray:
    count = round(params["t_final"] / params["frame_interval"])
    return np.arange(count + 1) * params["frame_interval"]


def coordinates(spec) -> dict:
    """Frame times and cell centres (m + ½)/n of the unit square."""
    n = spec.resolution
    cells = (np.arange(n) + 0.5) * spec.params.get("length", 1.0) / n
    return dict(time=frame_times(spec.params), y=cells, x=cells)


def make_solver(spec, device="auto") -> CompressibleSolver:
    p = spec.params
    return CompressibleSolver(nx=spec.resolution, lx=p.get("length", 1.0), gamma=p["gamma"], eta=p["eta"],
                              zeta=p["zeta"], cfl=p["cfl"], limiter=p["limiter"], device=device, name=spec.name)


def simulate(spec, seeds, trajectory_ids, device="auto", progress=False) -> dict:
    """{field: (B, 21, n, n)} for the trajectories of `seeds` (see the module docstring)."""
    _validate(spec)
    solver = make_solver(spec, device)
    W0 = np.stack([initial_state(spec.params, spec.resolution, s) for s in seeds])
    # one CPU thread: measured faster than two for these small element-wise kernels on a shared 2-core
    # machine, and the project's rule for batch-independent numbers
    with deterministic_fft(solver.device):
        frames = solver.run(W0, frame_times(spec.params), trajectory_ids=trajectory_ids, progress=progress).numpy()
    return {name: frames[:, :, k] for k, name in enumerate(FIELDS)}


def batch_size(spec) -> int:
    """Trajectories solved together: ~2¹⁵ cells a batch on a CPU (8 at 64²), ~2²⁰ on a GPU (4 at 512²).

    On the CPU larger batches are slower per cell (measured: 3.7 M cell updates/s at 8 × 64², 2.6 M at
    32 × 64²), because every intermediate array then leaves the cache; a GPU needs large arrays to fill up.
    """
    cells = 2**20 if torch.cuda.is_available() else 2**15
    return max(1, cells // spec.resolution**2)


def describe_solver(spec) -> str:
    p = spec.params
    return (f"finite volumes: MUSCL on primitive variables ({p['limiter']} limiter), HLLC Riemann solver, central "
            f"viscous fluxes, SSP-RK2, CFL {p['cfl']:g} per trajectory (advective + viscous), {spec.resolution}² cells, "
            f"float64")
