"""2-D shallow-water equations, radial dam break (PDEBench 2D SWE): finite volumes, MUSCL + HLL, SSP-RK2.

    ∂t h + ∂x(hu) + ∂y(hv) = 0
    ∂t(hu) + ∂x(hu² + ½gh²) + ∂y(huv) = 0
    ∂t(hv) + ∂x(huv) + ∂y(hv² + ½gh²) = 0,          g = 1,  (x, y) ∈ [−2.5, 2.5]²

The fluid starts at rest with h = 2 inside a circle of radius r0 about the origin and h = 1
outside (each cell holding the average over its area, see `dam_break`); r0 ~ U(0.3, 0.7) per
trajectory (stored with the file as the coordinate `radius`), as in
PDEBench (Takamoto et al. 2022), whose data were made with PyClaw. Boundaries are outflow
(zero-gradient ghost cells). Frames every 0.01 up to T = 1 (101 frames); the circular bore does
not reach the walls before T = 1, so no wave is reflected or lost.

Numerics (second order, robust at the bore):

* **Reconstruction.** MUSCL on the conserved variables (h, hu, hv): a limited slope per cell and
  direction — minmod, or the monotonised-central (MC) limiter of PyClaw's default — gives the
  two face values of each cell.
* **Fluxes.** HLL at every face with the Davis/Einfeldt-type wave-speed estimates
  sL = min(uL − cL, uR − cR), sR = max(uL + cL, uR + cR), c = √(gh). HLL is positive and
  resolves the bore without oscillations; it smears contact/shear waves, which this problem
  does not have at t = 0.
* **Time.** SSP-RK2 (Heun, TVD) with a per-trajectory adaptive step
  dt = CFL / max(|u| + c)/dx + max(|v| + c)/dy), CFL = 0.4 (the unsplit 2-D scheme is stable
  for this sum ≤ 1/2), shortened to land exactly on the next frame time. dt is a vector over the
  batch — never a min over it — so a trajectory is bitwise the same whatever batch it is in (a
  trajectory that has reached the frame waits with dt = 0, which leaves it bitwise unchanged).

The x and y sweeps are the same code on transposed arrays (hu ↔ hv), and each flux is computed
so that mirroring the data mirrors the result operation by operation: the scheme keeps the
square's symmetries (x ↔ y, x → −x, y → −y) of the radially symmetric data, which we test.

After each step, a non-finite value, a depth h ≤ 0 or a step whose CFL number, measured with the
new state, exceeds 1 raises `SolverInstability` naming the dataset, the trajectory and the time.
Arrays are torch float64 (batch, ny, nx), index order [y, x]; the code runs unchanged on CUDA.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from scipy import optimize
from tqdm.auto import tqdm

from ..utils import get_device
from .solver_support import SolverInstability, deterministic_fft

LIMITERS = ("minmod", "mc")
CFL_HARD_LIMIT = 1.0  # measured CFL (sum form) above which a step is declared unstable


def cell_centres(n: int, lo: float, hi: float) -> np.ndarray:
    """Centres of n equal cells on [lo, hi], written about the midpoint so that they are exactly
    mirror-symmetric (x[n−1−j] = 2·mid − x[j] bitwise): the symmetry tests rely on it."""
    return 0.5 * (lo + hi) + (np.arange(n) + 0.5 - 0.5 * n) * ((hi - lo) / n)


# ---------------------------------------------------------------------- reconstruction and fluxes
def limited_slope(q: torch.Tensor, limiter: str) -> torch.Tensor:
    """Limited slope (×dx) of q along the last axis, for the cells 1 … n−2 of the padded array."""
    a = q[..., 1:-1] - q[..., :-2]  # backward difference
    b = q[..., 2:] - q[..., 1:-1]  # forward difference
    same = (a * b) > 0
    if limiter == "minmod":
        s = torch.where(a.abs() < b.abs(), a, b)
    else:  # monotonised central: minmod(2a, (a + b)/2, 2b), written so that mirroring the data mirrors it
        c = 0.5 * (a + b)
        m = torch.minimum(torch.minimum(2 * a.abs(), 2 * b.abs()), c.abs())
        s = torch.copysign(m, c)
    return torch.where(same, s, torch.zeros_like(s))


def physical_flux(h, hu, hv, g):
    """x-flux of (h, hu, hv): (hu, hu²/h + ½gh², huv/h)."""
    u = hu / h
    return hu, hu * u + 0.5 * g * h * h, hv * u


def hll_flux(left, right, g):
    """HLL flux through faces between states `left` and `right` (tuples of h, hu, hv along x)."""
    hL, huL, hvL = left
    hR, huR, hvR = right
    uL, uR = huL / hL, huR / hR
    cL, cR = torch.sqrt(g * hL), torch.sqrt(g * hR)
    sL = torch.minimum(uL - cL, uR - cR)
    sR = torch.maximum(uL + cL, uR + cR)
    FL, FR = physical_flux(hL, huL, hvL, g), physical_flux(hR, huR, hvR, g)
    out = []
    for fl, fr, ql, qr in zip(FL, FR, left, right):
        mid = (sR * fl - sL * fr + sL * sR * (qr - ql)) / (sR - sL)
        out.append(torch.where(sL >= 0, fl, torch.where(sR <= 0, fr, mid)))
    return out, torch.maximum(sL.abs(), sR.abs())


def x_divergence(h, hu, hv, dx, g, limiter):
    """−∂x F(q) by MUSCL + HLL with zero-gradient ghost cells, and max (|u| + c) per trajectory."""
    pad = [torch.cat([q[..., :1], q[..., :1], q, q[..., -1:], q[..., -1:]], dim=-1) for q in (h, hu, hv)]
    slopes = [limited_slope(q, limiter) for q in pad]  # cells −1 … n (one ghost each side)
    centre = [q[..., 1:-1] for q in pad]
    plus = [c + 0.5 * s for c, s in zip(centre, slopes)]  # value at each cell's right face
    minus = [c - 0.5 * s for c, s in zip(centre, slopes)]  # value at each cell's left face
    left = [p[..., :-1] for p in plus]  # faces −½ … n − ½ (n + 1 faces)
    right = [m[..., 1:] for m in minus]
    flux, speed = hll_flux(left, right, g)
    div = [-(f[..., 1:] - f[..., :-1]) / dx for f in flux]
    return div, speed.amax(dim=(-2, -1))


@dataclass
class ShallowWaterSolver:
    """Shallow water on [x0, x1] × [y0, y1] with ny × nx cells, outflow boundaries."""

    nx: int
    ny: int
    x_range: tuple[float, float] = (-2.5, 2.5)
    y_range: tuple[float, float] = (-2.5, 2.5)
    g: float = 1.0
    cfl: float = 0.4
    limiter: str = "mc"
    device: str | torch.device = "auto"
    name: str = "shallow_water"

    def __post_init__(self):
        if self.limiter not in LIMITERS:
            raise ValueError(f"limiter must be one of {LIMITERS}, got {self.limiter!r}")
        if self.nx < 2 or self.ny < 2:
            raise ValueError(f"need at least 2 cells per direction, got ny × nx = {self.ny} × {self.nx}")
        if not self.cfl > 0:
            raise ValueError(f"cfl must be > 0, got {self.cfl}")
        if not self.g > 0:
            raise ValueError(f"gravity g must be > 0, got {self.g}")
        self.device = get_device(self.device)
        self.dx = (self.x_range[1] - self.x_range[0]) / self.nx
        self.dy = (self.y_range[1] - self.y_range[0]) / self.ny

    def rate(self, q):
        """dq/dt of the semi-discrete scheme and the max wave speeds (sx, sy) per trajectory."""
        h, hu, hv = q
        (dh, dhu, dhv), sx = x_divergence(h, hu, hv, self.dx, self.g, self.limiter)
        # y sweep: the x sweep of the transposed arrays with the roles of hu and hv swapped
        (eh, ehv, ehu), sy = x_divergence(h.mT, hv.mT, hu.mT, self.dy, self.g, self.limiter)
        return (dh + eh.mT, dhu + ehu.mT, dhv + ehv.mT), sx, sy

    def stable_dt(self, q) -> torch.Tensor:
        h, hu, hv = q
        c = torch.sqrt(self.g * h)
        sx = ((hu / h).abs() + c).amax(dim=(-2, -1))
        sy = ((hv / h).abs() + c).amax(dim=(-2, -1))
        return self.cfl / (sx / self.dx + sy / self.dy), sx, sy

    def step(self, q, dt):
        """One SSP-RK2 step with a per-trajectory dt (batch,); dt = 0 leaves a trajectory unchanged."""
        d = dt[:, None, None]
        r1, _, _ = self.rate(q)
        q1 = [a + d * b for a, b in zip(q, r1)]
        r2, _, _ = self.rate(q1)
        return [0.5 * a + 0.5 * (b + d * c) for a, b, c in zip(q, q1, r2)]

    def check(self, q, dt, t, trajectory_ids):
        h = q[0]
        finite = torch.stack([torch.isfinite(a).flatten(1).all(1) for a in q]).all(0)
        positive = (h > 0).flatten(1).all(1)
        safe_h = torch.where(finite[:, None, None] & positive[:, None, None], h, torch.ones_like(h))
        safe = [safe_h] + [torch.where(finite[:, None, None] & positive[:, None, None], a, torch.zeros_like(a))
                           for a in q[1:]]
        _, sx, sy = self.stable_dt(safe)
        cfl = dt * (sx / self.dx + sy / self.dy)
        bad = ~finite | ~positive | (cfl > CFL_HARD_LIMIT)
        if bool(bad.any()):
            i = int(torch.nonzero(bad)[0])
            traj = trajectory_ids[i] if trajectory_ids is not None else i
            why = ("non-finite values" if not bool(finite[i]) else "depth h ≤ 0" if not bool(positive[i]) else
                   f"CFL number {float(cfl[i]):.3g} > {CFL_HARD_LIMIT}")
            raise SolverInstability(f"{self.name}: trajectory {traj} became unstable at t = {float(t[i]):.4g} ({why}; "
                                    f"MUSCL-{self.limiter} + HLL + SSP-RK2, CFL {self.cfl:g}, {self.ny}×{self.nx} cells). "
                                    "Lower the CFL number.")

    def run(self, q0, frame_times: Sequence[float], trajectory_ids=None, progress=False):
        """Integrate (h, hu, hv), each (batch, ny, nx), to `frame_times`; returns three float64 CPU
        tensors (batch, len(frame_times), ny, nx) and the steps taken per trajectory."""
        with deterministic_fft(self.device):
            return self._run(q0, frame_times, trajectory_ids, progress)

    def _run(self, q0, frame_times, trajectory_ids, progress):
        q = [torch.as_tensor(a, dtype=torch.float64, device=self.device) for a in q0]
        if any(a.shape != q[0].shape for a in q) or q[0].dim() != 3 or q[0].shape[-2:] != (self.ny, self.nx):
            raise ValueError(f"h, hu, hv must each have shape (batch, {self.ny}, {self.nx}); got "
                             f"{[tuple(a.shape) for a in q]}")
        times = [float(t) for t in frame_times]
        if any(b <= a for a, b in zip(times, times[1:])) or (times and times[0] < 0):
            raise ValueError("frame_times must be non-negative and strictly increasing")
        B = q[0].shape[0]
        t = torch.zeros(B, dtype=torch.float64, device=self.device)
        self.check(q, torch.zeros_like(t), t, trajectory_ids)
        out = [torch.empty(B, len(times), self.ny, self.nx, dtype=torch.float64) for _ in q]
        steps = torch.zeros(B, dtype=torch.int64)
        with tqdm(total=len(times), disable=not progress, desc=self.name, unit="frame", leave=False) as bar:
            for k, target in enumerate(times):
                while bool((t < target).any()):
                    dt_cfl, _, _ = self.stable_dt(q)
                    remaining = target - t
                    land = dt_cfl >= remaining  # this step reaches the frame: take exactly what is left
                    dt = torch.where(land, remaining, dt_cfl)
                    q = self.step(q, dt)
                    steps += (dt > 0).cpu().to(torch.int64)
                    t = torch.where(land, torch.full_like(t, target), t + dt)
                    self.check(q, dt, t, trajectory_ids)
                for o, a in zip(out, q):
                    o[:, k] = a.cpu()
                bar.update(1)
        return out, steps


# ---------------------------------------------------------------------- the radial dam break
def radius(seed: int, r_min: float = 0.3, r_max: float = 0.7) -> float:
    """The dam radius of one trajectory, r0 ~ U(r_min, r_max), from its own generator."""
    return float(np.random.default_rng(int(seed)).uniform(r_min, r_max))


def dam_break(x: np.ndarray, y: np.ndarray, radii: Sequence[float], h_in: float = 2.0, h_out: float = 1.0,
              subcells: int = 1):
    """(h, hu, hv), each (len(radii), ny, nx): at rest, h_in inside the circle of radius r0 about 0.

    subcells = 1 samples the step at the cell centres (PyClaw's way). subcells = s > 1 gives each
    cell the average of the step over s × s sub-cell midpoints, i.e. the fraction of its area inside
    the circle (to O(1/s²)): then every radius gives a different initial state, where centre
    sampling maps all radii between two rings of cell centres onto the same one (at 64², about
    ten distinct states for r0 ∈ [0.3, 0.7]). The count of midpoints inside is an integer, so the
    average keeps the square's symmetries exactly.
    """
    if subcells < 1:
        raise ValueError(f"subcells must be ≥ 1, got {subcells}")
    dx, dy = (x[1] - x[0] if len(x) > 1 else 1.0), (y[1] - y[0] if len(y) > 1 else 1.0)
    offsets = (np.arange(subcells) + 0.5) / subcells - 0.5  # sub-cell midpoints, symmetric about 0
    xs = (x[:, None] + offsets[None, :] * dx).ravel()  # (nx·s,)
    ys = (y[:, None] + offsets[None, :] * dy).ravel()
    r2 = xs[None, :] ** 2 + ys[:, None] ** 2  # (ny·s, nx·s)
    h = []
    for r0 in radii:
        inside = (r2 < r0 * r0).reshape(len(y), subcells, len(x), subcells).sum(axis=(1, 3))
        h.append(h_out + (h_in - h_out) * inside / subcells**2)
    h = np.stack(h).astype(np.float64)
    return h, np.zeros_like(h), np.zeros_like(h)


def frame_times(params: dict) -> np.ndarray:
    count = round(params["t_final"] / params["frame_interval"])
    return np.arange(count + 1) * params["frame_interval"]


def coordinates(spec) -> dict:
    lo, hi = spec.params["domain"]
    x = cell_centres(spec.resolution, lo, hi)
    return {"time": frame_times(spec.params), "y": x, "x": x}


def trajectory_parameters(spec, seeds, trajectory_ids) -> dict:
    p = spec.params
    return {"radius": np.array([radius(s, p["radius_min"], p["radius_max"]) for s in seeds])}


def make_solver(spec, device="auto") -> ShallowWaterSolver:
    p = spec.params
    lo, hi = p["domain"]
    return ShallowWaterSolver(nx=spec.resolution, ny=spec.resolution, x_range=(lo, hi), y_range=(lo, hi), g=p["g"],
                              cfl=p["cfl"], limiter=p["limiter"], device=device, name=spec.name)


def simulate(spec, seeds, trajectory_ids, device="auto", progress=False) -> dict:
    p = spec.params
    solver = make_solver(spec, device)
    c = coordinates(spec)
    radii = trajectory_parameters(spec, seeds, trajectory_ids)["radius"]
    q0 = dam_break(c["x"], c["y"], radii, p["h_inside"], p["h_outside"], p.get("initial_subcells", 1))
    (h, hu, hv), _ = solver.run(q0, c["time"], trajectory_ids=trajectory_ids, progress=progress)
    return {"h": h.numpy(), "hu": hu.numpy(), "hv": hv.numpy()}


def batch_size(spec) -> int:
    return max(1, 2**16 // spec.resolution**2)


def describe_solver(spec) -> str:
    p = spec.params
    return (f"finite volumes, MUSCL ({p['limiter']} limiter on h, hu, hv) + HLL fluxes, SSP-RK2, adaptive dt per "
            f"trajectory at CFL {p['cfl']:g} landing on frame times, outflow boundaries, {spec.resolution}² cells, float64")


# ---------------------------------------------------------------------- Stoker's exact 1-D dam break
def stoker_state(h_left: float, h_right: float, g: float = 1.0) -> tuple[float, float, float]:
    """Intermediate depth h_m, velocity u_m and bore speed s of the wet dam break (fluid at rest both sides).

    The left rarefaction gives u_m = 2(√(g hL) − √(g h_m)); the right bore's jump conditions give
    u_m = (h_m − hR) √(g (h_m + hR) / (2 h_m hR)). Equating them is one nonlinear equation for h_m,
    which lies between hR and hL; the bore speed follows from mass conservation, s = h_m u_m / (h_m − hR).
    """
    if not h_left > h_right > 0:
        raise ValueError(f"need h_left > h_right > 0 for a wet dam break, got {h_left}, {h_right}")

    def mismatch(hm):
        return 2 * (np.sqrt(g * h_left) - np.sqrt(g * hm)) - (hm - h_right) * np.sqrt(g * (hm + h_right) / (2 * hm * h_right))

    hm = optimize.brentq(mismatch, h_right, h_left, xtol=1e-15, maxiter=200)
    um = 2 * (np.sqrt(g * h_left) - np.sqrt(g * hm))
    return hm, um, hm * um / (hm - h_right)


def stoker(x: np.ndarray, t: float, h_left: float = 2.0, h_right: float = 1.0, x0: float = 0.0, g: float = 1.0):
    """Exact depth and velocity of the 1-D dam break at time t > 0 (dam at x0): (h, u) on the points x."""
    hm, um, s = stoker_state(h_left, h_right, g)
    xi = (np.asarray(x, dtype=np.float64) - x0) / t
    cl, cm = np.sqrt(g * h_left), np.sqrt(g * hm)
    h = np.where(xi < -cl, h_left, np.where(xi < um - cm, (2 * cl - xi) ** 2 / (9 * g), np.where(xi < s, hm, h_right)))
    u = np.where(xi < -cl, 0.0, np.where(xi < um - cm, 2 / 3 * (cl + xi), np.where(xi < s, um, 0.0)))
    return h, u
