"""MATEY: tokenizer, model equivalences, counted cost, parameter counts, the matey training task and its windows.

Every model here is tiny (width 16, 1–2 blocks) and every input small (16×32); the tests run on one
thread (the machines they run on have two cores, often shared).
"""
import copy

import numpy as np
import pytest
import torch
import xarray as xr

from conftest import assert_resume_equals_uninterrupted, private_smoke_data, train_with_torchrun
from pdestudy.data import dataset_path
from pdestudy.experiments.matey import attention_flops_formula, count_flops, evaluate, matey_config, step_cost
from pdestudy.metrics import nmse_per_channel
from pdestudy.models.matey import (SIZES, Attention, Block, Matey, MateyConfig, Stem, parameter_count, patch_conv,
                                   patch_conv_transpose, stem_kernels)
from pdestudy.models.tokenizer import mix_layout, patch_scores, select_patches, token_geometry
from pdestudy.train import MateyTask, TrainConfig, train

FIELDS = ["thermals/density", "thermals/theta"]
H, W = 16, 32  # the smoke grid of colliding_thermals (ny × nx)


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: the machines have two cores, often shared


def tiny(**kw) -> MateyConfig:
    return MateyConfig(**{**dict(attention="svit", width=16, depth=2, heads=2, history=2, patch_size=8,
                                 layer_scale=0.5), **kw})


def adaptive(**kw) -> MateyConfig:
    return tiny(**{**dict(fine_patch_size=2, gamma=0.5), **kw})


def model(cfg: MateyConfig, seed: int = 0) -> Matey:
    torch.manual_seed(seed)
    return Matey(cfg).eval()


def assert_close(a: torch.Tensor, b: torch.Tensor, tol: float = 1e-5):
    """Max abs difference within tol relative to the scale of b (predictions are de-normalised)."""
    assert a.shape == b.shape
    err, scale = float((a - b).abs().max()), 1.0 + float(b.abs().max())
    assert err <= tol * scale, f"max |a − b| = {err:.3g} > {tol:g} × {scale:.3g}"


