"""The built smoke book as a reader sees it: every page opened in headless Chromium with the network cut.

Each page must render, load every image, typeset its math (no raw ``\\(`` or ``$$`` left) and show no
error output; any request that leaves the book's files fails the test. Chromium is Debian's
(``.ci/run`` installs it when missing), driven through Playwright's Python API. Without Chromium the
test is skipped, except in CI (``CI`` set), where that is a failure.

The HTML itself is checked too, without a browser: no script, stylesheet, image or frame is
referenced by a network URL, and MathJax is the copy shipped in ``_static/``.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

NETWORK_REF = re.compile(r"<(script|link|img|iframe|source|embed)\b[^>]*?\b(src|href)\s*=\s*[\"']?((?:https?:)?//[^\"' >]+)",
                         re.I)
CSS_NETWORK_REF = re.compile(r"(?:@import\s+|url\()\s*[\"']?((?:https?:)?//[^\"')]+)", re.I)


def html_root(smoke_book) -> Path:
    return smoke_book[1].parent


def pages(smoke_book) -> list[Path]:
    """Every page a reader opens: not the generated index and search pages, not a redirect (index.html)."""
    root = html_root(smoke_book)
    return sorted(p for p in root.rglob("*.html") if "_static" not in p.parts and p.name not in ("genindex.html", "search.html")
                  and 'http-equiv="Refresh"' not in p.read_text(encoding="utf-8")[:500])


def test_no_page_references_the_network(smoke_book):
    root = html_root(smoke_book)
    found = {str(p.relative_to(root)): [m[2] for m in NETWORK_REF.findall(p.read_text(encoding="utf-8"))]
             for p in root.rglob("*.html")}
    found.update({str(p.relative_to(root)): CSS_NETWORK_REF.findall(p.read_text(encoding="utf-8", errors="replace"))
                  for p in (root / "_static").rglob("*.css")})
    assert not {k: v for k, v in found.items() if v}, "pages that would fetch from the network"
    math_page = (root / "mst" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<script[^>]+src="(\.\./)?_static/mathjax/tex-chtml\.js"', math_page), "MathJax is not the shipped copy"
    assert (root / "_static" / "mathjax" / "tex-chtml.js").is_file()


def chromium() -> str | None:
    for name in (os.environ.get("PDESTUDY_CHROMIUM"), "chromium", "chromium-browser", "google-chrome"):
        if name and shutil.which(name):
            return shutil.which(name)
    return None


# Run in each page once it has loaded (and MathJax, where the page has math, has typeset).
CHECK = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = [...document.images];
  await Promise.all(images.map(i => i.complete ? null : new Promise(r => { i.onload = i.onerror = r; })));
  const prose = document.querySelector('main') || document.body;
  const text = prose.cloneNode(true);
  text.querySelectorAll('pre, code, .cell_input, script, style, mjx-container').forEach(e => e.remove());
  return {
    main: !!document.querySelector('main article, main'),
    chars: (prose.innerText || '').length,
    broken: images.filter(i => !(i.naturalWidth > 0)).map(i => (i.getAttribute('src') || '').slice(0, 80)),
    images: images.length,
    untypeset: [...document.querySelectorAll('span.math, div.math')].filter(e => !e.querySelector('mjx-container')).length,
    math: document.querySelectorAll('mjx-container').length,
    raw: ['\\\\(', '\\\\[', '$$'].filter(s => text.innerText.includes(s)),
    errors: [...document.querySelectorAll('.output.error, .output.traceback')].map(e => e.innerText.slice(0, 200)),
    tracebacks: (prose.innerText || '').includes('Traceback (most recent call last)'),
  };
}"""


def test_every_page_renders_offline_in_chromium(smoke_book):
    exe = chromium()
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium not found: .ci/run installs Debian's chromium (or set PDESTUDY_CHROMIUM)")
        pytest.skip("Chromium not found (Debian: apt install chromium; or set PDESTUDY_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    outside, results = [], {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=exe, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run", "--allow-file-access-from-files"])
        page = browser.new_page()

        def route(r):  # the book's own files only: anything else is the network, refused
            if r.request.url.startswith(("file://", "data:", "blob:")):
                r.continue_()
            else:
                outside.append(r.request.url)
                r.abort()

        page.route("**/*", route)
        for html in pages(smoke_book):
            page.goto(html.as_uri(), wait_until="load")
            results[str(html.relative_to(html_root(smoke_book)))] = page.evaluate(CHECK)
        browser.close()

    assert not outside, f"pages asked the network for {sorted(set(outside))[:5]}"
    assert len(results) >= 20, sorted(results)
    for name, r in results.items():
        assert r["main"] and r["chars"] > 200, f"{name}: renders no content ({r['chars']} characters)"
        assert not r["broken"], f"{name}: images that do not load: {r['broken']}"
        assert r["untypeset"] == 0 and not r["raw"], f"{name}: math left as LaTeX ({r['untypeset']} elements, {r['raw']})"
        assert not r["errors"] and not r["tracebacks"], f"{name}: an error output: {r['errors'][:1]}"
    # the pages that hold math typeset it, and the chapters show their figures
    assert results["mst/index.html"]["math"] > 10 and sum(r["math"] > 0 for r in results.values()) >= 8
    assert all(results[f"{p}.html"]["images"] >= 1 for p in ("data/navier_stokes", "matey/attention", "mst/rollout"))
