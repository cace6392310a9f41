"""2-D incompressible MHD in the lid-driven cavity: vorticity, stream function and magnetic flux function.

    ∂t ω + u·∇ω = (1/Re) Δω + B·∇j,      −Δψ = ω,      u = (∂y ψ, −∂x ψ),
    ∂t A + u·∇A = (1/Rem) ΔA,             B = (∂y A, −∂x A),      j = −ΔA,        (x, y) ∈ [0, 1]²

Units (Alfvén units): lengths in the cavity side L, velocities in the lid speed U, time in L/U,
the magnetic field in U√(μ0 ρ) (so the Lorentz force j×B has coefficient 1). Then
Re = UL/ν, Rem = μ0σUL and the Hartmann number Ha = B0 L √(σ/(ρν)) = B0 √(Re·Rem).

Where the equations come from (signs checked): the momentum equation with the Lorentz force j×B,
j = ∇×B = j ẑ, gives j×B = j (−By, Bx); the curl of that force is ∂x(j Bx) + ∂y(j By) = B·∇j
because ∇·B = 0. With B = ∇×(A ẑ) = (∂y A, −∂x A), the current is j = ∂x By − ∂y Bx = −ΔA, and the
induction equation ∂t B = ∇×(u×B) + (1/Rem) ΔB reduces (2-D, Coulomb gauge, no applied electric
field) to the advection–diffusion of A. The vorticity ω = ∂x uy − ∂y ux = −Δψ.

Applied field and boundary conditions. A = B0·y + a: the applied field is B0 x̂, horizontal,
perpendicular to the side walls (so Hartmann layers, of thickness ~1/Ha, grow on x = 0 and x = 1).
We impose a = 0 on all walls: A is then B0 on the lid, 0 on the bottom and B0·y on the sides, so the
normal component of B on every wall is the applied one (By = −∂x A = 0 on the lid and bottom, Bx = B0
on the sides). Velocity: u = (1, 0) on the lid y = 1, u = 0 on the other walls, so ψ = 0 on all
walls. The flow starts from rest, u = 0, a = 0 (B = B0 x̂), and the lid starts impulsively at t = 0.

Numerics (a node grid of n×n points including the walls, h = 1/(n − 1), m = n − 2 interior points):

* **Space.** Second-order finite differences. The 5-point Laplacian with homogeneous Dirichlet
  values is diagonal in the type-I discrete sine transform (`scipy.fft.dstn`), eigenvalues
  −(4/h²)(sin²(πkh/2) + sin²(πlh/2)), k, l = 1 … m. So ψ = (−Δh)⁻¹ω is a DST, a division and an
  inverse DST, exact to round-off. Advection u·∇ω, u·∇A and the Lorentz term B·∇j use central
  differences (the Jacobian J(f, g) = fx gy − fy gx: u·∇f = −J(ψ, f), B·∇j = J(j, A)).
* **Wall vorticity (Thom's formula).** From ψ = 0 and ∂nψ = wall speed: ω_wall = −2ψ₁/h² − 2U/h
  on the lid and −2ψ₁/h² on the other walls (ψ₁: the first interior node). These values enter
  the Laplacian of ω at the nodes next to the walls.
* **Wall current.** j = −∂nn a on a wall (a and its tangential derivatives vanish there), by the
  second-order one-sided difference (−5a₁ + 4a₂ − a₃)/h²; only B·∇j at the near-wall nodes uses it.
* **Time: exponential time differencing (ETDRK4, Cox & Matthews 2002).** The state is the sine
  coefficients of ω and a at the interior nodes. Their Dirichlet diffusion, −Λ/Re and −Λ/Rem, is
  integrated exactly through its exponential; everything else (advection, Lorentz force, the
  Thom wall terms of ω's Laplacian) by the fourth-order ETD Runge–Kutta stages. Unlike the
  integrating-factor RK4 of the periodic solver, ETDRK4 keeps steady states exactly (it is exact
  for a constant forcing), which matters here: the Hartmann and wall layers are steady, thin and
  made of the stiff high modes. The magnetic diffusivity 1/Rem = 0.04 would limit an explicit step
  to dt ≲ 2·10⁻³ at 64²; with ETD the step is set by advection and Alfvén waves only (and a mild
  limit from the explicit Thom term, `thom_number`).
* **Step size per trajectory.** Over each frame interval Δ a trajectory takes N equal steps,
  N = ⌈Δ/dt⌉ with dt = min(cfl·h/s, thom_number·h²·Re), s = max(|ux| + |uy| + |Bx| + |By|) (the lid
  speed included) measured at the interval's start: frames are landed on exactly, and the φ
  functions of ETDRK4 are computed once per interval. Trajectories of a batch step together; one
  that has finished its N steps is frozen (np.where) while the others catch up, so nothing about
  a trajectory depends on the batch (the batched sine transforms give bitwise the same numbers as
  single ones, which the tests check). After every step the Courant number s·dt/h is checked
  against `cfl_limit` and the state for finiteness; a failure raises SolverInstability.

Stored fields, on the n×n nodes (walls included): vx = ∂yψ, vy = −∂xψ by central differences
inside and the wall velocity on the walls (the lid row, corners included, holds vx = 1); bx = ∂yA,
by = −∂xA, the total field (applied plus induced), with the same difference operator D along each
axis everywhere (central inside, second-order one-sided on the walls). Since Dx and Dy act on
different axes they commute, so the discrete divergence Dx bx + Dy by = Dx Dy A − Dy Dx A vanishes
identically: ∇·B = 0 to round-off (`divergence`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import scipy.fft
from tqdm.auto import tqdm

from .solver_support import SolverInstability

FIELDS = ("vx", "vy", "bx", "by")


# ---------------------------------------------------------------------- discrete operators
def dirichlet_eigenvalues(m: int, h: float) -> np.ndarray:
    """Eigenvalues of −D2 (the 3-point second difference, zero end values) on m interior points: (m,)."""
    k = np.arange(1, m + 1)
    return (4.0 / h**2) * np.sin(0.5 * np.pi * k * h) ** 2


def dst(x):
    """Orthonormal DST-I over the last two axes (its own inverse)."""
    return scipy.fft.dstn(x, type=1, axes=(-2, -1), norm="ortho", workers=1)


def derivative(f: np.ndarray, h: float, axis: int) -> np.ndarray:
    """First derivative along `axis` on the whole node grid: central inside, second-order one-sided at the ends.

    The same 1-D operator D applied along one axis; Dx and Dy commute, so Dx Dy f = Dy Dx f.
    """
    f = np.moveaxis(f, axis, -1)
    d = np.empty_like(f)
    d[..., 1:-1] = (f[..., 2:] - f[..., :-2]) / (2 * h)
    d[..., 0] = (-3 * f[..., 0] + 4 * f[..., 1] - f[..., 2]) / (2 * h)
    d[..., -1] = (3 * f[..., -1] - 4 * f[..., -2] + f[..., -3]) / (2 * h)
    return np.moveaxis(d, -1, axis)


def divergence(bx: np.ndarray, by: np.ndarray, h: float) -> np.ndarray:
    """Discrete divergence Dx bx + Dy by with the operator that made the stored fields ([..., y, x])."""
    return derivative(bx, h, axis=-1) + derivative(by, h, axis=-2)


def phi_functions(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """φ1, φ2, φ3 of ETD schemes, φk(z) = Σ_j z^j/(j+k)!, accurate for all z ≤ 0.

    The closed forms ((e^z − 1)/z, …) cancel catastrophically for small |z|, so |z| < 1 uses the
    Taylor series (20 terms: the remainder is below 1e-18).
    """
    z = np.asarray(z, dtype=np.float64)
    small = np.abs(z) < 1.0
    zs = np.where(small, z, 0.0)
    series = []
    for k in (1, 2, 3):
        term = np.full_like(zs, 1.0 / math.factorial(k))
        total = term.copy()
        for j in range(1, 20):
            term = term * zs / (j + k)
            total = total + term
        series.append(total)
    zl = np.where(small, -1.0, z)  # any nonzero value: these entries are replaced by the series
    em1 = np.expm1(zl)
    p1 = em1 / zl
    p2 = (em1 - zl) / zl**2
    p3 = (em1 - zl - 0.5 * zl**2) / zl**3
    return tuple(np.where(small, s, p) for s, p in zip(series, (p1, p2, p3), strict=True))


def etd_coefficients(lam: np.ndarray, dt: np.ndarray) -> dict:
    """ETDRK4 (Cox–Matthews) coefficients for u' = λu + N(u), per trajectory dt (B,) and λ (B, m, m)."""
    d = np.asarray(dt, dtype=np.float64)[:, None, None]
    z = lam * d
    p1h, _, _ = phi_functions(z / 2)
    p1, p2, p3 = phi_functions(z)
    return dict(E=np.exp(z), E2=np.exp(z / 2), Q=0.5 * d * p1h,
                f1=d * (p1 - 3 * p2 + 4 * p3), f2=d * (p2 - 2 * p3), f3=d * (4 * p3 - p2))