def uneven_batch(seed: int = 0) -> torch.Tensor:
    """(3, 2, 2, 16, 32) windows whose γ = 0.5 selection refines 1, 4 and 8 of the 8 coarse patches."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 2, 2, H, W, generator=g)
    x[0, :, :, :8, :8] *= 10  # one loud patch
    x[1, :, :, :, :16] *= 10  # the left half loud
    return x  # sample 2: noise everywhere, every patch near the max


# --------------------------------------------------------------------------- 1. Mix equivalences
@pytest.mark.parametrize("attention", ["vit", "svit"])
def test_mix_refine_all_is_uniform_fine_and_none_is_uniform_coarse(attention):
    torch.manual_seed(0)
    x = torch.randn(3, 2, 2, H, W)
    m = model(adaptive(attention=attention))
    fine, coarse = model(tiny(attention=attention, patch_size=2), 1), model(tiny(attention=attention), 2)
    missing, unexpected = fine.load_state_dict(m.state_dict(), strict=False)
    assert not missing and unexpected and all(k.startswith(("stems.p8.", "decoders.p8.")) for k in unexpected)
    missing, unexpected = coarse.load_state_dict(m.state_dict(), strict=False)
    assert not missing and unexpected and all(k.startswith(("stems.p2.", "decoders.p2.")) for k in unexpected)
    every, none = torch.ones(3, 8, dtype=torch.bool), torch.zeros(3, 8, dtype=torch.bool)
    with torch.no_grad():
        all_refined, tok = m(x, FIELDS, refined=every, return_tokenization=True)
        none_refined = m(x, FIELDS, refined=none)
        assert_close(all_refined, fine(x, FIELDS))
        assert_close(all_refined, fine(x, FIELDS, refined=None))
        assert_close(none_refined, coarse(x, FIELDS))
        assert_close(none_refined, coarse(x, FIELDS, refined=none))  # all-False is the uniform tokenization
    assert tok.tokens_per_frame.tolist() == [8 * 16] * 3 and tok.scheme == "mix"
    assert (all_refined - none_refined).abs().max() > 0.1  # the blocks matter: the two levels differ


@pytest.mark.parametrize("attention", ["vit", "svit", "avit"])
def test_mul_adds_a_correction_on_the_refined_patches_only(attention):
    torch.manual_seed(0)
    x = torch.randn(2, 2, 2, H, W)
    m = model(adaptive(attention=attention, scheme="mul"))
    coarse = model(tiny(attention=attention), 1)
    coarse.load_state_dict(m.state_dict(), strict=False)
    refined = torch.zeros(2, 8, dtype=torch.bool)
    refined[0, 6] = True  # patch (1, 2): rows 8–15, columns 16–23
    with torch.no_grad():
        base = coarse(x, FIELDS)
        assert_close(m(x, FIELDS, refined=torch.zeros_like(refined)), base)
        pred, tok = m(x, FIELDS, refined=refined, return_tokenization=True)
    outside = torch.ones(2, H, W, dtype=torch.bool)
    outside[0, 8:16, 16:24] = False
    assert_close(pred.movedim(1, -1)[outside], base.movedim(1, -1)[outside])  # the coarse pass is untouched
    correction = pred[0, :, 8:16, 16:24] - base[0, :, 8:16, 16:24]
    assert correction.abs().min() > 0  # the correction lands there …
    silent = copy.deepcopy(m)  # … and is the fine level's alone: the same when the coarse decoder predicts nothing
    with torch.no_grad():
        silent.decoders.p8.out.weight.zero_(), silent.decoders.p8.out.bias.zero_()
        again = silent(x, FIELDS, refined=refined) - silent(x, FIELDS, refined=torch.zeros_like(refined))
    assert_close(again[0, :, 8:16, 16:24], correction)
    assert tok.tokens_per_frame.tolist() == [8 + 16, 8] and tok.scheme == "mul"


def test_uniform_model_refuses_to_refine():
    m = model(tiny())
    with pytest.raises(ValueError, match="refined"):
        m(torch.randn(1, 2, 2, H, W), FIELDS, refined=torch.ones(1, 8, dtype=torch.bool))


# --------------------------------------------------------------------------- 2. batch independence
CASES = [("vit", "mix"), ("svit", "mix"), ("vit", "mul"), ("svit", "mul"), ("avit", "mul")]


@pytest.mark.parametrize("attention,scheme", CASES, ids=[f"{a}-{s}" for a, s in CASES])
def test_prediction_does_not_depend_on_the_rest_of_the_batch(attention, scheme):
    x = uneven_batch()
    m = model(adaptive(attention=attention, scheme=scheme))
    explicit = torch.zeros(3, 8, dtype=torch.bool)
    explicit[0, 3] = True
    explicit[1, :5] = True  # sample 2 refines none: counts 1, 5, 0
    with torch.no_grad():
        own, tok = m(x, FIELDS, return_tokenization=True)
        forced, tok_forced = m(x, FIELDS, refined=explicit, return_tokenization=True)
        for i in range(3):
            assert_close(m(x[i : i + 1], FIELDS), own[i : i + 1])
            assert_close(m(x[i : i + 1], FIELDS, refined=explicit[i : i + 1]), forced[i : i + 1])
    assert tok.refined.flatten(1).sum(1).tolist() == [1, 4, 8]  # the model's own γ selection differs per sample
    assert len(set(tok.tokens_per_frame.tolist())) == 3 and len(set(tok_forced.tokens_per_frame.tolist())) == 3
    assert torch.equal(tok_forced.refined.flatten(1), explicit)


# --------------------------------------------------------------------------- 3. selection
def test_patch_scores_are_the_variance_over_time_and_pixels_averaged_over_channels():
    torch.manual_seed(0)
    x = torch.randn(2, 3, 4, H, W) * torch.tensor([1.0, 2.0, 0.5, 3.0])[None, None, :, None, None]
    p = 4
    scores = patch_scores(x, p)
    assert scores.shape == (2, (H // p) * (W // p))
    direct = torch.empty(2, (H // p) * (W // p))
    for b in range(2):
        for iy in range(H // p):
            for ix in range(W // p):
                block = x[b, :, :, iy * p : (iy + 1) * p, ix * p : (ix + 1) * p].double()  # (T, C, p, p)
                per_channel = [float(((v - v.mean()) ** 2).mean()) for v in block.transpose(0, 1)]
                direct[b, iy * (W // p) + ix] = sum(per_channel) / len(per_channel)
    torch.testing.assert_close(scores, direct, rtol=1e-5, atol=1e-6)


def test_gamma_selects_the_patches_at_least_gamma_times_the_max():
    scores = torch.tensor([[1.0, 0.5, 0.25, 0.75, 0.49], [0.1, 0.4, 0.2, 0.3, 0.05]])
    sel = select_patches(scores, gamma=0.5)
    assert sel.tolist() == [[True, True, False, True, False], [False, True, True, True, False]]  # ties with γ·max count
    torch.manual_seed(0)
    s = torch.rand(4, 32) + 1e-3  # distinct (almost surely), positive
    for gamma in (0.0, 0.3, 0.7, 1.0):
        assert torch.equal(select_patches(s, gamma=gamma), s >= gamma * s.max(dim=1, keepdim=True).values)
    assert select_patches(s, gamma=0.0).all()
    top = select_patches(s, gamma=1.0)
    assert top.sum(1).tolist() == [1] * 4 and torch.equal(top.float().argmax(1), s.argmax(1))


@pytest.mark.parametrize("ratio,count", [(0.3, 3), (0.25, 2), (0.5, 5), (1.0, 10), (0.01, 1)])
def test_refine_ratio_selects_the_top_round_rho_n(ratio, count):
    torch.manual_seed(1)
    s = torch.rand(3, 10)
    sel = select_patches(s, refine_ratio=ratio)
    assert sel.sum(1).tolist() == [count] * 3  # round(ρN), at least one (0.25·10 = 2.5 rounds to 2)
    for b in range(3):
        assert set(sel[b].nonzero().flatten().tolist()) == set(s[b].topk(count).indices.tolist())


def test_select_patches_needs_exactly_one_rule():
    with pytest.raises(ValueError, match="gamma and refine_ratio"):
        select_patches(torch.rand(1, 4))
    with pytest.raises(ValueError, match="gamma and refine_ratio"):
        select_patches(torch.rand(1, 4), gamma=0.5, refine_ratio=0.5)


def test_the_patch_holding_a_high_variance_feature_is_refined():
    torch.manual_seed(0)
    x = 0.01 * torch.randn(2, 2, 2, H, W) + 1.0
    yy, xx = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    bump = torch.sin(xx) * torch.cos(yy)
    x[0, :, :, 8:16, 16:24] += bump  # patch (1, 2) of the 2×4 grid: index 6
    x[1, :, 1, 0:8, 0:8] += bump  # patch 0, one channel only
    sel = select_patches(patch_scores(x, 8), gamma=0.9)
    assert sel.nonzero().tolist() == [[0, 6], [1, 0]]
    tok = model(adaptive(gamma=0.9)).tokenize(x)  # the model scores the normalised window: the same patches
    assert tok.refined.flatten(1).nonzero().tolist() == [[0, 6], [1, 0]]
    assert tok.tokens_per_frame.tolist() == [8 - 1 + 16, 8 - 1 + 16]


# --------------------------------------------------------------------------- 4. Mix layout
def test_mix_layout_lengths_masks_and_slots():
    torch.manual_seed(0)
    N, r2 = 8, 16
    refined = torch.rand(5, N) < 0.4
    refined[0] = False
    refined[1] = True
    lay = mix_layout(refined, r2)
    n = refined.sum(1)
    assert lay.length.tolist() == (N - n + n * r2).tolist()
    assert lay.max_length == int(lay.length.max())
    mask = lay.mask()
    assert mask is not None and mask.shape == (5, lay.max_length)
    assert mask.sum(1).tolist() == lay.length.tolist()
    assert all(bool(mask[b, : lay.length[b]].all()) for b in range(5))  # real tokens first, padding last
    slots = [[] for _ in range(5)]
    for b, j in zip(*lay.coarse):
        assert not refined[b, j]
        slots[int(b)].append(int(lay.offsets[b, j]))
    for (b, j), s in zip(zip(*lay.fine), lay.fine_slots):
        assert refined[b, j]
        slots[int(b)] += s.tolist()
    for b in range(5):
        assert sorted(slots[b]) == list(range(int(lay.length[b])))  # every slot used exactly once
    # patches stay in order: patch j's tokens come before patch j+1's
    first = lay.offsets
    assert bool((first[:, 1:] > first[:, :-1]).all())
    assert mix_layout(torch.ones(2, N, dtype=torch.bool), r2).mask() is None  # no padding: SDPA's fast path


# --------------------------------------------------------------------------- 5. token geometry
def test_token_geometry_centres_and_areas():
    coarse, fine = token_geometry((H, W), 8, 2)
    assert coarse.shape == (8, 3) and fine.shape == (8, 16, 3)
    torch.testing.assert_close(fine[:, :, :2].mean(1), coarse[:, :2])
    torch.testing.assert_close(fine[:, :, 2].sum(1), coarse[:, 2])
    assert float(coarse[:, 2].sum()) == pytest.approx(1.0)
    assert float(fine[:, :, 2].sum()) == pytest.approx(1.0)
    uniform, none = token_geometry((H, W), 2)
    assert none is None and float(uniform[:, 2].sum()) == pytest.approx(1.0)
    # the fine tokens are the uniform fine grid's tokens (what makes Mix refine-all the uniform fine model)
    as_set = lambda g: sorted(map(tuple, g.reshape(-1, 3).mul(1e4).round().tolist()))
    assert as_set(fine) == as_set(uniform)
    # longer side has length 1: x spans (0, 1), y spans (0, 1/2)
    assert 0 < float(coarse[:, 0].min()) and float(coarse[:, 0].max()) < 1 and float(coarse[:, 1].max()) < 0.5


# --------------------------------------------------------------------------- 6. parameter counts
def build_on_meta(cfg: MateyConfig) -> Matey:
    with torch.device("meta"):  # S and B without allocating their weights
        m = Matey(cfg)
    assert all(p.is_meta for p in m.parameters())
    return m


def n_params(m: Matey) -> int:
    return sum(p.numel() for p in m.parameters())


PRESET_CASES = [(size, attention, None) for size in SIZES for attention in ("vit", "svit", "avit")] + \
               [(size, "svit", 8) for size in SIZES]


@pytest.mark.parametrize("size,attention,fine", PRESET_CASES,
                         ids=[f"{s}-{a}-32{'to' + str(f) if f else ''}" for s, a, f in PRESET_CASES])
def test_parameter_count_of_presets(size, attention, fine):
    cfg = MateyConfig(attention=attention, size=size, patch_size=32, fine_patch_size=fine)
    m = Matey(cfg) if size == "Ti" else build_on_meta(cfg)
    assert n_params(m) == parameter_count(cfg)
    assert (cfg.width, cfg.heads, cfg.depth) == {"Ti": (192, 3, 12), "S": (384, 6, 12), "B": (768, 12, 12)}[size]


@pytest.mark.parametrize("kw", [dict(leadtime=True), dict(mlp_ratio=2, attention="avit", fine_patch_size=4, scheme="mul"),
                                dict(patch_size=16, fine_patch_size=4, attention="vit"), dict(patch_size=6)])
def test_parameter_count_of_small_variants(kw):
    cfg = tiny(**kw)
    assert n_params(Matey(cfg)) == parameter_count(cfg)
    assert n_params(Matey(MateyConfig(**{**cfg.__dict__, "vocabulary": ("a/x", "a/y")}))) == parameter_count(
        cfg, n_fields=2)


def test_matey_builds_on_the_meta_device():
    with torch.device("meta"):
        m = Matey(MateyConfig(attention="vit", size="B", patch_size=32))
    assert n_params(m) == parameter_count(m.config)


def test_explicit_values_override_a_preset():
    cfg = MateyConfig(size="S", width=96, depth=3)
    assert (cfg.width, cfg.heads, cfg.depth) == (96, 6, 3)
    cfg = MateyConfig(size="B", heads=4)
    assert (cfg.width, cfg.heads, cfg.depth) == (768, 4, 12)
    cfg = MateyConfig(width=32, heads=2, depth=1)  # no preset: Ti's values fill the gaps only
    assert (cfg.width, cfg.heads, cfg.depth) == (32, 2, 1)
    assert (MateyConfig().width, MateyConfig().heads, MateyConfig().depth) == (192, 3, 12)


def test_stem_kernels_multiply_to_the_patch_size():
    assert stem_kernels(32) == [8, 2, 2] and stem_kernels(4) == [2, 2] and stem_kernels(2) == [2]
    for p in range(1, 65):
        assert int(np.prod(stem_kernels(p))) == p


@pytest.mark.parametrize("k", [1, 2, 4])
def test_patch_convs_are_the_strided_convolutions(k):
    """The stems' and decoders' matmul form is exactly the kernel = stride (transposed) convolution."""
    g = torch.Generator().manual_seed(k)
    x = torch.randn(3, 5, 4 * k, 2 * k, generator=g, dtype=torch.float64)  # (n, c, H, W)
    w, b = torch.randn(7, 5, k, k, generator=g, dtype=torch.float64), torch.randn(7, generator=g, dtype=torch.float64)
    got = patch_conv(x.permute(0, 2, 3, 1), w, b).permute(0, 3, 1, 2)
    torch.testing.assert_close(got, torch.nn.functional.conv2d(x, w, b, stride=k))
    wt = torch.randn(5, 7, k, k, generator=g, dtype=torch.float64)
    got = patch_conv_transpose(x.permute(0, 2, 3, 1), wt, b).permute(0, 3, 1, 2)
    torch.testing.assert_close(got, torch.nn.functional.conv_transpose2d(x, wt, b, stride=k))


def test_stem_is_its_convolutions_and_gelus_in_sequence():
    stem = Stem(16, 32).double()
    x = torch.randn(2, 8, 16, 16, dtype=torch.float64)
    torch.testing.assert_close(stem(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2),
                               torch.nn.Sequential.forward(stem, x))  # the layers as PyTorch runs them


# --------------------------------------------------------------------------- 7. the mixers
def test_mixers_agree_where_they_must():
    torch.manual_seed(0)
    attn = Attention(16, 2)
    d = 16
    with torch.no_grad():
        h = torch.randn(2, 3, 1, d)  # T = 3, one token per frame (1×1 grid)
        torch.testing.assert_close(Block.mix("axial", attn, h, None, (1, 1)), Block.mix("space", attn, h, None, None))
        h1 = torch.randn(2, 1, 6, d)  # T = 1
        torch.testing.assert_close(Block.mix("joint", attn, h1, None, None), Block.mix("space", attn, h1, None, None))
        mask = torch.tensor([[True] * 6, [True] * 4 + [False] * 2])
        torch.testing.assert_close(Block.mix("joint", attn, h1, mask, None), Block.mix("space", attn, h1, mask, None))
        one_token = attn.proj(attn.qkv(h1)[..., 2 * d :])  # attention over a single token: proj(v)
        torch.testing.assert_close(Block.mix("time", attn, h1, None, None), one_token)
        masked = Block.mix("time", attn, h1, mask, None)
        torch.testing.assert_close(masked[1, :, :4], one_token[1, :, :4])
        torch.testing.assert_close(masked[0], one_token[0])
        assert bool((masked[1, :, 4:] == 0).all())  # padded slots untouched
        # a 1×nx grid: along y every sequence is one token, along x the whole row: axial = (space + proj v) / 2
        row = torch.randn(2, 3, 5, d)
        torch.testing.assert_close(Block.mix("axial", attn, row, None, (1, 5)),
                                   (Block.mix("space", attn, row, None, None) + attn.proj(attn.qkv(row)[..., 2 * d :])) / 2)
    with pytest.raises(ValueError, match="axial"):
        Block.mix("axial", attn, h1, mask, (2, 3))


# --------------------------------------------------------------------------- 8. counted FLOPs
@pytest.mark.parametrize("attention", ["vit", "svit", "avit"])
def test_counted_attention_flops_equal_the_formula_uniform(attention):
    cfg = tiny(attention=attention)
    m = model(cfg)
    x, y = torch.randn(3, 2, 2, H, W), torch.randn(3, 2, H, W)
    f = count_flops(m, x, y, FIELDS)
    assert f["attention_forward"] == attention_flops_formula(cfg, [8] * 3, (2, 4)) > 0
    assert 0 < f["forward"] < f["total"] and f["attention_forward"] < f["attention"] < f["total"]
    assert all(p.grad is None for p in m.parameters())  # count_flops leaves no gradients behind


@pytest.mark.parametrize("attention", ["vit", "svit", "avit"])
def test_counted_attention_flops_equal_the_formula_mul(attention):
    cfg = adaptive(attention=attention, scheme="mul")
    m = model(cfg)
    x, y = uneven_batch(), torch.randn(3, 2, H, W)
    n_refined = int(m.tokenize(x).refined.sum())
    assert n_refined == 13
    f = count_flops(m, x, y, FIELDS)
    formula = attention_flops_formula(cfg, [8] * 3, (2, 4)) + attention_flops_formula(cfg, [16] * n_refined, (4, 4))
    assert f["attention_forward"] == formula
    assert 0 < f["forward"] < f["total"]


# --------------------------------------------------------------------------- 9. one optimisation
OPT_CASES = [("vit", None), ("svit", None), ("avit", None), ("vit", "mix"), ("svit", "mix"), ("avit", "mul")]


@pytest.mark.parametrize("attention,scheme", OPT_CASES, ids=[f"{a}-{s or 'uniform'}" for a, s in OPT_CASES])
def test_a_few_adam_steps_lower_the_loss_on_a_fixed_batch(attention, scheme):
    cfg = adaptive(attention=attention, scheme=scheme) if scheme else tiny(attention=attention)
    m = model(cfg).train()
    x = uneven_batch(1)[:2]
    y = x[:, -1].roll(3, dims=-1) + 0.1 * torch.randn_like(x[:, -1])
    opt = torch.optim.Adam(m.parameters(), lr=1e-3)
    losses = []
    for _ in range(5):
        loss = nmse_per_channel(m(x, FIELDS), y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        final = float(nmse_per_channel(m(x, FIELDS), y).mean())
    assert final < losses[0], (losses, final)


# --------------------------------------------------------------------------- 10. bad configurations
def test_bad_configurations_name_the_parameter():
    m = model(tiny())
    with pytest.raises(ValueError, match="patch_size"):
        m(torch.randn(1, 2, 2, 16, 30), FIELDS)
    with pytest.raises(ValueError, match="fine_patch_size"):
        tiny(fine_patch_size=3, gamma=0.5)
    with pytest.raises(ValueError, match="fine_patch_size"):
        tiny(fine_patch_size=8, gamma=0.5)  # equal to the coarse patch
    with pytest.raises(ValueError, match=r"(?s)mix.*avit"):
        tiny(attention="avit", fine_patch_size=2, gamma=0.5, scheme="mix")
    with pytest.raises(ValueError, match="nope/x"):
        m(torch.randn(1, 2, 2, H, W), ["thermals/density", "nope/x"])
    with pytest.raises(ValueError, match="fields"):
        m(torch.randn(1, 2, 2, H, W), ["thermals/density"])  # one name for two channels
    with pytest.raises(ValueError, match="attention"):
        tiny(attention="swin")
    with pytest.raises(ValueError, match="scheme"):
        tiny(scheme="both")
    with pytest.raises(ValueError, match=r"width 18 .*heads 4"):
        tiny(width=18, heads=4)
    with pytest.raises(ValueError, match="size"):
        MateyConfig(size="L")
    for gamma in (-0.1, 1.5):
        with pytest.raises(ValueError, match="gamma"):
            adaptive(gamma=gamma)
    with pytest.raises(ValueError, match="refine_ratio"):
        adaptive(gamma=None, refine_ratio=1.5)
    with pytest.raises(ValueError, match="gamma and refine_ratio"):
        adaptive(gamma=None)
    with pytest.raises(ValueError, match="history"):
        m(torch.randn(1, 3, 2, H, W), FIELDS)
    with pytest.raises(ValueError, match="history"):
        tiny(history=0)


# --------------------------------------------------------------------------- data-backed tests
@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Smoke colliding_thermals in a private data root."""
    with private_smoke_data(tmp_path_factory.mktemp("data"), "colliding_thermals") as data:
        yield data


