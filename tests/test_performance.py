"""pdestudy.experiments.performance: the equal-accuracy search, the solvers restarted from stored frames,
counted FLOPs, the cost arithmetic and generation with worker processes. No timing is asserted (speed
is the book's business, not the tests')."""
import json
import math
import shutil

import h5py
import pytest
import torch
from torch import nn

from pdestudy.data import thermals
from pdestudy.data.navier_stokes import VorticitySolver, fno_forcing, gaussian_random_field
from pdestudy.data.registry import get_spec
from pdestudy.experiments import performance as P
from pdestudy.experiments import mst
from pdestudy.train import Run, TrainConfig


def point(grid: int, dt: float, err: float, stable: bool = True, horizon: int = 10) -> P.SolverPoint:
    return P.SolverPoint(f"{grid}²", grid * grid, dt, round(horizon / dt), "ifrk4", 2, nrmse=err if stable else math.inf,
                         seconds=1.0, stable=stable)


# --------------------------------------------------------------------------- the equal-accuracy search
def test_coarsest_matching_takes_the_least_work_at_least_as_accurate():
    points = [point(8, 0.5, 0.09), point(16, 0.1, 0.004), point(16, 0.5, math.inf, stable=False),
              point(16, 0.25, 0.0041), point(32, 0.02, 1e-8), point(32, 0.1, 5e-8)]
    assert P.coarsest_matching(points, 0.1).label == "8², dt = 0.5"  # 64 cells × 20 steps
    assert P.coarsest_matching(points, 0.05).label == "16², dt = 0.25"  # fewer steps than dt = 0.1, same grid
    assert P.coarsest_matching(points, 0.0041).label == "16², dt = 0.25"  # "at most": equal is enough
    assert P.coarsest_matching(points, 0.00409).label == "16², dt = 0.1"
    assert P.coarsest_matching(points, 1e-7).label == "32², dt = 0.1"  # 1024 × 100 < 1024 × 500
    tie = [point(16, 0.5, 0.01), point(8, 0.125, 0.01)]  # equal work (256 × 20 = 64 × 80): the coarser grid
    assert P.coarsest_matching(tie, 0.02).label == "8², dt = 0.125"


def test_coarsest_matching_says_why_nothing_qualifies():
    points = [point(8, 0.5, 0.09), point(16, 0.1, 0.004), point(32, 1.0, math.inf, stable=False)]
    with pytest.raises(ValueError, match=r"no searched solver configuration reaches an error of 0\.001: the most "
                                         r"accurate, 16², dt = 0\.1, has 0\.004 \(1 others went unstable\) — search finer"):
        P.coarsest_matching(points, 1e-3)
    with pytest.raises(ValueError, match=r"every searched solver configuration went unstable \(32², dt = 1\)"):
        P.coarsest_matching(points[2:], 1.0)
    with pytest.raises(ValueError, match="no solver configuration was searched"):
        P.coarsest_matching([], 1.0)
    rows = P.equal_accuracy_rows([P.Timed("MST 4S", "surrogate", 2, 10, 1.0, 2, nrmse=1e-3)], points)
    assert rows[0]["solver as accurate"].startswith("none: no searched solver configuration")
    assert math.isnan(rows[0]["solver × faster"])


def test_steps_must_divide_the_frame_interval():
    assert P.steps_per_frame(1.0, 0.02) == 50 and P.steps_per_frame(10.0, 2.5) == 4
    with pytest.raises(ValueError, match=r"dt = 0\.3 does not divide the frame interval 1"):
        P.steps_per_frame(1.0, 0.3)


def ns_reference(n=32, frames=4, seeds=(3, 4)):
    """Frames 0 … frames−1 (interval 1) of the smoke ν = 1e-3 recipe (32², dt = 0.02) from random fields:
    a tiny test set whose every frame the registry's smoke spec describes."""
    spec = get_spec("ns_nu1e-3", "smoke")
    solver = VorticitySolver(n=n, nu=spec.params["nu"], forcing=fno_forcing, dt=spec.params["dt"], device="cpu")
    w = solver.run(gaussian_random_field(n, list(seeds)), [float(t) for t in range(frames)])
    return mst.TestSet("ns_nu1e-3", w[:, :, None].float(), torch.arange(frames, dtype=torch.float32), 1.0)


