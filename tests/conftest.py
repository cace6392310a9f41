"""Shared test setup: every test writes data and results under a temporary root, never the user's.

The environment variables are set for the whole session (notebooks executed by papermill run in
kernels that inherit os.environ, so they see the same temporary roots).
"""
import contextlib
import os
import signal
import subprocess
import sys

import pytest
import torch
import yaml

from pdestudy.data import generate


@pytest.fixture(scope="session", autouse=True)
def temp_data_roots(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("pdestudy")
    mp.setenv("PDESTUDY_DATA", str(root / "generated"))
    mp.setenv("PDESTUDY_RESULTS", str(root / "results"))
    mp.setenv("MPLBACKEND", "Agg")  # no display in CI
    yield root
    mp.undo()


# ---------------------------------------------------------------------- the smoke book, built in the background
# The book's notebooks are mostly kernel start-ups, imports and single-threaded plotting, and the unit
# tests leave a core idle much of the time: the book builds in a process of its own from the start of
# the session, beside the other tests, and the tests that read it run last.
WANTS_BOOK = pytest.StashKey[bool]()


@pytest.hookimpl(trylast=True)  # after -m / -k deselection: only the tests that will run count
def pytest_collection_modifyitems(config, items):
    book = [it for it in items if "smoke_book" in getattr(it, "fixturenames", ())]
    items[:] = [it for it in items if "smoke_book" not in getattr(it, "fixturenames", ())] + book
    config.stash[WANTS_BOOK] = bool(book)


@pytest.fixture(scope="session", autouse=True)
def smoke_book_build(request, tmp_path_factory, temp_data_roots):
    """Start `pdestudy book --profile smoke --jobs 2 --strict` at the start of the session, when a
    selected test reads the book: (root, process). Its own data and results roots (root/generated,
    root/results), so the tests running beside it never share a file with it."""
    if not request.config.stash.get(WANTS_BOOK, False):
        yield None
        return
    root = tmp_path_factory.mktemp("book")
    env = {**os.environ, "PDESTUDY_DATA": str(root / "generated"), "PDESTUDY_RESULTS": str(root / "results")}
    cmd = [sys.executable, "-c", "import sys; from pdestudy.cli import main; sys.exit(main(sys.argv[1:]))",
           "book", "--profile", "smoke", "--jobs", "2", "--strict", "--build-dir", str(root)]
    with (root / "build.log").open("w") as log:
        # a session of its own: its kernels are stopped with it if the tests end first
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        try:
            yield root, proc
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="session")
def smoke_book(smoke_book_build):
    """The book built with the smoke profile, strictly, two notebooks side by side (as
    `pdestudy book --jobs 2`): (<build>/smoke, html index). Its results root is <build>/../results."""
    root, proc = smoke_book_build
    code = proc.wait()
    if code != 0:
        tail = (root / "build.log").read_text(errors="replace")[-6000:]
        pytest.fail(f"pdestudy book --profile smoke failed (exit {code}); the end of {root / 'build.log'}:\n{tail}")
    return root / "smoke", root / "smoke" / "_build" / "html" / "index.html"


@pytest.fixture(scope="session")
def smoke_ns_file(temp_data_roots):
    """A valid smoke dataset (seconds to generate), shared by the tests that only read it."""
    return generate("ns_nu1e-3", "smoke", progress=False)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread for a module's tests (small tensors; bitwise comparisons across processes)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@contextlib.contextmanager
def private_smoke_data(root, dataset: str):
    """`dataset`'s smoke file generated into a private data root (PDESTUDY_DATA) for the block."""
    old = os.environ.get("PDESTUDY_DATA")
    os.environ["PDESTUDY_DATA"] = str(root)
    try:
        generate(dataset, "smoke", progress=False)
        yield root
    finally:
        if old is None:
            del os.environ["PDESTUDY_DATA"]
        else:
            os.environ["PDESTUDY_DATA"] = old


def train_with_torchrun(cfg, results, tmp_path, nproc: int = 2) -> None:
    """Run `cfg` as `torchrun --nproc_per_node=nproc -m pdestudy.train` (CPU, gloo) into `results`."""
    cfg_file = tmp_path / "cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg.to_dict()))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", "-m",
           "pdestudy.train", "--config", str(cfg_file), "--results", str(results), "--device", "cpu"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert out.returncode == 0, out.stderr[-3000:]


def kill_mid_run(cfg, results, tmp_path) -> int:
    """Start `cfg` as `python -m pdestudy.train` into `results`, SIGKILL it once its first checkpoint
    exists (wherever it is then), check it did not finish; returns the last epoch it checkpointed."""
    import signal
    import time
    cfg_file = tmp_path / "kill_cfg.yaml"
    cfg_file.write_text(yaml.safe_dump(cfg.to_dict()))
    cmd = [sys.executable, "-m", "pdestudy.train", "--config", str(cfg_file), "--results", str(results), "--device", "cpu"]
    threads = str(torch.get_num_threads())  # as many as this process: the same reductions, bitwise
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "OMP_NUM_THREADS": threads})
    run_dir = cfg.run_dir(results)
    ckpt = run_dir / "checkpoint.pt"
    deadline = time.time() + 300  # a dependency (e.g. the autoencoder of a dynamics run) trains first
    while not ckpt.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # mid-run: after at least one checkpoint
    proc.wait()
    assert ckpt.exists(), "no checkpoint was written"
    assert not (run_dir / "metrics.json").exists(), "the run finished before it was killed"
    done = torch.load(ckpt, map_location="cpu", weights_only=True)["epoch"]
    assert done < cfg.epochs - 1  # some epochs are left to resume
    return done


def assert_resume_equals_uninterrupted(cfg, tmp_path) -> None:
    """`cfg` killed mid-run and resumed ends with the uninterrupted run's history and weights, bitwise."""
    from pdestudy.train import train
    reference = train(cfg, root=tmp_path / "ref", progress=False)
    kill_mid_run(cfg, tmp_path / "run", tmp_path)
    resumed = train(cfg, root=tmp_path / "run", progress=False)
    keys = ("epoch", "train_loss", "val_loss", "grad_norm", "lr")
    assert [[h[k] for k in keys] for h in resumed.history] == [[h[k] for k in keys] for h in reference.history]
    assert resumed.best_epoch == reference.best_epoch
    for (n1, p1), (n2, p2) in zip(resumed.model.state_dict().items(), reference.model.state_dict().items(), strict=True):
        assert n1 == n2 and (torch.equal(p1, p2) if isinstance(p1, torch.Tensor) else p1 == p2), n1
