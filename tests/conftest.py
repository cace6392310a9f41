"""Shared test setup: every test writes data and results under a temporary root, never the user's.

The environment variables are set for the whole session (notebooks executed by papermill run in
kernels that inherit os.environ, so they see the same temporary roots).
"""
import pytest
import torch

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
