"""The scorecard: verdicts are decided by rules from numbers, stored per chapter, and read back whole.

The smoke book's scorecard page against the stored records is checked in test_book.py.
"""
import json

import pytest

from pdestudy.experiments import mst as S
from pdestudy.experiments import scorecard as SC


def test_records_round_trip_and_missing_claims_are_not_tested(tmp_path):
    v = SC.verdict("mst.rollout", "partly", "R = 1: 0.2, R = 2: 0.1, R = 4: 0.3", "smoke profile: …")
    SC.record("smoke", "mst/rollout", [v], root=tmp_path)
    path = SC.record_path("smoke", "mst/rollout", tmp_path)
    assert json.loads(path.read_text())["verdicts"][0]["ours"] == v.ours
    assert not list(path.parent.glob(".*partial"))  # written atomically
    rows = {r["claim"]: r for r in SC.scorecard_rows("smoke", root=tmp_path)}
    assert list(rows) == list(SC.CLAIMS)
    assert rows["mst.rollout"]["verdict"] == "partly" and rows["mst.rollout"]["ours"] == v.ours
    assert all(r["verdict"] == "not tested" for c, r in rows.items() if c != "mst.rollout")
    assert SC.scorecard_rows("default", root=tmp_path)[0]["verdict"] == "not tested"  # another profile's records
    SC.record("smoke", "mst/rollout", [SC.verdict("mst.rollout", "holds", "x", "y")], root=tmp_path)
    assert SC.load_records("smoke", root=tmp_path)["mst.rollout"]["verdict"] == "holds"  # replaced, not appended
    assert SC.tally(SC.scorecard_rows("smoke", root=tmp_path))["MST"]["holds"] == 1
    assert "{doc}`../mst/rollout`" in SC.scorecard_markdown(rows.values())


def test_bad_verdicts_and_records_fail_clearly(tmp_path):
    with pytest.raises(ValueError, match="claim"):
        SC.verdict("mst.nothing", "holds", "", "")
    with pytest.raises(ValueError, match="verdict"):
        SC.verdict("mst.rollout", "mostly", "", "")
    with pytest.raises(ValueError, match="other chapters"):
        SC.record("smoke", "mst/multiscale", [SC.verdict("mst.rollout", "holds", "", "")], root=tmp_path)
    bad = SC.records_dir("smoke", tmp_path) / "mst__rollout.json"
    bad.parent.mkdir(parents=True)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="mst__rollout.json"):
        SC.load_records("smoke", root=tmp_path)


def test_findings_round_trip_and_bad_ones_fail_clearly(tmp_path):
    SC.record_findings("smoke", "data/mhd_cavity", ["closest to Ghia at 41², 1.8 %"], root=tmp_path)
    SC.record_findings("smoke", "data/mhd_cavity", ["closest to Ghia at 33², 2.0 %"], root=tmp_path)  # replaced
    SC.record("smoke", "mst/rollout", [SC.verdict("mst.rollout", "holds", "x", "y")], root=tmp_path)
    assert SC.load_findings("smoke", root=tmp_path) == {"data/mhd_cavity": ["closest to Ghia at 33², 2.0 %"]}
    assert list(SC.load_records("smoke", root=tmp_path)) == ["mst.rollout"]  # findings are not verdicts
    assert SC.findings_markdown(SC.load_findings("smoke", root=tmp_path)) == \
        "* closest to Ghia at 33², 2.0 % ({doc}`../data/mhd_cavity`)"
    assert SC.load_findings("default", root=tmp_path) == {}
    with pytest.raises(ValueError, match="non-empty sentences"):
        SC.record_findings("smoke", "data/mhd_cavity", [], root=tmp_path)
    SC.findings_path("smoke", "data/thermals", tmp_path).write_text('{"chapter": "data/thermals"}')
    with pytest.raises(ValueError, match="data__thermals.json: not a findings record"):
        SC.load_findings("smoke", root=tmp_path)


def test_an_uninformative_comparison_is_not_tested():
    v = SC.verdict("mst.rollout", "holds", "R = 2: 0.9", "s", informative=False, why="no model beats persistence")
    assert v.verdict == "not tested" and "holds" in v.ours and "persistence" in v.ours


