"""Markdown building blocks shared by the report and its candidate comparison: escaped
text, inline code and tables (user text never becomes markup)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from harness.report._format import MISSING

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")


def md_text(value: object) -> str:
    """Escape text for a Markdown table cell or paragraph.

    Pipes would split table cells, newlines would end the row, and a tag-like ``<``
    would let a suite or reason string inject raw HTML into a rendered PR comment. A
    plain comparison ("bound -0.18 < -0.05") is left readable for people viewing raw.
    """
    s = MISSING if value is None else str(value)
    s = s.replace("\\", "\\\\").replace("|", "\\|")
    s = _TAG_START.sub("&lt;", s)
    return " ".join(s.splitlines())


def md_code(value: object) -> str:
    """Wrap an identifier in a code span that survives backticks and table pipes."""
    s = " ".join(str(value).splitlines()).replace("|", "\\|")
    longest = run = 0
    for ch in s:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    fence = "`" * (longest + 1)
    pad = " " if s.startswith("`") or s.endswith("`") else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def _table(header: Sequence[str], rows: Iterable[Sequence[str]], align: str = "") -> list[str]:
    """A GFM table; ``align`` gives one char per column: "l" or "r" (default "l")."""
    spec = [("---:" if (align[i : i + 1] == "r") else "---") for i in range(len(header))]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(spec) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines
