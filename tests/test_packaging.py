"""Packaging stays consistent: conda's environment.yml, pyproject, README, CI, and the repo layout."""
import os
import subprocess

import pytest
import yaml

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

from pdestudy.paths import repo_root

ROOT = repo_root()
TOP_LEVEL = {"book", "pdestudy", "data", "environment.yml", "pyproject.toml", "tests", "README.md", ".ci", ".gitignore"}


def pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_yml_pins_what_pyproject_requires():
    project = pyproject()["project"]
    expected = []
    for req in project["dependencies"] + project["optional-dependencies"]["book"] + project["optional-dependencies"]["test"]:
        if req not in expected:
            expected.append(req)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    assert "python=3.11" in deps and "pip" in deps
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip == expected + ["-e ."]


def test_readme_test_command_is_what_ci_runs():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[test]" && pytest' in readme
    assert "\npytest\n" in ci + "\n"  # the same bare command, last thing CI does
    assert "pip install torch==2.13.0" in ci and ci.index("torch==2.13.0") < ci.index('-e ".[test]"')
    assert "set -euo pipefail" in ci


def top_level_entries():
    """Top-level names a clean clone has: everything not ignored by git (tracked or about to be)."""
    names = {n for n in os.listdir(ROOT) if not n.startswith(".") or n in (".ci", ".gitignore")}
    try:
        ignored = subprocess.run(["git", "check-ignore", *sorted(names)], cwd=ROOT, capture_output=True,
                                 text=True).stdout.split()
    except FileNotFoundError:  # no git: fall back to the listing
        ignored = []
    return names - set(ignored)


def test_repo_top_level_is_exactly_the_documented_layout():
    assert top_level_entries() == TOP_LEVEL