@pytest.fixture(scope="module")
def smoke(env):
    path = dataset_path("colliding_thermals", "smoke")
    with xr.open_dataset(path) as ds:
        ds = ds.load()
    return path, ds


def test_matey_config_rejects_a_patch_that_does_not_tile_the_grid(env):
    with pytest.raises(ValueError, match="patch_size 3"):
        matey_config(profile="smoke", patch_size=3)
    cfg = matey_config(profile="smoke", patch_size=8, fine_patch_size=2, gamma=0.5, width=16, depth=1, heads=2)
    assert cfg.task == "matey" and cfg.model["patch_size"] == 8 and cfg.history == 2
    with pytest.raises(ValueError, match="gamma or refine_ratio"):
        matey_config(profile="smoke", patch_size=8, fine_patch_size=2)


STEP_CASES = [pytest.param("avit", "mul", id="mul-avit"), pytest.param("vit", "mix", id="mix-vit"),
              pytest.param("svit", "mix", id="mix-svit")]


@pytest.mark.parametrize("attention,scheme", STEP_CASES)
def test_step_cost_formula_equals_the_counted_attention_flops(env, attention, scheme):
    cfg = matey_config(profile="smoke", attention=attention, patch_size=8, fine_patch_size=2, scheme=scheme, gamma=0.5,
                       width=16, depth=1, heads=2)
    cost = step_cost(cfg, device="cpu", repeats=1)
    assert 0 < cost["refined_fraction"] < 1  # uneven refinement over the batch: Mix pads
    assert cost["attention_flops_forward"] == cost["attention_flops_formula"]


