"""Readers for PDEBench and The Well files, on tiny files written from the formats' descriptions.

The writers store dummy_value = offset + trajectory + frame/10 + x + 10·y, which differs along x
and y: every test below computes what the reader must return from that formula on its own grid,
in (trajectory, time, y, x) order, so a reader that forgets the (x, y) → (y, x) transpose, swaps
coordinates or mixes fields fails.
"""
import json

import h5py
import numpy as np
import pytest

from pdestudy.cli import main
from pdestudy.data import DataFileError, WindowedDataset
from pdestudy.data.io import write_dataset
from pdestudy.data.readers import (
    detect_layout,
    open_external,
    open_pdebench_flat,
    open_pdebench_groups,
    open_the_well,
    pdebench_path,
    the_well_path,
    write_pdebench_flat,
    write_pdebench_groups,
    write_the_well,
)

NX, NY = 8, 6  # not square: a transpose changes the shape, not only the values


def cells(n, lo=0.0, hi=1.0):
    return lo + (np.arange(n) + 0.5) * (hi - lo) / n


def expected(offset, trajectories, n_time, x, y):
    """offset + n + t/10 + x + 10·y as (trajectory, time, y, x)."""
    n = np.asarray(trajectories)[:, None, None, None]
    t = np.arange(n_time)[None, :, None, None]
    return offset + n + t / 10 + x[None, None, None, :] + 10 * y[None, None, :, None]


def assert_values(actual, want):
    # float32 storage of values up to ~1e4: relative rounding 2^-24 ≈ 6e-8
    np.testing.assert_allclose(actual, want, rtol=1e-6, atol=0)


@pytest.fixture
def flat(tmp_path):
    return write_pdebench_flat(tmp_path / "2D_CFD_dummy_Train.hdf5", n_trajectories=5, n_time=4, nx=NX, ny=NY)


@pytest.fixture
def groups(tmp_path):
    return write_pdebench_groups(tmp_path / "2D_diff-react_NA_NA.h5", n_trajectories=4, n_time=3, nx=NX, ny=NY)


@pytest.fixture
def well(tmp_path):
    return write_the_well(tmp_path / "dummy_well.hdf5", n_trajectories=3, n_time=4, nx=NX, ny=NY)


# ---------------------------------------------------------------------- PDEBench, flat
def test_flat_values_coordinates_and_attributes(flat):
    with open_external(flat) as ds:
        assert ds.attrs["source_format"] == "pdebench-flat"
        assert list(ds.data_vars) == ["density", "pressure", "vx", "vy"]
        assert dict(ds.sizes) == {"trajectory": 5, "time": 4, "y": NY, "x": NX}
        for name in ds.data_vars:
            assert ds[name].dims == ("trajectory", "time", "y", "x") and ds[name].dtype == np.float32
        x, y = cells(NX), cells(NY)
        np.testing.assert_allclose(ds["x"], x, rtol=1e-6)
        np.testing.assert_allclose(ds["y"], y, rtol=1e-6)
        # t-coordinate holds T + 1 times 0, 0.05, …, 0.2: the frames are the first T
        np.testing.assert_allclose(ds["time"], [0, 0.05, 0.1, 0.15], rtol=1e-6)
        np.testing.assert_array_equal(ds["trajectory"], np.arange(5))
        for i, name in enumerate(["density", "pressure", "vx", "vy"]):
            assert_values(ds[name].values, expected(100 * i, range(5), 4, x, y))
        assert json.loads(ds.attrs["parameters"]) == pytest.approx({"eta": 0.01, "zeta": 0.01, "M": 0.1})
        assert json.loads(ds.attrs["field_sources"])["vx"] == "Vx"
        assert (ds.attrs["nx"], ds.attrs["ny"], ds.attrs["n_train"], ds.attrs["n_test"]) == (NX, NY, 5, 0)
        assert ds.attrs["dataset"] == "2D_CFD_dummy_Train"


def test_flat_square_grid_is_transposed_too(tmp_path):
    path = write_pdebench_flat(tmp_path / "square.h5", n_trajectories=2, n_time=2, nx=5, ny=5, fields=("density",))
    x = y = cells(5)
    with h5py.File(path) as f:
        raw = f["density"][()]
    with open_pdebench_flat(path) as ds:
        assert_values(ds["density"].values, expected(0, range(2), 2, x, y))
        np.testing.assert_array_equal(ds["density"].values, raw.transpose(0, 1, 3, 2))  # [n, t, i, j] → [n, t, j, i]
        assert not np.array_equal(ds["density"].values, raw)  # x + 10 y is not symmetric


