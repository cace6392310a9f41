"""MATEY transfer: multi-physics pretraining (the dataset sampler, resume) and fine-tuning (freezing,
the extended vocabulary, data-size subsets, lead-time conditioning).

Tiny models on smoke data, one thread (the machines have two cores, often shared).
"""
import collections

import numpy as np
import pytest
import torch
import xarray as xr

from conftest import assert_resume_equals_uninterrupted
from pdestudy.data import dataset_path, generate
from pdestudy.data.fields import vocabulary
from pdestudy.data.windows import TrajectoryWindows
from pdestudy.experiments import matey as M
from pdestudy.models.matey import Matey, MateyConfig, is_prepost, set_trainable
from pdestudy.train import MateyTask, TrainConfig, load_pretrained, train, trajectory_subset

pytestmark = pytest.mark.usefixtures("one_thread")

PRE = ["shallow_water_dam_break", "diffusion_reaction"]  # two smoke sets of different fields (32² both)
TARGET = "colliding_thermals"  # 32 × 16, fields no pretraining set has
SMALL = "cns_rand_m0.1_eta1e-2"  # 21 frames of 16²: few windows
MODEL = dict(attention="svit", width=16, depth=1, heads=2, patch_size=8, layer_scale=0.1)


@pytest.fixture(scope="module")
def data():
    for d in PRE + [TARGET, SMALL]:
        generate(d, "smoke", progress=False)


def pretrain_cfg(**kw) -> TrainConfig:
    model = {**MODEL, "vocabulary": M.pretraining_vocabulary("smoke", PRE)}
    return TrainConfig(**{**dict(task="matey", dataset="pretraining", datasets=PRE, profile="smoke", model=model,
                                 history=2, epochs=3, batch_size=4, steps_per_epoch=5), **kw})


def finetune_cfg(arm: str = "PREPOST", k: int = 2, **kw) -> TrainConfig:
    return TrainConfig(**{**dict(task="matey", dataset=TARGET, profile="smoke", model=MODEL, history=2, lead=2,
                                 epochs=1, batch_size=4, steps_per_epoch=3, train_trajectories=k,
                                 freeze="prepost" if arm.startswith("PREPOST") else "all",
                                 init_from=None if arm.endswith("INIT") else pretrain_cfg().to_dict()), **kw})


# --------------------------------------------------------------------------- the sampler
def test_sampler_is_seeded_and_uniform_over_datasets(data):
    sets = PRE + [SMALL]
    cfg = pretrain_cfg(steps_per_epoch=600, datasets=sets, model={**MODEL, "vocabulary": None})
    task = MateyTask(cfg, torch.device("cpu"))
    task.load_data()
    assert [s.name for s in task.sources] == sets
    sizes = [len(s.samples) for s in task.sources]
    assert max(sizes) > 4 * min(sizes)  # datasets of very different sizes...
    batches = task.epoch_batches(0, 0, 1)
    assert len(batches) == 600 and all(len(idx) == 4 for _, idx, _ in batches)
    counts = collections.Counter(d for d, _, _ in batches)
    # ...drawn uniformly, not by size: 600 draws of 1 in 3 lie within ±4σ = ±46 of 200
    assert all(abs(counts[d] - 200) < 46 for d in range(3)), (counts, sizes)
    again = MateyTask(cfg, torch.device("cpu"))
    again.load_data()
    same = again.epoch_batches(0, 0, 1)
    assert all(a[0] == b[0] and torch.equal(a[1], b[1]) for a, b in zip(batches, same))
    other = task.epoch_batches(1, 0, 1)
    assert [d for d, _, _ in other] != [d for d, _, _ in batches]  # a new draw every epoch
    # a dataset's windows are all visited before any repeats
    idx0 = torch.cat([idx for d, idx, _ in batches if d == 0])
    n0 = len(task.sources[0].samples)
    assert len(set(idx0[:n0].tolist())) == min(n0, len(idx0))
    # DDP: each rank takes its half of the same global batches
    r0, r1 = task.epoch_batches(0, 0, 2), task.epoch_batches(0, 1, 2)
    for (d, full, _), (d0, a, _), (d1, b, _) in zip(batches, r0, r1):
        assert d == d0 == d1 and torch.equal(torch.cat([a, b]), full)


def test_pretraining_validates_every_dataset_and_picks_the_best_mean(data, tmp_path):
    run = train(pretrain_cfg(), root=tmp_path, progress=False)
    for h in run.history:
        per = [h[f"val_{d}"] for d in PRE]
        assert h["val_loss"] == pytest.approx(sum(per) / len(per))
    vals = [h["val_loss"] for h in run.history]
    assert run.best_epoch == vals.index(min(vals))


def test_pretraining_resumes_after_sigkill_with_identical_results(data, tmp_path):
    assert_resume_equals_uninterrupted(pretrain_cfg(epochs=6), tmp_path)


