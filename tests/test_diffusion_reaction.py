"""Validation of the diffusion–reaction (FitzHugh–Nagumo) solver: exact facts of the discrete system,
RK4's order, the reaction ODE, and the dataset's generation (32², seconds)."""
import dataclasses

import numpy as np
import pytest
import torch

from pdestudy.data import diffusion_reaction as dr
from pdestudy.data import generate, get_spec, open_dataset
from pdestudy.data.generation import dataset_path
from pdestudy.data.solver_support import SolverInstability
from pdestudy.data.validation import diffusion_reaction as V
from pdestudy.data.validation.common import within_tolerance

TOL = V.TOLERANCES


def within(name, value):
    return within_tolerance(TOL[name], value)


def test_mean_is_conserved_without_reaction():
    r = V.mean_conservation()
    assert within("mean_conservation", r["max_drift"])


@pytest.mark.parametrize("mode", [(3, 2), (1, 0), (0, 5), (31, 1)])
def test_cosine_mode_decays_at_its_discrete_eigenvalue(mode):
    r = V.cosine_mode(mode=mode)
    # exact in time up to RK4's error: round-off against RK4's own amplification for every mode, and
    # against exp(D λ_h t) for the slow modes, where RK4's error (D λ_h dt)⁵/120 a step is below round-off
    assert within("cosine_mode_rk4", r["max_rel_error_rk4"])
    if max(mode) <= 5:
        assert within("cosine_mode", r["max_rel_error"])
    else:
        assert r["max_rel_error"] > 1e3 * TOL["cosine_mode_rk4"]  # a fast mode shows RK4's truncation error
    assert r["amplitude"][-1] < r["amplitude"][0]
    # the discrete eigenvalue approaches the continuous one at second order in dx
    if max(mode) <= 3:
        coarse = r["eigenvalue_gap"]
        fine = V.cosine_mode(n=64, mode=mode, t_final=0.1)["eigenvalue_gap"]
        assert coarse / fine == pytest.approx(4.0, rel=0.01)


def test_neumann_eigenvalue_matches_the_operator():
    # the closed form against the operator itself, applied to the DCT-II basis vector
    n = 16
    x = dr.cell_centres(n)
    dx = 2.0 / n
    for m in range(n):
        mode = np.cos(np.pi * m * (x + 1) / 2)[None, :].repeat(n, 0)
        lap = dr.neumann_laplacian(torch.tensor(mode)[None], dx)[0].numpy()
        np.testing.assert_allclose(lap, dr.neumann_eigenvalue(m, n, dx) * mode, atol=1e-10 * (1 + 4 / dx**2))


def test_rk4_order_on_cosine_mode_and_nonlinear_run():
    assert within("cosine_order", V.cosine_time_convergence()["order"])
    assert within("nonlinear_order", V.time_convergence()["order"])


def test_uniform_state_follows_the_reaction_ode():
    r = V.reaction_ode()
    half = V.reaction_ode(dt=0.005)
    assert within("reaction_ode", r["max_error"])
    assert within("reaction_ode_ratio", r["max_error"] / half["max_error"])
    assert within("uniform_spread", r["spread"])


def test_checks_table_passes():
    rows = V.checks(V.mean_conservation(), V.cosine_mode(), V.cosine_time_convergence(),
                    V.time_convergence(), V.reaction_ode(), V.reaction_ode(dt=0.005))
    assert all(r["passes"] for r in rows), rows


def test_smoke_generation_file(tmp_path):
    path = generate("diffusion_reaction", "smoke", root=tmp_path, progress=False)
    ds = open_dataset(path)
    spec = get_spec("diffusion_reaction", "smoke")
    assert set(ds.data_vars) == {"u", "v"}
    assert ds["u"].shape == (spec.n_trajectories, 101, 32, 32)
    assert np.isfinite(ds["u"].values).all() and np.isfinite(ds["v"].values).all()
    assert ds.attrs["system"] == "diffusion_reaction" and ds.attrs["generation_seconds"] > 0
    np.testing.assert_allclose(ds["time"].values, np.linspace(0, 5, 101))
    assert ds["x"].values[0] == pytest.approx(-1 + 1 / 32)
    # t = 0 is the N(0, 1) noise; diffusion has smoothed it by the end
    u0 = ds["u"].values[:, 0]
    assert abs(u0.std() - 1) < 0.05 and abs(u0.mean()) < 0.05
    assert ds["u"].values[:, -1].std() < 0.9 * u0.std()


def test_trajectory_independent_of_batch_size(tmp_path):
    one = open_dataset(generate("diffusion_reaction", "smoke", root=tmp_path / "a", batch_size=1, progress=False))
    three = open_dataset(generate("diffusion_reaction", "smoke", root=tmp_path / "b", batch_size=3, progress=False))
    for f in ("u", "v"):
        np.testing.assert_array_equal(one[f].values, three[f].values)
    assert not np.allclose(one["u"].values[0], one["u"].values[1])


def test_instability_names_trajectory_and_time_and_writes_nothing(tmp_path, monkeypatch):
    spec = get_spec("diffusion_reaction", "smoke")
    bad = dataclasses.replace(spec, params={**spec.params, "dt": 0.25, "frame_interval": 0.25})
    monkeypatch.setattr("pdestudy.data.generation.get_spec", lambda name, profile: bad)
    with pytest.raises(SolverInstability, match=r"diffusion_reaction: trajectory 0 became unstable at t = .*stiffness"):
        generate("diffusion_reaction", "smoke", root=tmp_path, progress=False)
    assert not dataset_path("diffusion_reaction", "smoke", tmp_path).exists()
    assert not list(tmp_path.rglob("*.nc"))


def test_blow_up_is_caught_as_non_finite():
    # u = 1e200 overflows u³ at once: the step must stop with an error, not return inf
    solver = dr.DiffusionReactionSolver(n=8, dt=1e-6, device="cpu", name="dr_test")
    u0 = np.zeros((2, 8, 8))
    u0[1, 3, 3] = 1e200
    with pytest.raises(SolverInstability, match=r"dr_test: trajectory 5 became unstable at t = 0"):
        solver.run(u0, np.zeros_like(u0), [0.0, 1e-5], trajectory_ids=[4, 5])


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="dt"):
        dr.DiffusionReactionSolver(n=8, dt=-0.1)
    with pytest.raises(ValueError, match="cells per side"):
        dr.DiffusionReactionSolver(n=1, dt=0.1)
    with pytest.raises(ValueError, match="diffusion coefficients"):
        dr.DiffusionReactionSolver(n=8, dt=0.1, Du=-1)
    spec = get_spec("diffusion_reaction", "smoke")
    with pytest.raises(ValueError, match="must divide the frame interval"):
        dr.make_solver(dataclasses.replace(spec, params={**spec.params, "dt": 0.03}))
    solver = dr.DiffusionReactionSolver(n=8, dt=0.01, device="cpu")
    with pytest.raises(ValueError, match="shape"):
        solver.run(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), [0.0])
    with pytest.raises(ValueError, match="multiple of dt"):
        solver.run(np.zeros((1, 8, 8)), np.zeros((1, 8, 8)), [0.0, 0.015])
