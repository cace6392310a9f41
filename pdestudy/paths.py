"""Where generated data, results and the built book live.

Everything generated is reproducible from the code, so it goes into gitignored folders of the
checkout; the environment variables let a user put it elsewhere (a scratch disk, a cluster).
"""
from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def repo_root() -> Path:
    """The checkout this package was installed from (editable install), else the working directory."""
    root = PACKAGE_DIR.parent
    return root if (root / "pyproject.toml").exists() else Path.cwd()


def data_root() -> Path:
    """Root of generated datasets: $PDESTUDY_DATA or <repo>/data/generated."""
    env = os.environ.get("PDESTUDY_DATA")
    return Path(env) if env else repo_root() / "data" / "generated"


def results_root() -> Path:
    """Root of trained models and cached results: $PDESTUDY_RESULTS or <repo>/data/results."""
    env = os.environ.get("PDESTUDY_RESULTS")
    return Path(env) if env else repo_root() / "data" / "results"


def book_dir() -> Path:
    """The book's sources: $PDESTUDY_BOOK or <repo>/book."""
    env = os.environ.get("PDESTUDY_BOOK")
    return Path(env) if env else repo_root() / "book"