@pytest.mark.parametrize("selection, ids", [
    (slice(1, 4), [1, 2, 3]), (slice(None, None, 2), [0, 2, 4]), ([4, 0], [4, 0]), (3, [3]), (-1, [4]),
])
def test_a_selection_reads_only_those_trajectories(flat, selection, ids):
    with open_external(flat, trajectories=selection) as ds:
        np.testing.assert_array_equal(ds["trajectory"], ids)
        assert ds.attrs["n_trajectories_in_file"] == 5 and ds.attrs["n_train"] == len(ids)
        assert_values(ds["vy"].values, expected(300, ids, 4, cells(NX), cells(NY)))


def test_lazy_indexing_matches_the_loaded_values(flat):
    with open_external(flat, trajectories=slice(1, 5)) as lazy, open_external(flat, trajectories=slice(1, 5),
                                                                              load=True) as loaded:
        full = loaded["pressure"].values
        np.testing.assert_array_equal(lazy["pressure"].isel(trajectory=2, time=1).values, full[2, 1])
        np.testing.assert_array_equal(lazy["pressure"].isel(x=slice(None, None, -2), y=3).values, full[:, :, 3, ::-2])
        np.testing.assert_array_equal(lazy["pressure"].isel(trajectory=[3, 0], time=-1).values, full[[3, 0], -1])
        np.testing.assert_array_equal(lazy["pressure"].sel(x=cells(NX)[5], method="nearest").values, full[..., 5])


def test_close_and_load_release_the_file(flat):
    ds = open_external(flat)
    with pytest.raises(OSError):  # HDF5 refuses to truncate a file this process holds open
        h5py.File(flat, "w")
    ds.close()
    write_pdebench_flat(flat, n_trajectories=2)  # closed: can be rewritten
    ds = open_external(flat, load=True)
    write_pdebench_flat(flat, n_trajectories=2)  # load=True read everything and closed the file
    assert ds["density"].shape == (2, 4, 6, 8)


def test_load_refuses_non_finite_values(flat):
    with h5py.File(flat, "a") as f:
        f["pressure"][3, 2, 1, 0] = np.nan
    with pytest.raises(DataFileError, match=r"pressure.*NaN/inf.*trajectory 3, time index 2"):
        open_external(flat, load=True)
    with open_external(flat, trajectories=[0, 1], load=True) as ds:  # the others are fine
        assert np.isfinite(ds["pressure"].values).all()


# ---------------------------------------------------------------------- PDEBench, one group per sample
def test_groups_values_channels_and_parameters(groups):
    with open_external(groups) as ds:
        assert ds.attrs["source_format"] == "pdebench-groups"
        assert list(ds.data_vars) == ["u", "v"]  # two channels: diffusion–reaction's u, v
        x, y = cells(NX, -1, 1), cells(NY, -1, 1)
        np.testing.assert_allclose(ds["x"], x, rtol=1e-6)
        np.testing.assert_allclose(ds["y"], y, rtol=1e-6)
        np.testing.assert_allclose(ds["time"], [0, 0.05, 0.1], rtol=1e-6)
        for c, name in enumerate(["u", "v"]):
            assert_values(ds[name].values, expected(100 * c, range(4), 3, x, y))
        assert json.loads(ds.attrs["parameters"]) == pytest.approx({"Du": 1e-3, "Dv": 5e-3, "k": 5e-3})
        np.testing.assert_array_equal(ds["seed"], np.arange(4))  # differs by sample: along trajectory
        assert ds.attrs["dataset"] == "2D_diff-react"


def test_groups_one_channel_per_trajectory_parameters_and_one_sample(tmp_path):
    radius = [0.3, 0.45, 0.6]
    path = write_pdebench_groups(tmp_path / "2D_rdb_NA_NA.h5", n_trajectories=3, n_channels=1, name="radial_dam_break",
                                 sim={"gravity": 1.0}, per_trajectory={"dam_radius": radius})
    with open_external(path, trajectories=[2]) as ds:  # one sample: seed and radius still per trajectory
        assert list(ds.data_vars) == ["h"]
        np.testing.assert_array_equal(ds["trajectory"], [2])
        np.testing.assert_allclose(ds["dam_radius"], [0.6])
        assert json.loads(ds.attrs["parameters"]) == {"gravity": 1.0}
        assert_values(ds["h"].values, expected(0, [2], 4, cells(8, -1, 1), cells(6, -1, 1)))
    with open_pdebench_groups(path, channels=["depth"]) as ds:
        assert list(ds.data_vars) == ["depth"]