def enc(**nrmse_spread):
    return {e: {"nRMSE": v[0], "± std over seeds": v[1]} for e, v in nrmse_spread.items()}


def test_the_mst_rules():
    assert S.encodings_claim(enc(M0=(0.30, 0.01), M4=(0.20, 0.01)), 0.5, "").verdict == "holds"
    assert S.encodings_claim(enc(M0=(0.21, 0.02), M4=(0.20, 0.02)), 0.5, "").verdict == "partly"  # within the seeds
    assert S.encodings_claim(enc(M0=(0.10, 0.01), M4=(0.20, 0.01)), 0.5, "").verdict == "does not hold"
    assert S.encodings_claim(enc(M3=(0.155, 0.02), M4=(0.159, 0.03)), 0.5, "").verdict == "partly"  # behind, within the seeds
    assert S.encodings_claim(enc(M0=(0.6, 0.01), M4=(0.7, 0.01)), 0.5, "").verdict == "not tested"  # above persistence
    assert S.rollout_claim({1: 0.3, 2: 0.2, 4: 0.25}, 0.5, "").verdict == "holds"
    assert S.rollout_claim({1: 0.3, 2: 0.2, 4: 0.35}, 0.5, "").verdict == "partly"
    assert S.rollout_claim({1: 0.2, 2: 0.3, 4: 0.35}, 0.5, "").verdict == "does not hold"
    assert S.rollout_claim({2: 0.2, 4: 0.3}, 0.5, "").verdict == "not tested"  # no R = 1 to compare with
    row = lambda e, t: {"nrmse": e, "rollout_seconds": t}  # noqa: E731
    res = lambda one, four: {"1S": row(*one), "4S": row(*four), "persistence": {"nrmse": 0.5}}  # noqa: E731
    assert S.multiscale_claim(res((0.3, 2.0), (0.2, 1.0)), "").verdict == "holds"
    assert S.multiscale_claim(res((0.3, 1.0), (0.2, 2.0)), "").verdict == "partly"  # lower error, not faster
    assert S.multiscale_claim(res((0.2, 1.0), (0.3, 2.0)), "").verdict == "does not hold"
    # a full rollout within the timing tolerance of 1S's is not faster, whichever side of 1 the ratio falls
    for four in (1.02, 0.98, 0.88):  # 0.88: inside the ±12 % the same models' ratios moved between builds
        v = S.multiscale_claim(res((0.3, 1.0), (0.2, four)), "")
        assert v.verdict == "partly" and "equal within the 15% timing tolerance" in v.ours
    fast = res((0.3, 1.0), (0.2, 0.5))
    fast["1S"].update(final_calls=40, final_seconds=0.6)
    fast["4S"].update(final_calls=5, final_seconds=0.1)
    v = S.multiscale_claim(fast, "")
    assert v.verdict == "holds" and "(0.50×: faster); the final state alone 40 vs 5 model calls, 6.0× faster" in v.ours


