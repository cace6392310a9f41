"""The paper profile is exercised, not only written: every model its chapters would train, built at
full size, takes one optimisation step on a batch of the shapes its data would have.

No GPU is here and the paper's data are hours to generate, so `pdestudy.train.dry_step` uses the
dataset registry's grids and fields. The configs come from the same protocol functions the notebooks
call, with the notebooks' parameters from book/profiles/paper.yml, so a GPU user's first run cannot
fail on a shape, a missing parameter or a pretrained checkpoint that does not load. The MST models
and FNOs step on their full grids. A MATEY model's parameters do not depend on the grid (positions
are embedded from coordinates), and its configuration already refuses a patch that does not tile
its dataset's grid, so MATEY's paper sizes step at full width and depth, T = 16, on a 2 × 3 crop of
coarse patches: a full-grid step would take minutes and 15 GB on this CPU (the meta device, which
`dry_step` also takes, checks the full grid's shapes of uniform-token models, at 10 s a model).
"""
import math

import pytest

from pdestudy.book import load_profile
from pdestudy.experiments import matey as M
from pdestudy.experiments import mst as S
from pdestudy.train import dry_step

PAPER = load_profile("paper")["notebooks"]


def mst_configs() -> dict[str, object]:
    out = {}
    p = PAPER["mst/autoencoder"]
    for ch in p["ablation_channels"]:
        out[f"autoencoder {ch}"] = S.autoencoder_config(p["dataset"], "paper", ch)
    for e in PAPER["mst/positional_encodings"]["encodings"]:
        out[f"MST {e}"] = S.standard_dynamics(PAPER["mst/positional_encodings"]["dataset"], "paper", encoding=e)
    for r in PAPER["mst/rollout"]["rollouts"]:
        out[f"MST R={r}"] = S.standard_dynamics(PAPER["mst/rollout"]["dataset"], "paper", rollout=r)
    p = PAPER["mst/mst_vs_fno"]
    for d in p["datasets"]:
        out[f"autoencoder {d}"] = S.standard_autoencoder(d, "paper")
        for dt, cfg in S.standard_multiscale(d, "paper").items():
            out[f"MST {d} Δt={dt}"] = cfg
        for k, cfg in S.fno_configs(d, "paper", p["fno_histories"], **p["fno_overrides"]).items():
            out[f"FNO {d} k={k}"] = cfg
    p = PAPER["beyond/one_model"]
    out["MST one model for every Δt"] = S.standard_one_model(p["dataset"], "paper", leads=p["leads"], **p["overrides"])
    return out


def matey_configs() -> dict[str, object]:
    out = {}
    p = PAPER["matey/attention"]
    for a in p["attentions"]:
        for name, size in p["sizes"].items():
            out[f"attention {a} {name}"] = M.matey_config("paper", a, patch_size=p["patch_size"], seed=p["seed"], **size)
    p = PAPER["matey/tokenization"]
    for label, cfg in M.tokenization_configs("paper", p["attentions"], p["size"], p["gamma"], p["gammas"],
                                             p["gamma_attention"], seed=p["seed"]).items():
        out[f"tokenization {label}"] = cfg
    p = PAPER["matey/pretraining"]
    datasets = p["datasets"] or M.PRETRAINING
    for a in p["attentions"]:
        out[f"pretraining {a}"] = M.pretrain_config("paper", a, p["size"], datasets, p["seed"])
    p = PAPER["matey/finetuning"]
    for target in p["targets"]:
        # PREPOST loads the pretrained model and freezes; ALL INIT does neither: between them, every arm's steps
        for arm in ("PREPOST", "ALL INIT"):
            out[f"fine-tuning {target} {arm}"] = finetune(target, arm)
    return out


def finetune(target, arm):
    p = PAPER["matey/finetuning"]
    k = M.TRANSFER["paper"]["sizes"][target][0]  # every data size has the same architecture
    return M.finetune_config("paper", target, arm, k, p["attention"], p["size"], p["seed"], p["lead_max"])


