"""Markdown renderings of a gate summary: the full ``report.md`` and a short job summary.

The full report is what a person reads in a minute before approving a release, so the
verdict and the reasons come first and the detail (tables, provenance) follows. The job
summary is trimmed to fit a GitHub job summary or PR comment without scrolling.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from harness.report._format import (
    MISSING,
    fmt_ci,
    fmt_duration,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_signed,
    pass_mark,
    verdict_mark,
)
from harness.report._model import CheckView, ReportView, Summary, build_view

UI_HINT = "Open the MLflow UI with `nox -s ui` (then browse to the run id above)."

_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")

# Job-summary budget: GitHub shows it inline, so keep it well under ~40 lines.
_JOB_MAX_REASONS = 6
_JOB_MAX_ROWS = 15


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


def _heading(view: ReportView) -> list[str]:
    title = "release gate passed" if view.is_go else "release gate failed"
    return [
        f"# {verdict_mark(view.verdict)} — {title}",
        "",
        f"**Experiment:** {md_text(view.experiment)} · **Run:** {md_code(view.run_id)}"
        f" · **Created:** {md_text(view.created_at)}",
        "",
    ]


def _reasons(view: ReportView, limit: int | None = None) -> list[str]:
    reasons = list(view.reasons)
    if not reasons:
        reasons = ["all checks passed"] if view.is_go and not view.failed_checks else []
    shown = reasons if limit is None else reasons[:limit]
    lines = ["## Why", ""] if shown else []
    lines += [f"- {md_text(r)}" for r in shown]
    if limit is not None and len(reasons) > limit:
        lines.append(f"- … and {len(reasons) - limit} more (see report.md)")
    return [*lines, ""] if lines else []


def _check_row(c: CheckView) -> list[str]:
    return [
        md_code(c.name),
        fmt_num(c.baseline),
        fmt_num(c.candidate),
        fmt_signed(c.delta),
        fmt_ci((c.ci_low, c.ci_high)),
        fmt_num(c.margin),
        fmt_int(c.n),
        fmt_num(c.mde),
        pass_mark(c.passed),
    ]


def _checks(view: ReportView) -> list[str]:
    if not view.checks:
        return ["## Checks", "", "_No checks were run._", ""]
    n_fail = len(view.failed_checks)
    lines = ["## Checks", "", f"{len(view.checks) - n_fail} passed, {n_fail} failed.", ""]
    header = [
        "Check",
        "Baseline",
        "Candidate",
        "Δ",
        f"{view.ci_label} of Δ",
        "Margin",
        "n",
        "MDE",
        "Result",
    ]
    lines += _table(header, (_check_row(c) for c in view.checks), "lrrrrrrrl")
    lines.append("")
    detail = [c for c in view.checks if c.reason]
    if detail:
        lines += ["<details><summary>Check reasons</summary>", ""]
        lines += [f"- {md_code(c.name)}: {md_text(c.reason)}" for c in detail]
        lines += ["", "</details>", ""]
    return lines


def _suites(view: ReportView) -> list[str]:
    if not view.suites:
        return []
    variants = [v.name for v in view.variants]
    for s in view.suites:
        variants += [c.variant for c in s.cells if c.variant not in variants]
    header = ["Suite", "Kind", "Metric", "Items", *(md_text(v) for v in variants)]
    rows = []
    for s in view.suites:
        by_variant = {c.variant: c for c in s.cells}
        cells = []
        for v in variants:
            cell = by_variant.get(v)
            if cell is None:
                cells.append(MISSING)
            elif cell.delta is None:
                cells.append(fmt_num(cell.score))
            else:
                cells.append(f"{fmt_num(cell.score)} ({fmt_signed(cell.delta)})")
        rows.append(
            [md_text(s.name), md_text(s.kind), md_text(s.metric), fmt_int(s.n_items), *cells]
        )
    lines = ["## Suite scores", ""]
    if view.baseline:
        lines += [f"Deltas in parentheses are vs the baseline {md_code(view.baseline)}.", ""]
    lines += _table(header, rows, "llll" + "r" * len(variants))
    return [*lines, ""]


_FLAG_MD = {"fail": "❌ failed check", "drop": "▼ drop", "": ""}


def _capabilities(view: ReportView) -> list[str]:
    lines: list[str] = []
    for s in view.general_suites:
        variants: list[str] = []
        for cap in s.capabilities:
            variants += [c.variant for c in cap.cells if c.variant not in variants]
        candidates = [v for v in variants if v != view.baseline]
        header = ["Capability"]
        if view.baseline in variants:
            header.append(f"{md_text(view.baseline)} (baseline)")
        for v in candidates:
            header += [md_text(v), f"Δ {md_text(v)}", "Flag"]
        rows = []
        for cap in s.capabilities:
            by_variant = {c.variant: c for c in cap.cells}
            row = [md_text(cap.name)]
            if view.baseline in variants:
                base = by_variant.get(view.baseline) if view.baseline else None
                row.append(fmt_num(base.score) if base else MISSING)
            for v in candidates:
                cell = by_variant.get(v)
                if cell is None:
                    row += [MISSING, MISSING, ""]
                else:
                    row += [fmt_num(cell.score), fmt_signed(cell.delta), _FLAG_MD[cap.flag(cell)]]
            rows.append(row)
        lines += [f"### Capabilities: {md_text(s.name)}", ""]
        align = "l" + "r" * (len(header) - 1)
        lines += _table(header, rows, align)
        lines.append("")
    if lines:
        lines = ["## Per-capability scores (forgetting)", "", *lines]
    return lines


def _training(view: ReportView) -> list[str]:
    if not view.training:
        return []
    header = [
        "Variant",
        "Recipe",
        "Train time",
        "Steps",
        "Final loss",
        "Trainable params",
        "Trainable %",
    ]
    rows = [
        [
            md_text(t.variant),
            md_code(t.recipe) if t.recipe else MISSING,
            fmt_duration(t.train_seconds),
            fmt_int(t.steps),
            fmt_num(t.final_loss, 4),
            fmt_int(t.trainable_params),
            fmt_pct(t.trainable_pct),
        ]
        for t in view.training
    ]
    return ["## Training", "", *_table(header, rows, "llrrrrr"), ""]


def _provenance(view: ReportView) -> list[str]:
    lines = ["## Provenance", ""]
    if view.variants:
        header = ["Variant", "Role", "Fingerprint", "Adapter", "Quantization", "dtype"]
        rows = [
            [
                md_text(v.name),
                md_text(v.role),
                md_code(v.fingerprint) if v.fingerprint else MISSING,
                md_text(v.adapter),
                md_text(v.quantization),
                md_text(v.dtype),
            ]
            for v in view.variants
        ]
        lines += [*_table(header, rows), ""]
    if view.suites:
        rows = [
            [
                md_text(s.name),
                md_text(s.version),
                md_code(s.fingerprint) if s.fingerprint else MISSING,
            ]
            for s in view.suites
        ]
        lines += [*_table(["Suite", "Version", "Fingerprint"], rows), ""]
    if view.provenance:
        lines += [f"- **{md_text(k)}:** {md_text(v)}" for k, v in view.provenance]
        lines.append("")
    if view.durations:
        parts = [f"{md_text(k.removesuffix('_s'))} {fmt_duration(v)}" for k, v in view.durations]
        lines += ["**Durations:** " + " · ".join(parts), ""]
    return lines


def _mlflow(view: ReportView) -> list[str]:
    run = md_code(view.mlflow_run_id) if view.mlflow_run_id else "_not logged_"
    uri = md_code(view.mlflow_tracking_uri) if view.mlflow_tracking_uri else MISSING
    return [
        "## MLflow",
        "",
        f"- **Run id:** {run}",
        f"- **Tracking URI:** {uri}",
        f"- {UI_HINT}",
        "",
    ]


def render_markdown(summary: Summary) -> str:
    """Render the full human report (``report.md``): verdict and reasons first."""
    view = build_view(summary)
    lines = [
        *_heading(view),
        *_reasons(view),
        *_checks(view),
        *_suites(view),
        *_capabilities(view),
        *_training(view),
        *_provenance(view),
        *_mlflow(view),
    ]
    return "\n".join(lines).rstrip() + "\n"


def render_job_summary(summary: Summary) -> str:
    """Render a compact Markdown for ``$GITHUB_STEP_SUMMARY`` or a PR comment.

    Failed checks are listed before passed ones and the table is capped, so the part a
    reviewer needs is always visible even for large gates; report.md has the rest.
    """
    view = build_view(summary)
    lines = [*_heading(view), *_reasons(view, limit=_JOB_MAX_REASONS)]
    ordered = list(view.failed_checks) + [c for c in view.checks if c.passed]
    if ordered:
        n_fail = len(view.failed_checks)
        lines += [f"**Checks:** {len(ordered) - n_fail} passed, {n_fail} failed", ""]
        rows = [
            [
                md_code(c.name),
                fmt_signed(c.delta),
                fmt_ci((c.ci_low, c.ci_high)),
                pass_mark(c.passed),
            ]
            for c in ordered[:_JOB_MAX_ROWS]
        ]
        lines += _table(["Check", "Δ", view.ci_label, "Result"], rows, "lrrl")
        if len(ordered) > _JOB_MAX_ROWS:
            lines.append(f"\n_… {len(ordered) - _JOB_MAX_ROWS} more checks in report.md_")
        lines.append("")
    footer = "Full report: `report.html` / `report.md`"
    if view.mlflow_run_id:
        footer += f" · MLflow run {md_code(view.mlflow_run_id)} (`nox -s ui`)"
    lines.append(footer)
    return "\n".join(lines).rstrip() + "\n"
