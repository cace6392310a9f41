"""Build the book: execute every notebook with a profile's parameters, then render HTML.

    stage    copy book/ (without _build/ and profiles/) to <build_dir>/<profile>/src, and write the
             profile's name into the staged _config.yml (intro.md shows it as {{ profile }})
    execute  run each notebook of _toc.yml with papermill, in toc order, in its staged folder,
             with the parameters of book/profiles/<profile>.yml; the executed copy replaces the
             staged one. With jobs > 1 independent notebooks run side by side (see `dependencies`)
    html     `jupyter-book build` (Jupyter Book 1.x, notebook execution off) of the staged tree into
             <build_dir>/<profile>/_build/html

The sources under book/ are never written to: notebooks stay committed without outputs, and
each profile gets its own staged copy, so a smoke build never overwrites the default book.
"""
from __future__ import annotations

import concurrent.futures as cf
import contextlib
import json
import math
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
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
    found = toc_notebooks_of(toc["root"], src) if isinstance(toc.get("root"), str) else []
    found += toc_notebooks_of({k: v for k, v in toc.items() if k != "root"}, src)
    return list(dict.fromkeys(found))  # toc order, each once


def toc_sections(src: Path | None = None) -> list[tuple[str, list[str]]]:
    """(caption, notebooks) for each part of _toc.yml, notebooks in toc order. Notebooks outside every
    part come first, as one part captioned by the first one's folder; so does a part without a caption."""
    src = src or book_dir()
    notebooks = toc_notebooks(src)
    toc = yaml.safe_load((src / "_toc.yml").read_text()) or {}
    sections = []
    for part in toc.get("parts") or []:
        mine = set(toc_notebooks_of(part, src))
        nbs = [nb for nb in notebooks if nb in mine]
        if nbs:
            sections.append((part.get("caption") or nbs[0].split("/")[0], nbs))
    placed = {nb for _, nbs in sections for nb in nbs}
    rest = [nb for nb in notebooks if nb not in placed]
    return ([(rest[0].split("/")[0], rest)] if rest else []) + sections


def toc_parts(src: Path | None = None) -> list[list[str]]:
    """The notebooks of each part of _toc.yml, in toc order (one list for a toc without parts)."""
    return [nbs for _, nbs in toc_sections(src)]


def toc_notebooks_of(node: Any, src: Path) -> list[str]:
    """Notebooks named anywhere under one toc node (jb-book nests entries under parts/chapters/sections)."""
    found: list[str] = []
    if isinstance(node, str):  # a file entry's value (or the root)
        rel = node[: -len(".ipynb")] if node.endswith(".ipynb") else node
        return [rel] if (src / f"{rel}.ipynb").exists() else []
    if isinstance(node, dict):
        if isinstance(node.get("file"), str):
            found += toc_notebooks_of(node["file"], src)
        for key, value in node.items():
            if key == "file" or isinstance(value, str):  # captions, titles, urls: no notebooks
                continue
            found += toc_notebooks_of(value, src)
    elif isinstance(node, list):
        for value in node:
            found += toc_notebooks_of(value, src)
    return found


