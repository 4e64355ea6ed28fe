"""Number and text formatting shared by every report renderer.

One module owns formatting so the Markdown, HTML, JUnit and job-summary outputs show
the same digits for the same number: a reviewer comparing a PR comment with the HTML
report must never see two different deltas for one check.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

MISSING = "n/a"
"""Shown for absent or non-finite numbers (None, NaN, inf): an explicit marker is
better than an empty cell, which reads like a rendering bug."""


def to_float(value: object) -> float | None:
    """Return ``value`` as a finite float, or None when it is missing or not finite.

    The gate can emit NaN (e.g. a delta over an empty capability); every renderer
    treats such values as "no number" rather than printing ``nan``.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    result = float(value)
    return result if math.isfinite(result) else None


def fmt_num(value: object, digits: int = 3) -> str:
    """Format a score with a fixed number of decimals so table columns line up."""
    number = to_float(value)
    return MISSING if number is None else f"{number:.{digits}f}"


def fmt_signed(value: object, digits: int = 3) -> str:
    """Format a delta with an explicit sign: "+0.043" vs "-0.043" is the whole point."""
    number = to_float(value)
    if number is None:
        return MISSING
    if number == 0:
        number = 0.0  # avoid "-0.000"
    return f"{number:+.{digits}f}"


def ci_bounds(ci: object) -> tuple[float | None, float | None]:
    """Extract (low, high) from a CI given as a 2-sequence; anything else is missing."""
    if isinstance(ci, Sequence) and not isinstance(ci, (str, bytes)) and len(ci) == 2:
        return to_float(ci[0]), to_float(ci[1])
    return None, None


def fmt_ci(ci: object, digits: int = 3) -> str:
    """Format a confidence interval of a delta as ``[+lo, +hi]``."""
    low, high = ci_bounds(ci)
    if low is None and high is None:
        return MISSING
    return f"[{fmt_signed(low, digits)}, {fmt_signed(high, digits)}]"


def fmt_int(value: object) -> str:
    """Format a count with thousands separators (trainable params are hard to read bare)."""
    number = to_float(value)
    return MISSING if number is None else f"{round(number):,}"


def fmt_pct(value: object, digits: int = 2) -> str:
    """Format a value that is already a percentage (e.g. ``trainable_pct``)."""
    number = to_float(value)
    return MISSING if number is None else f"{number:.{digits}f}%"


def fmt_mb(value: object) -> str:
    """Format a memory figure given in MiB: "850 MB", "12.4 GB"."""
    number = to_float(value)
    if number is None:
        return MISSING
    return f"{number / 1024:.1f} GB" if number >= 1024 else f"{number:.0f} MB"


def fmt_bytes(value: object) -> str:
    """Format a file size in bytes with a binary unit: "3.5 MB", "812 KB"."""
    number = to_float(value)
    if number is None:
        return MISSING
    for unit, scale in (("GB", 2**30), ("MB", 2**20), ("KB", 2**10)):
        if number >= scale:
            return f"{number / scale:.1f} {unit}"
    return f"{number:.0f} B"


def fmt_duration(seconds: object) -> str:
    """Format seconds for humans: "12.0s", "3m 30s", "1h 02m"."""
    number = to_float(seconds)
    if number is None:
        return MISSING
    if number < 60:
        return f"{number:.1f}s"
    total = round(number)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s"


def text(value: object) -> str:
    """Render an arbitrary summary value as display text ("n/a" for None)."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return fmt_num(value)
    return str(value)


def pass_mark(passed: bool) -> str:
    """The glyph + word used for a check result, identical across outputs."""
    return "✅ pass" if passed else "❌ FAIL"


def verdict_mark(verdict: str) -> str:
    """Verdict with its glyph; anything other than exactly "GO" is shown as a stop."""
    return f"✅ {verdict}" if verdict == "GO" else f"❌ {verdict}"