def test_the_multiscale_takeaway_states_the_verdict_the_scorecard_records():
    """The chapter's bullets and its recorded verdict come from one rule (`multiscale_claim`)."""
    import numpy as np
    from types import SimpleNamespace as NS
    H = 16

    def entry(err, per_traj, seconds, chain):
        return dict(nrmse=err, per_trajectory=np.array(per_traj), per_step=np.linspace(err / 4, 2 * err, H),
                    longest_chain=chain, rollout_seconds=seconds, latent_seconds=seconds / 4,
                    final_seconds=seconds / 10 * chain / 16, final_calls=chain, final_error=err)

    def results(four_err, four_seconds):
        return {"1S": entry(0.30, [0.3, 0.3, 0.3], 1.0, 16), "2S": entry(0.28, [0.28] * 3, 1.0, 9),
                "3S": entry(0.26, [0.26] * 3, 1.0, 6), "4S": entry(four_err, [four_err, 0.31, four_err], four_seconds, 5),
                "persistence": {"nrmse": 0.5, "per_trajectory": np.array([0.5] * 3)}}

    run = NS(history=[{"samples_per_s": 100.0, "seconds": 1.0, "val_loss": 0.1, "grad_norm": 1.0, "grad_norm_max": 2.0}],
             best_epoch=0, config=NS(rollout=2), train_seconds=10.0, n_parameters=1, path="run")
    runs = {dt: run for dt in (1, 2, 4, 8)}
    speed = [{"resolution": "64²", "frames_per_s": 100.0, "× solver": 1.0}, {"frames_per_s": 50.0, "× solver": 0.5},
             {"frames_per_s": 55.0, "× solver": 0.55}]
    for four, verdict, words in ((0.20, "partly", ("(held; 4S is better on 2 of 3", "at every step 1S → 2S → 3S → 4S.")),
                                 (0.40, "does not hold", ("**did not hold**", "→ 4S: best 3S."))):
        lines, claim = S.multiscale_takeaway(results(four, 1.0), runs, "s", speed, 3)
        assert claim.verdict == verdict == S.multiscale_claim(results(four, 1.0), "s").verdict
        assert all(w in lines[1] for w in words) and f"**{verdict}**. {claim.ours}." in lines[-1]
        assert "Kolmogorov flow** was not run" in lines[-2]
    lines, claim = S.multiscale_takeaway(results(0.20, 0.5), runs, "s", speed, 3, kolmogorov=results(0.40, 1.0),
                                         kolmogorov_starts=3, kolmogorov_trajectories=1, kolmogorov_horizon=40)
    assert claim.verdict == "holds" and "4S was worse than 1S" in lines[-2] and "better on 0 of 3 rollouts" in lines[-2]
    assert "(2.00× faster)" in lines[3] and "0.50×: faster" in lines[-1]


def test_the_encodings_takeaway_states_the_verdict_the_scorecard_records():
    """The chapter's words and the scorecard's verdict come from one rule (`_encodings_outcome`)."""
    from types import SimpleNamespace as NS
    words = {"holds": "**held here**", "partly": ("**is not confirmed at our scale**", "**holds only partly at our scale**"),
             "does not hold": "**did not hold at our scale**"}
    cases = [enc(M0=(0.30, 0.01), M4=(0.20, 0.01)), enc(M0=(0.21, 0.02), M4=(0.20, 0.02)),
             enc(M3=(0.155, 0.02), M4=(0.159, 0.03)), enc(M0=(0.10, 0.01), M4=(0.20, 0.01))]
    run = NS(config=NS(epochs=3), metrics={"n_train_samples": 10}, train_seconds=5.0)
    for summary in cases:
        for r in summary.values():
            r.update({"best val loss": r["nRMSE"] / 10, "parameters": 100})
        runs = {(e, s): run for e in summary for s in (0, 1)}
        lines = S.encodings_takeaway(summary, 0.5, 0.01, runs, 40)
        claim = next(line for line in lines if line.startswith("* **The paper's claim**"))
        expected = words[S.encodings_claim(summary, 0.5, "").verdict]
        assert any(w in claim for w in ([expected] if isinstance(expected, str) else expected)), (summary, claim)
        assert "2 seeds" in lines[0] and "40 steps" in lines[0] and "4 models of 100–100 parameters" in lines[-1]