def test_windows_are_the_right_frames_of_the_right_trajectory(smoke):
    from pdestudy.data.windows import TrajectoryWindows
    path, ds = smoke
    trajectories, T, lead = [1, 3, 4], 3, 2
    n_time = ds.sizes["time"]
    w = TrajectoryWindows(path, trajectories, T, lead)
    from_file = TrajectoryWindows(path, trajectories, T, lead, max_memory=0)
    assert w.frames is not None and from_file.frames is None
    per = n_time - T - lead + 1
    assert len(w) == len(from_file) == len(trajectories) * per
    names = list(ds.data_vars)
    values = np.stack([ds[f].values for f in names], axis=2)  # (trajectory, time, C, H, W)
    ks = [0, 1, per - 1, per, 2 * per + 5, len(w) - 1]
    x, y = w.batch(ks)
    x2, y2 = from_file.batch(torch.tensor(ks))
    assert x.shape == (len(ks), T, len(names), H, W) and y.shape == (len(ks), len(names), H, W)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    for n, k in enumerate(ks):
        i, t = trajectories[k // per], T - 1 + k % per
        assert np.array_equal(x[n].numpy(), values[i, t - T + 1 : t + 1])
        assert np.array_equal(y[n].numpy(), values[i, t + lead])
    sub = TrajectoryWindows(path, [2], 2, 1, fields=["vx", "theta"])
    xs, ys = sub.batch([7])
    assert np.array_equal(xs[0, :, 0].numpy(), ds["vx"].values[2, 7:9]) and np.array_equal(ys[0, 1].numpy(),
                                                                                            ds["theta"].values[2, 9])


def test_persistence_scores_every_test_window(smoke):
    path, ds = smoke
    n_train, n = int(ds.attrs["n_train"]), ds.sizes["trajectory"]
    scores = evaluate(None, "colliding_thermals", "smoke", history=2, lead=1, device="cpu")
    n_time = ds.sizes["time"]
    assert scores["windows"] == (n - n_train) * (n_time - 2)
    v = np.stack([ds[f].values[n_train:] for f in ds.data_vars], axis=2).astype(np.float64)  # test trajectories only
    pred, true = v[:, 1:-1], v[:, 2:]  # last input frame t, target t + 1, for t = 1 … n_time − 2
    per = np.sqrt(((pred - true) ** 2).mean(axis=(-2, -1)) / (1e-7 + (true**2).mean(axis=(-2, -1)))).mean(-1)
    assert scores["nrmse"] == pytest.approx(per.mean(), rel=1e-5)
    assert set(scores["per_channel"]) == set(ds.data_vars)


# --------------------------------------------------------------------------- 11. the training loop
MODEL = dict(attention="svit", width=16, depth=1, heads=2, patch_size=4, gamma=None, layer_scale=0.1)


def matey_run(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(task="matey", dataset="colliding_thermals", profile="smoke", model=MODEL, history=2,
                                 epochs=3, batch_size=8, max_train_samples=32), **kw})