# --------------------------------------------------------------------------- fine-tuning
def test_fine_tuning_subset_holds_exactly_k_training_trajectories(data):
    n_train = 6  # smoke thermals: 6 training trajectories (one kept for validation), 2 test
    for k in range(1, 6):
        task = MateyTask(finetune_cfg(k=k, init_from=None), torch.device("cpu"))
        task.load_data()
        (src,) = task.sources
        assert len(src.train.trajectories) == k == len(set(src.train.trajectories))
        assert max(src.train.trajectories) < n_train - 1  # never the validation (5) or a test (6, 7) trajectory
        assert src.val.trajectories == [5]
    assert trajectory_subset(14, 4, seed=0) == trajectory_subset(14, 4, seed=0)  # seeded
    assert len({tuple(trajectory_subset(14, 4, seed=s)) for s in range(5)}) > 1  # and a draw, not the first k
    assert trajectory_subset(14, None, seed=0) == list(range(14))
    with pytest.raises(ValueError, match="train_trajectories: 6 asked, the training split has 5"):
        MateyTask(finetune_cfg(k=6, init_from=None), torch.device("cpu")).load_data()


def test_the_trainable_set_of_prepost_is_the_field_embedding_and_output_layer():
    m = Matey(MateyConfig(**{**MODEL, "history": 2, "fine_patch_size": 4, "gamma": 0.5}))
    names = set(set_trainable(m, "prepost"))
    assert names == {"embed.weight", "embed.bias", "decoders.p8.out.weight", "decoders.p8.out.bias",
                     "decoders.p4.out.weight", "decoders.p4.out.bias"}
    assert all(is_prepost(n) == p.requires_grad for n, p in m.named_parameters())
    assert len(set_trainable(m, "all")) == len(list(m.parameters()))
    with pytest.raises(ValueError, match="freeze"):
        set_trainable(m, "middle")


def test_a_prepost_step_changes_only_the_trainable_parameters(data, tmp_path):
    pre = train(pretrain_cfg(), root=tmp_path, progress=False).model
    cfg = finetune_cfg("PREPOST")
    run = train(cfg, root=tmp_path, progress=False)
    torch.manual_seed(cfg.seed)  # the run's own start: its seeded initialisation, then the pretrained weights
    start = Matey(MateyConfig(**{**MODEL, "history": 2}))
    load_pretrained(start, pre)
    changed = {n for (n, a), b in zip(start.named_parameters(), run.model.parameters()) if not torch.equal(a, b)}
    assert changed == {"embed.weight", "embed.bias", "decoders.p8.out.weight", "decoders.p8.out.bias"}
    # the rows of fields the fine-tuning data do not have are untouched too (no gradient reaches them)
    ids = [vocabulary().index(f"thermals/{f}") for f in ("density", "theta", "vx", "vy")]
    other = [i for i in range(len(vocabulary())) if i not in ids]
    assert torch.equal(start.embed.weight[:, other], run.model.embed.weight[:, other])
    assert not torch.equal(start.embed.weight[:, ids], run.model.embed.weight[:, ids])


def test_pretrained_checkpoint_loads_into_the_extended_vocabulary_with_its_rows(data, tmp_path):
    pre = train(pretrain_cfg(), root=tmp_path, progress=False).model
    short = M.pretraining_vocabulary("smoke", PRE)
    assert list(pre.vocab) == short and len(short) < len(vocabulary())
    assert [vocabulary().index(n) for n in short] == sorted(vocabulary().index(n) for n in short)  # old ids kept
    torch.manual_seed(1)
    ext = Matey(MateyConfig(**{**MODEL, "history": 2}))
    fresh = ext.embed.weight.detach().clone()
    load_pretrained(ext, pre)
    rows = [vocabulary().index(n) for n in short]
    new = [i for i in range(len(vocabulary())) if i not in rows]
    assert torch.equal(ext.embed.weight[:, rows], pre.embed.weight)
    assert torch.equal(ext.decoders.p8.out.weight[:, rows], pre.decoders.p8.out.weight)
    assert torch.equal(ext.embed.weight[:, new], fresh[:, new])  # the new fields keep their initialisation
    for (n, a), b in zip(ext.blocks.named_parameters(), pre.blocks.parameters()):
        assert torch.equal(a, b), n
    # the same prediction on a pretraining dataset's fields
    x = torch.randn(2, 2, 3, 32, 32)
    fields = [n for n in short if n.startswith("shallow_water/")]
    torch.testing.assert_close(ext.eval()(x, fields), pre.eval()(x, fields))