def test_groups_stored_y_first_are_recognised_by_the_grid(tmp_path, groups):
    """A sample stored as (T, Y, X, C): the grid's lengths (non-square) tell the order."""
    path = tmp_path / "yx.h5"
    with h5py.File(groups) as src, h5py.File(path, "w") as dst:
        for g in src:
            src.copy(src[g], dst, name=g)
            data = dst[g]["data"][()]
            del dst[g]["data"]
            dst[g].create_dataset("data", data=data.transpose(0, 2, 1, 3))
    with open_external(path) as ds, open_external(groups) as ref:
        assert ds.attrs["spatial_order"] == "yx" and ref.attrs["spatial_order"] == "xy"
        np.testing.assert_array_equal(ds["u"].values, ref["u"].values)
    with pytest.raises(DataFileError, match=r"does not fit the grid.*'xy'"):
        open_external(path, spatial_order="xy")


# ---------------------------------------------------------------------- The Well
def test_well_fields_components_and_metadata(well):
    with open_external(well) as ds:
        assert ds.attrs["source_format"] == "the-well" and ds.attrs["dataset"] == "dummy_well_2d"
        # symmetric tensor: xx, xy, yy (yx is the same component)
        assert list(ds.data_vars) == ["density", "velocity_x", "velocity_y", "stress_xx", "stress_xy", "stress_yy"]
        x, y = cells(NX), cells(NY, 0, 2)
        np.testing.assert_allclose(ds["x"], x, rtol=1e-6)
        np.testing.assert_allclose(ds["y"], y, rtol=1e-6)
        np.testing.assert_allclose(ds["time"], [0, 0.25, 0.5, 0.75])
        offsets = {"density": 0, "velocity_x": 1000, "velocity_y": 1100,
                   "stress_xx": 10000, "stress_xy": 10100, "stress_yy": 10300}
        for name, offset in offsets.items():
            assert_values(ds[name].values, expected(offset, range(3), 4, x, y))
        assert json.loads(ds.attrs["parameters"]) == {"Reynolds": 1000.0, "Schmidt": 1.0}
        bcs = json.loads(ds.attrs["boundary_conditions"])
        assert bcs["x_periodic"]["type"] == "PERIODIC" and bcs["y_wall"]["type"] == "WALL"
        assert json.loads(ds.attrs["spatial_dims"]) == ["x", "y"]


def test_well_constant_in_time_field_is_broadcast(well):
    field = np.random.default_rng(0).normal(size=(3, NX, NY)).astype(np.float32)  # (trajectory, x, y)
    with h5py.File(well, "a") as f:
        d = f["t0_fields"].create_dataset("mask", data=field)
        d.attrs["sample_varying"], d.attrs["time_varying"] = True, False
        f["t0_fields"].attrs.create("field_names", ["density", "mask"], dtype=h5py.string_dtype())
    with open_the_well(well, trajectories=[2, 1]) as ds:
        mask = ds["mask"].values
        assert mask.shape == (2, 4, NY, NX)
        for t in range(4):
            np.testing.assert_array_equal(mask[:, t], field[[2, 1]].transpose(0, 2, 1))


def test_well_scalars_that_vary_by_trajectory_are_coordinates(well):
    with h5py.File(well, "a") as f:
        d = f["scalars"].create_dataset("viscosity", data=np.array([0.1, 0.2, 0.3]))
        d.attrs["sample_varying"], d.attrs["time_varying"] = True, False
        f["scalars"].attrs.create("field_names", ["Reynolds", "Schmidt", "viscosity"], dtype=h5py.string_dtype())
    with open_the_well(well, trajectories=slice(1, None)) as ds:
        np.testing.assert_allclose(ds["viscosity"], [0.2, 0.3])
        assert ds["viscosity"].dims == ("trajectory",)
        assert json.loads(ds.attrs["parameters"]) == {"Reynolds": 1000.0, "Schmidt": 1.0}


def test_well_times_per_trajectory(well):
    with h5py.File(well, "a") as f:
        t = f["dimensions/time"][()]
        del f["dimensions/time"]
        f["dimensions"].create_dataset("time", data=np.stack([t, t + 1, t + 2])).attrs["sample_varying"] = True
    ds = open_the_well(well, trajectories=[2, 0])
    np.testing.assert_allclose(ds["time"], t + 2)  # the axis: the first selected trajectory's times
    np.testing.assert_allclose(ds["time_of_trajectory"], [t + 2, t])
    ds.close()
    write_the_well(well)  # closed: HDF5 lets the file be rewritten