# ---------------------------------------------------------------------- the solver
@dataclass
class CavityMHD:
    """Vorticity–stream-function / flux-function solver for the MHD lid-driven cavity.

    Parameters
    ----------
    n: grid nodes per side, walls included (h = 1/(n − 1)); n ≥ 5.
    reynolds: Re = UL/ν.
    lid: lid speed U (1 for the cavity; 0 for a closed box).
    cfl: target Courant number s·dt/h of a step, s = max(|ux| + |uy| + |Bx| + |By|).
    thom_number: the explicit Thom wall term limits dt ≤ thom_number·h²·Re.
    cfl_limit: a step whose measured Courant number exceeds this is declared unstable (RK4-type
        schemes are stable up to about 2.8 for central advection).
    name: dataset name used in error messages.
    """

    n: int
    reynolds: float = 100.0
    lid: float = 1.0
    cfl: float = 2.0
    thom_number: float = 1.0
    cfl_limit: float = 2.6
    name: str = "mhd_cavity"

    def __post_init__(self):
        if int(self.n) != self.n or self.n < 5:
            raise ValueError(f"{self.name}: n (nodes per side, walls included) must be an integer ≥ 5, got {self.n}")
        if not self.reynolds > 0:
            raise ValueError(f"{self.name}: the Reynolds number must be positive, got {self.reynolds}")
        if not (self.cfl > 0 and self.thom_number > 0 and self.cfl_limit > 0):
            raise ValueError(f"{self.name}: cfl, thom_number and cfl_limit must be positive, got cfl={self.cfl}, "
                             f"thom_number={self.thom_number}, cfl_limit={self.cfl_limit}")
        self.n = int(self.n)
        self.m = self.n - 2
        self.h = 1.0 / (self.n - 1)
        e = dirichlet_eigenvalues(self.m, self.h)
        self.Lam = e[:, None] + e[None, :]  # eigenvalues of −Δh (Dirichlet), all positive
        self.y = np.linspace(0.0, 1.0, self.n)

    # ------------------------------------------------------------------ fields from the state
    def pad(self, interior: np.ndarray) -> np.ndarray:
        """(B, m, m) interior values → (B, n, n) with zero wall values."""
        full = np.zeros(interior.shape[:-2] + (self.n, self.n))
        full[..., 1:-1, 1:-1] = interior
        return full

    def laplacian(self, f: np.ndarray) -> np.ndarray:
        """5-point Laplacian at the interior nodes (B, m, m) of a full-grid field (B, n, n)."""
        return (f[:, 2:, 1:-1] + f[:, :-2, 1:-1] + f[:, 1:-1, 2:] + f[:, 1:-1, :-2] - 4 * f[:, 1:-1, 1:-1]) / self.h**2

    def wall_vorticity(self, psi: np.ndarray, omega: np.ndarray) -> np.ndarray:
        """Fill the wall values of ω (B, n, n) in place from ψ by Thom's formula; corners = 0 (unused)."""
        h = self.h
        omega[:, 0, :] = -2 * psi[:, 1, :] / h**2
        omega[:, -1, :] = -2 * psi[:, -2, :] / h**2 - 2 * self.lid / h
        omega[:, :, 0] = -2 * psi[:, :, 1] / h**2
        omega[:, :, -1] = -2 * psi[:, :, -2] / h**2
        omega[:, [0, 0, -1, -1], [0, -1, 0, -1]] = 0.0
        return omega

    def wall_current(self, a: np.ndarray, j: np.ndarray) -> np.ndarray:
        """Fill the wall values of j = −∂nn a (B, n, n) in place, one-sided, second order."""
        h2 = self.h**2
        j[:, 0, :] = -(-5 * a[:, 1, :] + 4 * a[:, 2, :] - a[:, 3, :]) / h2
        j[:, -1, :] = -(-5 * a[:, -2, :] + 4 * a[:, -3, :] - a[:, -4, :]) / h2
        j[:, :, 0] = -(-5 * a[:, :, 1] + 4 * a[:, :, 2] - a[:, :, 3]) / h2
        j[:, :, -1] = -(-5 * a[:, :, -2] + 4 * a[:, :, -3] - a[:, :, -4]) / h2
        return j

    def fields(self, w_hat: np.ndarray, a_hat: np.ndarray, B0: np.ndarray) -> dict:
        """Everything on the full node grid from the sine coefficients: ψ, ω, a, A, j (B, n, n)."""
        psi = self.pad(dst(w_hat / self.Lam))
        a = self.pad(dst(a_hat))
        # ω = −Δh ψ and j = −Δh a at the interior nodes: equal (to round-off) to the inverse DSTs of
        # Λŵ/Λ and Λâ, at a fraction of the cost of two more transforms
        omega = self.wall_vorticity(psi, self.pad(-self.laplacian(psi)))
        j = self.wall_current(a, self.pad(-self.laplacian(a)))
        A = a + np.asarray(B0, dtype=np.float64)[:, None, None] * self.y[None, :, None]
        return dict(psi=psi, omega=omega, a=a, A=A, j=j)

    # ------------------------------------------------------------------ right-hand side
    def nonlinear(self, w_hat, a_hat, B0, inv_re):
        """N = what ETD treats explicitly, as sine coefficients: (N_ω, N_a), plus the speed s per trajectory.

        N_ω = −u·∇ω + B·∇j + (1/Re)·(Thom wall values' share of Δh ω),   N_a = −u·∇A.
        """
        f = self.fields(w_hat, a_hat, B0)
        h = self.h

        def dx(g):  # central differences at the interior nodes
            return (g[:, 1:-1, 2:] - g[:, 1:-1, :-2]) / (2 * h)

        def dy(g):
            return (g[:, 2:, 1:-1] - g[:, :-2, 1:-1]) / (2 * h)

        u, v = dy(f["psi"]), -dx(f["psi"])
        bx, by = dy(f["A"]), -dx(f["A"])
        n_w = -(u * dx(f["omega"]) + v * dy(f["omega"])) + bx * dx(f["j"]) + by * dy(f["j"])
        n_a = -(u * dx(f["A"]) + v * dy(f["A"]))
        # the wall values of ω in the 5-point Laplacian of the near-wall nodes (the Dirichlet part is in λ)
        w = f["omega"]
        bc = np.zeros_like(n_w)
        bc[:, 0, :] += w[:, 0, 1:-1]
        bc[:, -1, :] += w[:, -1, 1:-1]
        bc[:, :, 0] += w[:, 1:-1, 0]
        bc[:, :, -1] += w[:, 1:-1, -1]
        n_w = n_w + inv_re * bc / h**2
        speed = np.maximum((np.abs(u) + np.abs(v) + np.abs(bx) + np.abs(by)).max(axis=(1, 2)), self.lid)
        speed = np.maximum(speed, self.lid + np.abs(B0))  # the lid row and the applied field on the walls
        return dst(n_w), dst(n_a), speed, f

    # ------------------------------------------------------------------ time stepping
    def coefficients(self, dt, rem):
        """ETDRK4 coefficients for ω (λ = −Λ/Re) and a (λ = −Λ/Rem_b), per trajectory."""
        B = len(dt)
        lam_w = np.broadcast_to(-self.Lam / self.reynolds, (B, self.m, self.m))
        lam_a = -self.Lam[None] / np.asarray(rem, dtype=np.float64)[:, None, None]
        return etd_coefficients(lam_w, dt), etd_coefficients(lam_a, dt)

    def step(self, w_hat, a_hat, B0, cw, ca):
        """One ETDRK4 step (Cox–Matthews) of both fields; returns (ŵ, â, max speed seen in the stages)."""
        inv_re = 1.0 / self.reynolds
        Nw, Na, s1, _ = self.nonlinear(w_hat, a_hat, B0, inv_re)
        aw, aa = cw["E2"] * w_hat + cw["Q"] * Nw, ca["E2"] * a_hat + ca["Q"] * Na
        Nw2, Na2, s2, _ = self.nonlinear(aw, aa, B0, inv_re)
        bw, ba = cw["E2"] * w_hat + cw["Q"] * Nw2, ca["E2"] * a_hat + ca["Q"] * Na2
        Nw3, Na3, s3, _ = self.nonlinear(bw, ba, B0, inv_re)
        cw_, ca_ = cw["E2"] * aw + cw["Q"] * (2 * Nw3 - Nw), ca["E2"] * aa + ca["Q"] * (2 * Na3 - Na)
        Nw4, Na4, s4, _ = self.nonlinear(cw_, ca_, B0, inv_re)
        w_new = cw["E"] * w_hat + cw["f1"] * Nw + 2 * cw["f2"] * (Nw2 + Nw3) + cw["f3"] * Nw4
        a_new = ca["E"] * a_hat + ca["f1"] * Na + 2 * ca["f2"] * (Na2 + Na3) + ca["f3"] * Na4
        return w_new, a_new, np.maximum(np.maximum(s1, s2), np.maximum(s3, s4))

    def speed(self, w_hat, a_hat, B0):
        """s = max(|ux| + |uy| + |Bx| + |By|) per trajectory (at least lid + |B0|)."""
        return self.nonlinear(w_hat, a_hat, B0, 1.0 / self.reynolds)[2]

    def stable_dt(self, w_hat, a_hat, B0):
        adv = self.cfl * self.h / self.speed(w_hat, a_hat, B0)
        return np.minimum(adv, self.thom_number * self.h**2 * self.reynolds)

    def check(self, w_hat, a_hat, speed, dt, t, trajectory_ids):
        """Raise SolverInstability naming the trajectory and time if a step went wrong."""
        finite = np.isfinite(w_hat).all(axis=(1, 2)) & np.isfinite(a_hat).all(axis=(1, 2)) & np.isfinite(speed)
        with np.errstate(invalid="ignore", over="ignore"):
            cfl = np.where(finite, speed * dt / self.h, np.inf)
        bad = ~finite | (cfl > self.cfl_limit)
        if bad.any():
            i = int(np.nonzero(bad)[0][0])
            traj = trajectory_ids[i] if trajectory_ids is not None else i
            cause = "non-finite values" if not finite[i] else f"Courant number {cfl[i]:.2f} > {self.cfl_limit}"
            raise SolverInstability(
                f"{self.name}: trajectory {traj} became unstable at t = {float(t[i]):.4g} ({cause}; dt = "
                f"{float(dt[i]):.3g}, n = {self.n}, cfl = {self.cfl}). Lower cfl or raise the resolution.")

    def initial(self, batch: int):
        """At rest: ω = 0 and a = 0 (B = B0 x̂), as sine coefficients (B, m, m)."""
        return np.zeros((batch, self.m, self.m)), np.zeros((batch, self.m, self.m))

    def run(self, B0: Sequence[float], rem: Sequence[float], frame_times: Sequence[float], trajectory_ids=None,
            progress=False, on_frame=None, on_step=None, state=None):
        """Integrate from rest (or `state` = (ŵ, â)) through every frame time, landing on each exactly.

        `on_frame(k, ŵ, â)` receives the state at frame k (frame 0 is the initial state when
        frame_times[0] == 0); `on_step(t, ŵ, â, active)` is called after every step (diagnostics).
        Returns the number of steps each trajectory took.
        """
        B0 = np.asarray(B0, dtype=np.float64)
        rem = np.asarray(rem, dtype=np.float64)
        if B0.shape != rem.shape or B0.ndim != 1:
            raise ValueError(f"{self.name}: B0 and rem must be 1-D arrays of one value per trajectory, got shapes "
                             f"{B0.shape} and {rem.shape}")
        if not (rem > 0).all():
            raise ValueError(f"{self.name}: the magnetic Reynolds number must be positive, got {rem}")
        times = [float(t) for t in frame_times]
        if any(b <= a for a, b in zip(times, times[1:])) or (times and times[0] < 0):
            raise ValueError(f"{self.name}: frame times must be non-negative and increasing")
        batch = len(B0)
        w_hat, a_hat = self.initial(batch) if state is None else state
        t = np.zeros(batch)
        steps = np.zeros(batch, dtype=np.int64)
        bar = tqdm(total=len(times), disable=not progress, desc=self.name, unit="frame", leave=False)
        for k, target in enumerate(times):
            interval = target - t  # per trajectory, all equal (every trajectory sits on the previous frame)
            if (interval > 0).any():
                count = np.ceil(interval / self.stable_dt(w_hat, a_hat, B0) * (1 - 1e-12)).astype(np.int64)
                count = np.maximum(count, 1)
                dt = interval / count
                cw, ca = self.coefficients(dt, rem)
                start = t.copy()
                for s in range(int(count.max())):
                    active = s < count
                    wn, an, speed = self.step(w_hat, a_hat, B0, cw, ca)
                    m = active[:, None, None]
                    w_hat, a_hat = np.where(m, wn, w_hat), np.where(m, an, a_hat)
                    # the clock: start + (s+1)·dt, and exactly the target after the last step
                    t = np.where(active, np.where(s + 1 == count, target, start + (s + 1) * dt), t)
                    steps += active
                    self.check(w_hat, a_hat, np.where(active, speed, 0.0), dt, t, trajectory_ids)
                    if on_step is not None:
                        on_step(t, w_hat, a_hat, active)
            if on_frame is not None:
                on_frame(k, w_hat, a_hat)
            bar.update(1)
        bar.close()
        return steps

    # ------------------------------------------------------------------ output and diagnostics
    def stored_fields(self, w_hat, a_hat, B0) -> dict:
        """vx, vy, bx, by on the n×n nodes (B, n, n): see the module docstring."""
        f = self.fields(w_hat, a_hat, B0)
        h = self.h
        vx = derivative(f["psi"], h, axis=-2)
        vy = -derivative(f["psi"], h, axis=-1)
        # the walls: the velocity the boundary conditions prescribe
        vx[:, 0, :] = vx[:, :, 0] = vx[:, :, -1] = 0.0
        vx[:, -1, :] = self.lid
        vy[:, 0, :] = vy[:, -1, :] = vy[:, :, 0] = vy[:, :, -1] = 0.0
        bx = derivative(f["A"], h, axis=-2)
        by = -derivative(f["A"], h, axis=-1)
        return dict(vx=vx, vy=vy, bx=bx, by=by)

    def energy_rates(self, w_hat, a_hat, B0, rem) -> dict:
        """The discrete energy and the terms of its budget, per trajectory (B,).

        E_kin = ½⟨ψ, ω⟩ and E_mag = ½⟨a, j⟩ (interior sums × h²; = ½ Σ|∇h ψ|² and ½ Σ|∇h a|² over the
        grid's edges). Summing the semi-discrete equations against ψ and j gives exactly
            dE/dt = lid work − viscous − ohmic + (residual of the central advection/Lorentz terms),
        with lid work = −(1/Re)·U·h Σ_lid ω_wall, viscous = (1/Re)·(h² Σ_interior ω² + ½h² Σ_walls ω²)
        (Thom's formula makes the wall sums come out this way) and ohmic = (1/Rem)·h² Σ_interior j².
        No Poynting flux: ∂t a = 0 on the walls.
        """
        f = self.fields(w_hat, a_hat, B0)
        h2, inv_re = self.h**2, 1.0 / self.reynolds
        w, I = f["omega"], (slice(None), slice(1, -1), slice(1, -1))
        e_kin = 0.5 * h2 * (f["psi"][I] * w[I]).sum(axis=(1, 2))
        e_mag = 0.5 * h2 * (f["a"][I] * f["j"][I]).sum(axis=(1, 2))
        walls = (w[:, 0, 1:-1] ** 2).sum(1) + (w[:, -1, 1:-1] ** 2).sum(1) + (w[:, 1:-1, 0] ** 2).sum(1) \
            + (w[:, 1:-1, -1] ** 2).sum(1)
        viscous = inv_re * h2 * ((w[I] ** 2).sum(axis=(1, 2)) + 0.5 * walls)
        lid = -inv_re * self.lid * self.h * w[:, -1, 1:-1].sum(1)
        ohmic = h2 * (f["j"][I] ** 2).sum(axis=(1, 2)) / np.asarray(rem, dtype=np.float64)
        return dict(kinetic=e_kin, magnetic=e_mag, lid_work=lid, viscous=viscous, ohmic=ohmic)


