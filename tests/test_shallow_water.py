"""Validation of the shallow-water solver (MUSCL + HLL + SSP-RK2): lake at rest, mass, symmetry,
Stoker's exact dam break and its convergence, and the radial dam-break dataset's generation."""
import dataclasses

import numpy as np
import pytest

from pdestudy.data import generate, get_spec, open_dataset
from pdestudy.data import shallow_water as sw
from pdestudy.data.generation import dataset_path, trajectory_seeds
from pdestudy.data.solver_support import SolverInstability
from pdestudy.data.validation import shallow_water as V
from pdestudy.data.validation.common import within_tolerance

TOL = V.TOLERANCES


def within(name, value):
    return within_tolerance(TOL[name], value)


@pytest.mark.parametrize("limiter,h0", [("mc", 1.0), ("minmod", 2.7)])
def test_lake_at_rest_is_exact(limiter, h0):
    r = V.lake_at_rest(h0=h0, limiter=limiter)
    assert within("lake_at_rest", max(r["max_depth_change"], r["max_momentum"]))
    assert r["steps"] > 10


@pytest.fixture(scope="module")
def long_dam_break():
    # to t = 3, so the waves reach the outflow boundary (at t ≈ 1.4) and mass starts to leave
    return V.radial_dam_break(n=48, radius=0.5, t_final=3.0, frames=30)


def test_mass_conserved_until_waves_reach_the_boundary(long_dam_break):
    m = V.mass_conservation(long_dam_break)
    assert 1.0 < m["arrival"] < 2.0  # the bore (speed ≈ 1.3) travels 2 from r0 = 0.5 to the wall
    assert within("mass_before_arrival", m["max_rel_change_before"])
    assert m["max_rel_change"] > 1e-3  # afterwards the outflow boundary lets mass out: the check can fail


def test_dam_break_keeps_the_square_symmetries(long_dam_break):
    s = V.symmetry(long_dam_break)
    assert within("symmetry", s["max_asymmetry"])
    assert s["radial_spread"] < 0.1  # radial up to the Cartesian grid's error


def test_stoker_exact_solution_satisfies_the_jump_conditions():
    hm, um, s = sw.stoker_state(2.0, 1.0, g=1.0)
    g, hr = 1.0, 1.0
    assert 1.0 < hm < 2.0
    assert s * (hm - hr) == pytest.approx(hm * um, rel=1e-13)  # mass
    assert s * hm * um == pytest.approx(hm * um**2 + 0.5 * g * (hm**2 - hr**2), rel=1e-13)  # momentum
    # the rarefaction joins both constant states continuously
    x = np.array([-np.sqrt(2.0) + 1e-12, um - np.sqrt(hm) - 1e-12])
    h, _ = sw.stoker(x, 1.0)
    np.testing.assert_allclose(h, [2.0, hm], rtol=1e-9)
    # the Riemann invariant u + 2c is constant through the left rarefaction
    xf = np.linspace(-1.3, um - np.sqrt(hm) - 0.01, 5)
    h, u = sw.stoker(xf, 1.0)
    np.testing.assert_allclose(u + 2 * np.sqrt(h), 2 * np.sqrt(2.0), rtol=1e-13)


@pytest.fixture(scope="module")
def stoker_convergence():
    return V.stoker_convergence()  # 50 … 400 cells


def test_stoker_convergence_first_order(stoker_convergence):
    c = stoker_convergence
    assert within("stoker_l1_400", c["errors"][-1])
    assert within("stoker_order", c["order"])
    assert within("strip_rows", c["max_rows_differ"])
    assert np.all(np.diff(c["errors"]) < 0)


def test_checks_table_passes(long_dam_break, stoker_convergence):
    rows = V.checks(V.lake_at_rest(), V.mass_conservation(long_dam_break), V.symmetry(long_dam_break),
                    stoker_convergence)
    assert all(r["passes"] for r in rows), rows