def dependencies(parts: list[list[str]], waits_for: dict[str, str | list[str]] | None = None) -> dict[str, set[str]]:
    """What each notebook waits for when notebooks run side by side.

    The first part (the Data part) holds independent chapters, each generating its own datasets;
    every later part reads those datasets and its own earlier chapters' results (the MATEY
    tokenization chapter reuses the attention chapter's models, fine-tuning the pretrained model).
    So: a first-part notebook waits for nothing; a later one without metadata waits for the chapter
    before it in its part (and, through it, for whatever that one waited for), the first chapter of
    a part for the whole first part. Metadata ``pdestudy: {waits_for: [data/thermals, ...]}`` names
    *everything* a notebook waits for instead: the Data chapters whose datasets it reads, the
    chapters whose models it reuses. Naming them lets a chapter start as soon as what it reads
    exists (the MST chapters after the autoencoder run side by side, MATEY starts without the
    Navier–Stokes data), instead of idling a core behind chapters it never reads; a model two
    chapters share is trained once even so, by whichever asks first (`train` locks each config).
    ``waits_for: all`` (e.g. the scorecard, which reads every chapter's record) means every
    notebook before it in toc order. A toc of one part runs in order. Datasets a notebook waits for
    by file rather than by chapter (``reads``, `reads`) are the runner's business, not this graph's.
    """
    if len(parts) == 1:
        deps = {nb: set(parts[0][:i]) for i, nb in enumerate(parts[0])}
    else:
        first = set(parts[0])
        deps = {nb: set() for nb in parts[0]}
        for part in parts[1:]:
            for i, nb in enumerate(part):
                deps[nb] = {part[i - 1]} if i else set(first)
    order = [nb for part in parts for nb in part]
    for nb, after in (waits_for or {}).items():
        if after == "all":
            deps[nb] = set(order[: order.index(nb)])
            continue
        unknown = [a for a in after if a not in deps]
        later = [a for a in after if a in deps and order.index(a) >= order.index(nb)]
        if unknown or later:  # one by one the toc order runs: what a notebook waits for must come first
            raise BookError(f"{nb}.ipynb: metadata pdestudy.waits_for names {unknown or later}, "
                            f"{'not notebooks of _toc.yml' if unknown else 'not before it in _toc.yml'}")
        if len(parts) > 1 and nb not in parts[0]:
            deps[nb] = set(after)
    return deps


def transitive(deps: dict[str, set[str]], nb: str) -> set[str]:
    """Everything `nb` waits for, directly or through what it waits for."""
    seen: set[str] = set()
    todo = list(deps[nb])
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(deps[d])
    return seen


def waits_for(src: Path, notebooks: list[str]) -> dict[str, str | list[str]]:
    """Each notebook's metadata ``pdestudy: {waits_for: all | [notebook, ...]}``, where it has one."""
    out: dict[str, str | list[str]] = {}
    for rel in notebooks:
        meta = json.loads((src / f"{rel}.ipynb").read_text(encoding="utf-8")).get("metadata", {})
        after = (meta.get("pdestudy") or {}).get("waits_for")
        if after is None:
            continue
        if not (after == "all" or (isinstance(after, list) and all(isinstance(a, str) for a in after))):
            raise BookError(f"{rel}.ipynb: metadata pdestudy.waits_for must be 'all' or a list of notebooks "
                            f"(e.g. [mst/multiscale]), got {after!r}")
        out[rel] = after
    return out


def reads(src: Path, notebooks: list[str]) -> dict[str, list[str]]:
    """Each notebook's metadata ``pdestudy: {reads: [dataset, ...]}``, where it has one: the datasets
    it needs before it can start. Side by side, it starts as soon as their files exist, while the Data
    chapter that makes them is still running (`execute_side_by_side`)."""
    out: dict[str, list[str]] = {}
    for rel in notebooks:
        meta = json.loads((src / f"{rel}.ipynb").read_text(encoding="utf-8")).get("metadata", {})
        names = (meta.get("pdestudy") or {}).get("reads")
        if names is None:
            continue
        if not (isinstance(names, list) and all(isinstance(n, str) and n and "/" not in n for n in names)):
            raise BookError(f"{rel}.ipynb: metadata pdestudy.reads must be a list of dataset names "
                            f"(e.g. [ns_nu1e-3]), got {names!r}")
        out[rel] = names
    return out


def descendants(deps: dict[str, set[str]]) -> dict[str, int]:
    """How many notebooks wait for each one, directly or not: a proxy for how much of the build is
    behind it, so side by side the runner starts the one that holds most back first."""
    count = {nb: 0 for nb in deps}
    for nb in deps:
        for d in transitive(deps, nb):
            count[d] += 1
    return count


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


def effective_parameters(source: Path, parameters: dict[str, Any]) -> dict[str, Any]:
    """Every parameter `source` declares, with the value it runs with: the profile's where it sets
    one, else the notebook's default (a literal; an expression is left to the notebook). Passed
    whole to papermill, the injected cell then shows a reader all the values the page was built with."""
    import ast

    import papermill as pm
    out: dict[str, Any] = {}
    for name, p in pm.inspect_notebook(str(source)).items():
        if name in parameters:
            out[name] = parameters[name]
            continue
        try:
            out[name] = ast.literal_eval(p["default"])
        except (ValueError, SyntaxError, TypeError):
            pass
    return {**out, **{k: v for k, v in parameters.items() if k not in out}}  # undeclared: papermill warns