# ---------------------------------------------------------------------- the parameter sweep
def sweep(spec) -> dict[str, np.ndarray]:
    """(Ha, Rem) of every trajectory of `spec`, and B0 = Ha/√(Re·Rem): arrays (n_trajectories,).

    The sweep is the grid of `n_hartmann` Hartmann numbers, log-spaced from `hartmann_min` to
    `hartmann_max`, times the magnetic Reynolds numbers `magnetic_reynolds_values`; the dataset holds
    each grid point once (so n_train + n_test must equal the grid's size). The test split is chosen
    to span the sweep: its k-th point has the Hartmann number of index round(k·(n_Ha − 1)/(n_test − 1))
    (evenly spread from the smallest to the largest) and the k-th Rem cyclically; the rest is the
    training split. Each split is then shuffled by a generator seeded with the dataset seed, so
    neither split is ordered by parameter.
    """
    p = spec.params
    n_ha, rems = int(p["n_hartmann"]), [float(r) for r in p["magnetic_reynolds_values"]]
    has = np.geomspace(float(p["hartmann_min"]), float(p["hartmann_max"]), n_ha)
    grid = [(i, r) for i in range(n_ha) for r in range(len(rems))]
    if spec.n_trajectories != len(grid):
        raise ValueError(f"{spec.name}: n_train + n_test = {spec.n_trajectories} must equal the sweep's size "
                         f"n_hartmann × len(magnetic_reynolds_values) = {n_ha} × {len(rems)} = {len(grid)}")
    if spec.n_test < 1:
        raise ValueError(f"{spec.name}: need at least one test trajectory, got n_test = {spec.n_test}")
    test = []
    for k in range(spec.n_test):
        i = round(k * (n_ha - 1) / max(spec.n_test - 1, 1))
        r = k % len(rems)
        while (i, r) in test:  # more test points than Hartmann values: take the next free Rem
            r = (r + 1) % len(rems)
        test.append((i, r))
    train = [g for g in grid if g not in test]
    rng = np.random.default_rng(int(spec.seed))
    order = [train[i] for i in rng.permutation(len(train))] + [test[i] for i in rng.permutation(len(test))]
    ha = np.array([has[i] for i, _ in order])
    rem = np.array([rems[r] for _, r in order])
    return dict(hartmann=ha, magnetic_reynolds=rem, B0=ha / np.sqrt(float(p["reynolds"]) * rem))