def test_mst_against_fno_is_decided_at_equal_training_cost():
    from types import SimpleNamespace as NS
    dyn = S.standard_dynamics("ns_nu1e-3", "smoke")
    timed = lambda s: NS(train_seconds=s, config=dyn)  # noqa: E731
    runs = {"ns_nu1e-3": S.MstFnoRuns("ns_nu1e-3", timed(300), {dt: timed(100) for dt in (1, 2, 4, 8)}, {10: timed(100)})}
    row = [{"dataset": "ns_nu1e-3", "MST 4S": 0.20, "FNO k=10": 0.30, "persistence": 0.5}]
    v = S.mst_fno_claims(row, runs)[0]  # MST (700 s) beats an FNO trained 100 s: not at equal cost
    assert v.verdict == "partly" and "not at equal cost (the FNO 0.14× MST's training time)" in v.ours
    eq = S.EqualCost("ns_nu1e-3", 10, timed(800), None, {"nrmse": 0.15}, None)  # the FNO given MST's time wins
    v = S.mst_fno_claims(row, runs, equal_cost={"ns_nu1e-3": eq})[0]
    assert v.verdict == "does not hold" and "0.1500" in v.ours and "not at equal cost" not in v.ours
    eq.scores["nrmse"] = 0.25
    assert S.mst_fno_claims(row, runs, equal_cost={"ns_nu1e-3": eq})[0].verdict == "holds"
    # paired over the test rollouts: a difference within twice its standard error decides nothing
    mst_pt = [0.10, 0.30, 0.20, 0.20]  # mean 0.20, the row's MST 4S
    eq.comparison = NS(scores={"MST 4S": {"per_trajectory": mst_pt}})
    eq.scores["per_trajectory"] = [0.30, 0.10, 0.25, 0.35]  # mean 0.25: MST lower by 0.05, SE 0.089
    v = S.mst_fno_claims(row, runs, equal_cost={"ns_nu1e-3": eq})[0]
    assert v.verdict == "partly" and "MST − FNO = -0.0500 ± 0.1780 (2 SE): within the spread" in v.ours
    eq.scores["per_trajectory"] = [0.16, 0.34, 0.26, 0.24]  # every rollout 0.04–0.06 worse than MST's
    v = S.mst_fno_claims(row, runs, equal_cost={"ns_nu1e-3": eq})[0]
    assert v.verdict == "holds" and "over the 4 test rollouts" in v.ours and "within the spread" not in v.ours
    row[0]["FNO k=10"] = 0.10  # the short FNO wins although it trained 7× less: the claim fails outright
    assert S.mst_fno_claims(row, runs)[0].verdict == "does not hold"


def test_the_tokenization_verdicts_rest_on_counted_flops_not_on_the_clock():
    """Adaptive tokenization is judged by FLOPs counted per training step (the paper estimates cost
    from sequence length); time per step is reported beside it. A verdict may not move when the
    clock does: here the adaptive model is 10 % slower per step than the middle patches (the CPU
    build's finding), then 10 % faster, and neither the verdicts nor their counts change."""
    from pdestudy.experiments import matey as M
    se = 0.001

    def model(label, nrmse, tokens, att, flops, seconds):
        return M.Measured(label, None, {"nrmse": nrmse, "nrmse_se": se},
                          {"tokens": tokens, "attention_flops": att, "flops": flops, "step_seconds": seconds,
                           "refined_fraction": 0.25 if "γ" in label else 0.0})

    def measured(adaptive_seconds):
        return {m.label: m for m in [
            model("vit coarse 16", 0.30, 64, 4e6, 1e8, 0.014), model("vit middle 8", 0.25, 256, 67e6, 4.5e8, 0.021),
            model("vit fine 4", 0.24, 1024, 1.07e9, 4.46e9, 0.098),
            model("vit mul γ=0.4", 0.24, 304, 12e6, 2.9e8, adaptive_seconds),  # as good as fine, fewer FLOPs than middle
            model("vit mix γ=0.4", 0.26, 289, 159e6, 8.1e8, adaptive_seconds)]}  # more FLOPs than middle: not cheaper

    outcomes = []
    for seconds in (0.0231, 0.0189):  # middle's 0.021 ± 10 %
        claims = []
        lines, rows = M.tokenization_verdict(measured(seconds), ["vit"], 0.4, {"nrmse": 0.5}, "default", claims, "s")
        outcomes.append([(c.claim, c.verdict) for c in claims])
        adaptive, vit8x = claims
        assert "holds for 1 of 2 adaptive models by counted FLOPs" in adaptive.ours
        assert ("on this machine 0 of those 1" if seconds > 0.021 else "on this machine 1 of those 1") in adaptive.ours
        # the cheapest uniform ViT as accurate as vit mul is vit fine 4: 15.4× its FLOPs per step (≥ 4: holds)
        assert "(vit fine 4) costs 15.4× its FLOPs per step" in vit8x.ours and f"{0.098 / seconds:.1f}× its time" in vit8x.ours
        assert any("holds for 1 of 2 adaptive models" in line for line in lines)
    assert outcomes[0] == outcomes[1] == [("matey.adaptive", "partly"), ("matey.vit8x", "holds")]
