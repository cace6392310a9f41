"""pdestudy.experiments: the MST protocol's helpers, on tiny untrained models and random frames."""
from pathlib import Path

import pytest
import torch

from pdestudy import experiments as E
from pdestudy.models.cae import CAEConfig, ConvAutoencoder
from pdestudy.models.mst import LatentTransformer, MSTConfig
from pdestudy.train import Run, TrainConfig


def test_old_names_still_resolve():
    """experiments/ and plots/ are split per protocol and subject; the names of the old modules still work."""
    from pdestudy import plots
    from pdestudy.experiments import START, mst, test_set, train
    from pdestudy.plots import mst as mst_plots

    assert E.mst is mst and START == mst.START and test_set is mst.test_set and train is mst.train
    assert E.chain_depths is mst.chain_depths and E.get_device is mst.get_device
    assert all(getattr(E, name) is getattr(mst, name) for name in E.__all__ if name != "mst")
    for name in ("latent_size", "step_errors", "prediction_grid", "spectrum_comparison", "BASELINE_STYLE"):
        assert getattr(plots, name) is getattr(mst_plots, name)
    assert plots.training_curves.__module__ == "pdestudy.plots"  # shared: any run of pdestudy.train
    with pytest.raises(AttributeError):
        plots.no_such_figure


# --------------------------------------------------------------------------- rollout and multi-scale studies
# (tests of experiments.training_summary, evaluate_scale_sets and scale_set_rows: untrained tiny
# models on random frames, so they run in a second and need no dataset)


def tiny_mst(n_traj=3, n_frames=30, seed=0):
    torch.manual_seed(seed)
    ae = ConvAutoencoder(CAEConfig(channels=[4, 8])).eval()  # 16² frames → 4×4×8 latents
    models = {dt: LatentTransformer(MSTConfig(width=8, depth=1, heads=2, latent_size=4, pos_hidden=8)).eval()
              for dt in (1, 2, 4, 8)}
    frames = torch.randn(n_traj, n_frames, 1, 16, 16)
    test = E.TestSet("random", frames, torch.arange(n_frames, dtype=torch.float32), 1.0)
    return ae, models, test


def test_evaluate_scale_sets_scores_timings_and_chains():
    ae, models, test = tiny_mst()
    horizon = 13
    res = E.evaluate_scale_sets(ae, models, test, starts=(2, 10), horizon=horizon, device="cpu", repeats=1)
    assert list(res) == ["1S", "2S", "3S", "4S", "persistence"]
    for name, scales in E.SCALE_SETS.items():
        r = res[name]
        assert r["scales"] == tuple(scales)
        assert r["per_step"].shape == (horizon,) and r["per_step_all"].shape == (2 * 3, horizon)
        assert r["per_trajectory"].shape == (2 * 3,) and r["nrmse"] == pytest.approx(float(r["per_trajectory"].mean()))
        assert set(r["per_start"]) == {2, 10}
        assert r["nrmse"] == pytest.approx(sum(r["per_start"].values()) / 2, rel=1e-5)  # equal trajectories per start
        assert r["depths"] == E.chain_depths(horizon, list(scales)) and r["longest_chain"] == max(r["depths"])
        assert r["final_calls"] == r["depths"][horizon]  # the greedy path to the last frame
        assert min(r["rollout_seconds"], r["latent_seconds"], r["final_seconds"]) > 0
    assert res["4S"]["final_calls"] == 13 // 8 + bin(13 % 8).count("1") == 3  # 13 = 8 + 4 + 1
    assert res["1S"]["final_calls"] == horizon
    # the protocol's score of the persistence baseline, from each start
    p = E.score(E.persistence(test.frames, 10, horizon), E.truth(test.frames, 10, horizon))["nrmse"]
    assert res["persistence"]["per_start"][10] == pytest.approx(p)
    assert "rollout_seconds" not in res["persistence"]


def test_final_state_is_the_rollouts_last_frame():
    # final_state_mst takes the same greedy path as the hierarchical rollout to its last frame,
    # so the error evaluate_scale_sets reports for it is the last point of the error curve
    ae, models, test = tiny_mst()
    res = E.evaluate_scale_sets(ae, models, test, starts=(5,), horizon=11, device="cpu", repeats=1)
    for name in E.SCALE_SETS:
        assert res[name]["final_error"] == pytest.approx(float(res[name]["per_step"][-1]), rel=1e-4)


def test_evaluation_does_not_depend_on_the_evaluation_batch(monkeypatch):
    """Rollouts, reconstructions, encodings and validation losses pass `utils.eval_batch` samples at a
    time (the caches of a CPU); one at a time and all at once give the same numbers."""
    from pdestudy import utils
    from pdestudy.models.fno import FNOBaseline, FNOConfig
    from pdestudy.train import Unroll, encode_frames, evaluate_loss

    ae, models, test = tiny_mst(n_traj=5, n_frames=16)
    torch.manual_seed(1)
    fno = FNOBaseline(FNOConfig(history=3, n_modes=[4, 4], hidden_channels=4, n_layers=1)).eval()
    x, y = torch.randn(7, 1, 8, 4, 4), torch.randn(7, 2, 8, 4, 4)

    def everything():
        return [E.rollout_mst(ae, models, test.frames, start=2, horizon=9, device="cpu")[0],
                E.final_state_mst(ae, models, test.frames, target=11, start=2, device="cpu")[0],
                E.rollout_fno(fno, test.frames, history=3, start=4, horizon=6, device="cpu")[0],
                E.reconstruct(ae, test.frames, device="cpu"), encode_frames(ae, test.frames),
                torch.tensor(evaluate_loss(Unroll(models[1], 2), x, y))]

    monkeypatch.setitem(utils.EVAL_BATCH, "cpu", 1)
    one = everything()
    monkeypatch.setitem(utils.EVAL_BATCH, "cpu", 1000)
    for a, b in zip(one, everything(), strict=True):
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-5, atol=1e-6)
    assert utils.eval_batch("cpu") == 1000 and utils.eval_batch("meta") == utils.EVAL_BATCH_DEFAULT