def fold_defaults(path: Path) -> None:
    """In the executed notebook `path`, fold the notebook's own parameters cell (tag hide-input): the
    page shows papermill's injected cell, the values it ran with, and keeps the defaults one click away.
    Only a tag changes; every cell, source and output stays."""
    import nbformat

    from .utils import atomic_path  # torch comes with it: not at import, which the CLI's errors need light
    nb = nbformat.read(path, as_version=4)
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    if not any("injected-parameters" in t for t in tags):
        return
    for cell, t in zip(nb.cells, tags):
        if "parameters" in t and "hide-input" not in t:
            cell.metadata["tags"] = t + ["hide-input"]
    with atomic_path(path) as tmp:
        nbformat.write(nb, tmp)


def execute_notebook(source: Path, path: Path, parameters: dict[str, Any], rel: str,
                     progress_bar: bool = True) -> None:
    """Execute notebook `source` with papermill into `path`, in `path`'s folder; a failure names notebook and cell.
    The injected cell holds every declared parameter (`effective_parameters`), the defaults' cell is folded."""
    try:
        import papermill as pm
    except ImportError:
        raise BookError("executing notebooks needs papermill: pip install -e '.[book]'") from None
    with this_interpreter_kernel():
        try:
            pm.execute_notebook(str(source), str(path), parameters=effective_parameters(source, parameters),
                                kernel_name="python3", cwd=str(path.parent), progress_bar=progress_bar)
        except pm.PapermillExecutionError as exc:
            source = (exc.source or "").strip().splitlines()
            first = f": `{source[0][:80]}`" if source else ""
            raise BookError(f"notebook {rel}: cell In [{exc.exec_count}] (cell {exc.cell_index} of the executed copy"
                            f"{first}) raised {exc.ename}: {exc.evalue} — the executed copy with the traceback "
                            f"is {path}") from None
        except Exception as exc:  # kernel died, missing kernel, unreadable notebook
            raise BookError(f"notebook {rel}: could not be executed ({type(exc).__name__}: {exc})") from None
    fold_defaults(path)


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of every child it has waited for: once a notebook
    has run, its kernel, and with it what the kernel waited for (generation workers, DDP ranks).
    NaN where the system has no getrusage (Windows): the record then holds no CPU time."""
    try:
        import resource
    except ImportError:
        return math.nan
    me, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + children.ru_utime + children.ru_stime


def _execute_in_worker(source: Path, path: Path, parameters: dict[str, Any], rel: str, threads: int,
                       threads_file: Path) -> tuple[float, float]:
    """One notebook in a worker process of `execute_side_by_side`; its kernel starts with `threads`
    threads and follows `threads_file` (`utils.share_cores`) while it runs. Returns its wall-clock
    and CPU seconds (`timed_execution`)."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):  # the kernel inherits them: no oversubscribed cores
        os.environ[var] = str(threads)
    os.environ["PDESTUDY_THREADS_FILE"] = str(threads_file)  # utils.THREADS_FILE (utils imports torch)
    return timed_execution(source, path, parameters, rel, progress_bar=False)


def timed_execution(source: Path, path: Path, parameters: dict[str, Any], rel: str,
                    progress_bar: bool = True) -> tuple[float, float]:
    """`execute_notebook`, returning its wall-clock and CPU seconds (`cpu_seconds`: differences, as a
    process may run several notebooks one after another)."""
    start, cpu = time.perf_counter(), cpu_seconds()
    execute_notebook(source, path, parameters, rel, progress_bar=progress_bar)
    return time.perf_counter() - start, cpu_seconds() - cpu


