"""The `pdestudy` command: data generate / info / list, and one-line errors for bad input."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from pdestudy.cli import main
from pdestudy.data import dataset_names


def run(capsys, *argv):
    """main(argv) in-process: (exit code, stdout, stderr)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for w in words:
        assert w in lines[0], (w, err)


def test_console_script_is_installed():
    exe = Path(sys.executable).parent / "pdestudy"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "pdestudy.cli"]
    result = subprocess.run(cmd + ["--help"], capture_output=True, text=True)
    assert result.returncode == 0
    assert "data" in result.stdout and "book" in result.stdout


def test_generate_writes_and_then_skips(capsys, tmp_path):
    code, out, _ = run(capsys, "data", "generate", "ns_nu1e-5", "--profile", "smoke", "--root", str(tmp_path))
    path = tmp_path / "smoke" / "ns_nu1e-5.nc"
    assert code == 0 and out.strip() == str(path) and path.exists()
    mtime = path.stat().st_mtime_ns
    code, out, _ = run(capsys, "data", "generate", "ns_nu1e-5", "--profile", "smoke", "--root", str(tmp_path))
    assert code == 0 and out.strip() == str(path)
    assert path.stat().st_mtime_ns == mtime  # valid and current: not generated again


def test_generate_uses_the_data_root_from_the_environment(capsys, smoke_ns_file):
    code, out, _ = run(capsys, "data", "generate", "ns_nu1e-3", "--profile", "smoke")
    assert code == 0
    assert Path(out.strip()) == smoke_ns_file
    assert Path(os.environ["PDESTUDY_DATA"]) in smoke_ns_file.parents


@pytest.mark.parametrize("argv, words", [
    (["data", "generate", "ns_nu1e-3", "nope"], ["unknown dataset", "'nope'", "ns_nu1e-3"]),
    (["data", "generate", "all", "--profile", "huge"], ["unknown profile", "'huge'", "smoke"]),
    (["data", "list", "--profile", "huge"], ["unknown profile", "'huge'"]),
    (["book", "--profile", "huge"], ["unknown profile", "'huge'", "default"]),
])
def test_unknown_names_are_one_line_errors(capsys, argv, words, tmp_path):
    code, out, err = run(capsys, *argv, *(["--root", str(tmp_path)] if argv[1:2] == ["generate"] else []))
    assert code == 2
    assert_one_line_error(err, *words)
    assert not list(tmp_path.rglob("*.nc"))  # nothing generated before the bad name was noticed


def test_info_describes_a_valid_file(capsys, smoke_ns_file):
    code, out, err = run(capsys, "data", "info", str(smoke_ns_file))
    assert code == 0 and err == ""
    assert "valid" in out and "trajectory=8" in out and "vorticity" in out and "spec_hash" in out


def test_info_on_a_missing_file(capsys, tmp_path):
    missing = tmp_path / "nothing.nc"
    code, _, err = run(capsys, "data", "info", str(missing))
    assert code == 1
    assert_one_line_error(err, str(missing), "no such file")


def test_info_on_a_truncated_file(capsys, smoke_ns_file, tmp_path):
    bad = tmp_path / "truncated.nc"
    data = smoke_ns_file.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    code, _, err = run(capsys, "data", "info", str(bad))
    assert code == 1
    assert_one_line_error(err, str(bad))


def rewrite(src, dest, change):
    """Copy dataset `src` to `dest` with `change(ds) -> ds` applied (bypassing write_dataset's checks)."""
    with xr.open_dataset(src, engine="h5netcdf") as ds:
        ds = change(ds.load())
    ds.to_netcdf(dest, engine="h5netcdf")
    return dest


def test_info_on_a_file_with_nan(capsys, smoke_ns_file, tmp_path):
    def add_nan(ds):
        v = ds["vorticity"].values.copy()
        v[1, 3, 0, 0] = np.nan
        ds["vorticity"] = (ds["vorticity"].dims, v)
        return ds

    bad = rewrite(smoke_ns_file, tmp_path / "nan.nc", add_nan)
    code, _, err = run(capsys, "data", "info", str(bad))
    assert code == 1
    assert_one_line_error(err, str(bad), "NaN")


def test_info_on_a_file_with_wrong_dims(capsys, smoke_ns_file, tmp_path):
    bad = rewrite(smoke_ns_file, tmp_path / "dims.nc", lambda ds: ds.transpose("trajectory", "time", "x", "y"))
    code, _, err = run(capsys, "data", "info", str(bad))
    assert code == 1
    assert_one_line_error(err, str(bad), "dims")


def test_info_on_a_file_that_is_not_netcdf(capsys, tmp_path):
    bad = tmp_path / "notes.nc"
    bad.write_text("not a dataset\n")
    code, _, err = run(capsys, "data", "info", str(bad))
    assert code == 1
    assert_one_line_error(err, str(bad))


def test_list_shows_every_dataset_and_whether_it_exists(capsys, tmp_path, smoke_ns_file):
    shutil.copy(smoke_ns_file, tmp_path / "x.nc")  # an unrelated file does not count
    (tmp_path / "smoke").mkdir()
    shutil.copy(smoke_ns_file, tmp_path / "smoke" / "ns_nu1e-3.nc")
    code, out, _ = run(capsys, "data", "list", "--profile", "smoke", "--root", str(tmp_path))
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert set(rows) == set(dataset_names())
    assert str(tmp_path / "smoke" / "ns_nu1e-3.nc") in rows["ns_nu1e-3"]
    assert "missing" in rows["ns_nu1e-4"]
    assert "8 (6+2)" in rows["ns_nu1e-3"] and "32²" in rows["ns_nu1e-3"] and " 51 " in rows["ns_nu1e-3"]