def trajectory_parameters(spec, seeds, trajectory_ids) -> dict[str, np.ndarray]:
    """Per trajectory: applied field B0, magnetic Reynolds number Rem and Hartmann number Ha."""
    s = sweep(spec)
    ids = np.asarray(trajectory_ids, dtype=np.int64)
    return dict(B0=s["B0"][ids], magnetic_reynolds=s["magnetic_reynolds"][ids], hartmann=s["hartmann"][ids])


# ---------------------------------------------------------------------- dataset generation
def frame_times(params: dict) -> np.ndarray:
    count = round(params["t_final"] / params["frame_interval"])
    if count < 1 or abs(count * params["frame_interval"] - params["t_final"]) > 1e-9 * params["t_final"]:
        raise ValueError(f"t_final = {params['t_final']} must be a positive multiple of frame_interval = "
                         f"{params['frame_interval']}")
    return np.arange(count + 1) * params["frame_interval"]


def coordinates(spec) -> dict[str, np.ndarray]:
    nodes = np.linspace(0.0, 1.0, spec.resolution)
    return dict(time=frame_times(spec.params), y=nodes, x=nodes)


def make_solver(spec) -> CavityMHD:
    p = spec.params
    return CavityMHD(n=spec.resolution, reynolds=p["reynolds"], lid=p["lid_speed"], cfl=p["cfl"],
                     thom_number=p["thom_number"], cfl_limit=p["cfl_limit"], name=spec.name)


