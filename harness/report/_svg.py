"""Inline SVG charts for the HTML report: line plots, interval (forest) plots and bars.

The report must open offline and from a CI artifact, so charts are plain SVG markup with
no script, font or stylesheet to fetch. Geometry is computed here in Python (not in the
Jinja template) so it is typed, testable and shared by every chart; all text that comes
from the summary is escaped with ``markupsafe`` before it is placed in the markup.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

PALETTE = ("#2563eb", "#d97706", "#7c3aed", "#059669", "#db2777", "#0891b2", "#65a30d")
"""Candidate colours, in variant order; colour-blind-safe enough for 2-4 lines."""
BASELINE_COLOR = "#6b7280"
MARKERS_UP_TO = 20
"""Line-chart series with at most this many points also get a dot per point."""
PASS_COLOR, FAIL_COLOR, THRESHOLD_COLOR = "#15803d", "#b91c1c", "#b45309"


def color_for(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """Round tick positions covering [low, high] (1, 2, 2.5 or 5 times a power of ten).

    Axis labels like 0.137, 0.274 are unreadable at a glance; 0.1, 0.2 are not.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0]
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    ticks = []
    value = start
    while value <= high + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    if ticks[-1] < high:
        ticks.append(round(value, 12))
    return ticks


def _tick_label(value: float, ticks: Sequence[float]) -> str:
    step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else abs(value) or 1.0
    decimals = 0
    while decimals < 4 and abs(round(step, decimals) - step) > step * 1e-6:
        decimals += 1
    if abs(value) >= 10000:
        return f"{value:,.0f}"
    text = f"{value:.{decimals}f}"
    return "0" if float(text) == 0 else text


def _f(value: float) -> str:
    return f"{value:.1f}"


def _svg_open(width: int, height: int, title: str, css_class: str) -> list[str]:
    label = escape(title)
    return [
        f'<svg class="plot {css_class}" role="img" aria-label="{label}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{label}</title>",
    ]