def execute_side_by_side(jobs: list[tuple[str, Path, Path, dict[str, Any]]], deps: dict[str, set[str]],
                         workers: int, needs: dict[str, list[Path]] | None = None,
                         makers: set[str] | None = None) -> dict[str, tuple[float, float]]:
    """Execute (rel, source, path, parameters) jobs in `workers` processes, each once its `deps` are
    done and the files it `needs` (the datasets it reads) exist, or once none of the `makers` (the
    Data chapters) is left to write them: then the notebook makes what is missing itself. Among the
    ready ones, the one with most notebooks behind it (`descendants`) starts first, ties in list
    order: the long chain of a part is not kept waiting behind a short Data chapter. The cores are
    shared out between the running kernels,
    and shared again whenever one starts or ends: a file the kernels' training loops read once an
    epoch (`utils.share_cores`) holds the cores and the number of kernels running, so the last kernel
    running gets every core instead of keeping its one (and a kernel waiting for another's result
    gives its share away meanwhile). The first failure stops new starts, waits for the running
    notebooks and is raised. Returns each notebook's (start, end) in seconds from the first start
    and its CPU seconds (`cpu_seconds`: the kernel's and its children's)."""
    from .utils import atomic_path  # torch comes with it: not at import (see fold_defaults)
    cores = os.cpu_count() or 1
    names = [rel for rel, *_ in jobs]
    deps = {rel: deps.get(rel, set()) & set(names) for rel in names}  # --only or tiny books: ignore the rest
    needs, makers = needs or {}, (makers or set()) & set(names)
    behind = descendants(deps)
    pending, running, done, n = list(jobs), {}, set(), len(jobs)
    failure: BaseException | None = None
    t0, started, timings = time.perf_counter(), {}, {}

    def can_start(rel: str) -> bool:
        if not deps[rel] <= done:
            return False
        return makers <= done or all(p.exists() for p in needs.get(rel, ()))  # written atomically: complete
    with tempfile.TemporaryDirectory(prefix="pdestudy-threads-") as tmp, \
            cf.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        threads_file = Path(tmp) / "threads"

        def share(kernels: int) -> int:  # the file `utils.share_cores` reads: "<cores> <kernels>"
            with atomic_path(threads_file) as t:
                t.write_text(f"{cores} {max(1, kernels)}")
            return max(1, cores // max(1, kernels))

        while running or (pending and failure is None):
            ready = [j for j in pending if can_start(j[0])] if failure is None else []  # after a failure: none
            ready.sort(key=lambda j: -behind[j[0]])  # stable: ties keep list order
            starting = ready[: workers - len(running)]
            threads = share(len(running) + len(starting))
            for job in starting:
                rel, source, path, params = job
                pending.remove(job)
                print(f"[{names.index(rel) + 1}/{n}] executing {rel}.ipynb with {params}", flush=True)
                started[rel] = time.perf_counter() - t0
                running[pool.submit(_execute_in_worker, source, path, params, rel, threads, threads_file)] = rel
            if not running:  # the ones starting now are running already
                raise BookError(f"nothing can start: {[j[0] for j in pending]} wait for each other")
            waiting_for_files = failure is None and any(deps[j[0]] <= done and not can_start(j[0]) for j in pending)
            finished, _ = cf.wait(running, timeout=1.0 if waiting_for_files else None, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                rel = running.pop(fut)
                try:
                    seconds, cpu = fut.result()
                except BaseException as exc:  # noqa: BLE001 — re-raised below, after the others finish
                    failure = failure or exc
                    continue
                done.add(rel)
                timings[rel] = (started[rel], time.perf_counter() - t0, cpu)
                print(f"[{names.index(rel) + 1}/{n}] {rel}.ipynb done in {seconds:.1f} s ({cpu:.0f} CPU s)", flush=True)
    if failure is not None:
        raise failure
    return timings


# --------------------------------------------------------------------------- the build's own record
REPORT_PAGE = "discussion/build"  # the page `write_report_page` fills in the staged copy, where the toc has it


def caches_empty() -> bool:
    """No generated dataset and no trained model yet: the build that starts now is a cold one."""
    from .paths import data_root, results_root
    data = data_root()
    return not any(data.glob("**/*.nc")) and not any(results_root().glob("**/model.pt"))


def machine() -> dict[str, Any]:
    """What the build ran on, for its record: CPU model, cores, GPU (if torch sees one), versions."""
    import platform
    from importlib.metadata import PackageNotFoundError, version
    cpu = platform.processor() or platform.machine()
    try:  # Linux names the CPU model here; platform.processor() is often empty there
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        import torch
        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
        torch_version = torch.__version__
    except ImportError:
        gpu, torch_version = None, None
    try:
        jb = version("jupyter-book")
    except PackageNotFoundError:
        jb = None
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "python": platform.python_version(),
            "torch": torch_version, "jupyter-book": jb, "system": platform.platform()}


def build_report(path: Path, profile: str, jobs: int, timings: dict[str, tuple[float, float, float]], cold: bool,
                 sections: list[tuple[str, list[str]]], notebooks: list[str]) -> dict[str, Any]:
    """Write (atomically) and return this build's record: each notebook's start and end (seconds from
    the first start) and CPU seconds, the part it belongs to, the machine, the profile, jobs, and
    whether the caches were empty at the start. An `--only` build keeps the other notebooks' entries
    of the previous record (marked as earlier runs) and is marked partial."""
    from datetime import datetime, timezone

    from .utils import atomic_path
    previous: dict[str, Any] = {}
    if set(timings) != set(notebooks) and path.exists():
        try:
            previous = json.loads(path.read_text())
        except (OSError, ValueError):
            previous = {}
    part_of = {nb: caption for caption, nbs in sections for nb in nbs}
    entries = {rel: e | {"this_run": False} for rel, e in (previous.get("notebooks") or {}).items() if rel in notebooks}
    for rel, (start, end, cpu) in timings.items():
        entries[rel] = {"start_s": round(start, 2), "end_s": round(end, 2), "seconds": round(end - start, 2),
                        "cpu_s": None if math.isnan(cpu) else round(cpu, 2), "part": part_of.get(rel, ""),
                        "this_run": True}
    cpu_total = sum(c for *_, c in timings.values())
    report = {"profile": profile, "jobs": jobs, "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "wall_seconds": round(max((e for _, e, _ in timings.values()), default=0.0), 2),
              "cpu_seconds": None if math.isnan(cpu_total) else round(cpu_total, 2),
              "cold": cold, "partial": set(timings) != set(notebooks), "machine": machine(),
              "notebooks": {rel: entries[rel] for rel in notebooks if rel in entries}}
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(report, indent=1, ensure_ascii=False))
    return report


