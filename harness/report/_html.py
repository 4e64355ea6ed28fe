"""Self-contained HTML report (``report.html``).

The file is opened from CI artifacts, e-mail attachments or air-gapped machines, so
it embeds its CSS and draws charts as inline SVG in the template: no scripts, no fonts,
no CDN, nothing that breaks offline or leaks that someone opened the report.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from harness.report._compare import ComparisonView, build_comparison, gap_reference
from harness.report._format import (
    MISSING,
    fmt_bytes,
    fmt_ci,
    fmt_duration,
    fmt_int,
    fmt_mb,
    fmt_num,
    fmt_pct,
    fmt_signed,
    pass_mark,
    verdict_mark,
)
from harness.report._model import ReportView, Summary, build_view
from harness.report._scoring import lm_eval_rows, scoring_facts
from harness.report._summary import as_summary
from harness.report._svg import (
    BASELINE_COLOR,
    Bar,
    IntervalMark,
    IntervalRow,
    Series,
    bar_chart,
    interval_chart,
    line_chart,
    mark,
)

TEMPLATE = "report.html.j2"


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    """Build the Jinja environment once per process.

    ``select_autoescape``'s defaults only match names *ending* in ``.html``, so the
    ``.html.j2`` suffix is listed explicitly: without it autoescaping would be silently
    off and a suite name like ``<script>`` would be injected verbatim.
    """
    env = Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=fmt_num,
        signed=fmt_signed,
        ci=fmt_ci,
        duration=fmt_duration,
        count=fmt_int,
        pct=fmt_pct,
        mb=fmt_mb,
        size=fmt_bytes,
        gap_ref=gap_reference,
        pass_mark=_html_pass_mark,
        verdict_mark=_html_verdict_mark,
        mark=mark,
    )
    env.globals["MISSING"] = MISSING
    return env


def _html_pass_mark(passed: bool) -> Markup:
    """``pass_mark`` with the glyph drawn as SVG (no emoji font needed to read it)."""
    return mark(passed) + Markup(" ") + pass_mark(passed).split(" ", 1)[1]


def _html_verdict_mark(verdict: str) -> Markup:
    """``verdict_mark`` with the glyph drawn as SVG; the verdict word stays plain text."""
    return mark(verdict == "GO") + Markup(" ") + verdict_mark(verdict).split(" ", 1)[1]


@dataclass(frozen=True)
class Figures:
    """The report's charts as ready SVG markup (None where the data is absent)."""

    loss: Markup | None
    deltas: Markup | None
    costs: tuple[Markup, ...]
    memory_estimate: Markup | None


def _loss_figure(view: ReportView, cmp: ComparisonView) -> Markup | None:
    colors = {c.name: c.color for c in cmp.candidates}
    series = []
    for t in view.training:
        color = colors.get(t.variant, BASELINE_COLOR)
        if t.loss_curve:
            series.append(Series(f"{t.variant} train", t.loss_curve, color))
        if t.val_loss_curve:
            series.append(Series(f"{t.variant} validation", t.val_loss_curve, color, dashed=True))
    if not series:
        return None
    return line_chart(
        series, title="Training loss per candidate", x_label="optimizer step", y_label="loss"
    )


def _delta_figure(view: ReportView, cmp: ComparisonView) -> Markup | None:
    rows = []
    for row in cmp.rows:
        marks = [
            IntervalMark(
                cell.variant, c.color, cell.delta, cell.delta_low, cell.delta_high, cell.passed
            )
            for cell, c in zip(
                (x for x in row.cells if not x.is_baseline), cmp.candidates, strict=True
            )
        ]
        if any(m.value is not None for m in marks):
            rows.append(IntervalRow(row.label, marks, row.threshold))
    for c in cmp.candidates:
        for gap in c.quantization_gaps:
            ref = gap_reference(gap) or "reference"
            mark = IntervalMark(c.name, c.color, gap.delta, gap.ci_low, gap.ci_high, gap.passed)
            rows.append(IntervalRow(f"{gap.suite}: {c.name} − {ref}", [mark], gap.required_bound))
    if not rows:
        return None
    base = view.baseline or "baseline"
    return interval_chart(
        rows,
        title=f"Change vs {base} with {view.ci_label} (dashed: gate threshold)",
        x_label=f"Δ score vs {base} (quantization rows: vs the reference)",
        legend=[(c.name, c.color) for c in cmp.candidates],
    )


def _cost_figures(cmp: ComparisonView) -> tuple[Markup, ...]:
    trained = [c for c in cmp.candidates if c.training is not None]
    if not trained:
        return ()
    specs = (
        ("Training time", lambda t: t.train_seconds, fmt_duration),
        ("Tokens / s", lambda t: t.tokens_per_second, lambda v: fmt_num(v, 0)),
        ("Peak memory", lambda t: t.peak_memory_mb, fmt_mb),
        ("Adapter size", lambda t: t.adapter_size_bytes, fmt_bytes),
        ("Trainable params", lambda t: t.trainable_pct, fmt_pct),
    )
    figures = []
    for title, get, fmt in specs:
        values = [(c, get(c.training)) for c in trained if c.training is not None]
        if all(v is None for _, v in values):
            continue
        bars = [Bar(c.name, v, c.color, fmt(v)) for c, v in values]
        figures.append(bar_chart(bars, title=title))
    return tuple(figures)


def _memory_figure(cmp: ComparisonView) -> Markup | None:
    estimate = next(
        (
            c.training.memory_estimate_mb
            for c in cmp.candidates
            if c.training and c.training.memory_estimate_mb
        ),
        (),
    )
    if not estimate:
        return None
    bars = [Bar(f"{k} (est.)", v, BASELINE_COLOR, fmt_mb(v)) for k, v in estimate]
    bars += [
        Bar(
            f"{c.name} (peak)",
            c.training.peak_memory_mb,
            c.color,
            fmt_mb(c.training.peak_memory_mb),
        )
        for c in cmp.candidates
        if c.training is not None and c.training.peak_memory_mb is not None
    ]
    return bar_chart(bars, title="Training memory: estimated vs measured", width=420)


def render_html(summary: Summary) -> str:
    """Render the summary as one standalone HTML page (same content as report.md)."""
    view = build_view(summary)
    cmp = build_comparison(view)
    figures = Figures(
        loss=_loss_figure(view, cmp),
        deltas=_delta_figure(view, cmp),
        costs=_cost_figures(cmp),
        memory_estimate=_memory_figure(cmp),
    )
    raw = as_summary(summary)
    template = _environment().get_template(TEMPLATE)
    return template.render(
        view=view,
        cmp=cmp,
        figures=figures,
        scoring=scoring_facts(raw),
        lm_eval_rows=lm_eval_rows(raw),
    )