def losses(history):
    return [(h["epoch"], h["train_loss"], h["val_loss"], h["grad_norm"], h["lr"]) for h in history]


@pytest.fixture(scope="module")
def reference(env, tmp_path_factory):
    return train(matey_run(), root=tmp_path_factory.mktemp("reference"), progress=False)


def test_same_seed_same_history(reference, tmp_path):
    again = train(matey_run(), root=tmp_path / "a", progress=False)
    assert len(again.history) == 3 and losses(again.history) == losses(reference.history)
    for p1, p2 in zip(again.model.parameters(), reference.model.parameters(), strict=True):
        assert torch.equal(p1, p2)
    other = train(matey_run(seed=1), root=tmp_path / "b", progress=False)
    assert losses(other.history) != losses(reference.history)


def test_best_epoch_is_the_minimum_validation_epoch(reference):
    vals = [h["val_loss"] for h in reference.history]
    assert reference.best_epoch == vals.index(min(vals)) and reference.metrics["best_val_loss"] == min(vals)
    # the returned model holds the best epoch's weights: validating it again gives that epoch's score
    task = MateyTask(reference.config, torch.device("cpu"))
    task.load_data()
    assert task.validate(task.wrap(reference.model)) == pytest.approx(min(vals), rel=1e-6)
    assert all(h["train_loss"] > 0 and h["val_loss"] > 0 for h in reference.history)


