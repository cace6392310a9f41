"""Validation of the vorticity solver against analytic solutions and conservation laws (≤ 64², fast)."""
import math

import numpy as np
import pytest
import torch

from pdestudy.data import get_spec, kolmogorov, navier_stokes, validation
from pdestudy.data.generation import trajectory_seeds
from pdestudy.data.validation import within
from pdestudy.data.navier_stokes import VorticitySolver, fno_forcing, gaussian_random_field
from pdestudy.data.solver_support import SolverInstability


@pytest.mark.parametrize("mode", [(1, 1), (2, 1), (1, 3)])
def test_taylor_green_decays_exactly_with_ifrk4(mode):
    # f = 0 and a single Fourier shell: advection vanishes, ω(t) = ω(0) exp(−4π²|k|²νt).
    r = validation.taylor_green(mode=mode)
    assert within("taylor_green_ifrk4", r["max_rel_error"])
    assert r["amplitude"][-1] < r["amplitude"][0]


def test_taylor_green_cn_euler_is_first_order_accurate():
    # Crank–Nicolson on a pure-diffusion mode: per-step amplification (1−a)/(1+a) vs exp(−2a), O(dt³) per step.
    coarse = validation.taylor_green(scheme="cn-euler", dt=0.05)["max_rel_error"]
    fine = validation.taylor_green(scheme="cn-euler", dt=0.025)["max_rel_error"]
    assert 0 < fine < coarse and within("taylor_green_cn", coarse)
    assert within("cn_error_ratio", coarse / fine)  # CN is 2nd order for the linear part


def test_time_convergence_orders():
    assert within("order_ifrk4", validation.time_convergence("ifrk4")["order"])
    assert within("order_cn", validation.time_convergence("cn-euler", dts=(0.02, 0.01, 0.005, 0.0025))["order"])


def test_mean_vorticity_stays_zero():
    r = validation.mean_vorticity()
    assert within("mean_vorticity", r["max_abs_mean"] / max(1.0, r["rms"]))


def test_refinement_at_nu_1e3_changes_solution_less_than_1e3():
    # Halving dt and doubling the grid changes the forced ν = 1e-3 solution by < 1e-3 (relative).
    assert within("refinement", validation.refinement(n=32, nu=1e-3, dt=0.02, t_final=5.0)["rel_change"])


def test_laminar_kolmogorov_is_steady():
    assert within("laminar_drift", validation.laminar_kolmogorov()["max_drift"])


@pytest.mark.parametrize("nu", [1e-3, 1e-5])
def test_enstrophy_budget_closes(nu):
    r = validation.enstrophy_budget(nu=nu)
    assert within("advection_rate", r["max_advection_rate"])  # the dealiased nonlinear term conserves enstrophy
    assert within("budget_residual", r["budget_residual"])  # trapezoid quadrature of dZ/dt = −ν⟨|∇ω|²⟩ + ⟨fω⟩


def test_kolmogorov_enstrophy_budget_closes():
    r = validation.enstrophy_budget(n=32, nu=1 / 40, forcing=kolmogorov.kolmogorov_forcing, length=kolmogorov.LENGTH, dt=0.01, t_final=1.0)
    assert within("advection_rate", r["max_advection_rate"])
    assert within("budget_residual", r["budget_residual"])


def test_grf_statistics():
    n, seeds = 32, list(range(400))
    w = gaussian_random_field(n, seeds)
    assert w.mean(dim=(-2, -1)).abs().max() < 1e-12  # zero mean exactly
    ky, kx = navier_stokes.wavenumbers(n, 1.0)
    amp = math.sqrt(2) * 7**1.5 * (kx**2 + ky**2 + 49) ** (-1.25)
    amp[0, 0] = 0
    expected_var = float((navier_stokes.spectral_weights(n) * amp**2).sum())
    assert w.var().item() == pytest.approx(expected_var, rel=0.05)


def test_grf_sample_independent_of_batch():
    a = gaussian_random_field(32, [11, 12, 13])
    b = gaussian_random_field(32, [12])
    assert torch.equal(a[1], b[0])


def test_trajectory_independent_of_batch_size():
    # Kolmogorov flow is chaotic, so any batch-dependent rounding would show up after the spin-up.
    spec = get_spec("kolmogorov_re40", "smoke")
    seeds = trajectory_seeds(spec)
    full = kolmogorov.simulate(spec, seeds[:3], [0, 1, 2], device="cpu")["vorticity"]
    single = kolmogorov.simulate(spec, seeds[1:2], [1], device="cpu")["vorticity"]
    np.testing.assert_array_equal(full[1], single[0])


def test_same_seed_same_numbers():
    spec = get_spec("ns_nu1e-3", "smoke")
    seeds = trajectory_seeds(spec)[:2]
    a = navier_stokes.simulate(spec, seeds, [0, 1], device="cpu")["vorticity"]
    b = navier_stokes.simulate(spec, seeds, [0, 1], device="cpu")["vorticity"]
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[0], a[1])


@pytest.mark.parametrize("scheme,dt", [("ifrk4", 0.2), ("cn-euler", 0.2)])
def test_instability_stops_with_clear_error(scheme, dt):
    solver = VorticitySolver(n=32, nu=1e-5, forcing=fno_forcing, dt=dt, scheme=scheme, device="cpu", name="ns_test")
    w0 = 20 * gaussian_random_field(32, [0, 1])
    with pytest.raises(SolverInstability, match=r"ns_test: trajectory 7 became unstable at t = .*dt = 0.2"):
        solver.run(w0, [0.0, 10.0], trajectory_ids=[7, 8])


def test_spectral_resampling_roundtrip():
    w = gaussian_random_field(32, [3])
    w_hat = navier_stokes.to_spectral(w) * navier_stokes.dealias_mask(32)
    w = navier_stokes.to_physical(w_hat)
    up = navier_stokes.to_physical(w_hat, 64)
    assert torch.allclose(up[..., ::2, ::2], w, atol=1e-12)  # interpolation keeps the grid values
    assert torch.allclose(navier_stokes.to_physical(navier_stokes.to_spectral(up), 32), w, atol=1e-12)


def test_bad_solver_parameters_raise():
    with pytest.raises(ValueError, match="scheme"):
        VorticitySolver(n=32, nu=1e-3, scheme="euler")
    with pytest.raises(ValueError, match="even"):
        VorticitySolver(n=31, nu=1e-3)
    solver = VorticitySolver(n=32, nu=1e-3, dt=0.03, device="cpu")
    with pytest.raises(ValueError, match="multiple of dt"):
        solver.run(torch.zeros(1, 32, 32), [0.0, 0.1])
    with pytest.raises(ValueError, match="grid"):
        solver.run(torch.zeros(1, 16, 16), [0.0])