def test_well_of_three_dimensions_is_refused(well):
    with h5py.File(well, "a") as f:
        f.attrs["n_spatial_dims"] = 3
    with pytest.raises(DataFileError, match="3-D.*only 2-D"):
        open_external(well)


# ---------------------------------------------------------------------- one entry point, windows, splits
def test_detection_is_by_content(tmp_path, flat, groups, well):
    renamed = {}
    for path, layout in ((flat, "pdebench-flat"), (groups, "pdebench-groups"), (well, "the-well")):
        renamed[layout] = path.rename(tmp_path / f"{layout.split('-')[-1]}.data")  # names say nothing
        assert detect_layout(renamed[layout]) == layout
        with open_external(renamed[layout]) as ds:
            assert ds.attrs["source_format"] == layout
    ours = write_dataset(tmp_path / "ours.nc", {"w": np.zeros((1, 2, 3, 4))},
                         {"trajectory": [0], "seed": [0], "time": [0, 1], "y": np.arange(3), "x": np.arange(4)}, {"dataset": "d"})
    assert detect_layout(ours) == "pdestudy"
    with pytest.raises(DataFileError, match="pdestudy dataset.*open_dataset"):
        open_external(ours)


@pytest.mark.parametrize("opener", ["flat", "groups", "well"])
def test_windowed_dataset_takes_the_external_form(opener, request):
    path = request.getfixturevalue(opener)
    with open_external(path, test_fraction=0.34) as ds:
        n = ds.sizes["trajectory"]
        n_test = ds.attrs["n_test"]
        assert n_test == round(0.34 * n) and ds.attrs["n_train"] == n - n_test
        train = WindowedDataset(ds, split="train", history=2, lead=1)
        test = WindowedDataset(ds, split="test", history=2, lead=1)
        n_windows = ds.sizes["time"] - 2  # t0 from 1 to T − 2
        assert len(train) == (n - n_test) * n_windows and len(test) == n_test * n_windows
        np.testing.assert_array_equal(test.trajectory_ids, ds["trajectory"].values[n - n_test:])
        x, y = train[0]
        fields = list(ds.data_vars)
        assert x.shape == (2, len(fields), ds.sizes["y"], ds.sizes["x"])
        np.testing.assert_array_equal(x[1, 0].numpy(), ds[fields[0]].values[0, 1])
        np.testing.assert_array_equal(y[0, -1].numpy(), ds[fields[-1]].values[0, 2])


def test_split_and_selection_arguments_are_checked(flat):
    with open_external(flat, test_fraction=0.01) as ds:  # a test split is never empty when asked for
        assert (ds.attrs["n_train"], ds.attrs["n_test"]) == (4, 1)
    with pytest.raises(ValueError, match="test_fraction"):
        open_external(flat, test_fraction=1.0)
    with pytest.raises(ValueError, match="out of range.*holds 5"):
        open_external(flat, trajectories=[0, 5])
    with pytest.raises(ValueError, match="holds no trajectory"):
        open_external(flat, trajectories=slice(7, None))


# ---------------------------------------------------------------------- errors
def test_foreign_hdf5_file(tmp_path):
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("temperature", data=np.zeros((2, 3)))
    with pytest.raises(DataFileError, match=r"other\.h5.*neither.*PDEBench.*The Well.*temperature"):
        open_external(path)


def test_truncated_file(tmp_path, flat):
    bad = tmp_path / "truncated.h5"
    data = flat.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataFileError, match=r"truncated\.h5.*cannot be read as HDF5"):
        open_external(bad)


def test_missing_file(tmp_path):
    with pytest.raises(DataFileError, match="no such file"):
        open_external(tmp_path / "absent.h5")


def drop(path, key):
    with h5py.File(path, "a") as f:
        del f[key]


@pytest.mark.parametrize("layout, edit, words", [
    ("flat", lambda p: drop(p, "x-coordinate"), "'x-coordinate'"),
    ("flat", lambda p: drop(p, "t-coordinate"), "'t-coordinate'"),
    ("flat", lambda p: [drop(p, k) for k in ("density", "pressure", "Vx", "Vy")], "without a field of shape"),
    ("groups", lambda p: drop(p, "0002/data"), "'0002' has no dataset 'data'"),
    ("groups", lambda p: drop(p, "0000/grid/y"), "no dataset 'y'"),
    ("well", lambda p: drop(p, "t1_fields/velocity"), "t1_fields lists 'velocity'"),
    ("well", lambda p: drop(p, "dimensions/y"), "no dataset 'y'"),
])
def test_missing_dataset_is_named(request, layout, edit, words):
    path = request.getfixturevalue(layout)
    edit(path)
    with pytest.raises(DataFileError) as err:
        open_external(path)
    assert str(path) in str(err.value) and words in str(err.value)


