"""The scorecard: every claim of both papers, with the verdict the chapter that measures it computed.

A chapter's takeaway decides each of its claims from its own numbers and `record`s them: one small
JSON file per chapter and profile beside the results cache (``<results>/scorecard/<profile>/``).
The scorecard page reads those files (`scorecard_rows`); nothing on it is typed. A claim whose
chapter has not been executed with the profile is "not tested", and so is a claim whose comparison
was not informative (the best model did not beat persistence): its ranking would be noise.

Chapters that decide no claim but qualify one (a Data chapter whose solver matches its reference only
within limits) `record_findings`: sentences computed from their numbers, which the page lists and
the Discussion cites, so no percentage is typed there either.
"""
from __future__ import annotations

import datetime as _dt
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

from ..paths import results_root
from ..utils import atomic_path

VERDICTS = ("holds", "partly", "does not hold", "not tested")


@dataclass(frozen=True)
class Claim:
    paper: str  # "MST" | "MATEY"
    statement: str  # what the paper claims, in a line
    paper_says: str  # the paper's own number or wording
    chapter: str  # the book page that measures it (path under book/ without .ipynb)


CLAIMS: dict[str, Claim] = {
    "mst.encodings": Claim("MST", "Attention read as a kernel integral: positional encoding M4 is the best of M0–M4",
                           "M4 lowest error (Fig. 2 encodings)", "mst/positional_encodings"),
    "mst.rollout": Claim("MST", "Finite rollout R = 2–4 trains stably and beats one-step training (R = 1)",
                         "R = 2 or 4 stable, better long-term accuracy", "mst/rollout"),
    "mst.multiscale": Claim("MST", "Multi-scale stepping (Δt = 1, 2, 4, 8) lowers the accumulated error and the cost",
                            "lower error, faster prediction", "mst/multiscale"),
    "mst.fno.ns_nu1e-3": Claim("MST", "MST at least as accurate as FNO: Navier–Stokes ν = 1e-3", "similar or better",
                               "mst/mst_vs_fno"),
    "mst.fno.ns_nu1e-4": Claim("MST", "MST at least as accurate as FNO: Navier–Stokes ν = 1e-4", "similar or better",
                               "mst/mst_vs_fno"),
    "mst.fno.ns_nu1e-5": Claim("MST", "MST at least as accurate as FNO: Navier–Stokes ν = 1e-5", "similar or better",
                               "mst/mst_vs_fno"),
    "mst.fno.kolmogorov_re40": Claim("MST", "MST at least as accurate as FNO: Kolmogorov flow", "similar or better",
                                     "mst/mst_vs_fno"),
    "matey.avit": Claim("MATEY", "Decoupled attention (AViT) needs more weights and training time for the same accuracy",
                        "AViT least efficient (Fig. 3)", "matey/attention"),
    "matey.svit": Claim("MATEY", "SViT balances cost and accuracy", "SViT between AViT and ViT (Fig. 3)", "matey/attention"),
    "matey.adaptive": Claim("MATEY", "Adaptive tokenization: accuracy of uniform middle patches at lower cost",
                            "comparable or better at lower cost (Fig. 4)", "matey/tokenization"),
    "matey.vit8x": Claim("MATEY", "Adaptive tokens almost 8× more efficient than constant patches for ViT", "≈ 8×",
                         "matey/tokenization"),
    "matey.transfer": Claim("MATEY", "Pretrained models fine-tune better than from scratch, most with little data and "
                            "frozen attention", "pretrained < scratch, largest gap at small data, PREPOST (Figs. 5–6)",
                            "matey/finetuning"),
}


@dataclass(frozen=True)
class Verdict:
    claim: str
    verdict: str
    ours: str  # our numbers, as the takeaway states them
    scale: str  # what the chapter ran at

    def __post_init__(self):
        if self.claim not in CLAIMS:
            raise ValueError(f"claim: one of {sorted(CLAIMS)}, got {self.claim!r}")
        if self.verdict not in VERDICTS:
            raise ValueError(f"verdict: one of {VERDICTS}, got {self.verdict!r}")


def verdict(claim: str, outcome: str, ours: str, scale: str, informative: bool = True, why: str = "") -> Verdict:
    """A claim's verdict; an uninformative comparison (`informative` False: its best model does not
    beat persistence, say) is "not tested", with the outcome it would have had and `why`."""
    if not informative:
        return Verdict(claim, "not tested", f"{ours} — not informative here ({why}); as measured: {outcome}", scale)
    return Verdict(claim, outcome, ours, scale)


