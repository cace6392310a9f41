"""Shapes and invariances of the MST models, and the hierarchical multi-scale schedule."""
import pytest
import torch

from pdestudy.models import (ENCODINGS, CAEConfig, ConvAutoencoder, LatentTransformer, MSTConfig, MultiScaleStepper,
                             chain_depths, hierarchical_schedule)
from pdestudy.models.mst import KernelAttention, relative_displacements


def small(encoding="M4", **kw):
    return MSTConfig(width=32, depth=2, heads=4, latent_size=4, encoding=encoding, pos_hidden=16, **kw)


def test_cae_shapes():
    ae = ConvAutoencoder(CAEConfig())
    x = torch.randn(3, 1, 64, 64)
    z = ae.encode(x)
    assert z.shape == (3, 128, 4, 4)  # 16 tokens of width 128
    assert ae.decode(z).shape == x.shape
    with pytest.raises(ValueError, match="divisible by 16"):
        ae.encode(torch.randn(1, 1, 40, 40))


def test_circular_convolution_is_torchs_circular_padding_bitwise():
    """The CAE's convolution pads by concatenation (faster on a CPU) and must be torch's circular
    padding exactly, with the same parameters: forward, gradients and state-dict keys, so models
    trained before it load and score unchanged."""
    from pdestudy.models.cae import CircularConv2d

    torch.manual_seed(0)
    ours, ref = CircularConv2d(3, 5), torch.nn.Conv2d(3, 5, 3, padding=1, padding_mode="circular")
    ref.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == list(ref.state_dict())
    x = torch.randn(2, 3, 8, 12, requires_grad=True)
    a, b = ours(x), ref(x)
    assert a.shape == x.shape[:1] + (5,) + x.shape[2:] and torch.equal(a, b)
    ga = torch.autograd.grad(a.square().sum(), [x, ours.weight])
    gb = torch.autograd.grad(b.square().sum(), [x, ref.weight])
    assert all(torch.equal(u, v) for u, v in zip(ga, gb))
    ae = ConvAutoencoder(CAEConfig(channels=[4, 8]))
    assert ae.encode(torch.randn(2, 1, 8, 8)).is_contiguous()  # channels-last inside, plain layout out


def test_cae_is_translation_equivariant_by_whole_pooling_cells():
    # circular padding + pooling: shifting the input by 2^L cells shifts the latent by one cell
    ae = ConvAutoencoder(CAEConfig(channels=[4, 8]))
    x = torch.randn(1, 1, 16, 16)
    z, z_shift = ae.encode(x), ae.encode(torch.roll(x, shifts=4, dims=-1))
    assert torch.allclose(torch.roll(z, shifts=1, dims=-1), z_shift, atol=1e-6)


def test_a_single_latent_vector_decodes_to_a_uniform_frame():
    # the decoder commutes with periodic shifts and a 1×1 latent is invariant under all of them: whatever
    # the weights, a 1×1-latent CAE reconstructs spatially constant frames (the AE chapter's 1² ablation)
    torch.manual_seed(0)
    ae = ConvAutoencoder(CAEConfig(channels=[4, 8, 8, 8]))
    x = torch.randn(2, 1, 16, 16)
    assert ae.encode(x).shape[-2:] == (1, 1)
    rec = ae(x)
    assert rec.flatten(-2).std(-1).max() < 1e-6 * rec.abs().max() and rec.abs().max() > 0
    two = ConvAutoencoder(CAEConfig(channels=[4, 8, 8]))  # 2×2: not uniform
    assert two(x).flatten(-2).std(-1).min() > 1e-4 * two(x).abs().max()


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_transformer_shapes(encoding):
    m = LatentTransformer(small(encoding))
    z = torch.randn(2, 32, 4, 4)
    assert m(z).shape == z.shape
    k = m.blocks[0].attn.kernel(z.flatten(2).transpose(1, 2))
    assert k.shape == (2, 4, 16, 16)


