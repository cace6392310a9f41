"""Box-flow projection solver (PDEBench inhomogeneous NS): cavity vs Ghia, projection, conservation, data files."""
import numpy as np
import pytest

from pdestudy.data import generate, get_spec, incompressible_ns
from pdestudy.data.generation import dataset_path, trajectory_seeds
from pdestudy.data.io import validate_file
from pdestudy.data.registry import DatasetSpec
from pdestudy.data.solver_support import SolverInstability
from pdestudy.data.validation import incompressible_ns as V
from pdestudy.data.validation.common import within_tolerance

NAME = "incompressible_ns_scalar"


def ok(key, value):
    return within_tolerance(V.TOLERANCES[key], value)


def test_cavity_re100_matches_ghia_and_is_divergence_free():
    # the lid-driven cavity is the same solver with lid = 1, no force, no scalar
    r = V.cavity(32)
    assert r["change"] < 1e-5  # reached steady state
    assert ok("ghia_extrema", r["max_rel_dev"]), r["rel_dev"]
    assert ok("cavity_divergence", r["divergence"])
    assert r["u_line"][-1] == 1.0 and r["u_line"][0] == 0.0


def test_cavity_extrema_converge_at_second_order():
    c = V.cavity_convergence((24, 32, 48))
    for key, p in c["order"].items():
        assert ok("cavity_order", p), (key, p)
    # the extrema grow monotonically in magnitude with resolution (the discretisation smooths peaks)
    for key in ("u_min", "v_min"):
        assert np.all(np.diff(c["extrema"][key]) < 0)
    assert np.all(np.diff(c["extrema"]["v_max"]) > 0)


def test_projection_is_exact_and_idempotent():
    r = V.projection_divergence()
    assert r["before"] > 0.1  # the test field really was divergent
    assert ok("projection_divergence", r["after_projection"]) and ok("projection_divergence", r["after_step"])
    assert ok("projection_idempotence", r["idempotence"])


@pytest.mark.parametrize("kappa", [0.0, 1e-3])
def test_scalar_total_conserved_and_bounded(kappa):
    r = V.scalar_conservation(kappa=kappa)
    assert r["rms_speed"][:, -1].min() > 0.05  # the flow really moved the scalar
    assert ok("scalar_total_drift", r["max_drift"])
    assert ok("scalar_overshoot", r["overshoot"])


def test_fluid_at_rest_stays_at_rest():
    r = V.rest_state()
    assert ok("rest_unforced", r["unforced_speed"])
    assert r["unforced_scalar_change"] < 1e-14  # only the RK3 convex combination's rounding
    assert ok("rest_gradient_force", r["gradient_speed_rel"])


def test_initial_state_is_divergence_free_with_no_slip_walls():
    solver = incompressible_ns.BoxFlow(n=32, nu=0.01)
    u, v, s, fx, fy = incompressible_ns.initial_state(solver, 5, get_spec(NAME, "smoke").params)
    assert np.abs(solver.divergence(u[None], v[None])).max() * solver.h < 1e-13
    assert np.all(u[:, [0, -1]] == 0) and np.all(v[[0, -1], :] == 0)
    assert s.min() > 0 and s.mean() == pytest.approx(1.0, rel=1e-12)
    assert np.sqrt(np.mean(u**2) + np.mean(v**2)) == pytest.approx(0.5, rel=1e-12)


def test_generate_smoke_file(tmp_path):
    path = generate(NAME, "smoke", root=tmp_path, progress=False)
    spec = get_spec(NAME, "smoke")
    with validate_file(path) as ds:
        n, T = spec.resolution, round(spec.params["t_final"] / spec.params["frame_interval"]) + 1
        for f in ("vx", "vy", "particles"):
            assert ds[f].shape == (spec.n_trajectories, T, n, n)
            assert np.isfinite(ds[f].values).all()
        assert ds.attrs["dataset"] == NAME and ds.attrs["system"] == "incompressible_ns"
        assert "generation_seconds" in ds.attrs and "DCT" in ds.attrs["solver"]
        np.testing.assert_allclose(ds["x"].values, (np.arange(n) + 0.5) / n)
        p = ds["particles"].values.astype(np.float64)
        total = p.sum(axis=(2, 3))
        assert np.abs(total / total[:, :1] - 1).max() < 1e-6  # float32 storage; the solver's drift is ~1e-14
        assert p.min() > 0
        assert not np.allclose(ds["vx"].values[0], ds["vx"].values[1])


def test_trajectory_independent_of_batch(tmp_path):
    a = generate(NAME, "smoke", root=tmp_path / "a", batch_size=1, progress=False)
    b = generate(NAME, "smoke", root=tmp_path / "b", batch_size=3, progress=False)
    with validate_file(a) as da, validate_file(b) as db:
        for f in ("vx", "vy", "particles"):
            np.testing.assert_array_equal(da[f].values, db[f].values)


def _spec(**params):
    base = get_spec(NAME, "smoke")
    return DatasetSpec(**{**base.to_dict(), "fields": base.fields, "params": {**base.params, **params}})


def test_instability_names_trajectory_and_time(tmp_path, monkeypatch):
    # a Courant number of 4 is far beyond what SSP-RK3 with central/MUSCL fluxes tolerates
    spec = _spec(cfl=4.0, force_amplitude=5.0)
    seeds = trajectory_seeds(spec)[:2]
    with pytest.raises(SolverInstability, match=rf"{NAME}: trajectory 7 became unstable at t = "):
        incompressible_ns.simulate(spec, seeds, [7, 8])
    monkeypatch.setattr("pdestudy.data.generation.get_spec", lambda name, profile: spec)
    with pytest.raises(SolverInstability):
        generate(NAME, "smoke", root=tmp_path, progress=False)
    assert not dataset_path(NAME, "smoke", tmp_path).exists()


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="even integer"):
        incompressible_ns.BoxFlow(n=31, nu=0.01)
    with pytest.raises(ValueError, match="nu > 0"):
        incompressible_ns.BoxFlow(n=32, nu=0.0)
    with pytest.raises(ValueError, match="cfl"):
        incompressible_ns.BoxFlow(n=32, nu=0.01, cfl=-1)
    with pytest.raises(ValueError, match="multiple of frame_interval"):
        incompressible_ns.make_solver(_spec(t_final=1.05))
    with pytest.raises(ValueError, match="length must be 1"):
        incompressible_ns.make_solver(_spec(length=2.0))
    with pytest.raises(ValueError, match="lacks"):
        incompressible_ns.make_solver(DatasetSpec(**{**get_spec(NAME, "smoke").to_dict(), "fields": ("vx",),
                                                     "params": {"nu": 0.01}}))
    solver = incompressible_ns.BoxFlow(n=8, nu=0.01)
    with pytest.raises(ValueError, match="increasing"):
        solver.run(*solver.zeros(1), [0.5, 0.2])
