"""The field vocabulary: fixed ids, every dataset's fields in it, checkpoints that survive its growth."""
import copy

import pytest
import torch

from pdestudy.data.fields import field_ids, qualified, remap_rows, vocabulary
from pdestudy.data.registry import PROFILES, dataset_names, get_spec
from pdestudy.models.matey import Matey, MateyConfig

# The whole vocabulary in id order, pinned: ids are never reordered or removed (new names are appended,
# and then this list grows by the same names at its end).
PINNED = [
    "navier_stokes/vorticity",
    "kolmogorov/vorticity",
    "diffusion_reaction/u",
    "diffusion_reaction/v",
    "shallow_water/h",
    "shallow_water/hu",
    "shallow_water/hv",
    "compressible_ns/density",
    "compressible_ns/vx",
    "compressible_ns/vy",
    "compressible_ns/pressure",
    "incompressible_ns/vx",
    "incompressible_ns/vy",
    "incompressible_ns/particles",
    "thermals/density",
    "thermals/theta",
    "thermals/vx",
    "thermals/vy",
    "mhd_cavity/vx",
    "mhd_cavity/vy",
    "mhd_cavity/bx",
    "mhd_cavity/by",
]
THERMALS = ["thermals/density", "thermals/theta", "thermals/vx", "thermals/vy"]


pytestmark = pytest.mark.usefixtures("one_thread")  # conftest: the machines have two cores, often shared


def test_ids_are_pinned():
    v = vocabulary()
    assert list(v[: len(PINNED)]) == PINNED  # a reorder, removal or insertion fails here
    assert field_ids(["navier_stokes/vorticity"]).tolist() == [0]
    assert field_ids(THERMALS).tolist() == [14, 15, 16, 17]
    assert field_ids(PINNED).tolist() == list(range(len(PINNED)))


def test_no_duplicates():
    v = vocabulary()
    assert len(set(v)) == len(v)
    assert all(n.count("/") == 1 and n == n.strip() and n for n in v)


def test_duplicate_names_in_a_vocabulary_file_are_refused(tmp_path):
    f = tmp_path / "vocab.txt"
    f.write_text("# comment\na/x\nb/y\n\na/x\n")
    with pytest.raises(ValueError, match=r"a/x"):
        vocabulary(f)
    g = tmp_path / "ok.txt"
    g.write_text("# comment\na/x\n\n  b/y  \n")
    assert vocabulary(g) == ("a/x", "b/y")


@pytest.mark.parametrize("name", dataset_names())
def test_every_dataset_field_is_in_the_vocabulary(name):
    specs = [get_spec(name, profile) for profile in PROFILES]
    assert len({(s.system, s.fields) for s in specs}) == 1  # profiles change sizes only, never fields
    spec = specs[0]
    names = qualified(spec.system, spec.fields)
    assert set(names) <= set(vocabulary()), sorted(set(names) - set(vocabulary()))
    assert len(field_ids(names)) == len(spec.fields)


def test_qualified_and_field_ids():
    assert qualified("thermals", ["theta", "x/y"]) == ["thermals/theta", "x/y"]
    with pytest.raises(ValueError, match=r"\['nope/a', 'nope/b'\]"):
        field_ids(["thermals/theta", "nope/a", "nope/b"])
    with pytest.raises(ValueError, match=r"'nope/a'"):
        field_ids(["nope/a"])
    assert field_ids(torch.tensor([3, 1])).tolist() == [3, 1]  # ids pass through
    assert field_ids([2, 0]).tolist() == [2, 0]
    with pytest.raises(ValueError, match="out of range"):
        field_ids([len(vocabulary())])
    with pytest.raises(ValueError, match="out of range"):
        field_ids(torch.tensor([-1]))
    assert remap_rows(["b", "a"], ["a", "c", "b"]).tolist() == [2, 0]
    with pytest.raises(ValueError, match="'d'"):
        remap_rows(["a", "d"], ["a", "b"])


