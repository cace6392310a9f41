"""Compressible Navier–Stokes (PDEBench 2D CFD): exact Riemann solutions, convergence, conservation, data files."""
import math

import numpy as np
import pytest
import torch

from pdestudy.data import compressible_ns as cns
from pdestudy.data import generate, get_spec, open_dataset, registry, validate_file
from pdestudy.data.generation import dataset_path, trajectory_seeds
from pdestudy.data.solver_support import SolverInstability
from pdestudy.data.validation import compressible_ns as val
from pdestudy.data.validation.compressible_ns import within

NAMES = ["cns_rand_m0.1_eta1e-2", "cns_rand_m1_eta1e-8", "cns_turb_m0.1_eta1e-8", "cns_turb_m1_eta1e-8"]


# ---------------------------------------------------------------------------------------- exact Riemann solver
def test_exact_riemann_solver_reproduces_toro_test_1():
    assert within("sod_exact_star", val.toro_star_error())


def test_exact_riemann_solution_is_mirror_symmetric():
    # Swapping the states and reflecting x must reflect the solution (ρ, p even, u odd).
    x = np.linspace(0.0, 1.0, 201)
    a = val.exact_riemann(val.SOD_LEFT, val.SOD_RIGHT, 1.4, x, 0.2, x0=0.5)
    b = val.exact_riemann(val.SOD_RIGHT, val.SOD_LEFT, 1.4, 1.0 - x, 0.2, x0=0.5)
    np.testing.assert_allclose(a["density"], b["density"], atol=1e-14)
    np.testing.assert_allclose(a["velocity"], -b["velocity"], atol=1e-14)
    np.testing.assert_allclose(a["pressure"], b["pressure"], atol=1e-14)


def test_exact_riemann_shock_satisfies_rankine_hugoniot():
    # Mass flux through the right-moving shock is continuous: ρ_R (S − u_R) = ρ*_R (S − u*).
    gamma, (rR, uR, pR) = 1.4, val.SOD_RIGHT
    p_s, u_s = val.star_state(val.SOD_LEFT, val.SOD_RIGHT, gamma)
    cR = math.sqrt(gamma * pR / rR)
    S = uR + cR * math.sqrt((gamma + 1) / (2 * gamma) * p_s / pR + (gamma - 1) / (2 * gamma))
    x = np.array([0.5 + (S - 1e-6) * 0.2])
    r_star = val.exact_riemann(val.SOD_LEFT, val.SOD_RIGHT, gamma, x, 0.2, x0=0.5)["density"][0]
    assert r_star * (S - u_s) == pytest.approx(rR * (S - uR), rel=1e-12)


# ---------------------------------------------------------------------------------------- solver validation
def test_sod_shock_tube_matches_exact_solution():
    r = val.sod()
    for q in ("density", "velocity", "pressure"):
        assert within(f"sod_l1_{q}", r["l1"][q]), (q, r["l1"][q])
    assert r["max_transverse_velocity"] == 0.0  # a quasi-1-D strip stays 1-D exactly


def test_isentropic_vortex_converges_at_second_order():
    r = val.isentropic_vortex()
    assert within("vortex_order_l1", r["order_l1"]), r
    assert np.all(np.diff(r["l1"]) < 0)


@pytest.mark.parametrize("dataset,eta", [("cns_rand_m1_eta1e-8", None), ("cns_rand_m0.1_eta1e-2", None),
                                         ("cns_turb_m1_eta1e-8", 0.01)])
def test_mass_momentum_energy_conserved_to_round_off(dataset, eta):
    r = val.conservation(dataset, eta=eta, t_final=0.3, frames=4)
    assert within("mass_drift", r["max_drift"]["mass"])
    assert within("momentum_drift", max(r["max_drift"]["x-momentum"], r["max_drift"]["y-momentum"]))
    assert within("energy_drift", r["max_drift"]["energy"])
    if eta:  # viscosity dissipates kinetic energy (the total energy stays, as heat)
        assert (r["kinetic"][:, -1] < r["kinetic"][:, 0]).all()


def test_uniform_state_stays_exactly_uniform():
    solver = cns.CompressibleSolver(nx=8, eta=0.01, zeta=0.01, device="cpu")
    W0 = torch.tensor([1.3, 0.4, -0.2, 0.9], dtype=torch.float64)[None, :, None, None].expand(1, 4, 8, 8)
    out = solver.run(W0, [0.0, 0.1])
    assert torch.allclose(out[0, -1], W0[0], rtol=0, atol=1e-15)


# ---------------------------------------------------------------------------------------- initial conditions
@pytest.mark.parametrize("name", NAMES)
def test_initial_conditions_follow_the_recipe(name):
    p = get_spec(name, "smoke").params
    n = 32
    W = cns.initial_state(p, n, seed=7)
    rho, u, v, pres = W
    c0 = math.sqrt(p["gamma"] * p["background_pressure"] / p["background_density"])
    assert np.sqrt(u**2 + v**2).max() == pytest.approx(p["mach"] * c0, rel=1e-12)  # M = max|v| / c₀
    assert np.abs(rho - 1).max() == pytest.approx(p["perturbation"], rel=1e-12)
    assert abs(rho.mean() - 1) < 1e-14 and abs(pres.mean() - 1) < 1e-14  # sinusoids have zero mean
    k = np.fft.fftfreq(n, 1.0 / n)
    div_hat = k[None, :] * np.fft.fft2(u) + k[:, None] * np.fft.fft2(v)
    ratio = np.abs(div_hat).max() / np.abs(np.fft.fft2(u)).max()
    if p["variant"] == "turb":
        assert ratio < 1e-12  # Helmholtz-projected: divergence-free to round-off
    else:
        assert ratio > 0.1
    spectrum = np.abs(np.fft.fft2(rho - 1))
    assert spectrum[np.abs(k) > p["max_wavenumber"]].max() < 1e-10 * spectrum.max()  # only |i|, |j| ≤ 4


