"""The MST-vs-FNO comparison (chapter "MST vs FNO"): budgets, protocol starts, rollouts and scores, tables.

Models here are untrained (built from the smoke configs), so nothing is trained and every test runs
in seconds on the smoke data in the session's temporary data root.
"""
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from pdestudy import experiments as E
from pdestudy.data import generate
from pdestudy.metrics import energy_spectrum
from pdestudy.plots import mst as mst_plots
from pdestudy.train import Run, build_model, load_frames, make_samples


@pytest.fixture(scope="module")
def ns_test(temp_data_roots):
    generate("ns_nu1e-4", "smoke", progress=False)
    return E.test_set("ns_nu1e-4", "smoke")


def fake_run(cfg, folder: Path, seconds=1.0):
    """An untrained model dressed as a finished run (with the metrics.json a run folder has)."""
    torch.manual_seed(0)
    model = build_model(cfg).eval()
    path = folder / cfg.key()
    path.mkdir(parents=True, exist_ok=True)
    (path / "metrics.json").write_text(json.dumps({"n_train_samples": 7}))
    return Run(cfg, model, [{"val_loss": 0.5}], 0, path, seconds, sum(p.numel() for p in model.parameters()))


@pytest.fixture(scope="module")
def runs(ns_test, tmp_path_factory):
    name, d = "ns_nu1e-4", tmp_path_factory.mktemp("runs")
    mst = {dt: fake_run(cfg, d, seconds=float(dt)) for dt, cfg in E.standard_multiscale(name, "smoke").items()}
    ae = fake_run(E.standard_autoencoder(name, "smoke"), d, seconds=10.0)
    fno = {k: fake_run(cfg, d, seconds=3.0) for k, cfg in E.fno_configs(name, "smoke", (10, 1)).items()}
    return E.MstFnoRuns(name, ae, mst, fno)


def test_budget_row_counts_the_samples_training_draws(ns_test):
    row = E.budget_row("ns_nu1e-4", "smoke", fno_overrides={"max_train_samples": None, "epochs": 3})
    frames_fit, _ = load_frames(E.standard_fno("ns_nu1e-4", "smoke", history=10))
    n_fit, T = frames_fit.shape[:2]
    assert row["frames"] == T and row["train / val / test trajectories"].startswith(f"{n_fit} / ")
    for k in (10, 1):
        cfg = E.standard_fno("ns_nu1e-4", "smoke", history=k)
        x, _ = make_samples(cfg, frames_fit)
        assert row[f"FNO k={k}: samples × epochs"] == f"{len(x)} × 3"  # no cap: every window
    dyn = E.standard_multiscale("ns_nu1e-4", "smoke")[8]
    capped = min(n_fit * (T - dyn.rollout * 8), dyn.max_train_samples)
    assert row["MST Δt=1,2,4,8: samples × epochs"].split(" × ")[0].split(", ")[-1] == str(capped)


def test_protocol_starts(ns_test):
    assert E.protocol_starts(ns_test) == ([E.START], ns_test.horizon)
    kol = E.TestSet("kolmogorov_re40", torch.zeros(2, 101, 1, 4, 4), torch.arange(101.0), 2 * math.pi)
    starts, horizon = E.protocol_starts(kol, horizon=40, count=3, history=10)
    assert horizon == 40 and starts == [9, 34, 60] and starts[-1] + horizon <= 100
    with pytest.raises(ValueError, match="does not fit"):
        E.protocol_starts(ns_test, history=12)


def test_compare_scores_every_model_on_the_same_truth(ns_test, runs):
    c = E.compare_mst_fno(ns_test, runs, [E.START], ns_test.horizon, device="cpu")
    N, H = len(ns_test.frames), ns_test.horizon
    assert list(c.predictions) == ["MST 4S", "MST 1S", "FNO k=10", "FNO k=1", "persistence"]
    assert torch.equal(c.truth, E.truth(ns_test.frames))
    for name, p in c.predictions.items():
        assert p.shape == (N, H, *ns_test.frames.shape[2:]) and c.per_step[name].shape == (N, H)
        assert c.scores[name]["nrmse"] == pytest.approx(E.score(p, c.truth)["nrmse"]) and c.seconds[name] >= 0
    assert c.scores["persistence"]["nrmse"] == pytest.approx(E.score(E.persistence(ns_test.frames), c.truth)["nrmse"])
    # MST 1S is the Δt = 1 model applied H times; the FNO rollout is the library's own
    ref, _ = E.rollout_fno(runs.fno[1].model, ns_test.frames, history=1, device="cpu")
    assert torch.allclose(c.predictions["FNO k=1"], ref)