def test_evaluate_scale_sets_rejects_missing_models_and_short_trajectories():
    ae, models, test = tiny_mst(n_frames=20)
    with pytest.raises(KeyError, match="'3S' needs Δt = \\[4\\]"):
        E.evaluate_scale_sets(ae, {1: models[1], 2: models[2]}, test, horizon=5, device="cpu")
    only_1s = E.evaluate_scale_sets(ae, {1: models[1]}, test, scale_sets={"1S": (1,)}, horizon=5, device="cpu",
                                    repeats=1, baseline=False)
    assert list(only_1s) == ["1S"]
    with pytest.raises(ValueError, match="needs frames up to 25"):
        E.evaluate_scale_sets(ae, models, test, starts=(15,), horizon=10, device="cpu")


def test_scale_set_rows():
    ae, models, test = tiny_mst()
    res = E.evaluate_scale_sets(ae, models, test, horizon=8, device="cpu", repeats=1)
    rows = E.scale_set_rows(res, frames_per_rollout=3 * 8)
    assert [r["model"] for r in rows] == ["1S", "2S", "3S", "4S", "persistence"]
    assert rows[3]["scales Δt"] == "1, 2, 4, 8" and rows[3]["longest chain"] == 3 and rows[0]["longest chain"] == 8  # 7 = 4 + 2 + 1
    assert rows[0]["frames / s"] == pytest.approx(24 / res["1S"]["rollout_seconds"])
    assert rows[-1]["scales Δt"] == "–" and rows[-1]["full rollout (s)"] != rows[-1]["full rollout (s)"]  # NaN


def test_autoencoder_takeaway_explains_a_uniform_latent_and_ranges_over_the_others(tmp_path):
    """A 1×1 latent decodes to uniform frames (measured by autoencoder_summary); the takeaway says why its
    error is that of a uniform frame and leaves it out of the range of the latents that hold a pattern."""
    torch.manual_seed(0)
    frames = torch.randn(2, 12, 1, 16, 16)
    test = E.TestSet("random", frames, torch.arange(12, dtype=torch.float32), 1.0)
    summaries = []
    for channels in ([4, 8], [4, 8], [4, 8, 8], [4, 8, 8, 8]):  # standard, then 4², 2², 1² at the ablation budget
        cfg = TrainConfig(task="autoencoder", model=dict(channels=channels), epochs=3)
        path = tmp_path / "-".join(map(str, channels)) / str(len(summaries))
        path.mkdir(parents=True)
        (path / "metrics.json").write_text('{"n_train_samples": 7}')
        model = ConvAutoencoder(CAEConfig(channels=channels)).eval()
        summaries.append(E.autoencoder_summary(Run(cfg, model, [{"val_loss": 1.0}], 0, path, 1.0, 1), test, device="cpu"))
    assert [s["uniform"] for s in summaries] == [False, False, False, True]
    lines = E.autoencoder_takeaway(summaries, ablation_epochs=3)
    text = "\n".join(lines)
    assert "The 1×1×8 latent cannot hold a pattern" in text and f"{summaries[3]['error']:.4f}" in text
    four, two = summaries[1], summaries[2]
    worst, best = (four, two) if four["error"] > two["error"] else (two, four)
    assert f"{worst['error'] / best['error']:.1f}× ({worst['latent']} vs {best['latent']})" in text  # 1² left out
    assert "The 1×1×8" not in "\n".join(E.autoencoder_takeaway(summaries[:3], ablation_epochs=3))


def test_training_summary():
    cfg = TrainConfig(task="dynamics", autoencoder={"task": "autoencoder"}, rollout=4)
    hist = [dict(epoch=e, train_loss=1.0 / (e + 1), val_loss=v, lr=1e-3, grad_norm=g, grad_norm_max=2 * g,
                 seconds=s, samples_per_s=100.0 / s)
            for e, (v, g, s) in enumerate([(0.5, 1.0, 2.0), (0.3, 3.0, 4.0), (0.4, 2.0, 3.0)])]
    run = Run(cfg, torch.nn.Linear(1, 1), hist, best_epoch=1, path=Path("."), train_seconds=9.0, n_parameters=2)
    s = E.training_summary(run)
    assert s["epochs"] == 3 and s["best epoch"] == 2 and s["best val loss"] == 0.3
    assert s["s / epoch"] == pytest.approx(3.0) and s["grad norm"] == pytest.approx(2.0) and s["grad norm max"] == 6.0
    assert s["samples / s"] == pytest.approx((50 + 25 + 100 / 3) / 3) and s["steps / s"] == pytest.approx(4 * s["samples / s"])
    with pytest.raises(ValueError, match="no recorded epochs"):
        E.training_summary(Run(cfg, torch.nn.Linear(1, 1), [], 0, Path("."), 0.0, 2))