def test_sinusoid_field_matches_direct_sum():
    rng = np.random.default_rng(3)
    i, j, c = cns.sinusoid_coefficients(rng, 3)
    n = 16
    x = (np.arange(n) + 0.5) / n
    direct = sum(abs(cc) * np.sin(2 * np.pi * (ii * x[None, :] + jj * x[:, None]) + np.angle(cc))
                 for ii, jj, cc in zip(i, j, c))
    np.testing.assert_allclose(cns.sinusoid_field(i, j, c, n), direct, atol=1e-12)


# ---------------------------------------------------------------------------------------- files
@pytest.mark.parametrize("name", NAMES)
def test_generate_smoke_file(name, tmp_path):
    spec = get_spec(name, "smoke")
    path = generate(name, "smoke", root=tmp_path, progress=False)
    with validate_file(path) as ds:
        assert set(ds.data_vars) == {"density", "vx", "vy", "pressure"}
        assert ds["density"].shape == (spec.n_trajectories, 21, spec.resolution, spec.resolution)
        assert ds["density"].dims == ("trajectory", "time", "y", "x")
        np.testing.assert_allclose(ds["time"].values, np.arange(21) * 0.05)
        np.testing.assert_allclose(ds["x"].values, (np.arange(spec.resolution) + 0.5) / spec.resolution)
        assert ds.attrs["system"] == "compressible_ns" and "HLLC" in ds.attrs["solver"]
        assert float(ds.attrs["generation_seconds"]) > 0
        for f in ("density", "pressure"):
            assert float(ds[f].min()) > 0
        assert not np.allclose(ds["density"].values[0], ds["density"].values[1])


def test_trajectory_independent_of_batch(tmp_path):
    name = "cns_rand_m1_eta1e-8"  # shocks form: the most sensitive to any rounding difference
    one = generate(name, "smoke", root=tmp_path / "one", batch_size=1, progress=False)
    three = generate(name, "smoke", root=tmp_path / "three", batch_size=3, progress=False)
    with open_dataset(one) as a, open_dataset(three) as b:
        for f in cns.FIELDS:
            np.testing.assert_array_equal(a[f].values, b[f].values)


def test_same_seed_same_numbers():
    spec = get_spec("cns_turb_m1_eta1e-8", "smoke")
    seeds = trajectory_seeds(spec)[:2]
    a = cns.simulate(spec, seeds, [0, 1], device="cpu")
    b = cns.simulate(spec, seeds, [0, 1], device="cpu")
    for f in cns.FIELDS:
        np.testing.assert_array_equal(a[f], b[f])


def test_instability_names_dataset_trajectory_and_time(tmp_path, monkeypatch):
    name = "cns_rand_m1_eta1e-8"
    base, profiles = registry._TABLE[name]
    monkeypatch.setitem(registry._TABLE, name, ({**base, "params": {**base["params"], "cfl": 4.0}}, profiles))
    with pytest.raises(SolverInstability, match=rf"{name}: trajectory \d+ became unstable at t = [0-9.e-]+ \((negative|non-finite)"):
        generate(name, "smoke", root=tmp_path, progress=False)
    assert not dataset_path(name, "smoke", tmp_path).exists()
    assert not list(tmp_path.rglob("*.partial"))


def test_bad_parameters_raise_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="limiter"):
        cns.CompressibleSolver(nx=16, limiter="superbee")
    with pytest.raises(ValueError, match="gamma"):
        cns.CompressibleSolver(nx=16, gamma=1.0)
    with pytest.raises(ValueError, match="viscosities"):
        cns.CompressibleSolver(nx=16, eta=-1.0)
    with pytest.raises(ValueError, match="CFL"):
        cns.CompressibleSolver(nx=16, cfl=0.0)
    solver = cns.CompressibleSolver(nx=16, device="cpu")
    with pytest.raises(ValueError, match="shape"):
        solver.run(np.ones((1, 4, 8, 8)), [0.0, 0.1])
    with pytest.raises(ValueError, match="increasing"):
        solver.run(np.ones((1, 4, 16, 16)), [0.1, 0.0])
    spec = get_spec("cns_turb_m1_eta1e-8", "smoke")
    for change, match in [(dict(variant="vortex"), "variant"), (dict(mach=0.0), "Mach"),
                          (dict(perturbation=1.5), "perturbation"), (dict(frame_interval=0.3), "multiple")]:
        bad = registry.DatasetSpec(**{**spec.to_dict(), "fields": spec.fields, "params": {**spec.params, **change}})
        with pytest.raises(ValueError, match=match):
            cns.simulate(bad, [0], [0], device="cpu")
