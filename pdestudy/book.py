"""Build the book: execute every notebook with a profile's parameters, then render HTML.

    stage    copy book/ (without _build/ and profiles/) to <build_dir>/<profile>/src, and write the
             profile's name into the staged _config.yml (intro.md shows it as {{ profile }})
    execute  run each notebook of _toc.yml with papermill, in toc order, in its staged folder,
             with the parameters of book/profiles/<profile>.yml; the executed copy replaces the
             staged one
    html     `jupyter-book build` (Jupyter Book 1.x, notebook execution off) of the staged tree into
             <build_dir>/<profile>/_build/html

The sources under book/ are never written to: notebooks stay committed without outputs, and
each profile gets its own staged copy, so a smoke build never overwrites the default book.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import yaml

from .paths import book_dir


class BookError(RuntimeError):
    """The book cannot be built; the message names the cause (profile, notebook and cell, ...)."""


def profiles_dir(src: Path | None = None) -> Path:
    return (src or book_dir()) / "profiles"


def profile_names(src: Path | None = None) -> list[str]:
    order = ["smoke", "default", "paper"]  # small to large; any other profile file after them
    names = [p.stem for p in profiles_dir(src).glob("*.yml")]
    return sorted(names, key=lambda n: (order.index(n) if n in order else len(order), n))


def load_profile(profile: str, src: Path | None = None) -> dict[str, Any]:
    """book/profiles/<profile>.yml as {"all": {...}, "notebooks": {relpath: {...}}}."""
    path = profiles_dir(src) / f"{profile}.yml"
    if not path.exists():
        known = ", ".join(profile_names(src)) or "none"
        raise BookError(f"unknown profile {profile!r}: no {path} (profiles are {known})")
    try:
        cfg = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BookError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("all") or {}, dict) \
            or not isinstance(cfg.get("notebooks") or {}, dict):
        raise BookError(f"{path}: expected mappings 'all:' and 'notebooks:'")
    return {"all": dict(cfg.get("all") or {}), "notebooks": dict(cfg.get("notebooks") or {})}


def notebook_parameters(cfg: dict[str, Any], rel: str) -> dict[str, Any]:
    """Parameters for notebook `rel` (path under book/ without .ipynb): `all`, then its own."""
    return {**cfg["all"], **(cfg["notebooks"].get(rel) or {})}


def toc_notebooks(src: Path | None = None) -> list[str]:
    """The notebooks of _toc.yml in toc order, as paths under book/ without .ipynb."""
    src = src or book_dir()
    toc_path = src / "_toc.yml"
    if not toc_path.exists():
        raise BookError(f"{toc_path}: no such file (is {src} a book directory?)")
    toc = yaml.safe_load(toc_path.read_text()) or {}
    files: list[str] = []

    def walk(node: Any) -> None:  # jb-book nests entries under parts/chapters/sections
        if isinstance(node, dict):
            if isinstance(node.get("file"), str):
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    if isinstance(toc.get("root"), str):
        files.append(toc["root"])
    walk({k: v for k, v in toc.items() if k != "root"})
    notebooks = []
    for f in files:
        rel = f[: -len(".ipynb")] if f.endswith(".ipynb") else f
        if (src / f"{rel}.ipynb").exists() and rel not in notebooks:
            notebooks.append(rel)
    return notebooks


def select_notebooks(notebooks: list[str], only: str | None) -> list[str]:
    """`only` is a notebook's stem ("navier_stokes") or its path without extension ("data/navier_stokes")."""
    if only is None:
        return notebooks
    key = only[: -len(".ipynb")] if only.endswith(".ipynb") else only
    matches = [nb for nb in notebooks if key in (nb, Path(nb).name)]
    if len(matches) != 1:
        why = "matches several notebooks" if matches else "is no notebook of _toc.yml"
        raise BookError(f"--only {only!r} {why}; notebooks: {', '.join(notebooks) or 'none'}")
    return matches


def stage(src: Path, dest: Path, profile: str, notebooks: list[str], keep_executed: bool) -> None:
    """Copy the book sources to `dest`; with `keep_executed`, staged notebooks already there stay."""
    if dest.exists() and not keep_executed:
        shutil.rmtree(dest)  # a full build starts clean, so no stale page survives
    skip_top = {"_build", "profiles"}
    dest_resolved = dest.resolve()

    def ignore(folder: str, names: list[str]) -> set[str]:
        out = {n for n in names if n in (".ipynb_checkpoints", "__pycache__")}
        if Path(folder).resolve() == src.resolve():
            out |= skip_top & set(names)
        # a --build-dir inside book/ must not be copied into itself
        out |= {n for n in names if dest_resolved.is_relative_to((Path(folder) / n).resolve())}
        if keep_executed:  # notebooks are placed below, one by one
            out |= {n for n in names if n.endswith(".ipynb")
                    and (Path(folder) / n).resolve().relative_to(src.resolve()).with_suffix("").as_posix() in notebooks}
        return out

    shutil.copytree(src, dest, ignore=ignore, dirs_exist_ok=True)
    if keep_executed:
        for rel in notebooks:  # keep earlier executed copies; stage the source where there is none
            target = dest / f"{rel}.ipynb"
            if not target.exists():
                shutil.copy2(src / f"{rel}.ipynb", target)

    # The profile becomes a MyST substitution, so intro.md can say which profile this copy shows.
    config_path = dest / "_config.yml"
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else {}
    config = config or {}
    config.setdefault("parse", {}).setdefault("myst_substitutions", {})["profile"] = profile
    config_path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