# --------------------------------------------------------------------------- checkpoints and a growing vocabulary
SHORT = tuple(PINNED[:3]) + tuple(THERMALS)  # an older, shorter vocabulary (and in another order)
LONG = tuple(PINNED) + ("new_system/a", "new_system/b")  # the same names and more, appended


def cfg(vocab, **kw):
    return MateyConfig(**{**dict(attention="svit", width=16, depth=1, heads=2, history=2, patch_size=8, fine_patch_size=2,
                                 gamma=0.5, layer_scale=0.5, vocabulary=vocab), **kw})


def built(vocab, seed):
    torch.manual_seed(seed)
    return Matey(cfg(vocab)).eval()


ROWS = [("embed.weight", 1)] + [(f"decoders.p{p}.out.{n}", d) for p in (8, 2) for n, d in (("weight", 1), ("bias", 0))]


def test_state_dict_stores_the_field_names():
    sd = built(SHORT, 0).state_dict()
    for key in ("embed._extra_state", "decoders.p8.out._extra_state", "decoders.p2.out._extra_state"):
        assert sd[key] == {"fields": list(SHORT)}
    assert sd["embed.weight"].shape[1] == len(SHORT) and sd["decoders.p2.out.bias"].shape == (len(SHORT),)


def test_a_shorter_vocabulary_checkpoint_loads_row_by_row():
    old, new = built(SHORT, 0), built(LONG, 1)
    init = copy.deepcopy(new.state_dict())
    sd = old.state_dict()
    sd_before = {k: v.clone() if isinstance(v, torch.Tensor) else copy.deepcopy(v) for k, v in sd.items()}
    assert not new.load_state_dict(sd).missing_keys  # strict load succeeds despite the shapes
    loaded = new.state_dict()
    for key, dim in ROWS:
        for name in LONG:
            row = loaded[key].select(dim, LONG.index(name))
            if name in SHORT:
                assert torch.equal(row, sd[key].select(dim, SHORT.index(name))), (key, name)
            else:
                assert torch.equal(row, init[key].select(dim, LONG.index(name))), (key, name)  # left as initialised
    for key, value in sd.items():  # everything else is the checkpoint's
        if key not in dict(ROWS) and isinstance(value, torch.Tensor):
            assert torch.equal(loaded[key], value), key
    assert loaded["embed._extra_state"] == {"fields": list(LONG)}  # the model keeps its own names
    for key, value in sd.items():  # the caller's state_dict is not modified
        assert (torch.equal(value, sd_before[key]) if isinstance(value, torch.Tensor) else value == sd_before[key]), key


def test_a_checkpoint_with_fields_the_model_lacks_is_refused():
    with pytest.raises(ValueError, match="new_system/a"):
        built(SHORT, 0).load_state_dict(built(LONG, 1).state_dict())


def test_a_loaded_checkpoint_predicts_the_same_on_its_fields():
    old, new = built(SHORT, 0), built(LONG, 1)
    new.load_state_dict(old.state_dict())
    torch.manual_seed(2)
    x = torch.randn(2, 2, 4, 16, 32)
    with torch.no_grad():
        torch.testing.assert_close(new(x, THERMALS), old(x, THERMALS), rtol=1e-5, atol=1e-5)


def test_state_dict_round_trips_through_torch_save_weights_only(tmp_path):
    m = built(SHORT, 0)
    torch.save(m.state_dict(), tmp_path / "m.pt")
    sd = torch.load(tmp_path / "m.pt", weights_only=True)
    assert sd.keys() == m.state_dict().keys()
    assert sd["embed._extra_state"] == {"fields": list(SHORT)}
    fresh = built(SHORT, 5)
    fresh.load_state_dict(sd)
    for (k1, v1), (k2, v2) in zip(fresh.state_dict().items(), m.state_dict().items(), strict=True):
        assert k1 == k2 and (torch.equal(v1, v2) if isinstance(v1, torch.Tensor) else v1 == v2), k1
    x = torch.randn(1, 2, 4, 16, 32)
    with torch.no_grad():
        assert torch.equal(fresh(x, THERMALS), m(x, THERMALS))
