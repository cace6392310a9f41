"""The book: every notebook of the toc executes with the smoke profile and the HTML builds strictly.

The session fixture `smoke_book` (conftest.py) runs the same code as `pdestudy book --profile smoke
--strict --jobs 2` once; the tests here and in test_browser.py read what it left. Tiny throw-away books (via $PDESTUDY_BOOK) test the runner's
failure paths without the real notebooks.
"""
import json
import os
from pathlib import Path

import nbformat
import pytest
import yaml

from pdestudy.book import (BookError, build_book, dependencies, descendants, load_profile, toc_notebooks, toc_parts,
                           transitive, waits_for)
from pdestudy.book import execute_side_by_side
from pdestudy.book import reads as book_reads
from pdestudy.cli import main
from pdestudy.paths import book_dir

NOTEBOOKS = toc_notebooks(book_dir())
PROFILES = ("smoke", "default", "paper")


# ---------------------------------------------------------------------- sources
def test_toc_has_notebooks():
    assert "data/navier_stokes" in NOTEBOOKS


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_notebook_sources_have_no_outputs_and_a_parameters_cell(rel):
    nb = nbformat.read(book_dir() / f"{rel}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(not c.outputs and c.execution_count is None for c in code), f"{rel}: commit notebooks without outputs"
    params = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(params) == 1, f"{rel}: needs exactly one cell tagged 'parameters' (papermill injects after it)"
    assert "profile" in params[0].source and "device" in params[0].source


@pytest.mark.parametrize("profile", PROFILES)
def test_profiles_parameterize_every_notebook(profile):
    cfg = load_profile(profile)
    assert cfg["all"]["profile"] == profile and cfg["all"]["device"] == "auto"
    assert set(cfg["notebooks"]) <= set(NOTEBOOKS), "profile names a notebook that is not in _toc.yml"
    for rel, params in cfg["notebooks"].items():  # a profile may only set what the notebook declares
        unknown = set(params or {}) - set(declared_parameters(rel))
        assert not unknown, f"{profile}.yml sets {sorted(unknown)} that {rel}'s parameters cell does not declare"


def declared_parameters(rel: str) -> list[str]:
    from papermill.translators import PythonTranslator
    nb = nbformat.read(book_dir() / f"{rel}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return [p.name for p in PythonTranslator.inspect(cell)]


@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_every_parameter_line_parses_for_papermill(rel):
    # papermill silently skips an assignment it cannot parse (e.g. an "=" inside the comment), and a
    # profile's value for it then arrives as an "unknown parameter"
    nb = nbformat.read(book_dir() / f"{rel}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assigned = [line.split("=")[0].split(":")[0].strip() for line in cell.source.splitlines()
                if line and not line[0].isspace() and not line.startswith("#") and "=" in line.split("#")[0]]
    assert declared_parameters(rel) == assigned


# ---------------------------------------------------------------------- the smoke build
@pytest.mark.slow
@pytest.mark.parametrize("rel", NOTEBOOKS)
def test_notebook_executes_with_the_smoke_profile(smoke_book, rel):
    out, _ = smoke_book
    nb = nbformat.read(out / "src" / f"{rel}.ipynb", as_version=4)
    assert nb.metadata.papermill.parameters["profile"] == "smoke"
    assert not nb.metadata.papermill.get("exception")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code), f"{rel}: a cell was not executed"
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{rel}: {errors[0].ename}: {errors[0].evalue}"


@pytest.mark.slow
def test_html_pages_exist(smoke_book):
    out, index = smoke_book
    html = out / "_build" / "html"
    assert index == html / "index.html" and index.exists()
    toc = yaml.safe_load((book_dir() / "_toc.yml").read_text())
    pages = [toc["root"]] + [ch["file"] for part in toc["parts"] for ch in part["chapters"]]
    for page in pages:
        assert (html / f"{page}.html").exists(), page
    assert "built with the smoke profile" in (html / "intro.html").read_text()


@pytest.mark.slow
def test_the_build_page_records_this_build(smoke_book):
    out, _ = smoke_book
    report = json.loads((out / "build_report.json").read_text())
    assert list(report["notebooks"]) == NOTEBOOKS and report["jobs"] == 2 and not report["partial"]
    page = (out / "_build" / "html" / "discussion" / "build.html").read_text()
    assert "How this book was built" in page and "<img" in page and "smoke" in page
    for rel, e in report["notebooks"].items():  # the page's numbers are the record's
        assert f"<td><p>{rel}</p></td>" in page or f"<td>{rel}</td>" in page, rel
        assert f"{e['seconds'] / 60:.1f}" in page


@pytest.mark.slow
def test_data_chapter_has_figures(smoke_book):
    out, _ = smoke_book
    page = (out / "_build" / "html" / "data" / "navier_stokes.html").read_text()
    assert "<img" in page, "the data chapter shows no figure"


@pytest.mark.slow
@pytest.mark.parametrize("page", ["matey/attention", "matey/tokenization", "matey/pretraining", "matey/finetuning"])
def test_matey_chapters_have_figures_and_a_computed_takeaway(smoke_book, page):
    out, _ = smoke_book
    html = (out / "_build" / "html" / f"{page}.html").read_text()
    assert html.count("<img") >= 2, f"{page} shows fewer than two figures"
    assert "Against persistence" in html  # the takeaway cell's output, computed from the chapter's numbers


@pytest.mark.slow
def test_the_scorecard_shows_the_chapters_stored_verdicts(smoke_book):
    from pdestudy.experiments import scorecard as SC
    out, _ = smoke_book
    nb = nbformat.read(out / "src" / "discussion" / "scorecard.ipynb", as_version=4)
    table = next(o.data["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
                 if "text/markdown" in o.get("data", {}) and "| paper | claim |" in o.data["text/markdown"])
    lines = {ln.split(" | ")[1]: ln for ln in table.splitlines()[2:]}  # statement → its row
    results = out.parent / "results"  # the smoke book's own results root (conftest.smoke_book)
    stored = SC.load_records("smoke", root=results)
    # every MATEY chapter and every MST chapter but the FNO one on sets the smoke book does not train
    assert {"matey.avit", "matey.svit", "matey.adaptive", "matey.vit8x", "matey.transfer", "mst.encodings",
            "mst.rollout", "mst.multiscale"} <= set(stored)
    for cid, claim in SC.CLAIMS.items():
        row = lines[claim.statement.replace("|", "\\|")]
        if cid in stored:  # the page shows exactly the stored verdict and numbers
            assert f"| **{stored[cid]['verdict']}** | {stored[cid]['ours']} |" in row, cid
        else:
            assert "| **not tested** |" in row, cid
    html = (out / "_build" / "html" / "discussion" / "scorecard.html").read_text()
    table = html[html.index("<table"): html.index("</table>")]  # rendered as a table, each claim linked to its chapter
    assert table.count("<tr") == len(SC.CLAIMS) + 1
    assert 'href="../mst/rollout.html"' in table and 'href="../matey/finetuning.html"' in table
    findings = SC.load_findings("smoke", root=results)  # the Data chapters' qualifications, as they stored them
    assert set(findings) == {"data/incompressible_ns", "data/mhd_cavity"}
    shown = next(o.data["text/markdown"] for c in nb.cells if c.cell_type == "code" for o in c.outputs
                 if "text/markdown" in o.get("data", {}) and "data/mhd_cavity" in o.data["text/markdown"])
    assert shown == SC.findings_markdown(findings)


# ---------------------------------------------------------------------- the runner, on tiny books
def notebook(*sources, params='profile = "default"\ndevice = "auto"'):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(params, metadata={"tags": ["parameters"]})]
    nb.cells += [nbformat.v4.new_code_cell(s) for s in sources]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


BURN = "import time\nt0 = time.process_time()\nwhile time.process_time() - t0 < 2: pass"  # 2 s of CPU in the kernel


def tiny_book(root: Path, notebooks: dict) -> Path:
    """A book with an intro page and the given {name: notebook} chapters, and a smoke profile."""
    root.mkdir(parents=True)
    (root / "_config.yml").write_text('title: tiny\nexecute:\n  execute_notebooks: "off"\n'
                                      "parse:\n  myst_enable_extensions: [substitution]\n")
    (root / "_toc.yml").write_text(yaml.safe_dump(
        {"format": "jb-book", "root": "intro", "chapters": [{"file": name} for name in notebooks]}))
    (root / "intro.md").write_text("# Tiny\n\nProfile: {{ profile }}\n")
    for name, nb in notebooks.items():
        nbformat.write(nb, root / f"{name}.ipynb")
    (root / "profiles").mkdir()
    (root / "profiles" / "smoke.yml").write_text(
        "all: {profile: smoke, device: auto}\nnotebooks:\n  ok: {greeting: hello}\n")
    return root


def test_a_failing_notebook_stops_the_build_naming_notebook_and_cell(monkeypatch, tmp_path, capsys):
    boom = notebook("x = 1", "y = x / 0", "print('never')")
    monkeypatch.setenv("PDESTUDY_BOOK", str(tiny_book(tmp_path / "book", {"boom": boom})))
    with pytest.raises(BookError) as info:
        build_book(profile="smoke", build_dir=tmp_path / "build")
    msg = str(info.value)
    assert "notebook boom" in msg and "In [4]" in msg and "y = x / 0" in msg and "ZeroDivisionError" in msg
    assert not (tmp_path / "build" / "smoke" / "_build").exists()  # no HTML built after a failure

    code = main(["book", "--profile", "smoke", "--build-dir", str(tmp_path / "build")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err[-1].startswith("error: notebook boom") and "ZeroDivisionError" in err[-1]


def test_parameters_staging_and_only(monkeypatch, tmp_path):
    ok = notebook("print(profile, greeting)", params='profile = "default"\ndevice = "auto"\ngreeting = "hi"')
    other = notebook("import os\nprint('cwd', os.getcwd())\n" + BURN,
                     params='profile = "default"\ndevice = "auto"\nn = 3  # no profile sets it')
    src = tiny_book(tmp_path / "book", {"ok": ok, "other": other})
    monkeypatch.setenv("PDESTUDY_BOOK", str(src))
    build = tmp_path / "build"

    index = build_book(profile="smoke", build_dir=build)
    assert index.exists() and "Profile: smoke" in (index.parent / "intro.html").read_text()
    staged = build / "smoke" / "src"
    executed = nbformat.read(staged / "ok.ipynb", as_version=4)
    assert executed.cells[2].outputs[0].text == "smoke hello\n"  # `all` and per-notebook parameters
    # one parameters block shows: the injected one, with every declared value; the defaults are folded
    assert "hide-input" in executed.cells[0].metadata.tags and executed.cells[0].source == ok.cells[0].source
    assert "injected-parameters" in executed.cells[1].metadata.tags
    assert executed.metadata.papermill.parameters == {"profile": "smoke", "device": "auto", "greeting": "hello"}
    two = nbformat.read(staged / "other.ipynb", as_version=4)
    assert two.metadata.papermill.parameters == {"profile": "smoke", "device": "auto", "n": 3} and len(two.cells) == 3
    assert nbformat.read(staged / "other.ipynb", as_version=4).cells[2].outputs[0].text.strip() == f"cwd {staged}"
    assert not any(c.get("outputs") for c in json.loads((src / "ok.ipynb").read_text())["cells"])  # sources untouched
    assert yaml.safe_load((staged / "_config.yml").read_text())["parse"]["myst_substitutions"]["profile"] == "smoke"

    # the build's own record: every notebook's clock times, the machine, the profile
    report = json.loads((build / "smoke" / "build_report.json").read_text())
    assert list(report["notebooks"]) == ["ok", "other"] and not report["partial"] and report["jobs"] == 1
    first = report["notebooks"]
    assert all(e["this_run"] and 0 <= e["start_s"] < e["end_s"] and e["seconds"] > 0 for e in first.values())
    assert first["other"]["start_s"] >= first["ok"]["end_s"]  # one by one, in toc order
    assert report["machine"]["cores"] == os.cpu_count() and report["profile"] == "smoke"
    assert report["wall_seconds"] == first["other"]["end_s"]
    # CPU time: the kernel's, measured by the process that waited for it (the kernel burns 2 s in `other`)
    assert first["other"]["cpu_s"] >= 2 and first["other"]["cpu_s"] > first["ok"]["cpu_s"] + 1.5
    assert report["cpu_seconds"] == pytest.approx(sum(e["cpu_s"] for e in first.values()), abs=0.02)

    # --only re-executes one notebook, from its current source, and keeps the other's executed copy
    before = (staged / "other.ipynb").read_text()
    ok.cells[1].source = "print(profile, greeting, 2)"
    nbformat.write(ok, src / "ok.ipynb")
    build_book(profile="smoke", build_dir=build, only="ok")
    assert nbformat.read(staged / "ok.ipynb", as_version=4).cells[2].outputs[0].text == "smoke hello 2\n"
    assert (staged / "other.ipynb").read_text() == before
    report = json.loads((build / "smoke" / "build_report.json").read_text())
    assert report["partial"] and report["notebooks"]["ok"]["this_run"]  # and the other's entry is the earlier run's
    assert report["notebooks"]["other"] == first["other"] | {"this_run": False}

    with pytest.raises(BookError, match="is no notebook"):
        build_book(profile="smoke", build_dir=build, only="nope")
    with pytest.raises(BookError, match="unknown profile 'paper'"):
        build_book(profile="paper", build_dir=build)


def test_side_by_side_dependencies_follow_the_parts():
    parts = [["data/a", "data/b"], ["mst/x", "mst/y"], ["matey/p", "matey/q"]]
    deps = dependencies(parts)
    assert deps["data/a"] == deps["data/b"] == set()  # Data chapters: independent
    assert deps["mst/x"] == deps["matey/p"] == {"data/a", "data/b"}
    assert deps["mst/y"] == {"mst/x"} and deps["matey/q"] == {"matey/p"}  # and through it, the data
    assert transitive(deps, "matey/q") == {"data/a", "data/b", "matey/p"}
    assert dependencies([["a", "b", "c"]]) == {"a": set(), "b": {"a"}, "c": {"a", "b"}}  # one part: in order
    named = dependencies(parts, {"mst/x": ["data/a"], "matey/p": ["data/b", "mst/y"], "matey/q": "all"})  # metadata
    assert named["mst/x"] == {"data/a"} and named["mst/y"] == {"mst/x"}  # only the data it reads; no metadata: its part
    assert named["matey/p"] == {"data/b", "mst/y"} and named["matey/q"] == set(parts[0] + parts[1]) | {"matey/p"}
    assert transitive(named, "mst/y") == {"mst/x", "data/a"}
    sideways = dependencies(parts, {"mst/x": ["data/a"], "mst/y": ["data/b"]})  # metadata names everything it waits for
    assert sideways["mst/y"] == {"data/b"} and "mst/x" not in transitive(sideways, "mst/y")
    with pytest.raises(BookError, match=r"matey/p.ipynb: metadata pdestudy.waits_for names \['mst/z'\]"):
        dependencies(parts, {"matey/p": ["mst/z"]})
    with pytest.raises(BookError, match=r"mst/x.ipynb: metadata pdestudy.waits_for names \['mst/y'\], not before it"):
        dependencies(parts, {"mst/x": ["mst/y"]})  # one by one, in toc order, it would run before what it waits for

    book = dependencies(toc_parts(book_dir()), waits_for(book_dir(), NOTEBOOKS))  # the real book: fine-tuning after pretraining after the data
    assert book["matey/finetuning"] == {"matey/pretraining"}  # and, by file, the thermals and MHD data
    assert book["matey/tokenization"] == {"matey/attention"}  # it reuses the attention chapter's models
    for chapter in ("mst/positional_encodings", "mst/rollout", "mst/multiscale", "mst/mst_vs_fno"):
        assert book[chapter] == {"mst/autoencoder"}  # side by side once the standard autoencoder exists
    behind = descendants(book)  # the runner starts the ready notebook with most behind it first
    assert behind["mst/autoencoder"] > behind["matey/attention"] > behind["matey/finetuning"]
    assert behind["discussion/scorecard"] == 0 and behind["data/navier_stokes"] == 1  # only the scorecard waits for it
    assert set(book) == set(NOTEBOOKS)
    assert book["discussion/scorecard"] == set(NOTEBOOKS) - {"discussion/scorecard"}  # it reads every chapter's record



def test_every_chapter_waits_for_the_data_chapters_that_make_its_datasets():
    """Side by side, a chapter that started before its data existed would generate them itself, a
    second time: what each chapter reads must be made by a Data chapter it (transitively) waits for."""
    import re

    from pdestudy.experiments import matey as M
    made_by = {}
    for nb in NOTEBOOKS:
        if nb.startswith("data/"):
            src = (book_dir() / f"{nb}.ipynb").read_text()
            made_by.update({name: nb for name in re.findall(r'\\"([a-z][a-z0-9_.\-]*)\\"', src)})
    default = load_profile("default")["notebooks"]
    reads = {"mst/autoencoder": {default["mst/autoencoder"]["dataset"]},
             "mst/multiscale": {default["mst/multiscale"]["dataset"], "kolmogorov_re40"},
             "mst/mst_vs_fno": set(default["mst/mst_vs_fno"]["datasets"]),
             "matey/attention": {M.DATASET}, "matey/tokenization": {M.DATASET},
             "matey/pretraining": set(M.PRETRAINING), "matey/finetuning": set(M.TARGETS),
             "beyond/one_model": {default["beyond/one_model"]["dataset"]},
             "beyond/performance": {default["beyond/performance"]["dataset"], M.DATASET}}
    book = dependencies(toc_parts(book_dir()), waits_for(book_dir(), NOTEBOOKS))
    files = book_reads(book_dir(), NOTEBOOKS)  # datasets a notebook waits for by file, not by chapter
    for chapter, datasets in reads.items():
        before = transitive(book, chapter)
        on_file = {d for nb in before | {chapter} for d in files.get(nb, ())}
        for d in datasets:
            assert d in made_by, f"{d}: no Data chapter names it"
            assert made_by[d] in before or d in on_file, f"{chapter} reads {d} but waits neither for it nor for {made_by[d]}"
    assert not transitive(book, "matey/attention") & {"data/navier_stokes"}  # MATEY starts without the NS data
    assert not transitive(book, "mst/autoencoder") and files["mst/autoencoder"] == ["ns_nu1e-3"]  # once its file exists


def test_side_by_side_a_notebook_starts_once_the_datasets_it_reads_exist(monkeypatch, tmp_path):
    """`reads`: x starts while the Data chapter that writes its dataset is still running; y reads a
    dataset no Data chapter writes, and starts once the Data chapters are done (it would make it)."""
    log, data = tmp_path / "log.txt", tmp_path / "data"
    monkeypatch.setenv("PDESTUDY_DATA", str(data))

    def stamp(name, body="pass", **meta):
        nb = notebook(f"open({str(log)!r}, 'a').write('start {name}\\n')", body,
                      f"open({str(log)!r}, 'a').write('end {name}\\n')")
        nb.metadata["pdestudy"] = meta
        return nb

    writes = (f"import time; from pathlib import Path; p = Path({str(data)!r}) / 'smoke' / 'made.nc'\n"
              "time.sleep(2); p.parent.mkdir(parents=True, exist_ok=True); p.write_text('x'); t0 = time.time()\n"
              f"while 'start x' not in open({str(log)!r}).read() and time.time() - t0 < 120: time.sleep(0.2)")  # x, then end
    root = tmp_path / "book"
    tiny_book(root, {})
    seen = (f"import os; e = os.path.exists({str(data / 'smoke' / 'made.nc')!r})\n"
            f"open({str(log)!r}, 'a').write('file-at-x ' + str(e) + '\\n')")
    nbs = {"data/a": stamp("a", writes), "one/x": stamp("x", seen, waits_for=[], reads=["made"]),
           "one/y": stamp("y", waits_for=[], reads=["never_made"])}
    for rel, nb in nbs.items():
        (root / rel).parent.mkdir(exist_ok=True)
        nbformat.write(nb, root / f"{rel}.ipynb")
    (root / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro", "parts": [
        {"caption": "Data", "chapters": [{"file": "data/a"}]},
        {"caption": "One", "chapters": [{"file": "one/x"}, {"file": "one/y"}]}]}))
    files = book_reads(root, list(nbs))
    assert files == {"one/x": ["made"], "one/y": ["never_made"]}

    # the runner as build_book calls it (no HTML build: the scheduling is what this test is about)
    out = tmp_path / "out"
    for rel in nbs:
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
    execute_side_by_side([(rel, root / f"{rel}.ipynb", out / f"{rel}.ipynb", {"profile": "smoke"}) for rel in nbs],
                         dependencies(toc_parts(root), waits_for(root, list(nbs))), 2,
                         {rel: [data / "smoke" / f"{n}.nc" for n in names] for rel, names in files.items()}, {"data/a"})
    lines = log.read_text().split()
    at = {f"{w} {n}": i for i, (w, n) in enumerate(zip(lines[::2], lines[1::2]))}
    assert at["start x"] < at["end a"] and "file-at-x True" in at  # not before its file, not after the chapter
    assert at["start y"] > at["end a"]  # no Data chapter left to make its file: it starts and makes it itself

    nbformat.write(stamp("x", reads="made"), root / "one" / "x.ipynb")
    with pytest.raises(BookError, match=r"one/x.ipynb: metadata pdestudy.reads must be a list of dataset names"):
        book_reads(root, list(nbs))


