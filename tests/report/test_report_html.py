from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from harness.report import render_html

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}
SVG_SELF_CLOSING = {"line", "rect", "circle", "polyline", "path"}


class _Checker(HTMLParser):
    """Tracks tag balance and collects src/href attribute values."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.urls: list[str] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [v or "" for k, v in attrs if k in {"src", "href", "xlink:href", "action"}]
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.urls += [v or "" for k, v in attrs if k in {"src", "href", "xlink:href"}]

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}>, open: {self.stack[-3:]}")
            return
        self.stack.pop()


def _parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker


def test_html_is_well_formed(any_summary: dict[str, Any]) -> None:
    checker = _parse(render_html(any_summary))
    assert checker.errors == []
    assert checker.stack == []
    assert {"html", "svg", "table", "style"} <= checker.tags


def test_html_has_no_external_resources(any_summary: dict[str, Any]) -> None:
    html = render_html(any_summary)
    checker = _parse(html)
    assert all(not u.startswith(("http:", "https:", "//")) for u in checker.urls)
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", html)
    assert "<script" not in html and "<link" not in html and "@import" not in html


def test_html_contains_verdict_chart_and_numbers(nogo_summary: dict[str, Any]) -> None:
    html = render_html(nogo_summary)
    assert 'class="banner nogo"' in html and "NO-GO" in html
    assert html.count("<svg") >= len(nogo_summary["suites"]) + len(nogo_summary["checks"])
    assert "[+0.370, +0.490]" in html and "+0.430" in html
    for check in nogo_summary["checks"]:
        assert check["name"] in html
    assert "nox -s ui" in html and "abc123" in html
    assert not re.search(r"\bnan\b|\binf\b", html, re.IGNORECASE)


def test_go_banner(go_summary: dict[str, Any]) -> None:
    html = render_html(go_summary)
    assert 'class="banner go"' in html
    # The mark is drawn (SVG), not an emoji glyph that needs a colour-emoji font.
    assert re.search(r'<h1><svg class="mark mark-pass"[^>]*aria-label="pass".*?</svg> GO', html)
    assert not re.search("[\u2600-\u27bf\U0001f000-\U0001faff]", html)


def test_html_escapes_suite_names(evil_summary: dict[str, Any]) -> None:
    html = render_html(evil_summary)
    assert "<script" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert _parse(html).errors == []