def test_smoke_generation_file(tmp_path):
    path = generate("shallow_water_dam_break", "smoke", root=tmp_path, progress=False)
    ds = open_dataset(path)
    spec = get_spec("shallow_water_dam_break", "smoke")
    assert set(ds.data_vars) == {"h", "hu", "hv"}
    assert ds["h"].shape == (spec.n_trajectories, 101, 32, 32)
    assert ds.attrs["system"] == "shallow_water" and ds.attrs["generation_seconds"] > 0
    np.testing.assert_allclose(ds["time"].values, np.linspace(0, 1, 101), atol=1e-12)
    r = ds["radius"].values
    assert r.shape == (spec.n_trajectories,) and np.all((r >= 0.3) & (r <= 0.7))
    np.testing.assert_allclose(r, [sw.radius(s) for s in trajectory_seeds(spec)])
    h = ds["h"].values
    assert h.min() > 0 and np.isfinite(h).all()
    # at rest: depth 1 ≤ h ≤ 2, each cell the area fraction inside the dam, so the volume above 1 is π r0²
    assert h[:, 0].min() == 1.0 and h[:, 0].max() == 2.0
    dx = float(ds["x"][1] - ds["x"][0])
    np.testing.assert_allclose((h[:, 0] - 1.0).sum(axis=(1, 2)) * dx * dx, np.pi * r**2, rtol=2e-2)
    assert np.abs(ds["hu"].values[:, 0]).max() == 0 and np.abs(ds["hv"].values[:, 0]).max() == 0
    np.testing.assert_array_equal(ds["hu"].values[:, 0], 0.0)
    # mass (float32 file) is conserved over the stored frames: waves do not reach the walls by t = 1
    mass = h.astype(np.float64).sum(axis=(-2, -1))
    np.testing.assert_allclose(mass, np.repeat(mass[:, :1], mass.shape[1], axis=1), rtol=1e-6)


def test_trajectory_independent_of_batch_size(tmp_path):
    one = open_dataset(generate("shallow_water_dam_break", "smoke", root=tmp_path / "a", batch_size=1, progress=False))
    three = open_dataset(generate("shallow_water_dam_break", "smoke", root=tmp_path / "b", batch_size=3, progress=False))
    for f in ("h", "hu", "hv"):
        np.testing.assert_array_equal(one[f].values, three[f].values)
    assert not np.array_equal(one["h"].values[0, -1], one["h"].values[1, -1])


def test_instability_names_trajectory_and_time_and_writes_nothing(tmp_path, monkeypatch):
    spec = get_spec("shallow_water_dam_break", "smoke")
    # frames every 0.5 so that the step is set by the CFL number, not shortened to land on a frame
    bad = dataclasses.replace(spec, params={**spec.params, "cfl": 3.0, "frame_interval": 0.5})
    monkeypatch.setattr("pdestudy.data.generation.get_spec", lambda name, profile: bad)
    with pytest.raises(SolverInstability, match=r"shallow_water_dam_break: trajectory 0 became unstable at t = 0\.\d+ "
                                                r"\(.*(CFL|depth|non-finite)"):
        generate("shallow_water_dam_break", "smoke", root=tmp_path, progress=False)
    assert not dataset_path("shallow_water_dam_break", "smoke", tmp_path).exists()
    assert not list(tmp_path.rglob("*.nc"))


def test_negative_depth_is_an_instability():
    solver = sw.ShallowWaterSolver(nx=8, ny=8, device="cpu", name="swe_test")
    h = np.ones((2, 8, 8))
    h[1, 2, 2] = -0.1
    z = np.zeros_like(h)
    with pytest.raises(SolverInstability, match=r"swe_test: trajectory 9 became unstable at t = 0 \(depth h ≤ 0"):
        solver.run([h, z, z], [0.0, 0.1], trajectory_ids=[8, 9])


def test_bad_parameters_raise():
    with pytest.raises(ValueError, match="limiter"):
        sw.ShallowWaterSolver(nx=8, ny=8, limiter="superbee")
    with pytest.raises(ValueError, match="cfl"):
        sw.ShallowWaterSolver(nx=8, ny=8, cfl=0)
    with pytest.raises(ValueError, match="at least 2 cells"):
        sw.ShallowWaterSolver(nx=1, ny=8)
    with pytest.raises(ValueError, match="h_left > h_right"):
        sw.stoker_state(1.0, 2.0)
    solver = sw.ShallowWaterSolver(nx=8, ny=8, device="cpu")
    z = np.zeros((1, 8, 8))
    with pytest.raises(ValueError, match="shape"):
        solver.run([np.ones((1, 4, 4)), z, z], [0.0])
    with pytest.raises(ValueError, match="increasing"):
        solver.run([np.ones((1, 8, 8)), z, z], [0.0, 0.2, 0.1])