def test_init_and_pretrained_arms_have_identical_architectures(data, tmp_path):
    a, b = (train(finetune_cfg(arm), root=tmp_path, progress=False) for arm in ("ALL", "ALL INIT"))
    assert a.n_parameters == b.n_parameters
    assert [(n, p.shape) for n, p in a.model.named_parameters()] == [(n, p.shape) for n, p in b.model.named_parameters()]
    assert a.config.init_from is not None and b.config.init_from is None
    assert not torch.equal(a.model.blocks[0].mlp[0].weight, b.model.blocks[0].mlp[0].weight)  # different starts


def test_finetune_configs_of_the_protocol():
    for arm in M.ARMS:
        cfg = M.finetune_config("smoke", "mhd_cavity", arm, 3, "svit", dict(width=16, heads=2, depth=1))
        assert cfg.train_trajectories == 3 and cfg.freeze == ("prepost" if arm.startswith("PREPOST") else "all")
        assert (cfg.init_from is None) == arm.endswith("INIT")
        assert cfg.init_from is None or cfg.init_from["datasets"] == list(M.PRETRAINING)
    with pytest.raises(ValueError, match="arm"):
        M.finetune_config("smoke", "mhd_cavity", "FROZEN", 3, "svit", {})
    # the settling cavity's runs read its transient; the thermals' whole trajectories
    assert M.finetune_config("default", "mhd_cavity", "ALL", 3, "svit", {}).frames == M.TRANSFER["default"]["frames"]["mhd_cavity"]
    assert M.finetune_config("default", "colliding_thermals", "ALL", 3, "svit", {}).frames is None


# --------------------------------------------------------------------------- a frame range
def test_windows_of_a_frame_range_lie_inside_it(data):
    path = dataset_path(TARGET, "smoke")
    with xr.open_dataset(path) as ds:
        theta, n_time = ds["theta"].values, ds.sizes["time"]
    first, end, h, lead = 3, 12, 2, 4
    w = TrajectoryWindows(path, [0, 2], h, lead, frames=[first, end])
    assert len(w) == 2 * (end - first - h - lead + 1)  # every admissible window, once
    assert min(t for _, t in w.index) == first + h - 1 and max(t for _, t in w.index) + lead == end - 1
    x, y = w.batch(range(len(w)))
    for j, (i, t) in enumerate(w.index):
        traj = [0, 2][i]
        assert np.array_equal(x[j, :, 1].numpy(), theta[traj, t - h + 1 : t + 1]) and np.array_equal(y[j, 1].numpy(), theta[traj, t + lead])
    for bad, why in (([5, 9], "holds 4 frames"), ([0, n_time + 1], "outside"), ([3], "two frame indices")):
        with pytest.raises(ValueError, match=why):
            TrajectoryWindows(path, [0], h, lead, frames=bad)
    # the training loop takes its windows there too: training and validation alike
    task = MateyTask(finetune_cfg("ALL INIT", init_from=None, lead=lead, frames=[first, end]), torch.device("cpu"))
    task.load_data()
    (src,) = task.sources
    assert all(first + h - 1 <= t and t + lead < end for ws in (src.train, src.val) for _, t in ws.index)
    scores = M.evaluate(None, TARGET, "smoke", h, lead, frames=[first, end])
    assert scores["windows"] == 2 * (end - first - h - lead + 1)  # the smoke set's 2 test trajectories
    with pytest.raises(ValueError, match="frames"):
        finetune_cfg(frames=[0, 3])  # history 2 + lead 2 need 4 frames
    with pytest.raises(ValueError, match="only a matey run"):
        TrainConfig(task="fno", frames=[0, 10])


# --------------------------------------------------------------------------- lead-time conditioning
def test_lead_drawn_per_sample_selects_each_target_frame(data):
    path = dataset_path(TARGET, "smoke")
    with xr.open_dataset(path) as ds:
        theta = ds["theta"].values
    cfg = finetune_cfg("ALL INIT", model={**MODEL, "leadtime": True}, lead=1, lead_max=3, init_from=None)
    task = MateyTask(cfg, torch.device("cpu"))
    task.load_data()
    (src,) = task.sources
    batches = task.epoch_batches(0, 0, 1)
    leads = torch.cat([lead for _, _, lead in batches])
    assert set(leads.tolist()) <= {1, 2, 3} and len(set(leads.tolist())) > 1
    d, idx, lead = batches[0]
    _, x, y, lead_t = task.batch(batches[0])
    for j, (k, v) in enumerate(zip(idx.tolist(), lead.tolist())):
        i, t = src.train.index[k]
        traj = src.train.trajectories[i]
        assert np.array_equal(x[j, -1, 1].numpy(), theta[traj, t]) and np.array_equal(y[j, 1].numpy(), theta[traj, t + v])
    assert torch.equal(lead_t, lead.float())
    with pytest.raises(ValueError, match="lead_max"):
        finetune_cfg(lead_max=3)  # the model is not lead-time conditioned
