"""The file schema: atomic writes, validation errors that name the file and cause, caching, windows."""
import dataclasses

import numpy as np
import pytest
import torch
import xarray as xr

from pdestudy.data import DataFileError, WindowedDataset, generate, get_spec, open_dataset, validate_file
from pdestudy.data import generation, io
from pdestudy.data.solver_support import SolverInstability


@pytest.fixture(scope="module")
def smoke_file(tmp_path_factory):
    return generate("ns_nu1e-3", "smoke", root=tmp_path_factory.mktemp("data"), progress=False)


def test_schema_and_attributes(smoke_file):
    spec = get_spec("ns_nu1e-3", "smoke")
    ds = open_dataset(smoke_file)
    assert ds["vorticity"].dims == ("trajectory", "time", "y", "x")
    assert ds["vorticity"].shape == (spec.n_trajectories, 51, 32, 32)
    assert ds["vorticity"].dtype == np.float32
    assert ds["time"].values[0] == 0 and ds["time"].values[-1] == 50
    for key in ("equation", "parameters", "solver", "resolution", "seed", "pdestudy_version", "spec_hash",
                "generation_seconds", "host"):
        assert key in ds.attrs
    assert io.parameters(ds)["nu"] == 1e-3
    assert ds.attrs["spec_hash"] == spec.spec_hash()
    assert len(set(ds["seed"].values.tolist())) == spec.n_trajectories
    assert np.abs(ds["vorticity"].mean(dim=("y", "x"))).max() < 1e-5  # float32 storage of a zero-mean field


def test_generate_skips_valid_file(smoke_file, monkeypatch):
    mtime = smoke_file.stat().st_mtime_ns
    monkeypatch.setattr(generation, "system_module", lambda spec: pytest.fail("regenerated a valid file"))
    assert generate("ns_nu1e-3", "smoke", root=smoke_file.parent.parent, progress=False) == smoke_file
    assert smoke_file.stat().st_mtime_ns == mtime


def test_generate_replaces_stale_or_corrupt_file(tmp_path):
    path = generation.dataset_path("ns_nu1e-3", "smoke", tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a netcdf file")
    generate("ns_nu1e-3", "smoke", root=tmp_path, progress=False)
    validate_file(path).close()


def test_truncated_file_gives_clear_error(smoke_file, tmp_path):
    bad = tmp_path / "truncated.nc"
    data = smoke_file.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=r"truncated\.nc.*(truncated or corrupt)"):
        validate_file(bad)


def test_nan_values_detected(smoke_file, tmp_path):
    ds = open_dataset(smoke_file)
    ds["vorticity"][1, 3, 0, 0] = np.nan
    bad = tmp_path / "nan.nc"
    ds.to_netcdf(bad, engine="h5netcdf")
    with pytest.raises(DataFileError, match=r"nan\.nc: field 'vorticity' has NaN/inf values \(trajectory 1, time index 3\)"):
        validate_file(bad)


def test_wrong_dims_detected(smoke_file, tmp_path):
    ds = open_dataset(smoke_file).transpose("trajectory", "time", "x", "y")
    bad = tmp_path / "dims.nc"
    ds.to_netcdf(bad, engine="h5netcdf")
    with pytest.raises(DataFileError, match=r"dims\.nc: field 'vorticity' has dims"):
        validate_file(bad)