@pytest.mark.parametrize("val_fraction,val", [(0.1, [5]), (0.5, [3, 4, 5])])
def test_validation_windows_come_from_training_trajectories(smoke, val_fraction, val):
    path, ds = smoke
    n_train = int(ds.attrs["n_train"])
    assert n_train == 6 and ds.sizes["trajectory"] == 8
    task = MateyTask(matey_run(val_fraction=val_fraction), torch.device("cpu"))
    task.load_data()
    (src,) = task.sources
    assert src.val.trajectories == val and max(src.val.trajectories) == n_train - 1
    assert src.train.trajectories == list(range(val[0]))
    assert task.n_train == 32 and int(src.samples.max()) < len(src.train)
    assert src.fields == ["thermals/density", "thermals/theta", "thermals/vx", "thermals/vy"]
    x, y = src.val.batch([0])
    assert np.array_equal(y[0, 1].numpy(), ds["theta"].values[val[0], 2])  # history 2, lead 1: target frame 2


def test_resume_after_sigkill_equals_uninterrupted(env, tmp_path):
    assert_resume_equals_uninterrupted(matey_run(epochs=8), tmp_path)


def test_ddp_two_processes_equal_one(env, tmp_path):
    # an adaptive Mix model: the ranks' batches refine different patches (DDP must allow idle fine levels)
    cfg = matey_run(epochs=2, model=dict(attention="svit", width=16, depth=1, heads=2, patch_size=8, fine_patch_size=2,
                                         gamma=0.5, layer_scale=0.1))
    single = train(cfg, root=tmp_path / "one", progress=False)
    train_with_torchrun(cfg, tmp_path / "two", tmp_path)
    ddp = train(cfg, root=tmp_path / "two", progress=False)  # loads the finished DDP run
    assert ddp.metrics["world_size"] == 2
    for h1, h2 in zip(single.history, ddp.history, strict=True):
        assert h1["train_loss"] == pytest.approx(h2["train_loss"], rel=1e-4)
        assert h1["val_loss"] == pytest.approx(h2["val_loss"], rel=1e-4)
    for p1, p2 in zip(single.model.parameters(), ddp.model.parameters(), strict=True):
        assert torch.allclose(p1, p2, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(), dict(fine_patch_size=2, gamma=0.5, scheme="mix"),
                                dict(attention="avit", fine_patch_size=2, gamma=0.5, scheme="mul")])