def replace(path, key, data):
    with h5py.File(path, "a") as f:
        attrs = dict(f[key].attrs)
        del f[key]
        f.create_dataset(key, data=data).attrs.update(attrs)


@pytest.mark.parametrize("layout, edit, words", [
    ("flat", lambda p: replace(p, "Vy", np.zeros((5, 4, NX, NY + 1), np.float32)), "fields of different shapes"),
    ("flat", lambda p: replace(p, "x-coordinate", cells(NX + 1)), "does not fit the grid"),
    ("flat", lambda p: replace(p, "t-coordinate", np.arange(7.0)), "7 values for 4 frames"),
    ("groups", lambda p: replace(p, "0001/data", np.zeros((3, NX, NY, 3), np.float32)), "different shapes"),
    ("well", lambda p: replace(p, "t1_fields/velocity", np.zeros((3, 4, NX, NY, 3), np.float32)), "expected (3, 4, 8, 6, 2)"),
])
def test_wrong_shapes_are_named(request, layout, edit, words):
    path = request.getfixturevalue(layout)
    edit(path)
    with pytest.raises(DataFileError) as err:
        open_external(path)
    assert str(path) in str(err.value) and words in str(err.value)


# ---------------------------------------------------------------------- paths from the environment
def test_paths_resolve_against_the_environment(tmp_path, monkeypatch, flat, well):
    monkeypatch.setenv("PDESTUDY_PDEBENCH", str(flat.parent))
    assert pdebench_path(flat.name) == flat
    sub = tmp_path / "well" / "dummy" / "data" / "train"
    sub.mkdir(parents=True)
    moved = well.rename(sub / well.name)
    monkeypatch.setenv("PDESTUDY_THE_WELL", str(tmp_path / "well"))
    assert the_well_path(f"dummy/data/train/{well.name}") == moved
    assert the_well_path(well.name, folder=sub) == moved  # a parameter wins over the variable
    with pytest.raises(DataFileError, match=r"no such file.*\$PDESTUDY_PDEBENCH"):
        pdebench_path("2D_diff-react_NA_NA.h5")
    monkeypatch.delenv("PDESTUDY_THE_WELL")
    with pytest.raises(DataFileError, match=r"\$PDESTUDY_THE_WELL is not set"):
        the_well_path(well.name)


# ---------------------------------------------------------------------- pdestudy data info
def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("layout, words", [
    ("flat", ["pdebench-flat", "trajectory=5, time=4, y=6, x=8", "vx ← Vx", "eta=0.01", "M: 0.1"]),
    ("groups", ["pdebench-groups", "trajectory=4, time=3, y=6, x=8", "u ← ", "Du=0.001", "seed=0"]),
    ("well", ["the-well", "trajectory=3, time=4, y=6, x=8", "velocity_y ← t1_fields/velocity[..., 1]",
              "Reynolds=1000.0", "PERIODIC", "dataset: dummy_well_2d"]),
])
def test_cli_info_describes_external_files(capsys, request, layout, words):
    code, out, err = run(capsys, "data", "info", str(request.getfixturevalue(layout)))
    assert code == 0 and err == ""
    for w in words:
        assert w in out, (w, out)
    # value ranges of trajectory 0 only: x + 10 y over the grid, plus frame/10
    if layout == "flat":
        lo, hi = cells(NX)[0] + 10 * cells(NY)[0], cells(NX)[-1] + 10 * cells(NY)[-1] + 0.3
        assert f"density [{lo:.4g}, {hi:.4g}]" in out


def test_cli_info_errors_are_one_line(capsys, tmp_path, flat):
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f.create_dataset("a", data=[1.0])
    drop(flat, "y-coordinate")
    truncated = tmp_path / "cut.h5"
    truncated.write_bytes(write_the_well(tmp_path / "w.h5").read_bytes()[:1000])
    cases = ((foreign, "neither"), (flat, "'y-coordinate'"), (truncated, "cannot be read as HDF5"),
             (tmp_path, "a folder"))
    for path, words in cases:
        code, out, err = run(capsys, "data", "info", str(path))
        lines = err.strip().splitlines()
        assert code == 1 and out == "" and len(lines) == 1 and lines[0].startswith("error: "), err
        assert str(path) in lines[0] and words in lines[0]
