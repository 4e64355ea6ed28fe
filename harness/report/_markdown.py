"""Markdown renderings of a gate summary: the full ``report.md`` and a short job summary.

The full report is what a person reads in a minute before approving a release, so the
verdict and the reasons come first and the detail (tables, provenance) follows. The job
summary is trimmed to fit a GitHub job summary or PR comment without scrolling.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness.report._compare import (
    build_comparison,
)
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
from harness.report._md_compare import _candidates_compact, _comparison
from harness.report._md_parts import _table, md_code, md_text
from harness.report._model import CheckView, ReportView, Summary, build_view
from harness.report._samples import SuiteSamplesView
from harness.report._scoring import lm_eval_rows, scoring_facts
from harness.report._summary import as_summary

UI_HINT = "Open the MLflow UI with `nox -s ui` (then browse to the run id above)."

# Job-summary budget: GitHub shows it inline, so keep it well under ~40 lines.
_JOB_MAX_REASONS = 6
_JOB_MAX_ROWS = 10


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
        c.result,
    ]


def _checks(view: ReportView) -> list[str]:
    if not view.checks:
        return ["## Checks", "", "_No checks were run._", ""]
    lines = ["## Checks", "", f"{view.tally}.", ""]
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


def _samples(view: ReportView) -> list[str]:
    if not view.samples:
        return []
    lines = [
        "## Changed answers",
        "",
        "Items whose prediction or score changed vs the baseline (score changes first). "
        "▲ fixed, ▼ broken.",
        "",
    ]
    return lines + _sample_tables(view.samples)


def _sample_tables(blocks: Sequence[SuiteSamplesView]) -> list[str]:
    """One collapsible table per suite of changed items (the first column is the reference)."""
    lines: list[str] = []
    for block in blocks:
        summary = (
            f"{md_text(block.suite)}: {len(block.items)} of {block.n_changed} changed items "
            f"({block.n_items} scored)"
        )
        lines += [f"<details><summary>{summary}</summary>", ""]
        if not block.items:
            lines += ["_No answer changed on this suite._", "", "</details>", ""]
            continue
        has_prompt = any(i.prompt for i in block.items)
        header = ["Item", *(["Prompt"] if has_prompt else []), "Target"]
        header += [md_text(v) for v in block.variants]
        rows = []
        for item in block.items:
            row = [md_code(item.item_id)]
            if has_prompt:
                row.append(md_text(_excerpt(item.prompt or "")))
            row.append(md_text(item.target))
            for pred in item.predictions:
                mark = {"fixed": " ▲", "broken": " ▼"}.get(pred.outcome, "")
                row.append(md_text(pred.prediction) + mark)
            rows.append(row)
        lines += [*_table(header, rows), "", "</details>", ""]
    return lines


def _champions(view: ReportView) -> list[str]:
    """Each release candidate against its champion: base -> champion -> candidate."""
    if not view.champions:
        return []
    lines = [
        "## Against the champion",
        "",
        "A release candidate must also not be worse than the adapter it would replace. Scores "
        f"base → champion → candidate; Δ vs the champion with the gate's paired {view.ci_label}"
        " and the bound its lower end had to clear.",
        "",
    ]
    base = view.baseline or "base"
    for ch in view.champions:
        if ch.first_release:
            lines += [f"- **{md_text(ch.candidate)}**: {md_text(ch.note)}", ""]
            continue
        mark = "" if ch.passed is None else (" ✅" if ch.passed else " ❌")
        lines += [f"### {md_text(ch.candidate)} vs {md_text(ch.title)}{mark}", ""]
        lines += [md_text(ch.note), ""]
        if ch.fingerprint:
            lines += [
                f"Champion variant {md_code(ch.variant)}, fingerprint {md_code(ch.fingerprint)}.",
                "",
            ]
        header = [
            "Suite / capability",
            "Metric",
            md_text(base),
            md_text(ch.variant),
            md_text(ch.candidate),
            "Δ vs base",
            "Δ vs champion",
            view.ci_label,
            "Bound",
            "Result",
        ]
        rows = [
            [
                md_text(r.label),
                md_text(r.metric),
                fmt_num(r.base),
                fmt_num(r.champion),
                fmt_num(r.candidate),
                fmt_signed(r.vs_base),
                fmt_signed(r.delta),
                fmt_ci((r.ci_low, r.ci_high)),
                fmt_signed(r.bound),
                MISSING if r.passed is None else pass_mark(r.passed),
            ]
            for r in ch.rows
        ]
        lines += [*_table(header, rows, "llrrrrrrrl"), ""]
        if ch.samples:
            lines += [
                f"Answers that differ between the champion and {md_text(ch.candidate)} "
                "(▲ fixed, ▼ broken, vs the champion):",
                "",
                *_sample_tables(ch.samples),
            ]
    return lines


def _champions_compact(view: ReportView) -> list[str]:
    """The job summary's line per release candidate: its champion and the suites' Δ."""
    lines = []
    for ch in view.champions:
        if ch.first_release:
            lines.append(f"- {md_text(ch.candidate)}: {md_text(ch.note)}")
            continue
        parts = [
            f"{md_text(r.label)} {fmt_signed(r.delta)} {fmt_ci((r.ci_low, r.ci_high))}"
            + ("" if r.passed is None else (" ✅" if r.passed else " ❌"))
            for r in ch.rows
            if r.capability is None
        ]
        lines.append(f"- {md_text(ch.candidate)} vs {md_text(ch.title)}: " + "; ".join(parts))
    return ["**Against the champion**", "", *lines, ""] if lines else []


def _excerpt(text: str, limit: int = 120) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


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
        "Tokens/s",
        "Peak memory",
        "Adapter size",
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
            fmt_num(t.tokens_per_second, 0),
            fmt_mb(t.peak_memory_mb),
            fmt_bytes(t.adapter_size_bytes),
        ]
        for t in view.training
    ]
    return ["## Training", "", *_table(header, rows, "llrrrrrrrr"), ""]


def _provenance(view: ReportView) -> list[str]:
    lines = ["## Provenance", ""]
    if view.variants:
        header = ["Variant", "Role", "Fingerprint", "Adapter", "Quantization", "Execution", "dtype"]
        rows = [
            [
                md_text(v.name),
                md_text(v.role_label),
                md_code(v.fingerprint) if v.fingerprint else MISSING,
                md_text(v.adapter),
                md_text(v.quantization),
                md_text(v.execution) if v.execution else MISSING,
                md_text(v.dtype),
            ]
            for v in view.variants
        ]
        lines += [*_table(header, rows), ""]
        notes = [f"- {md_text(v.name)}: {md_text(n)}" for v in view.variants for n in v.notes]
        if notes:
            lines += ["Notes on how variants were loaded and scored:", "", *notes, ""]
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


def _scoring(summary: Summary) -> list[str]:
    """Scoring settings, and lm-eval's own aggregate beside the harness's (registry suites)."""
    s = as_summary(summary)
    facts = scoring_facts(s)
    if not facts:
        return []
    lines = ["## Scoring settings", "", *(f"- **{k}:** {md_text(v)}" for k, v in facts), ""]
    rows = lm_eval_rows(s)
    if rows:
        lines += ["lm-eval's own aggregate (its weighting) beside the harness's mean:", ""]
        lines += _table(
            ["Suite", "Variant", "Harness", "lm-eval"],
            [[md_text(r.suite), md_text(r.variant), r.harness, md_text(r.lm_eval)] for r in rows],
            "llrl",
        )
        lines.append("")
    return lines


def render_markdown(summary: Summary) -> str:
    """Render the full human report (``report.md``): verdict and reasons first."""
    view = build_view(summary)
    cmp = build_comparison(view)
    lines = [
        *_heading(view),
        *_reasons(view),
        *_comparison(view, cmp),
        *_champions(view),
        *_checks(view),
        *_suites(view),
        *_scoring(summary),
        *_capabilities(view),
        *_training(view),
        *_samples(view),
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
    lines += _candidates_compact(build_comparison(view))
    lines += _champions_compact(view)
    ordered = list(view.failed_checks) + [c for c in view.checks if c.passed]
    if ordered:
        lines += [f"**Checks:** {view.tally}", ""]
        rows = [
            [
                md_code(c.name),
                fmt_signed(c.delta),
                fmt_ci((c.ci_low, c.ci_high)),
                c.result,
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