@dataclass(frozen=True)
class Series:
    """One line of a line chart."""

    name: str
    points: Sequence[tuple[float, float]]
    color: str
    dashed: bool = False


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 680,
    height: int = 300,
) -> Markup:
    """A line per series with labelled, ticked axes and a legend above the plot."""
    drawn = [s for s in series if len(s.points) >= 1]
    left, right, top, bottom = 62, 16, 20 + 18 * math.ceil(len(drawn) / 3), 46
    pw, ph = width - left - right, height - top - bottom
    xs = [p[0] for s in drawn for p in s.points] or [0.0, 1.0]
    ys = [p[1] for s in drawn for p in s.points] or [0.0, 1.0]
    xt = nice_ticks(min(xs), max(xs))
    yt = nice_ticks(min(ys), max(ys))
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]

    def sx(x: float) -> float:
        return left + (x - x0) / ((x1 - x0) or 1) * pw

    def sy(y: float) -> float:
        return top + (y1 - y) / ((y1 - y0) or 1) * ph

    out = _svg_open(width, height, title, "line-chart")
    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="plot-bg"/>')
    for y in yt:
        out.append(
            f'<line x1="{left}" x2="{left + pw}" y1="{_f(sy(y))}" y2="{_f(sy(y))}" class="grid"/>'
            f'<text x="{left - 6}" y="{_f(sy(y) + 4)}" text-anchor="end" class="tick">'
            f"{_tick_label(y, yt)}</text>"
        )
    for x in xt:
        out.append(
            f'<line x1="{_f(sx(x))}" x2="{_f(sx(x))}" y1="{top + ph}" y2="{top + ph + 4}" '
            f'class="axis"/><text x="{_f(sx(x))}" y="{top + ph + 17}" text-anchor="middle" '
            f'class="tick">{_tick_label(x, xt)}</text>'
        )
    out.append(
        f'<line x1="{left}" x2="{left + pw}" y1="{top + ph}" y2="{top + ph}" class="axis"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{top + ph}" class="axis"/>'
        f'<text x="{left + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" class="axis-label">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(16 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
        f'class="axis-label">{escape(y_label)}</text>'
    )
    for s in drawn:
        dash = ' stroke-dasharray="6,4"' if s.dashed else ""
        pts = " ".join(f"{_f(sx(x))},{_f(sy(y))}" for x, y in s.points)
        out.append(
            f'<polyline class="series" fill="none" stroke="{s.color}" stroke-width="2"{dash} '
            f'points="{pts}"><title>{escape(s.name)}</title></polyline>'
        )
        if len(s.points) <= MARKERS_UP_TO:
            # Few points (a short run, a validation loss logged per epoch): mark each, so
            # a single point or a flat segment is still visible.
            out += [
                f'<circle cx="{_f(sx(x))}" cy="{_f(sy(y))}" r="3" fill="{s.color}"/>'
                for x, y in s.points
            ]
    for i, s in enumerate(drawn):
        lx, ly = left + (i % 3) * (pw / 3), 14 + 18 * (i // 3)
        dash = ' stroke-dasharray="6,4"' if s.dashed else ""
        out.append(
            f'<line x1="{_f(lx)}" x2="{_f(lx + 22)}" y1="{ly - 4}" y2="{ly - 4}" '
            f'stroke="{s.color}" stroke-width="2"{dash}/>'
            f'<text x="{_f(lx + 28)}" y="{ly}" class="legend">{escape(s.name)}</text>'
        )
    out.append("</svg>")
    return Markup("\n".join(out))


@dataclass(frozen=True)
class IntervalMark:
    """One candidate's estimate and interval on one row of an interval plot."""

    name: str
    color: str
    value: float | None
    low: float | None
    high: float | None
    passed: bool | None = None


@dataclass(frozen=True)
class IntervalRow:
    label: str
    marks: Sequence[IntervalMark]
    threshold: float | None = None


def interval_chart(
    rows: Sequence[IntervalRow],
    *,
    title: str,
    x_label: str,
    legend: Sequence[tuple[str, str]],
    width: int = 680,
) -> Markup:
    """A forest plot: one band per row, a dot + CI bar per candidate, 0 and thresholds.

    Reading it takes a second: bars right of the dashed threshold pass, bars crossing it
    do not, and the distance between two candidates' dots is their difference.
    """
    label_w, right, top, bottom = 190, 20, 26, 44
    per_mark = 12
    band = [max(len(r.marks), 1) * per_mark + 10 for r in rows]
    height = top + sum(band) + bottom
    pw = width - label_w - right
    points = [0.0]
    for r in rows:
        points += [t for t in (r.threshold,) if t is not None]
        for m in r.marks:
            points += [p for p in (m.value, m.low, m.high) if p is not None]
    ticks = nice_ticks(min(points), max(points))
    x0, x1 = ticks[0], ticks[-1]

    def sx(x: float) -> float:
        return label_w + (x - x0) / ((x1 - x0) or 1) * pw

    out = _svg_open(width, height, title, "interval-chart")
    plot_bottom = top + sum(band)
    out.append(f'<rect x="{label_w}" y="{top}" width="{pw}" height="{sum(band)}" class="plot-bg"/>')
    for t in ticks:
        out.append(
            f'<line x1="{_f(sx(t))}" x2="{_f(sx(t))}" y1="{top}" y2="{plot_bottom}" '
            f'class="{"zero" if t == 0 else "grid"}"/>'
            f'<text x="{_f(sx(t))}" y="{plot_bottom + 16}" text-anchor="middle" class="tick">'
            f"{_tick_label(t, ticks)}</text>"
        )
    out.append(
        f'<text x="{label_w + pw / 2:.1f}" y="{height - 8}" text-anchor="middle" '
        f'class="axis-label">{escape(x_label)}</text>'
    )
    y = float(top)
    for row, h in zip(rows, band, strict=True):
        out.append(
            f'<text x="{label_w - 8}" y="{_f(y + h / 2 + 4)}" text-anchor="end" class="lbl">'
            f"{escape(row.label)}</text>"
            f'<line x1="{label_w}" x2="{label_w + pw}" y1="{_f(y + h)}" y2="{_f(y + h)}" '
            f'class="band"/>'
        )
        if row.threshold is not None:
            out.append(
                f'<line x1="{_f(sx(row.threshold))}" x2="{_f(sx(row.threshold))}" '
                f'y1="{_f(y + 2)}" y2="{_f(y + h - 2)}" stroke="{THRESHOLD_COLOR}" '
                f'stroke-width="1.5" stroke-dasharray="4,3"/>'
            )
        for i, m in enumerate(row.marks):
            cy = y + 5 + per_mark * i + per_mark / 2
            tip = f"{m.name}: {m.value:+.3f}" if m.value is not None else f"{m.name}: n/a"
            if m.low is not None and m.high is not None:
                tip += f" [{m.low:+.3f}, {m.high:+.3f}]"
                out.append(
                    f'<line x1="{_f(sx(m.low))}" x2="{_f(sx(m.high))}" y1="{_f(cy)}" '
                    f'y2="{_f(cy)}" stroke="{m.color}" stroke-width="3" stroke-linecap="round">'
                    f"<title>{escape(tip)}</title></line>"
                )
            if m.value is not None:
                edge = {True: PASS_COLOR, False: FAIL_COLOR, None: "#111"}[m.passed]
                out.append(
                    f'<circle cx="{_f(sx(m.value))}" cy="{_f(cy)}" r="4.5" fill="{m.color}" '
                    f'stroke="{edge}" stroke-width="1.5"><title>{escape(tip)}</title></circle>'
                )
        y += h
    for i, (name, color) in enumerate(legend):
        lx = label_w + i * 130
        out.append(
            f'<circle cx="{lx + 5}" cy="12" r="4.5" fill="{color}"/>'
            f'<text x="{lx + 14}" y="16" class="legend">{escape(name)}</text>'
        )
    out.append("</svg>")
    return Markup("\n".join(out))


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    color: str
    text: str


def bar_chart(bars: Sequence[Bar], *, title: str, width: int = 320) -> Markup:
    """Horizontal bars with the formatted value beside each: small multiples for costs."""
    label_w, value_w, row_h, top = 96, 78, 22, 24
    pw = width - label_w - value_w
    height = top + row_h * max(len(bars), 1) + 6
    top_value = max((b.value for b in bars if b.value is not None), default=0.0) or 1.0
    out = _svg_open(width, height, title, "bar-chart")
    out.append(f'<text x="0" y="14" class="chart-title">{escape(title)}</text>')
    out.append(
        f'<line x1="{label_w}" x2="{label_w}" y1="{top - 2}" y2="{height - 4}" class="axis"/>'
    )
    for i, b in enumerate(bars):
        y = top + i * row_h
        w = max(b.value or 0.0, 0.0) / top_value * pw
        out.append(
            f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end" class="lbl">'
            f"{escape(b.label)}</text>"
            f'<rect x="{label_w}" y="{y + 3}" width="{_f(max(w, 1.0))}" height="{row_h - 8}" '
            f'fill="{b.color}"><title>{escape(b.label)}: {escape(b.text)}</title></rect>'
            f'<text x="{_f(label_w + max(w, 1.0) + 5)}" y="{y + 14}" class="val">'
            f"{escape(b.text)}</text>"
        )
    out.append("</svg>")
    return Markup("\n".join(out))


PASS_COLOR = "#15803d"
FAIL_COLOR = "#b91c1c"

_MARK_PATHS = {
    True: '<path d="M4.5 8.3 7 10.8 11.6 5.6" stroke="#fff" stroke-width="2" fill="none" '
    'stroke-linecap="round" stroke-linejoin="round"/>',
    False: '<path d="M5.3 5.3 10.7 10.7M10.7 5.3 5.3 10.7" stroke="#fff" stroke-width="2" '
    'fill="none" stroke-linecap="round"/>',
}


def mark(passed: bool) -> Markup:
    """A pass/fail mark drawn as SVG: a tick or cross in a green or red disc.

    Emoji (✅/❌) need a colour emoji font, which a CI box or headless browser often lacks,
    and then they render as empty boxes; drawn marks look the same everywhere. Sized in
    ``em`` so the mark follows the text it sits in (table cell or banner heading), and
    labelled so screen readers and copied text still say pass or fail.
    """
    word = "pass" if passed else "fail"
    return Markup(
        f'<svg class="mark mark-{word}" role="img" aria-label="{word}" width="1em" height="1em" '
        'viewBox="0 0 16 16" xmlns="http://www.w3.org/2000/svg">'
        f'<circle cx="8" cy="8" r="8" fill="{PASS_COLOR if passed else FAIL_COLOR}"/>'
        f"{_MARK_PATHS[passed]}</svg>"
    )