def test_solver_error_against_its_reference_falls_as_the_grid_refines():
    test = ns_reference()
    curve = P.accuracy_cost_curve("ns_nu1e-3", "smoke", test, grids=[8, 12, 16, 24], dts=[0.1, 1.0], horizon=3, start=0,
                                  device="cpu")
    at = {(p.grid, p.dt): p for p in curve}
    assert len(curve) == 9 and at["32²", 0.02].data_recipe  # the data recipe is always searched
    recipe = at["32²", 0.02]
    assert recipe.nrmse < 1e-5 and recipe.frames == 3 and recipe.steps == 150  # the data's steps, from float32 frames
    errors = [at[f"{n}²", 0.1].nrmse for n in (8, 12, 16, 24)]
    assert all(a > b for a, b in zip(errors, errors[1:])), errors  # convergence in the grid
    assert errors[-1] < 0.1 * errors[0]
    unstable = [p for p in curve if not p.stable]  # a step beyond the CFL limit is reported, not raised
    assert unstable and all(p.dt == 1.0 and "CFL" in p.note and math.isinf(p.nrmse) for p in unstable)
    reused = P.accuracy_cost_curve("ns_nu1e-3", "smoke", test, grids=[8], dts=[0.1], horizon=3, start=0, device="cpu",
                                   known=curve)
    assert all(any(r is p for p in curve) for r in reused)  # known points are not solved again


# --------------------------------------------------------------------------- the thermals solver from stored frames
def test_thermals_restart_repeats_the_data_and_coarser_grids_cost_accuracy():
    spec = get_spec("colliding_thermals", "smoke")
    solver, steps = thermals.make_solver(spec)
    assert steps % 2 == 1  # an odd number of steps a frame: restarting at an odd frame must flip the sweep order
    q = solver.initial_state(thermals.trajectory_parameters(spec, [11, 12]))
    out = solver.run(q, 4, steps)
    fields = list(thermals.FIELDS)
    frames = torch.stack([torch.from_numpy(out[f]).float() for f in fields], dim=2)  # (B, T, C, nz, nx), stored as float32
    exact, pred = P.thermal_point(spec, frames[:, 1], frames[:, 3], fields, lead=2, start_frames=[1, 1])
    assert exact.data_recipe and exact.stable and exact.steps == 2 * steps
    assert exact.nrmse < 1e-5  # the data's own steps, in the data's sweep order, from float32-rounded fields
    wrong, _ = P.thermal_point(spec, frames[:, 1], frames[:, 3], fields, lead=2, start_frames=[0, 0])
    assert wrong.nrmse > 10 * exact.nrmse  # the other sweep order is another (split) scheme
    coarse, pred2 = P.thermal_point(spec, frames[:, 1], frames[:, 3], fields, lead=2, start_frames=[1, 1], factor=2)
    assert coarse.grid == "16×8" and coarse.steps < exact.steps and coarse.nrmse > 100 * exact.nrmse
    assert pred2.shape == pred.shape == frames[:, 3].shape
    with pytest.raises(ValueError, match="cannot be coarsened 8×"):
        P.thermal_point(spec, frames[:, 1], frames[:, 3], fields, lead=2, start_frames=[1, 1], factor=8)


def test_prolong_keeps_the_cell_mean_of_a_periodic_row():
    a = torch.linspace(0, 1, 8, dtype=torch.float64).repeat(2, 4, 1).numpy()  # (B, nz, nx)
    fine = P.prolong(a, 2)
    assert fine.shape == (2, 8, 16)
    assert abs(fine.mean() - a.mean()) < 1e-12  # bilinear between centres, periodic in x: the mean is kept
    assert (P.prolong(a, 1) == a).all()


# --------------------------------------------------------------------------- counted FLOPs and the arithmetic of cost
def test_flop_counter_counts_a_linear_and_a_convolution_exactly():
    B, n_in, n_out = 8, 32, 16
    layer = nn.Linear(n_in, n_out, bias=False)
    x = torch.randn(B, n_in)
    assert P.count_flops(lambda: layer(x)) == 2 * B * n_in * n_out  # one multiply-add = 2 FLOPs
    assert P.count_flops(lambda: layer(x).sum().backward()) == 4 * B * n_in * n_out  # + the weight gradient
    xg = x.clone().requires_grad_(True)
    assert P.count_flops(lambda: layer(xg).sum().backward()) == 6 * B * n_in * n_out  # + the input gradient
    conv = nn.Conv2d(3, 4, 3, padding=1, bias=False)
    assert P.count_flops(lambda: conv(torch.randn(2, 3, 8, 8))) == 2 * 2 * 4 * 8 * 8 * 3 * 9


