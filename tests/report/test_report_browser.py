"""The HTML report as a person sees it: opened in a real headless browser (Debian's chromium).

String checks on the HTML cannot tell whether a chart collapsed to zero size, a table pushed
the page sideways or the browser logged an error; rendering it can. Playwright drives the
system chromium (``executable_path``), so no browser is downloaded; ``nox -s tests`` installs
chromium with apt when it is missing and the session runs as root.
"""

from __future__ import annotations

import copy
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.report import write_report_files

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium); "
    "`nox -s tests` does this itself when run as root",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


class _Opened:
    """A loaded report page with everything the browser complained about while loading."""

    def __init__(self, browser: Any, html_path: Path) -> None:
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on(
            "console",
            lambda m: (
                self.errors.append(f"console.{m.type}: {m.text}")
                if m.type in ("error", "assert")
                else None
            ),
        )
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url}"))
        self.page.on("request", lambda r: self.requests.append(r.url))
        response = self.page.goto(html_path.as_uri(), wait_until="load")
        assert response is None or response.ok


def _assert_renders(opened: _Opened, tmp_path: Path, verdict: str) -> None:
    page = opened.page
    assert verdict in page.title()
    banner = page.locator("header.banner h1")
    assert banner.is_visible() and verdict in banner.inner_text()
    # Self-contained: the only request is the report file itself.
    assert [u for u in opened.requests if not u.startswith("file://")] == []

    plots = page.locator("svg")
    assert plots.count() > 0
    for i in range(plots.count()):
        svg = plots.nth(i)
        box = svg.bounding_box()
        label = svg.get_attribute("aria-label") or svg.inner_html()[:80]
        assert svg.is_visible(), label
        assert box is not None and box["width"] > 10 and box["height"] > 10, (label, box)
        # Something is drawn inside: the marks' union has a real extent on screen.
        drawn = svg.evaluate(
            "s => { const b = s.getBBox(); return b.width * b.height; }",
        )
        assert drawn > 0, label

    # Nothing pushes the page sideways at a laptop width.
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"page is {overflow}px wider than the window"

    _assert_marks_legible(page, verdict)

    shot = tmp_path / "report.png"
    png = page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000 and png[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image, ImageStat

    image = Image.open(io.BytesIO(png)).convert("L")
    assert image.width >= 1280 and image.height > 900
    stddev = ImageStat.Stat(image).stddev[0]
    assert stddev > 10, f"screenshot looks blank (grey-level stddev {stddev:.1f})"
    assert opened.errors == []


_EMOJI = re.compile("[\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001faff]")


def _assert_marks_legible(page: Any, verdict: str) -> None:
    """The verdict reads without an emoji font: a plain word plus a mark drawn as SVG.

    This machine's chromium has no colour-emoji font, so ✅/❌ glyphs would show as empty
    boxes; the check is that no such glyph is left in the visible text and that the banner's
    mark is an SVG with real coloured pixels next to the verdict word.
    """
    text = page.locator("body").inner_text()
    assert _EMOJI.findall(text) == []
    banner = page.locator("header.banner h1")
    words = banner.inner_text().split()
    assert words[0] == verdict, words
    mark = banner.locator("svg.mark")
    assert mark.count() == 1
    assert mark.get_attribute("aria-label") == ("pass" if verdict == "GO" else "fail")
    box = mark.bounding_box()
    assert box is not None and box["width"] >= 20 and box["height"] >= 20, box
    from PIL import Image, ImageStat

    pixels = Image.open(io.BytesIO(mark.screenshot())).convert("RGB")
    # White disc with a coloured tick or cross on the coloured banner: not one flat colour.
    assert max(ImageStat.Stat(pixels).stddev) > 30
    # Every pass/fail mark in the tables is drawn too, at a readable size.
    marks = page.locator("main svg.mark")
    for i in range(marks.count()):
        cell_box = marks.nth(i).bounding_box()
        assert cell_box is not None and cell_box["width"] >= 10, cell_box


def test_comparison_report_renders_in_chromium(
    browser: Any, tmp_path: Path, comparison_summary: dict[str, Any]
) -> None:
    files = write_report_files(comparison_summary, tmp_path / "run")
    opened = _Opened(browser, files.report_html)
    page = opened.page
    try:
        _assert_renders(opened, tmp_path, "NO-GO")
        # Verdict and reasons come before everything else on the page.
        headings = page.locator("main h2").all_inner_texts()
        assert headings[:3] == ["Why", "Candidates compared", "Checks"]
        assert page.locator("#reasons li").first.is_visible()
        # The comparison's charts: deltas, loss curves (4 lines), five cost bars, memory.
        for css, n in (
            ("#comparison svg.interval-chart", 1),
            ("#comparison svg.line-chart", 1),
            ("#comparison svg.line-chart polyline", 4),
            ("#comparison svg.bar-chart", 6),
        ):
            assert page.locator(css).count() == n, css
        header = page.locator("#comparison table.compare thead").inner_text()
        assert "lora" in header and "qlora" in header
        # Side-by-side samples, the fixed/broken cells coloured.
        assert page.locator("#samples table.samples").count() == 2
        assert page.locator("#samples td.fixed").count() > 0
        assert page.locator("#samples td.broken").count() > 0
    finally:
        page.close()


def test_single_candidate_report_renders_in_chromium(
    browser: Any, tmp_path: Path, go_summary: dict[str, Any]
) -> None:
    files = write_report_files(go_summary, tmp_path / "run")
    opened = _Opened(browser, files.report_html)
    try:
        _assert_renders(opened, tmp_path, "GO")
        assert opened.page.locator("#comparison").count() == 0
        assert opened.page.locator("#training svg.line-chart polyline").count() == 1
    finally:
        opened.page.close()


def test_variant_notes_are_shown_and_long_paths_wrap(
    browser: Any, tmp_path: Path, go_summary: dict[str, Any]
) -> None:
    summary = copy.deepcopy(go_summary)
    candidate = next(v for v in summary["variants"] if v["role"] == "candidate")
    long_path = "/srv/adapters/" + "x" * 300
    candidate["notes"] = [
        "scored with the adapter's tokenizer (402 tokens, +2 over the base's 400)",
        f"adapter {long_path} looks trained on chat-formatted data",
    ]
    files = write_report_files(summary, tmp_path / "run")
    opened = _Opened(browser, files.report_html)
    try:
        _assert_renders(opened, tmp_path, "GO")
        items = opened.page.locator("#provenance ul.variant-notes li")
        assert items.count() == 2
        assert items.first.is_visible()
        assert items.first.inner_text().startswith(f"{candidate['name']}: scored with")
    finally:
        opened.page.close()
