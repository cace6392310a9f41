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


def test_an_uninformative_comparison_is_not_tested():
    v = SC.verdict("mst.rollout", "holds", "R = 2: 0.9", "s", informative=False, why="no model beats persistence")
    assert v.verdict == "not tested" and "holds" in v.ours and "persistence" in v.ours


def enc(**nrmse_spread):
    return {e: {"nRMSE": v[0], "± std over seeds": v[1]} for e, v in nrmse_spread.items()}


def test_the_mst_rules():
    assert S.encodings_claim(enc(M0=(0.30, 0.01), M4=(0.20, 0.01)), 0.5, "").verdict == "holds"
    assert S.encodings_claim(enc(M0=(0.21, 0.02), M4=(0.20, 0.02)), 0.5, "").verdict == "partly"  # within the seeds
    assert S.encodings_claim(enc(M0=(0.10, 0.01), M4=(0.20, 0.01)), 0.5, "").verdict == "does not hold"
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