def write_report_page(staged: Path, report: dict[str, Any]) -> None:
    """Fill the staged copy's `REPORT_PAGE` (if its toc has one) with this build's record: a table per
    notebook, the time and CPU time per part, the machine, and a timeline figure."""
    page = staged / f"{REPORT_PAGE}.md"
    if not page.exists():
        return
    from .plots.build import timeline
    from .utils import atomic_path
    m, rows = report["machine"], report["notebooks"]
    minutes = lambda s: f"{s / 60:.1f}"  # noqa: E731
    cpu = lambda e: "" if e.get("cpu_s") is None else minutes(e["cpu_s"])  # noqa: E731 — older records have none
    per_part: dict[str, list[float]] = {}
    for e in rows.values():
        acc = per_part.setdefault(e["part"], [0.0, 0.0])
        acc[0] += e["seconds"]
        acc[1] += e.get("cpu_s") or 0.0
    cores, busy = m["cores"] or 1, report.get("cpu_seconds")
    figure = page.with_name("build_timeline.png")
    timeline({rel: (e["start_s"], e["end_s"], e["part"]) for rel, e in rows.items() if e["this_run"]}, figure)
    state = ("empty at its start: a **cold** build, every dataset generated and every model trained in it"
             if report["cold"] else "not empty at its start: notebooks that found their datasets or models there "
             "were faster than a cold build's")
    lines = ["# How this book was built", "",
             "This page is written by `pdestudy book` after every notebook of this copy has run, from the build's own "
             "clock; nothing on it is typed.", "",
             f"- **Profile** `{report['profile']}`, notebooks run **{report['jobs']}** at a time "
             f"(`pdestudy book --profile {report['profile']} --jobs {report['jobs']}`); finished {report['finished']}.",
             f"- **Execution** {minutes(report['wall_seconds'])} min of wall-clock time"
             + (" for the notebooks run this time (an `--only` build: the rest are earlier runs)" if report["partial"] else "")
             + "; the HTML build after it is not counted.",
             f"- **Machine** {m['cpu']}, {m['cores']} cores" + (f", GPU {m['gpu']}" if m["gpu"] else ", no GPU")
             + f"; Python {m['python']}, torch {m['torch']}, Jupyter Book {m['jupyter-book']}; {m['system']}.",
             f"- **Caches** (generated data, trained models) {state}.",
             *([f"- **CPU** {minutes(busy)} min of CPU time in the notebooks run this time (their kernels and the "
                f"processes those started): on {cores} cores no order of the notebooks could have run them in less than "
                f"{minutes(busy / cores)} min, and the cores were busy "
                f"{100 * busy / (cores * report['wall_seconds']):.0f} % of the wall-clock time."]
               if busy and report["wall_seconds"] else []), "",
             "Side by side, each notebook's time includes the cores it shared with the other running one, so "
             "the times per part add up to more than the wall-clock time.", "",
             "| part | notebooks | time, summed (min) | CPU time (min) |", "| --- | --- | --- | --- |"]
    lines += [f"| {part} | {sum(e['part'] == part for e in rows.values())} | {minutes(sec)} | {minutes(c)} |"
              for part, (sec, c) in per_part.items()]
    lines += ["", f"![When each notebook ran]({figure.name})", "",
              "| notebook | part | started (min) | ended (min) | time (min) | CPU time (min) |",
              "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {rel} | {e['part']} | {minutes(e['start_s'])} | {minutes(e['end_s'])} | {minutes(e['seconds'])}"
              + ("" if e["this_run"] else " (an earlier run)") + f" | {cpu(e)} |" for rel, e in rows.items()]
    with atomic_path(page) as tmp:
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")


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
               strict: bool = False, jobs: int = 1) -> Path:
    """Execute the book's notebooks with `profile` and build its HTML; returns the html index.

    only: execute just this notebook (stem or path without .ipynb); the others keep their
          previously executed staged copies.
    strict: Sphinx warnings (broken references, ...) fail the build.
    jobs: notebooks executed side by side (`dependencies` says which may be); 1 runs them one by
          one in toc order. Each kernel gets cores / jobs threads.
    """
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise BookError(f"jobs: a number of notebooks run side by side, at least 1; got {jobs!r}")
    src = book_dir()
    if not src.is_dir():
        raise BookError(f"book directory {src} does not exist (set PDESTUDY_BOOK or run from the checkout)")
    cfg = load_profile(profile, src)
    notebooks = toc_notebooks(src)
    selected = select_notebooks(notebooks, only)
    out = Path(build_dir or src / "_build").resolve() / profile
    staged = out / "src"

    stage(src, staged, profile, notebooks, keep_executed=only is not None)
    cold = caches_empty()
    if jobs > 1 and len(selected) > 1:
        # from the source, so --only runs the current notebook, not the last executed copy
        from .data.generation import dataset_path
        parts = toc_parts(src)
        needs = {rel: [dataset_path(name, profile) for name in names] for rel, names in reads(src, notebooks).items()}
        timings = execute_side_by_side([(rel, src / f"{rel}.ipynb", staged / f"{rel}.ipynb",
                                         notebook_parameters(cfg, rel)) for rel in selected],
                                       dependencies(parts, waits_for(src, notebooks)), jobs, needs,
                                       set(parts[0]) if len(parts) > 1 else set())
    else:
        timings, t0 = {}, time.perf_counter()
        for i, rel in enumerate(selected, 1):
            params = notebook_parameters(cfg, rel)
            print(f"[{i}/{len(selected)}] executing {rel}.ipynb with {params}", flush=True)
            start = time.perf_counter() - t0
            # from the source, so --only runs the current notebook, not the last executed copy
            wall, cpu = timed_execution(src / f"{rel}.ipynb", staged / f"{rel}.ipynb", params, rel)
            timings[rel] = (start, start + wall, cpu)
            print(f"[{i}/{len(selected)}] {rel}.ipynb done in {wall:.1f} s ({cpu:.0f} CPU s)", flush=True)
    report = build_report(out / "build_report.json", profile, jobs, timings, cold, toc_sections(src), notebooks)
    write_report_page(staged, report)
    return build_html(staged, out, strict)