def run_scale(cfg) -> str:
    """What a run (a TrainConfig) trained at, in a line: profile, dataset and grid, model size, budget."""
    from ..data.registry import get_spec
    from ..train import registry_shape
    _, H, W = registry_shape(cfg.dataset if not cfg.datasets else cfg.datasets[0], cfg.profile)
    n_train = get_spec(cfg.dataset if not cfg.datasets else cfg.datasets[0], cfg.profile).n_train
    data = (f"{len(cfg.datasets)} datasets" if cfg.datasets else f"{cfg.dataset} {H}×{W}") + f", {n_train} training trajectories"
    width = cfg.model.get("width") or (cfg.model.get("channels") or [None])[-1] or cfg.model.get("hidden_channels")
    model = f"; width {width}" + (f", depth {cfg.model['depth']}" if cfg.model.get("depth") else "") if width else ""
    steps = f" × {cfg.steps_per_epoch} steps" if cfg.steps_per_epoch else ""
    cap = f", ≤ {cfg.max_train_samples} samples" if cfg.max_train_samples else ""
    return f"{cfg.profile} profile: {data}{model}; {cfg.epochs} epochs{steps} × batch {cfg.batch_size}{cap}"


def records_dir(profile: str, root: str | Path | None = None) -> Path:
    return Path(root or results_root()) / "scorecard" / profile


def record_path(profile: str, chapter: str, root: str | Path | None = None) -> Path:
    return records_dir(profile, root) / f"{chapter.replace('/', '__')}.json"


def record(profile: str, chapter: str, verdicts: Sequence[Verdict], root: str | Path | None = None) -> None:
    """Write a chapter's verdicts for `profile` to `record_path` (atomically; replaces the chapter's
    previous record). Returns nothing, so a notebook cell that records shows no output."""
    wrong = [v.claim for v in verdicts if CLAIMS[v.claim].chapter != chapter]
    if wrong:
        raise ValueError(f"{chapter}: claims {wrong} belong to other chapters")
    path = record_path(profile, chapter, root)
    payload = dict(chapter=chapter, profile=profile, written=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                   verdicts=[asdict(v) for v in verdicts])
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False))


def findings_path(profile: str, chapter: str, root: str | Path | None = None) -> Path:
    return records_dir(profile, root) / "findings" / f"{chapter.replace('/', '__')}.json"


def record_findings(profile: str, chapter: str, findings: Sequence[str], root: str | Path | None = None) -> None:
    """Store a chapter's findings (sentences its cells computed from its numbers) for `profile`,
    atomically, replacing the chapter's previous ones."""
    if not findings or not all(isinstance(f, str) and f.strip() for f in findings):
        raise ValueError(f"{chapter}: findings must be non-empty sentences, got {findings!r}")
    payload = dict(chapter=chapter, profile=profile, written=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                   findings=list(findings))
    with atomic_path(findings_path(profile, chapter, root)) as tmp:
        tmp.write_text(json.dumps(payload, indent=1, ensure_ascii=False))


def load_findings(profile: str, root: str | Path | None = None) -> dict[str, list[str]]:
    """{chapter: its stored findings} for `profile`, in chapter order."""
    out: dict[str, list[str]] = {}
    for path in sorted((records_dir(profile, root) / "findings").glob("*.json")):
        try:
            payload = json.loads(path.read_text())
            if not all(isinstance(f, str) for f in payload["findings"]):
                raise TypeError("findings must be strings")
            out[payload["chapter"]] = payload["findings"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a findings record ({exc})") from None
    return out


def findings_markdown(findings: dict[str, list[str]]) -> str:
    """One bullet per finding, each linked to its chapter."""
    return "\n".join(f"* {text} ({{doc}}`../{chapter}`)" for chapter, texts in findings.items() for text in texts)


def load_records(profile: str, root: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """{claim: its stored verdict, with the chapter and the time it was written}."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(records_dir(profile, root).glob("*.json")):
        try:
            payload = json.loads(path.read_text())
            for v in payload["verdicts"]:
                Verdict(**v)  # validates claim and verdict
                out[v["claim"]] = {**v, "chapter": payload["chapter"], "written": payload["written"]}
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}: not a scorecard record ({exc})") from None
    return out


def scorecard_rows(profile: str, root: str | Path | None = None) -> list[dict[str, str]]:
    """One row per claim of CLAIMS, in order: the stored verdict, or "not tested" where its chapter
    has no record for `profile`."""
    stored = load_records(profile, root)
    rows = []
    for cid, c in CLAIMS.items():
        v = stored.get(cid)
        rows.append(dict(claim=cid, paper=c.paper, statement=c.statement, verdict=v["verdict"] if v else "not tested",
                         ours=v["ours"] if v else f"chapter not executed with the {profile} profile",
                         paper_says=c.paper_says, scale=v["scale"] if v else "", chapter=c.chapter))
    return rows


def scorecard_markdown(rows: Sequence[dict[str, str]]) -> str:
    """The rows as a Markdown table, each claim linked to its chapter ({doc} roles, resolved by the book)."""
    cell = lambda s: str(s).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| paper | claim | verdict | ours | the paper | scale | chapter |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['paper']} | {cell(r['statement'])} | **{r['verdict']}** | {cell(r['ours'])} | "
                     f"{cell(r['paper_says'])} | {cell(r['scale'])} | {{doc}}`../{r['chapter']}` |")
    return "\n".join(lines)


def tally(rows: Sequence[dict[str, str]]) -> dict[str, dict[str, int]]:
    """{paper: {verdict: count}} over the rows."""
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        out.setdefault(r["paper"], {v: 0 for v in VERDICTS})[r["verdict"]] += 1
    return out