def test_residual_model_starts_at_persistence_and_learns_the_change(kw):
    m = model(tiny(residual=True, **kw)).train()
    x = uneven_batch()
    torch.testing.assert_close(m(x, FIELDS), x[:, -1])  # zero output layers: exactly the last input frame
    y = x[:, -1] + 0.5 * torch.roll(x[:, -1], 3, dims=-1)
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    with torch.no_grad():
        first = float(nmse_per_channel(m(x, FIELDS), y).mean())
    for _ in range(5):
        loss = nmse_per_channel(m(x, FIELDS), y).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        assert float(nmse_per_channel(m(x, FIELDS), y).mean()) < first


def test_lead_time_conditioning_changes_the_prediction_only_when_on():
    x = torch.randn(2, 2, 2, H, W)
    on = model(tiny(leadtime=True)).eval()
    with torch.no_grad():
        assert not torch.allclose(on(x, FIELDS, lead=1), on(x, FIELDS, lead=5))
        assert_close(on(x, FIELDS, lead=torch.tensor([1, 5]))[1], on(x[1:], FIELDS, lead=5)[0])
        off = model(tiny()).eval()
        assert torch.equal(off(x, FIELDS, lead=1), off(x, FIELDS, lead=5))  # t_lead fixed: no MLP, no effect
