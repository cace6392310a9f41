"""The colliding-thermals solver (miniWeather collision): conservation, rest, symmetry, refinement, data files."""
import dataclasses

import numpy as np
import pytest

from pdestudy.data import generate, get_spec, thermals
from pdestudy.data.generation import dataset_path
from pdestudy.data.io import validate_file
from pdestudy.data.solver_support import SolverInstability
from pdestudy.data.validation import thermals as V
from pdestudy.data.validation.common import within_tolerance

NAME = "colliding_thermals"


def test_mass_rho_theta_and_momentum_are_conserved():
    r = V.conservation(nx=64, t_final=700.0)
    assert r["mass_change"] < V.TOLERANCES["mass"]
    assert r["rho_theta_change"] < V.TOLERANCES["rho_theta"]
    assert r["momentum_change"] < V.TOLERANCES["momentum_x"]


def test_rest_state_stays_at_rest():
    r = V.rest_state(nx=64, t_final=700.0)
    assert r["max_velocity"] < V.TOLERANCES["rest_velocity"]
    assert r["max_rho_prime"].max() < 1e-15  # kg/m³: ρ' stays (exactly) zero too


def test_centred_collision_stays_mirror_symmetric():
    r = V.symmetry(nx=64, t_final=700.0)
    assert r["max_asymmetry"] < V.TOLERANCES["symmetry"]


def test_mirror_asymmetry_detects_an_asymmetric_case():
    # the measure is not blind: bubbles off the centre line give an O(1) asymmetry
    s, steps = V.solver(32)
    out = s.run(s.initial_state(V.collision(warm_x=9_000.0)), 3, steps)
    assert V.mirror_asymmetry({k: v[0] for k, v in out.items()})["vy"][-1] > 0.1


def test_refinement_reduces_the_error():
    r = V.refinement(grids=(32, 64, 128), reference=256, t_final=50.0)
    for e in r["errors"].values():
        assert np.all(np.diff(e) < 0)
    assert r["max_error_ratio"] < V.TOLERANCES["refinement_ratio"]
    assert within_tolerance(V.TOLERANCES["refinement_order"], r["finest_order"])


def test_hydrostatic_background_is_in_balance():
    # dp̄/dz = −ρ̄ g of the analytic background (2nd-order centred difference, error ~ (Δz)²)
    z = np.linspace(0.0, 10_000.0, 2001)
    rho, _, p = thermals.hydrostatic(z)
    dpdz = np.gradient(p, z)
    assert np.abs(dpdz[1:-1] + rho[1:-1] * thermals.GRAV).max() / (rho.max() * thermals.GRAV) < 1e-6


def test_initial_bubble_amplitude_and_cell_averages():
    s, _ = V.solver(128)
    q = s.initial_state(V.collision())
    theta = s.fields(q)["theta"][0] - 300.0
    # cell averages of a cos² bump of amplitude 20 K: just below the peak, never above it
    assert 19.0 < theta.max() <= 20.0 and -20.0 <= theta.min() < -19.0
    assert np.all(q[:, 0] == 0) and np.all(q[:, 1:3] == 0)


def test_smoke_file_is_valid(tmp_path):
    path = generate(NAME, "smoke", root=tmp_path, progress=False)
    spec = get_spec(NAME, "smoke")
    with validate_file(path) as ds:
        assert set(ds.data_vars) == {"density", "theta", "vx", "vy"}
        assert dict(ds.sizes) == dict(trajectory=spec.n_trajectories, time=71, y=spec.params["ny"], x=spec.resolution)
        assert ds.attrs["spec_hash"] == spec.spec_hash() and ds.attrs["generation_seconds"] > 0
        assert np.isclose(float(ds["time"][-1]), 700.0) and np.isclose(float(ds["y"][0]), 10_000.0 / 32)
        for f in ds.data_vars:
            assert np.isfinite(ds[f].values).all()
        assert float(ds["density"].min()) > 0
        # bubble parameters stored per trajectory, inside their ranges
        lo, hi = spec.params["amplitude_range"]
        assert np.all((ds["warm_amplitude"].values >= lo) & (ds["warm_amplitude"].values <= hi))
        assert np.all((ds["cold_amplitude"].values <= -lo) & (ds["cold_amplitude"].values >= -hi))