def test_several_starts_stack_trajectories_start_by_start(ns_test, runs):
    c = E.compare_mst_fno(ns_test, runs, [9, 12], 5, mst_scales={"1S": (1,)}, device="cpu")
    N = len(ns_test.frames)
    assert c.truth.shape[0] == 2 * N and torch.equal(c.truth[N:], ns_test.frames[:, 13:18])
    assert torch.equal(c.predictions["persistence"][:N, 0], ns_test.frames[:, 9])
    assert len(c.scores["MST 1S"]["per_trajectory"]) == 2 * N and "MST 4S" not in c.scores


def test_tables_label_quoted_numbers_and_count_the_autoencoder(ns_test, runs, tmp_path):
    c = E.compare_mst_fno(ns_test, runs, [E.START], ns_test.horizon, device="cpu")
    rows = E.mst_fno_rows({"ns_nu1e-4": c})
    assert rows[-1]["model"].startswith("FNO-2D k=10 (FNO paper, quoted") and rows[-1]["ns_nu1e-4"] == "0.1559"
    assert all("(ours, measured)" in r["model"] for r in rows[:-1])
    assert E.mst_fno_rows({"kolmogorov_re40": c})[-1]["kolmogorov_re40"] == "—"
    cost = {r["model"]: r for r in E.mst_fno_cost_rows({"ns_nu1e-4": runs}, {"ns_nu1e-4": c})}
    assert cost["MST 4S"]["parameters"] == runs.autoencoder.n_parameters + sum(r.n_parameters for r in runs.mst.values())
    assert cost["MST 4S"]["training (s)"] == 10.0 + 1 + 2 + 4 + 8 and cost["MST 1S"]["training (s)"] == 11.0
    assert cost["FNO k=10"]["training (s)"] == 3.0
    summary = E.mst_fno_summary({"ns_nu1e-4": c})[0]
    assert summary["lower"] in ("MST 4S", "FNO k=10") and summary["quoted FNO-2D (FNO paper)"] == 0.1559
    lines = E.mst.mst_fno_takeaway([summary], {"ns_nu1e-4": c}, {"ns_nu1e-4": runs})  # the takeaway: these numbers
    assert f"MST 4S {summary['MST 4S']:.4f}, FNO k=10 {summary['FNO k=10']:.4f}" in lines[0]
    assert f"**{summary['lower']}** is lower" in lines[0]
    assert f"lower than our FNO k=10 on {int(summary['lower'] == 'MST 4S')} of 1 Navier–Stokes datasets" in lines[1]
    assert "25 s training" in lines[2] and "FNO k=10: " in lines[2] and "3 s training" in lines[2]
    slow = fake_run(E.standard_fno("ns_nu1e-4", "smoke", max_train_samples=None), tmp_path, seconds=100.0)
    eq = E.mst.equal_cost_fno(ns_test, runs, c, slow, device="cpu")
    last = E.mst.mst_fno_takeaway([summary], {"ns_nu1e-4": c}, {"ns_nu1e-4": runs}, equal_cost={"ns_nu1e-4": eq})[-1]
    assert f"FNO k=10 {eq.scores['nrmse']:.4f} after 100 s (4.00× MST's time)" in last and "not at equal cost" in last
    assert "At equal training cost" not in lines[1]  # no FNO trained near MST's cost: nothing said of it
    near = fake_run(E.standard_fno("ns_nu1e-4", "smoke", epochs=3), tmp_path, seconds=30.0)  # 1.2× MST's 25 s
    eq_near = E.mst.equal_cost_fno(ns_test, runs, c, near, device="cpu")
    claim = E.mst.mst_fno_takeaway([summary], {"ns_nu1e-4": c}, {"ns_nu1e-4": runs},
                                   equal_cost={"ns_nu1e-4": eq_near})[1]
    won = int(c.scores["MST 4S"]["nrmse"] <= eq_near.scores["nrmse"])
    assert (f"At equal training cost, which decides the scorecard's verdict, MST 4S is lower than the FNO k=10 on "
            f"{won} of 1 ({'ns_nu1e-4' if won else 'none'})") in claim
    d = E.mst.equal_cost_difference(eq_near)  # the same paired rule as the verdict's, stated beside the count
    sides = ("1 (ns_nu1e-4)", "none") if d["resolved"] and d["mean"] < 0 else \
        ("none", "1 (ns_nu1e-4)") if d["resolved"] else ("none", "none")
    assert f"beyond the paired spread (twice the standard error over the test rollouts, as the verdict requires) " \
           f"MST 4S is lower on {sides[0]} and the FNO on {sides[1]}." in claim
    cost_rows = E.mst.equal_cost_rows(runs, eq)
    fig = mst_plots.error_vs_training_time({name: cost_rows for name in ("a", "b", "c")})  # three datasets: 2 × 2
    assert [ax.get_title() for ax in fig.axes if ax.axison] == ["a", "b", "c"] and len(fig.axes) == 4
    training = E.mst_fno_training_rows({"ns_nu1e-4": runs})
    assert [r["run"] for r in training] == ["autoencoder", "MST Δt=1", "MST Δt=2", "MST Δt=4", "MST Δt=8",
                                            "FNO k=10", "FNO k=1"]
    assert training[0]["best epoch"] == f"1 of {runs.autoencoder.config.epochs}" and training[0]["train samples"] == 7


