"""Packaging stays consistent: conda's environment.yml, pyproject, README, CI, and the repo layout."""
import os
import re
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


TEST_COMMAND = 'pip install -e ".[test]" && pytest'
BOOK_COMMAND = 'pip install -e ".[book]" && pdestudy book'


def commands(script: str) -> list[str]:
    """The lines a shell script runs: neither blank nor comments."""
    return [line.strip() for line in script.splitlines() if line.strip() and not line.strip().startswith("#")]


def bash_blocks(markdown: str, section: str) -> list[list[str]]:
    """The commands of each ```bash block in one `## section` of a Markdown file."""
    text = markdown.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return [commands(block.split("```", 1)[0]) for block in text.split("```bash\n")[1:]]


def test_readme_set_up_is_one_command_with_nothing_before_it():
    readme = (ROOT / "README.md").read_text()
    blocks = bash_blocks(readme, "Quick start")
    assert blocks[0] == [BOOK_COMMAND]
    assert [TEST_COMMAND] in blocks
    assert "exactly what CI runs" in readme


def test_readme_test_command_is_what_ci_runs():
    ci = commands((ROOT / ".ci" / "run").read_text())
    assert "set -euo pipefail" in ci
    # a fresh venv, then the README's test command, the last thing CI does; no Python package installed
    # before it (the one system package, Debian's chromium for the browser test, is not pip's)
    venv = ci.index("python3 -m venv .venv")
    assert ci[venv + 1:] == [". .venv/bin/activate", TEST_COMMAND]
    assert not any(re.search(r"\bpip3?\b", c) for c in ci[:-1])
    assert all(re.search(r"apt-get (install .*chromium|update)", c) for c in ci[:-1] if "install" in c)


def test_pyproject_needs_no_install_step_before_it():
    deps = pyproject()["project"]["dependencies"]
    torch = [d for d in deps if d.startswith("torch")]
    assert torch and torch[0].endswith("<2.14")  # the bound that keeps the resolver on 2.13
    assert "neuraloperator==2.0.0" in deps  # the FNO baseline, an ordinary dependency


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