def test_the_models_left_out_are_the_same_architectures():
    p = PAPER["matey/pretraining"]
    pre = M.pretrain_config("paper", p["single_attention"], p["size"], p["datasets"] or M.PRETRAINING, p["seed"])
    for d in p["datasets"] or M.PRETRAINING:  # a single-system model: the pretrained one's, on one of its datasets
        single = M.pretrain_config("paper", p["single_attention"], p["size"], (d,), p["seed"])
        assert single.model == pre.model and single.dataset in pre.datasets
    for target in PAPER["matey/finetuning"]["targets"]:
        arms = {arm: finetune(target, arm) for arm in M.ARMS}
        assert len({repr(sorted(c.model.items())) for c in arms.values()}) == 1  # one architecture
        assert arms["ALL"].init_from == arms["PREPOST"].init_from and arms["PREPOST INIT"].freeze == "prepost"


def architecture(cfg) -> str:
    """What a dry step checks: the model, its data's shapes and what it loads or freezes, not its
    budget, seed or γ (the MST Δt chain, a γ sweep, a single-system model beside its pretrained twin)."""
    model = {k: v for k, v in cfg.model.items() if k not in ("gamma", "refine_ratio")}
    if model.get("fine_patch_size"):
        model["selection"] = "gamma" if cfg.model.get("gamma") is not None else "refine_ratio"
    init = None if cfg.init_from is None else architecture(type(cfg).from_dict(cfg.init_from))
    ae = None if cfg.autoencoder is None else architecture(type(cfg).from_dict(cfg.autoencoder))
    return repr((cfg.task, cfg.datasets or cfg.dataset if cfg.task == "matey" else cfg.dataset, sorted(model.items()),
                 cfg.history, cfg.rollout, cfg.freeze, cfg.lead_max, cfg.leads, init is not None, ae))


ALL = {**mst_configs(), **matey_configs()}
CONFIGS = {}
for _label, _cfg in ALL.items():  # one per architecture (the first label that names it)
    if architecture(_cfg) not in {architecture(c) for c in CONFIGS.values()}:
        CONFIGS[_label] = _cfg


def test_the_paper_profile_has_the_papers_models():
    assert len(ALL) > 70 and len(CONFIGS) > 40
    sizes = {(c.model["width"], c.model["heads"], c.model["depth"]) for c in CONFIGS.values() if c.task == "matey"}
    assert {(192, 3, 12), (384, 6, 12), (768, 12, 12)} <= sizes  # MATEY's Ti / S / B
    assert all(c.history == 16 for c in ALL.values() if c.task == "matey")  # T = 16
    assert {c.model["patch_size"] for c in ALL.values() if c.task == "matey"} == {32, 16, 8}
    assert {c.dataset for c in ALL.values() if c.task == "fno"} == {"ns_nu1e-3", "ns_nu1e-4", "ns_nu1e-5", "kolmogorov_re40"}


def adaptive(cfg) -> bool:
    return cfg.task == "matey" and bool(cfg.model.get("fine_patch_size"))


@pytest.mark.parametrize("label", sorted(CONFIGS))
def test_every_paper_model_takes_one_training_step(label):
    cfg = CONFIGS[label]
    crop = (2 * cfg.model["patch_size"], 3 * cfg.model["patch_size"]) if cfg.task == "matey" else None
    out = dry_step(cfg, device="cpu", batch_size=1, grid=crop)
    assert out["parameters"] > 0 and 0 < out["trainable"] <= out["parameters"]
    if cfg.task == "matey" and cfg.freeze == "prepost":
        assert out["trainable"] < out["parameters"] / 10  # only the field embedding and the output layer
    assert math.isfinite(out["loss"]) and out["loss"] > 0
    if not adaptive(cfg):  # an adaptive batch may refine no patch, leaving the fine level idle
        assert not out["unused"], f"{label}: parameters without a gradient: {out['unused'][:5]}"