def test_missing_file_and_foreign_file(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        validate_file(tmp_path / "nope.nc")
    foreign = tmp_path / "foreign.nc"
    xr.Dataset({"a": ("x", np.zeros(3))}).to_netcdf(foreign, engine="h5netcdf")
    with pytest.raises(DataFileError, match="foreign.nc: not a pdestudy dataset"):
        validate_file(foreign)


def test_writer_refuses_nan(tmp_path):
    with pytest.raises(ValueError, match="NaN"):
        io.write_dataset(tmp_path / "x.nc", {"vorticity": np.full((1, 1, 2, 2), np.nan)}, {}, {})
    assert not list(tmp_path.iterdir())


def test_interrupted_write_leaves_no_file(tmp_path, monkeypatch):
    # killed after the first batch reached the temporary file: nothing may appear at the final path
    write = io.DatasetWriter.write

    def interrupted(self, start, fields):
        write(self, start, fields)
        raise KeyboardInterrupt

    monkeypatch.setattr(io.DatasetWriter, "write", interrupted)
    with pytest.raises(KeyboardInterrupt):
        generate("ns_nu1e-3", "smoke", root=tmp_path, batch_size=2, progress=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_streamed_generation_equals_one_batch(tmp_path):
    # batches are written to the file as they are solved, here by two worker processes: the file equals
    # the one written in one go by this process (diffusion–reaction: the cheapest smoke set; every system
    # writes through the same streamed writer and the same pool)
    one = open_dataset(generate("diffusion_reaction", "smoke", root=tmp_path / "a", batch_size=6, progress=False))
    many = open_dataset(generate("diffusion_reaction", "smoke", root=tmp_path / "b", batch_size=2, progress=False,
                                 workers=2))
    assert one.sizes["trajectory"] == 6  # three batches of 2, solved side by side, against one of 6
    for field in ("u", "v"):
        np.testing.assert_array_equal(one[field].values, many[field].values)
    np.testing.assert_array_equal(one["seed"].values, many["seed"].values)
    assert set(one.coords) == {"trajectory", "seed", "time", "y", "x"}


def test_writer_refuses_a_file_with_missing_trajectories(tmp_path):
    coords = dict(trajectory=np.arange(3), seed=np.arange(3), time=np.arange(2.0), y=np.arange(2.0), x=np.arange(2.0))
    with pytest.raises(ValueError, match=r"trajectories \[2\] were never written"):
        with io.dataset_writer(tmp_path / "x.nc", ["w"], coords, {}) as writer:
            writer.write(0, {"w": np.zeros((2, 2, 2, 2))})
    assert not list(tmp_path.iterdir())


def test_generation_workers_must_be_a_count(tmp_path):
    with pytest.raises(ValueError, match="workers"):
        generate("diffusion_reaction", "smoke", root=tmp_path, workers=0, progress=False)


def test_unstable_generation_writes_nothing(tmp_path, monkeypatch):
    spec = get_spec("ns_nu1e-5", "smoke")
    unstable = dataclasses.replace(spec, params={**spec.params, "dt": 0.5})
    monkeypatch.setattr(generation, "get_spec", lambda name, profile: unstable)
    with pytest.raises(SolverInstability, match="ns_nu1e-5: trajectory 0 became unstable"):
        generate("ns_nu1e-5", "smoke", root=tmp_path, progress=False)
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


def test_unknown_names_raise():
    with pytest.raises(KeyError, match="unknown dataset 'ns'"):
        get_spec("ns")
    with pytest.raises(KeyError, match="unknown profile 'huge'"):
        get_spec("ns_nu1e-3", "huge")


def test_windows_match_frames(smoke_file):
    raw = torch.from_numpy(open_dataset(smoke_file)["vorticity"].values)
    spec = get_spec("ns_nu1e-3", "smoke")
    w = WindowedDataset(smoke_file, "test", history=3, lead=2, rollout=4, start=10)
    x, y = w[5]
    assert x.shape == (3, 1, 32, 32) and y.shape == (4, 1, 32, 32)
    i, t0 = w.index[5]
    traj = spec.n_train + i
    assert torch.equal(x[:, 0], raw[traj, [t0 - 4, t0 - 2, t0]])
    assert torch.equal(y[:, 0], raw[traj, [t0 + 2, t0 + 4, t0 + 6, t0 + 8]])
    assert min(t0 for _, t0 in w.index) == 10 and max(t0 for _, t0 in w.index) == 50 - 8
    assert len(w) == spec.n_test * (50 - 8 - 10 + 1)


def test_split_is_by_trajectory(smoke_file):
    train, test = WindowedDataset(smoke_file, "train"), WindowedDataset(smoke_file, "test")
    assert set(train.trajectory_ids).isdisjoint(test.trajectory_ids)
    assert len(train.trajectory_ids) + len(test.trajectory_ids) == get_spec("ns_nu1e-3", "smoke").n_trajectories


def test_window_errors(smoke_file):
    with pytest.raises(ValueError, match="windows need"):
        WindowedDataset(smoke_file, rollout=30, lead=2)
    with pytest.raises(ValueError, match="split"):
        WindowedDataset(smoke_file, split="val")
    with pytest.raises(KeyError, match="fields"):
        WindowedDataset(smoke_file, fields=["pressure"])


def test_stale_partials_removed_live_ones_kept(tmp_path):
    import os
    path = generation.dataset_path("ns_nu1e-3", "smoke", tmp_path)
    path.parent.mkdir(parents=True)
    dead = path.with_name(f".{path.name}.999999999.partial")
    live = path.with_name(f".{path.name}.{os.getpid()}.partial")
    dead.write_bytes(b"x"), live.write_bytes(b"x")
    generation.remove_stale_partials(path)
    assert not dead.exists() and live.exists()