def test_side_by_side_execution_respects_dependencies_and_names_a_failure(monkeypatch, tmp_path):
    log = tmp_path / "log.txt"

    def stamp(name, body=""):  # appends "start <name>" and "end <name>" lines around `body`
        return notebook(f"open({str(log)!r}, 'a').write('start {name}\\n')", body or "pass",
                        f"open({str(log)!r}, 'a').write('end {name}\\n')")

    # The kernels' share of the cores (utils.share_cores): b starts beside a and gets half of them; a,
    # left alone once b ends, gets every core (it polls, as a training loop does once an epoch).
    alone = (f"import os, time; from pdestudy.utils import share_cores\n"
             f"t0 = time.time()\n"
             f"while share_cores() != os.cpu_count() and time.time() - t0 < 60: time.sleep(0.1)\n"
             f"open({str(log)!r}, 'a').write(f'threads-a {{share_cores()}}\\n')")
    beside = (f"from pdestudy.utils import share_cores\n"
              f"open({str(log)!r}, 'a').write(f'threads-b {{share_cores()}}\\n')\n" + BURN)
    root = tmp_path / "book"
    nbs = {"data/a": stamp("a", "import time; time.sleep(1)\n" + alone), "data/b": stamp("b", beside),
           "one/x": stamp("x"), "one/y": stamp("y"), "two/p": stamp("p")}
    tiny_book(root, {})
    for rel, nb in nbs.items():
        (root / rel).parent.mkdir(exist_ok=True)
        nbformat.write(nb, root / f"{rel}.ipynb")
    parts = [("Data", ["data/a", "data/b"]), ("One", ["one/x", "one/y"]), ("Two", ["two/p"]), ("End", ["discussion/build"])]
    (root / "_toc.yml").write_text(yaml.safe_dump({"format": "jb-book", "root": "intro", "parts": [
        {"caption": c, "chapters": [{"file": f} for f in files]} for c, files in parts]}))
    (root / "discussion").mkdir()
    (root / "discussion" / "build.md").write_text("# How this book was built\n\nFilled in by pdestudy book.\n")
    monkeypatch.setenv("PDESTUDY_BOOK", str(root))

    index = build_book(profile="smoke", build_dir=tmp_path / "build", jobs=2)
    assert index.exists()
    lines = log.read_text().split()
    at = {f"{w} {n}": i for i, (w, n) in enumerate(zip(lines[::2], lines[1::2]))}
    assert len(at) == 12  # every notebook ran once
    cores = os.cpu_count() or 1
    assert f"threads-b {max(1, cores // 2)}" in at  # two kernels: half the cores each
    assert f"threads-a {cores}" in at  # the last one running: every core
    for later in ("x", "y", "p"):
        assert at[f"start {later}"] > max(at["end a"], at["end b"])
    assert at["start y"] > at["end x"]
    assert at["start b"] < at["end a"]  # the Data chapters ran side by side (a sleeps a second)
    report = json.loads((tmp_path / "build" / "smoke" / "build_report.json").read_text())
    runs = report["notebooks"]
    assert [runs[r]["part"] for r in ("data/a", "one/x", "two/p")] == ["Data", "One", "Two"]
    assert runs["data/b"]["start_s"] < runs["data/a"]["end_s"] and runs["one/y"]["start_s"] >= runs["one/x"]["end_s"]
    page = (index.parent / "discussion" / "build.html").read_text()  # the staged page, filled in from the record
    assert "Filled in" not in page and "<img" in page and report["jobs"] == 2 and "<strong>2</strong> at a time" in page
    assert f"{runs['data/a']['seconds'] / 60:.1f}" in page and (index.parent / "_images").is_dir()
    # CPU time per notebook, from the worker process that ran it (b's kernel burns 2 s; x only starts)
    assert runs["data/b"]["cpu_s"] >= 2 and runs["data/b"]["cpu_s"] > runs["one/x"]["cpu_s"] + 1.5
    assert f"{report['cpu_seconds'] / 60:.1f} min of CPU time" in page

    # a failure, through the runner build_book calls (the Data chapters need not run again for it)
    nbformat.write(stamp("x", "1 / 0"), root / "one" / "x.ipynb")
    log.unlink()
    out = tmp_path / "build" / "smoke" / "src"
    with pytest.raises(BookError, match=r"notebook one/x: cell .*ZeroDivisionError"):
        execute_side_by_side([(rel, root / f"{rel}.ipynb", out / f"{rel}.ipynb", {"profile": "smoke"})
                              for rel in ("one/x", "one/y")], dependencies(toc_parts(root)), 2)
    assert "start y" not in log.read_text()  # nothing that waits for the failed chapter starts
    with pytest.raises(BookError, match="jobs"):
        build_book(profile="smoke", build_dir=tmp_path / "build", jobs=0)
