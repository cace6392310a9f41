"""Validation experiments for the MHD cavity solver, shared by tests/test_mhd_cavity.py and the data chapter.

Each function runs a small experiment and returns plain numbers and arrays; `TOLERANCES` (below)
is the one place that says what the tests assert and the chapter reports.

1. `ghia`: with B0 = 0 the Re = 100 cavity relaxes to the Ghia, Ghia & Shin (1982) steady state.
2. `divergence_free`: the stored magnetic field has zero discrete divergence to round-off.
3. `hartmann_channel`: pressure-driven flow between plates across the applied field, reduced to
   1-D with the solver's own operators, against the analytic Hartmann profile, at several grids.
4. `energy_budget`: dE/dt = lid work − viscous − ohmic dissipation, integrated over a run.
5. `throughput`: cell updates per second of the time stepper on this machine.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.fft

from ..mhd_cavity import CavityMHD, derivative, dirichlet_eigenvalues, divergence
from ..reference import GHIA_RE100_EXTREMA, GHIA_RE100_U, GHIA_RE100_V
from .common import check_rows, rate_row, time_steps


def _parabolic_extremum(values: np.ndarray) -> float:
    """Extremum of the parabola through the extreme node of a 1-D profile and its two neighbours.

    The flow's extrema lie between nodes; the node value alone underestimates them by O(h²) of the
    curvature, which is as large as the discretisation error we want to measure.
    """
    k = int(np.argmax(np.abs(values)))
    if k == 0 or k == len(values) - 1:
        return float(values[k])
    f0, f1, f2 = values[k - 1], values[k], values[k + 1]
    denom = f0 - 2 * f1 + f2
    return float(f1 - 0.125 * (f2 - f0) ** 2 / denom) if denom != 0 else float(f1)


def _extremum_2d(field: np.ndarray) -> float:
    """Extremum of a 2-D field refined by a parabola along each axis through the extreme node."""
    i, j = np.unravel_index(int(np.argmax(np.abs(field))), field.shape)
    along_x = _parabolic_extremum(field[i, max(j - 1, 0):j + 2]) if 0 < j < field.shape[1] - 1 else field[i, j]
    along_y = _parabolic_extremum(field[max(i - 1, 0):i + 2, j]) if 0 < i < field.shape[0] - 1 else field[i, j]
    return float(field[i, j] + (along_x - field[i, j]) + (along_y - field[i, j]))


def ghia(n: int = 41, t_final: float = 20.0, cfl: float = 2.0) -> dict:
    """B0 = 0, Re = 100, from rest to t_final: centreline profiles and extrema against Ghia et al.

    n must be odd so that the centrelines x = 0.5 and y = 0.5 are grid lines. Returns the profiles,
    the extrema (parabola-refined, see `_parabolic_extremum`), their relative errors against
    `GHIA_RE100_EXTREMA`, and the relative change over the last time unit (how steady it is).
    """
    if n % 2 == 0:
        raise ValueError(f"ghia needs an odd n (centrelines on grid lines), got {n}")
    solver = CavityMHD(n=n, reynolds=100.0, cfl=cfl)
    frames = {}

    def on_frame(k, w_hat, a_hat):
        frames[k] = (w_hat.copy(), a_hat.copy())

    steps = solver.run([0.0], [1.0], [0.0, t_final - 1.0, t_final], on_frame=on_frame)
    w_hat, a_hat = frames[2]
    B0 = np.zeros(1)
    f = solver.stored_fields(w_hat, a_hat, B0)
    psi = solver.fields(w_hat, a_hat, B0)["psi"][0]
    c = (n - 1) // 2
    y = x = np.linspace(0.0, 1.0, n)
    u_centre, v_centre = f["vx"][0, :, c], f["vy"][0, c, :]
    measured = {"u_min": _parabolic_extremum(np.minimum(u_centre, 0.0)),
                "v_max": _parabolic_extremum(np.maximum(v_centre, 0.0)),
                "v_min": _parabolic_extremum(np.minimum(v_centre, 0.0)),
                "psi_min": _extremum_2d(psi)}
    errors = {k: abs(measured[k] / GHIA_RE100_EXTREMA[k] - 1) for k in measured}
    before = solver.stored_fields(*frames[1], B0)["vx"]
    change = float(np.abs(f["vx"] - before).max())
    # the profiles at Ghia's sample points (linear interpolation), for a pointwise comparison
    u_at = np.interp(GHIA_RE100_U[:, 0], y, u_centre)
    v_at = np.interp(GHIA_RE100_V[:, 0], x, v_centre)
    return dict(n=n, y=y, x=x, u_centre=u_centre, v_centre=v_centre, measured=measured, errors=errors,
                max_error=max(errors.values()), steady_change=change, steps=int(steps[0]),
                u_profile_error=float(np.abs(u_at - GHIA_RE100_U[:, 1]).max()),
                v_profile_error=float(np.abs(v_at - GHIA_RE100_V[:, 1]).max()))


def divergence_free(n: int = 32, hartmann: float = 50.0, rem: float = 25.0, t_final: float = 2.0) -> dict:
    """max |Dx bx + Dy by| · h / max |B| over the stored frames of a strongly magnetised run."""
    solver = CavityMHD(n=n)
    B0 = np.array([hartmann / np.sqrt(100.0 * rem)])
    worst = [0.0]
    largest_gradient = [0.0]

    def on_frame(k, w_hat, a_hat):
        f = solver.stored_fields(w_hat, a_hat, B0)
        div = divergence(f["bx"], f["by"], solver.h)
        scale = np.abs(np.stack([f["bx"], f["by"]])).max()
        worst[0] = max(worst[0], float(np.abs(div).max() * solver.h / scale))
        # a field-gradient scale, to show the divergence is not small because B is smooth
        largest_gradient[0] = max(largest_gradient[0], float(np.abs(derivative(f["by"], solver.h, -2)).max()
                                                              * solver.h / scale))

    solver.run(B0, [rem], np.linspace(0.0, t_final, 5), on_frame=on_frame)
    return dict(n=n, hartmann=hartmann, rem=rem, max_divergence=worst[0], gradient_scale=largest_gradient[0])


def hartmann_channel(ns: Sequence[int] = (17, 33, 65, 129), hartmann: float = 20.0, rem: float = 25.0,
                     reynolds: float = 100.0, force: float = 1.0) -> dict:
    """Steady flow between plates x = 0, 1 across the applied field B0 x̂, driven by a body force G ŷ.

    With everything independent of y the cavity equations reduce to (v = uy, a as in A = B0 y + a)

        0 = G + (1/Re) v'' − B0 a'',        0 = −B0 v + (1/Rem) a'',        v = a = 0 at x = 0, 1,

    the momentum equation with the Lorentz force j Bx = −B0 a'' and the induction equation with
    u·∇A = v B0. Discretised with the solver's operators (the 3-point second difference D2,
    diagonal in the DST-I: the x-half of the cavity's Laplacian), each sine mode k solves
    a 2×2 system. Eliminating a: (1/Re) v'' − B0² Rem v = −G, i.e. v'' − Ha² v = −G·Re with
    Ha = B0 √(Re·Rem), whose solution is

        v(x) = (G Re/Ha²) (1 − cosh(Ha (x − ½))/cosh(Ha/2)),

    i.e. v/v_max = (cosh Ha' − cosh(Ha' y'))/(cosh Ha' − 1) with y' = 2x − 1 ∈ [−1, 1] and the
    half-width Hartmann number Ha' = Ha/2. Returns the max error relative to v_max per grid and
    the observed order (expected 2).
    """
    B0 = hartmann / np.sqrt(reynolds * rem)
    errors, profiles = [], {}
    for n in ns:
        h = 1.0 / (n - 1)
        m = n - 2
        lam = dirichlet_eigenvalues(m, h)  # −D2 → λk in the sine basis
        g_hat = scipy.fft.dst(np.full(m, force), type=1, norm="ortho")
        # [ −λ/Re    B0 λ   ] [v̂]   [−Ĝ]
        # [ −B0     −λ/Rem ] [â] = [ 0 ]
        a11, a12, a21, a22 = -lam / reynolds, B0 * lam, -B0 * np.ones(m), -lam / rem
        det = a11 * a22 - a12 * a21
        v_hat = (-g_hat * a22) / det
        v = np.concatenate([[0.0], scipy.fft.dst(v_hat, type=1, norm="ortho"), [0.0]])
        x = np.linspace(0.0, 1.0, n)
        exact = force * reynolds / hartmann**2 * (1 - np.cosh(hartmann * (x - 0.5)) / np.cosh(hartmann / 2))
        errors.append(float(np.abs(v - exact).max() / np.abs(exact).max()))
        profiles[n] = (x, v, exact)
    hs = 1.0 / (np.asarray(ns) - 1)
    order = float(np.polyfit(np.log(hs), np.log(errors), 1)[0])
    return dict(ns=np.asarray(ns), errors=np.asarray(errors), order=order, profiles=profiles, hartmann=hartmann,
                rem=rem, B0=B0)


def energy_budget(n: int = 32, hartmann: float = 20.0, rem: float = 50.0, t_final: float = 4.0,
                  cfl: float = 2.0) -> dict:
    """E = E_kin + E_mag against ∫(lid work − viscous − ohmic) dt over a spin-up from rest.

    The rates are evaluated after every step (`CavityMHD.energy_rates`) and integrated by the
    trapezoid rule; the residual |ΔE − ∫rates| is reported relative to ∫(viscous + ohmic) dt.
    What remains is the part of the central-difference advection and Lorentz terms that does not
    cancel in the discrete sums (O(h²)), plus the time quadrature.
    """
    solver = CavityMHD(n=n, cfl=cfl)
    B0 = np.array([hartmann / np.sqrt(100.0 * rem)])
    R = np.array([rem])
    w0, a0 = solver.initial(1)
    rows = [(0.0, solver.energy_rates(w0, a0, B0, R))]

    def on_step(t, w_hat, a_hat, active):
        rows.append((float(t[0]), solver.energy_rates(w_hat, a_hat, B0, R)))

    solver.run(B0, R, np.linspace(0.0, t_final, 11), on_step=on_step)
    t = np.array([r[0] for r in rows])
    get = {k: np.array([float(r[1][k][0]) for r in rows]) for k in rows[0][1]}
    energy = get["kinetic"] + get["magnetic"]
    rate = get["lid_work"] - get["viscous"] - get["ohmic"]

    def cumtrapz(f):
        return np.concatenate([[0.0], np.cumsum(0.5 * np.diff(t) * (f[1:] + f[:-1]))])

    integral = cumtrapz(rate)
    dissipated = cumtrapz(get["viscous"] + get["ohmic"])
    residual = energy - energy[0] - integral
    return dict(times=t, energy=energy, kinetic=get["kinetic"], magnetic=get["magnetic"], lid_work=get["lid_work"],
                viscous=get["viscous"], ohmic=get["ohmic"], integral=integral, residual=residual,
                relative_residual=float(np.abs(residual).max() / dissipated[-1]), n=n, hartmann=hartmann, rem=rem)


def throughput(resolutions: Sequence[int] = (32, 64), batch_sizes: Sequence[int] = (1, 8), steps: int = 20) -> list[dict]:
    """Cell updates per second (cells × steps / s) of the ETDRK4 step, measured here (numpy, one core)."""
    rows = []
    for n in resolutions:
        for b in batch_sizes:
            solver = CavityMHD(n=n)
            B0 = np.full(b, 0.5)
            rem = np.full(b, 50.0)
            w_hat, a_hat = solver.initial(b)
            dt = solver.stable_dt(w_hat, a_hat, B0)
            cw, ca = solver.coefficients(dt, rem)
            def step(state, solver=solver, B0=B0, cw=cw, ca=ca, dt=dt, b=b):
                w_hat, a_hat, speed = solver.step(*state, B0, cw, ca)
                solver.check(w_hat, a_hat, speed, dt, np.zeros(b), None)  # generation checks every step too
                return w_hat, a_hat

            sec = time_steps(step, (w_hat, a_hat), steps)
            rows.append(rate_row(b * n * n, steps, sec, resolution=n, batch=b))
    return rows


# What tests/test_mhd_cavity.py asserts and the chapter reports (at the tests' sizes).
TOLERANCES = {
    "ghia": 0.02,  # max relative error of u_min, v_max, v_min, ψ_min against Ghia et al. (the task's 2 %), at 41²
    "ghia_steady": 1e-4,  # max |Δvx| over the last time unit: the state compared is steady
    "divergence": 1e-12,  # max |∇h·B|·h/max|B|: zero up to round-off (Dx, Dy commute)
    "hartmann_error": 1e-3,  # Hartmann profile, Ha = 20, max error / v_max at 129 points (O(h²Ha²/12): ≈ 4e-4)
    "hartmann_order": (2.0, 0.15),  # observed order of the second-order differences
    "energy_residual": 5e-3,  # |ΔE − ∫(lid − viscous − ohmic)| / ∫(viscous + ohmic) at 32² (Ha = 20, Rem = 50); O(h²): 1.9e-2 at 16², 3e-3 at 32²
}


def checks(ghia_result: dict, div: dict, channel: dict, budget: dict) -> list[dict]:
    """The chapter's summary table: measured values against `TOLERANCES`."""
    measured = {
        "ghia": (f"Ghia Re = 100 (B0 = 0, {ghia_result['n']}²): max relative error of the extrema",
                 ghia_result["max_error"]),
        "ghia_steady": ("Ghia run: max |Δvx| over its last time unit", ghia_result["steady_change"]),
        "divergence": (f"max |∇h·B|·h / max|B| (Ha = {div['hartmann']:g}, Rem = {div['rem']:g}, {div['n']}²)",
                       div["max_divergence"]),
        "hartmann_error": (f"Hartmann channel (Ha = {channel['hartmann']:g}): max error / v_max at "
                           f"{int(channel['ns'][-1])} points", channel["errors"][-1]),
        "hartmann_order": ("Hartmann channel: observed order", channel["order"]),
        "energy_residual": (f"energy budget residual / dissipated energy ({budget['n']}², Ha = {budget['hartmann']:g}, "
                            f"Rem = {budget['rem']:g})", budget["relative_residual"]),
    }
    return check_rows(measured, TOLERANCES)