@contextlib.contextmanager
def this_interpreter_kernel() -> Iterator[None]:
    """Make the "python3" kernel resolve to this environment's, where pdestudy is installed.

    A user-level kernelspec (~/.local/share/jupyter/kernels/python3) pointing at another Python
    would otherwise win; JUPYTER_PATH is searched first.
    """
    old = os.environ.get("JUPYTER_PATH")
    ours = str(Path(sys.prefix) / "share" / "jupyter")
    os.environ["JUPYTER_PATH"] = os.pathsep.join([ours] + ([old] if old else []))
    try:
        yield
    finally:
        if old is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = old


def execute_notebook(source: Path, path: Path, parameters: dict[str, Any], rel: str) -> None:
    """Execute notebook `source` with papermill into `path`, in `path`'s folder; a failure names notebook and cell."""
    try:
        import papermill as pm
    except ImportError:
        raise BookError("executing notebooks needs papermill: pip install -e '.[book]'") from None
    with this_interpreter_kernel():
        try:
            pm.execute_notebook(str(source), str(path), parameters=parameters, kernel_name="python3",
                                cwd=str(path.parent), progress_bar=True)
        except pm.PapermillExecutionError as exc:
            source = (exc.source or "").strip().splitlines()
            first = f": `{source[0][:80]}`" if source else ""
            raise BookError(f"notebook {rel}: cell In [{exc.exec_count}] (cell {exc.cell_index} of the executed copy"
                            f"{first}) raised {exc.ename}: {exc.evalue} — the executed copy with the traceback "
                            f"is {path}") from None
        except Exception as exc:  # kernel died, missing kernel, unreadable notebook
            raise BookError(f"notebook {rel}: could not be executed ({type(exc).__name__}: {exc})") from None


def jupyter_book_command() -> list[str]:
    """`jupyter-book` of this environment (the script next to sys.executable), else via -c."""
    script = Path(sys.executable).parent / "jupyter-book"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from jupyter_book.cli.main import main; sys.exit(main())"]


def build_html(staged: Path, out: Path, strict: bool) -> Path:
    # --all: rebuild every page, so a strict build reports the warnings of unchanged pages too
    cmd = jupyter_book_command() + ["build", str(staged), "--path-output", str(out), "--all"]
    if strict:
        cmd += ["-W", "-n", "--keep-going"]
    result = subprocess.run(cmd)
    if result.returncode != 0:
        what = "warnings are errors with --strict; " if strict else ""
        raise BookError(f"jupyter-book build of {staged} failed (exit {result.returncode}; {what}see its messages above)")
    index = out / "_build" / "html" / "index.html"
    if not index.exists():
        raise BookError(f"jupyter-book build finished but wrote no {index}")
    return index


def build_book(profile: str = "default", only: str | None = None, build_dir: str | os.PathLike | None = None,
               strict: bool = False) -> Path:
    """Execute the book's notebooks with `profile` and build its HTML; returns the html index.

    only: execute just this notebook (stem or path without .ipynb); the others keep their
          previously executed staged copies.
    strict: Sphinx warnings (broken references, ...) fail the build.
    """
    src = book_dir()
    if not src.is_dir():
        raise BookError(f"book directory {src} does not exist (set PDESTUDY_BOOK or run from the checkout)")
    cfg = load_profile(profile, src)
    notebooks = toc_notebooks(src)
    selected = select_notebooks(notebooks, only)
    out = Path(build_dir or src / "_build").resolve() / profile
    staged = out / "src"

    stage(src, staged, profile, notebooks, keep_executed=only is not None)
    for i, rel in enumerate(selected, 1):
        params = notebook_parameters(cfg, rel)
        print(f"[{i}/{len(selected)}] executing {rel}.ipynb with {params}", flush=True)
        start = time.perf_counter()
        # from the source, so --only runs the current notebook, not the last executed copy
        execute_notebook(src / f"{rel}.ipynb", staged / f"{rel}.ipynb", params, rel)
        print(f"[{i}/{len(selected)}] {rel}.ipynb done in {time.perf_counter() - start:.1f} s", flush=True)
    return build_html(staged, out, strict)