def batch_size(spec) -> int:
    return int(spec.params.get("batch_size", 8))


def simulate(spec, seeds, trajectory_ids, device="auto", progress=False) -> dict:
    """Run the trajectories `trajectory_ids` of the sweep; numpy on the CPU (device is ignored).

    Nothing is random: a trajectory is fixed by its (B0, Rem), so `seeds` are not used.
    """
    solver = make_solver(spec)
    par = trajectory_parameters(spec, seeds, trajectory_ids)
    times = frame_times(spec.params)
    out = {k: np.empty((len(trajectory_ids), len(times), solver.n, solver.n)) for k in FIELDS}

    def on_frame(k, w_hat, a_hat):
        for name, v in solver.stored_fields(w_hat, a_hat, par["B0"]).items():
            out[name][:, k] = v

    solver.run(par["B0"], par["magnetic_reynolds"], times, trajectory_ids=list(trajectory_ids), progress=progress,
               on_frame=on_frame)
    return out


def describe_solver(spec) -> str:
    p = spec.params
    return (f"vorticity–stream function + flux function, 2nd-order finite differences on {spec.resolution}² nodes "
            f"(walls included), Thom wall vorticity, DST-I Poisson solve, ETDRK4 (exact Dirichlet diffusion), "
            f"per-trajectory dt from cfl = {p['cfl']:g}, thom_number = {p['thom_number']:g}, float64 (numpy)")