def test_late_spectrum_and_spectral_ratio():
    g = torch.Generator().manual_seed(0)
    w = torch.randn(3, 1, 1, 16, 16, generator=g).expand(3, 6, 1, 16, 16)  # constant in time
    k, E_late = E.late_spectrum(w, 2 * math.pi, 4)
    k0, E0 = energy_spectrum(w[:, 0, 0], length=2 * math.pi)
    assert np.array_equal(k, k0) and np.allclose(E_late, E0.mean(0))
    assert E.spectral_ratio(k, E_late, E_late) == pytest.approx(1.0)
    assert E.spectral_ratio(k, 2 * E_late, E_late, kmin=4) == pytest.approx(2.0)
    ref = np.array([1.0, 1.0, 0.0])
    assert E.spectral_ratio([1, 2, 3], [1.0, 1.0, 5.0], ref) == pytest.approx(1.0)  # round-off shells ignored


def test_comparison_figures(ns_test, runs):
    c = E.compare_mst_fno(ns_test, runs, [E.START], ns_test.horizon, device="cpu")
    cols = {"truth": c.truth[0, :, 0], **{m: p[0, :, 0] for m, p in c.predictions.items()}}
    fig = mst_plots.prediction_grid(cols, [0, 5], times=[11, 16], title="t")
    assert len(fig.axes) == 2 * len(cols) + 1  # panels and one colourbar
    spec = {m: E.late_spectrum(p, 1.0, 3) for m, p in c.predictions.items()}
    spec["truth"] = E.late_spectrum(c.truth, 1.0, 3)
    fig = mst_plots.spectrum_comparison({"a": spec, "b": {"truth": spec["truth"], "persistence": spec["persistence"]}})
    assert fig._repr_png_()[:4] == b"\x89PNG"


def test_a_dataset_another_kernel_is_training_waits_until_the_others_are_done(monkeypatch, tmp_path):
    """Side by side with the multi-scale chapter, the comparison trains first the datasets nobody else is
    training now (a thread holding one Δt model's lock stands in for the other kernel)."""
    import threading

    from pdestudy.utils import exclusive
    monkeypatch.setenv("PDESTUDY_RESULTS", str(tmp_path))
    order = []
    monkeypatch.setattr(E.mst, "train_mst_and_fno", lambda name, *a, **kw: order.append(name) or f"runs of {name}")
    busy = E.standard_multiscale("ns_nu1e-3", "smoke")[4].run_dir() / "train.lock"
    held, release = threading.Event(), threading.Event()

    def other_kernel():
        with exclusive(busy):
            held.set()
            release.wait(60)
    thread = threading.Thread(target=other_kernel)
    thread.start()
    try:
        assert held.wait(60)
        runs = E.train_mst_and_fno_all(["ns_nu1e-3", "ns_nu1e-4", "kolmogorov_re40"], "smoke")
    finally:
        release.set()
        thread.join(60)
    assert order == ["ns_nu1e-4", "kolmogorov_re40", "ns_nu1e-3"]  # the busy one last, the others in order
    assert runs == {n: f"runs of {n}" for n in ("ns_nu1e-3", "ns_nu1e-4", "kolmogorov_re40")}  # in the caller's order
    order.clear()
    E.train_mst_and_fno_all(["ns_nu1e-3", "ns_nu1e-4"], "smoke")  # the lock free again: in order
    assert order == ["ns_nu1e-3", "ns_nu1e-4"]