def test_trajectory_independent_of_batch_size(tmp_path):
    a = generate(NAME, "smoke", root=tmp_path / "a", batch_size=1, progress=False)
    b = generate(NAME, "smoke", root=tmp_path / "b", batch_size=3, progress=False)
    with validate_file(a) as da, validate_file(b) as db:
        for f in da.data_vars:
            np.testing.assert_array_equal(da[f].values, db[f].values)


def test_same_seed_same_numbers_and_different_seeds_differ():
    spec = get_spec(NAME, "smoke")
    one = thermals.trajectory_parameters(spec, [5, 5, 6])
    assert one["warm_x"][0] == one["warm_x"][1] != one["warm_x"][2]


def test_instability_stops_with_clear_error(tmp_path, monkeypatch):
    # cfl = 6 (dt 4× too large) blows up: the error names the dataset, trajectory and time; no file is written
    spec = get_spec(NAME, "smoke")
    bad = dataclasses.replace(spec, params={**spec.params, "cfl": 6.0})
    monkeypatch.setattr("pdestudy.data.generation.get_spec", lambda name, profile: bad)
    with pytest.raises(SolverInstability, match=rf"{NAME}: trajectory [0-9]+ became unstable at t = [0-9.]+ s"):
        generate(NAME, "smoke", root=tmp_path, progress=False)
    assert not dataset_path(NAME, "smoke", tmp_path).exists()


def test_signal_speed_check_names_the_trajectory():
    s, _ = V.solver(32)
    q = s.initial_state(V.collision(3))
    q[2, 1] += 200.0  # ρu of trajectory 2: |u| ≈ 200+ m/s, so |u| + c > 450 m/s
    with pytest.raises(SolverInstability, match=r"x: trajectory 12 became unstable at t = 30 s.*signal speed"):
        s.name = "x"
        s.check(q, 30.0, [10, 11, 12])


@pytest.mark.parametrize("override, message", [
    (dict(ny=15), "cells must be square"),
    (dict(ny=2), "ny"),
    (dict(cfl=-1.0), "cfl"),
    (dict(t_final=705.0), "whole number of frame intervals"),
    (dict(radius_range=[2_000.0, 1_000.0]), "radius_range"),
])
def test_bad_parameters_raise(override, message):
    spec = get_spec(NAME, "smoke")
    bad = dataclasses.replace(spec, params={**spec.params, **override})
    with pytest.raises(ValueError, match=message):
        thermals.simulate(bad, [1], [0])


def test_bad_solver_arguments_raise():
    with pytest.raises(ValueError, match="nx must be an integer ≥ 4"):
        thermals.ThermalSolver(2, 16, 1.0)
    with pytest.raises(ValueError, match="dt must be a positive"):
        thermals.ThermalSolver(32, 16, 0.0)
    with pytest.raises(ValueError, match="warm_radius must be positive"):
        V.solver(32)[0].initial_state(V.collision(warm_radius=0.0))


def test_time_step_divides_the_frame_interval():
    assert thermals.time_step(50.0, 50.0, 1.5, 450.0, 10.0) == (10.0 / 60, 60)  # 400×200: exactly 1/6 s
    dt, steps = thermals.time_step(156.25, 156.25, 1.5, 450.0, 10.0)
    assert steps == 20 and dt == 0.5 and dt <= 1.5 * 156.25 / 450.0


@pytest.mark.parametrize("corrupt, cause", [
    (lambda q: q[1, 0, 3].__setitem__(5, np.nan), "non-finite values"),
    (lambda q: q[1, 0].__setitem__((0, 0), -5.0), "non-positive density"),
])
def test_check_catches_nan_and_negative_density(corrupt, cause):
    s, _ = V.solver(32, name="chk")
    q = s.initial_state(V.collision(2))
    corrupt(q)
    with pytest.raises(SolverInstability, match=rf"chk: trajectory 8 became unstable at t = 40 s.*{cause}"):
        s.check(q, 40.0, [7, 8])