def test_m0_is_permutation_equivariant():
    torch.manual_seed(0)
    m = LatentTransformer(small("M0"))
    z = torch.randn(2, 32, 4, 4)
    perm = torch.randperm(16)
    out = m(z).flatten(2)[:, :, perm]
    out_perm = m(z.flatten(2)[:, :, perm].reshape(2, 32, 4, 4)).flatten(2)
    assert torch.allclose(out, out_perm, atol=1e-5)


@pytest.mark.parametrize("encoding", ["M1", "M2", "M3", "M4"])
def test_positional_encodings_break_permutation_equivariance(encoding):
    torch.manual_seed(0)
    m = LatentTransformer(small(encoding))
    z = torch.randn(2, 32, 4, 4)
    perm = torch.randperm(16)
    out = m(z).flatten(2)[:, :, perm]
    out_perm = m(z.flatten(2)[:, :, perm].reshape(2, 32, 4, 4)).flatten(2)
    assert not torch.allclose(out, out_perm, atol=1e-4)


@pytest.mark.parametrize("encoding", ["M3", "M4"])
def test_relative_kernel_depends_only_on_periodic_displacement(encoding):
    torch.manual_seed(0)
    G = KernelAttention(small(encoding)).relative_kernel()  # (heads, 16, 16)
    n = 4
    idx = lambda x, y: (y % n) * n + (x % n)  # noqa: E731
    for sx, sy in [(1, 0), (0, 1), (3, 2)]:
        shifted = torch.tensor([[idx(i % n + sx, i // n + sy)] for i in range(16)]).flatten()
        # G(p_i + s, p_j + s) == G(p_i, p_j) for every periodic shift s
        assert torch.allclose(G[:, shifted][:, :, shifted], G, atol=1e-6)
    d = relative_displacements(n)
    assert d.min() == -1 and d.max() == 2  # minimal image on a 4-cell torus


def test_m4_multiplies_softmax_without_renormalising():
    torch.manual_seed(0)
    attn = KernelAttention(small("M4"))
    x = torch.randn(1, 16, 32)
    kappa = attn.kernel(x)
    assert not torch.allclose(kappa.sum(-1), torch.ones(1, 4, 16), atol=1e-3)
    attn3 = KernelAttention(small("M3"))
    assert torch.allclose(attn3.kernel(x).sum(-1), torch.ones(1, 4, 16), atol=1e-5)


def test_sdpa_path_matches_explicit_kernel():
    torch.manual_seed(0)
    for enc in ("M0", "M2", "M3"):
        attn = KernelAttention(small(enc))
        x = torch.randn(2, 16, 32)
        _, _, v = attn._qkv(x)
        explicit = attn.proj((attn.kernel(x) @ v).transpose(1, 2).flatten(2))
        assert torch.allclose(attn(x), explicit, atol=1e-5)


def test_hierarchical_schedule_computes_every_frame_once():
    for horizon in (1, 7, 8, 13, 40):
        targets = [b for _, pairs in hierarchical_schedule(horizon, [1, 2, 4, 8]) for _, b in pairs]
        assert sorted(targets) == list(range(1, horizon + 1))


def test_chain_depth_table():
    depths = chain_depths(40, [1, 2, 4, 8])
    assert all(depths[k] == k // 8 + bin(k % 8).count("1") for k in range(41))
    assert max(depths) == 7 and max(chain_depths(40, [1])) == 40
    assert max(chain_depths(40, [1, 2])) == 20 and max(chain_depths(40, [1, 2, 4])) == 11


def test_levels_are_batched_and_sources_known():
    plan = hierarchical_schedule(40, [1, 2, 4, 8])
    known = {0}
    for dt, pairs in plan:
        assert all(a in known and b == a + dt for a, b in pairs)
        known.update(b for _, b in pairs)
    assert [len(p) for dt, p in plan if dt == 1] == [20]  # all 20 Δt=1 calls in one batch


def test_multiscale_rollout_and_final_state_agree():
    torch.manual_seed(0)
    models = {dt: LatentTransformer(small("M4")) for dt in (1, 2, 4, 8)}
    ms = MultiScaleStepper(models)
    z0 = torch.randn(3, 32, 4, 4)
    frames = ms.rollout(z0, 21)
    assert frames.shape == (3, 21, 32, 4, 4)
    z, calls = ms.final_state(z0, 21)
    assert calls == 21 // 8 + bin(21 % 8).count("1")
    assert torch.allclose(z, frames[:, 20], atol=1e-5)
    # frame 13 = 8 + 4 + 1: the Δt=8, 4, 1 models in that order
    expect = models[1](models[4](models[8](z0)))
    assert torch.allclose(frames[:, 12], expect, atol=1e-5)


def test_schedule_rejects_scales_without_one():
    with pytest.raises(ValueError, match="include 1"):
        hierarchical_schedule(10, [2, 4])


def test_fno_baseline_from_neuraloperator():
    from pdestudy.models.fno import FNOBaseline, FNOConfig
    m = FNOBaseline(FNOConfig(history=3, n_modes=[8, 8], hidden_channels=8))
    assert type(m.fno).__module__.startswith("neuralop")  # the baseline is the package's FNO, not ours
    assert m(torch.randn(2, 3, 1, 32, 32)).shape == (2, 1, 32, 32)
    with pytest.raises(ValueError, match="expects 3 × 1"):
        m(torch.randn(2, 2, 1, 32, 32))


def test_fno_checkpoint_loads_with_weights_only(tmp_path):
    from pdestudy.models.fno import FNOBaseline, FNOConfig
    cfg = FNOConfig(history=2, n_modes=[8, 8], hidden_channels=8)
    m = FNOBaseline(cfg)
    torch.save(m.state_dict(), tmp_path / "fno.pt")
    m2 = FNOBaseline(cfg)
    m2.load_state_dict(torch.load(tmp_path / "fno.pt", weights_only=True))
    x = torch.randn(1, 2, 1, 32, 32)
    assert torch.equal(m(x), m2(x))


def test_a_lead_time_model_that_ignores_its_lead_is_the_unconditioned_model():
    """Δt enters only what each branch reads, never the residual stream: with the embedding's output
    zeroed, the conditioned model computes exactly what the same blocks compute unconditioned."""
    torch.manual_seed(0)
    cond = LatentTransformer(small("M4", leadtime=True))
    plain = LatentTransformer(small("M4"))
    plain.load_state_dict({k: v for k, v in cond.state_dict().items() if not k.startswith("lead_time.")})
    z = torch.randn(3, 32, 4, 4)
    assert not torch.equal(cond(z, lead=1), cond(z, lead=8))  # the lead matters
    torch.nn.init.zeros_(cond.lead_time[-1].weight), torch.nn.init.zeros_(cond.lead_time[-1].bias)
    assert torch.equal(cond(z, lead=1), plain(z)) and torch.equal(cond(z, lead=8), plain(z))
    with pytest.raises(ValueError, match="conditioned on Δt"):
        cond(z)
    with pytest.raises(ValueError, match="one fixed Δt"):
        plain(z, lead=2)


def test_one_conditioned_model_runs_the_whole_multiscale_chain():
    from pdestudy.models.mst import AtLead
    torch.manual_seed(0)
    model = LatentTransformer(small("M4", leadtime=True))
    ms = MultiScaleStepper({dt: AtLead(model, dt) for dt in (1, 2, 4, 8)})
    assert sum(p.numel() for p in ms.parameters()) == sum(p.numel() for p in model.parameters())  # one set of weights
    z0 = torch.randn(2, 32, 4, 4)
    frames = ms.rollout(z0, 13)
    expect = model(model(model(z0, lead=8), lead=4), lead=1)  # frame 13 = 8 + 4 + 1
    assert torch.allclose(frames[:, 12], expect, atol=1e-5)
    per_sample = model(torch.cat([z0, z0]), lead=torch.tensor([1, 1, 8, 8]))  # a batch of mixed Δt
    assert torch.allclose(per_sample[:2], model(z0, lead=1), atol=1e-6) and torch.allclose(per_sample[2:], model(z0, lead=8), atol=1e-6)