def test_achieved_flops_and_break_even():
    a = P.achieved(3e9, 0.5, 12e9)
    assert a == {"achieved_flops": 6e9, "of_peak": 0.5}
    with pytest.raises(ValueError, match="positive"):
        P.achieved(1e9, 0.0, 1e9)
    assert P.break_even(100.0, 2.0, 1.5) == 200.0  # saves 0.5 s a rollout: 200 rollouts pay 100 s
    assert math.isinf(P.break_even(100.0, 1.0, 1.5))  # slower than the solver: never


def fake_run(tmp_path, n_samples: int, epochs: int, batch: int, **cfg) -> Run:
    path = tmp_path / f"run{n_samples}-{batch}"
    path.mkdir()
    (path / "metrics.json").write_text(json.dumps({"n_train_samples": n_samples}))
    history = [{"val_loss": 1.0 / (e + 1)} for e in range(epochs)]
    return Run(TrainConfig(batch_size=batch, epochs=epochs, **cfg), nn.Linear(1, 1), history, epochs - 1, path, 1.0, 2)


def test_optimiser_steps_and_the_best_run_by_validation(tmp_path):
    assert fake_run(tmp_path, 100, 3, 16).optimiser_steps == 3 * 6  # full batches only
    assert fake_run(tmp_path, 10, 3, 16).optimiser_steps == 3  # fewer samples than a batch: one batch
    runs = {"a": fake_run(tmp_path, 20, 2, 4), "b": fake_run(tmp_path, 21, 4, 4)}
    assert P.best_by_validation(runs) == "b"  # its kept epoch has the lower validation loss (0.25 < 0.5)
    assert P.window_subset(10, 4) == [0, 3, 6, 9] and P.window_subset(3, 8) == [0, 1, 2]


def test_speed_rows_ratios():
    solver = P.Timed("solver", "solver", 4, 10, 8.0, 1)
    fast = P.Timed("fast", "surrogate", 4, 10, 2.0, 2)
    gpu = P.Timed("gpu", "surrogate", 4, 10, 1.0, None)
    rows = {r["method"]: r for r in P.speed_rows([solver, fast, gpu], solver)}
    assert rows["fast"]["per rollout (ms)"] == 500.0 and rows["fast"]["per frame (ms)"] == 50.0
    assert rows["fast"]["× faster than the data recipe"] == 4.0
    assert rows["fast"]["× per core-second"] == 2.0  # on two cores against one
    assert math.isnan(rows["gpu"]["× per core-second"]) and rows["gpu"]["cores"] == "GPU"


# --------------------------------------------------------------------------- generation with worker processes
def test_the_generation_speed_up_compares_whole_files_bit_for_bit(tmp_path):
    # the smoke thermals (the cheapest smoke file to solve) in four batches of two, in this process (that
    # two worker processes write the same file as one is tests/test_data_files.py's; a second worker's
    # start-up here would cost more than the file)
    rows = P.generation_speedup("colliding_thermals", "smoke", workers=[1], batch_size=2, root=tmp_path)
    assert [(r["workers"], r["trajectories"], r["speed-up"]) for r in rows] == [(1, 8, 1.0)]
    # the comparison can fail: one value changed in a copy
    a = tmp_path / "workers1" / "smoke" / "colliding_thermals.nc"
    b = tmp_path / "changed.nc"
    shutil.copy(a, b)
    assert P.files_equal(a, b)
    with h5py.File(b, "r+") as f:
        f["theta"][0, 1, 2, 3] += 1e-3
    assert not P.files_equal(a, b)


@pytest.mark.parametrize("profile", ["smoke", "default", "paper"])
def test_the_page_asks_for_the_chapters_models_in_every_profile(profile):
    # its parameters name the models of matey/tokenization and mst/mst_vs_fno; if they drifted apart, a book
    # build would train other models here instead of reusing those chapters'
    from pdestudy.book import load_profile
    nbs = load_profile(profile)["notebooks"]
    page, tok, fno = nbs["beyond/performance"], nbs["matey/tokenization"], nbs["mst/mst_vs_fno"]
    for mine, theirs in [("attentions", "attentions"), ("size", "size"), ("gamma", "gamma"), ("gammas", "gammas"),
                         ("gamma_attention", "gamma_attention"), ("seed", "seed")]:
        assert page[f"matey_{mine}"] == tok[theirs], mine
    assert page["fno_histories"] == fno["fno_histories"] and page["fno_overrides"] == fno["fno_overrides"]
    assert page["dataset"] in fno["datasets"]
