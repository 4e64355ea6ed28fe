"""The Markdown report's candidate comparison (LoRA vs QLoRA and other arms side by side):
scores with intervals, forgetting, the quantisation gap and the training facts."""

from __future__ import annotations

from harness.report._compare import (
    CandidateSummary,
    CompareCell,
    ComparisonView,
    gap_reference,
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
)
from harness.report._md_parts import _table, md_text
from harness.report._model import ReportView


def _candidate_verdict(c: CandidateSummary) -> str:
    if not c.checks:
        return "_no checks_"
    if c.passed:
        return f"✅ {len(c.checks)}/{len(c.checks)} pass"
    return f"❌ {c.n_failed}/{len(c.checks)} fail"


def _forgetting(c: CandidateSummary) -> str:
    if not c.forgetting_checks:
        return MISSING
    if c.forgotten:
        return "❌ " + md_text(", ".join(c.forgotten))
    return "✅ none"


def _gaps(c: CandidateSummary) -> str:
    parts = []
    for g in c.quantization_gaps:
        ref = gap_reference(g)
        where = md_text(g.suite) + (f" vs {md_text(ref)}" if ref else "")
        mark = "✅" if g.passed else "❌"
        parts.append(f"{where}: {fmt_signed(g.delta)} {fmt_ci((g.ci_low, g.ci_high))} {mark}")
    return "; ".join(parts) or MISSING


def _compare_cell(cell: CompareCell) -> str:
    text = fmt_num(cell.score)
    if cell.score_low is not None:
        text += f" [{fmt_num(cell.score_low)}, {fmt_num(cell.score_high)}]"
    if cell.is_baseline:
        return text
    text += f" · Δ {fmt_signed(cell.delta)}"
    if cell.delta_low is not None or cell.delta_high is not None:
        text += f" {fmt_ci((cell.delta_low, cell.delta_high))}"
    if cell.passed is not None:
        text += " ✅" if cell.passed else " ❌"
    return text


def _training_facts(c: CandidateSummary) -> list[tuple[str, str]]:
    t = c.training
    if t is None:
        return []
    return [
        ("Training time", fmt_duration(t.train_seconds)),
        ("Tokens / s", fmt_num(t.tokens_per_second, 0)),
        ("Peak memory", fmt_mb(t.peak_memory_mb)),
        ("Trainable params", f"{fmt_pct(t.trainable_pct)} ({fmt_int(t.trainable_params)})"),
        ("Adapter size", fmt_bytes(t.adapter_size_bytes)),
        ("Final train loss", fmt_num(t.final_loss, 4)),
        ("Final validation loss", fmt_num(t.final_val_loss, 4)),
        ("4-bit execution", md_text(t.execution) if t.execution else MISSING),
    ]


def _comparison(view: ReportView, cmp: ComparisonView) -> list[str]:
    """Candidates side by side: only when there is a choice to make (two or more)."""
    if len(cmp.candidates) < 2:
        return []
    base = [f"{md_text(cmp.baseline)} (baseline)"] if cmp.baseline else []
    header = ["", *base, *(md_text(c.label) for c in cmp.candidates)]
    blank = [""] * len(base)
    rows = [["**Verdict**", *blank, *(_candidate_verdict(c) for c in cmp.candidates)]]
    rows += [
        [f"{md_text(r.label)} ({md_text(r.metric)})", *(_compare_cell(x) for x in r.cells)]
        for r in cmp.rows
    ]
    rows.append(["Forgetting", *blank, *(_forgetting(c) for c in cmp.candidates)])
    rows.append(["Quantization gap", *blank, *(_gaps(c) for c in cmp.candidates)])
    facts = [dict(_training_facts(c)) for c in cmp.candidates]
    labels = next((list(f) for f in facts if f), [])
    rows += [[label, *blank, *(f.get(label, MISSING) for f in facts)] for label in labels]
    note = (
        f"Scores with a {cmp.score_ci_label} (Wilson, 0/1 metrics); Δ vs the baseline with "
        f"the gate's paired {view.ci_label}."
    )
    return ["## Candidates compared", "", note, "", *_table(header, rows), ""]


def _candidates_compact(cmp: ComparisonView) -> list[str]:
    """One row per candidate: the job summary's at-a-glance comparison."""
    if not cmp.candidates:
        return []
    suites = [r for r in cmp.rows if r.capability is None]
    header = [
        "Candidate",
        "Checks",
        *(f"Δ {md_text(r.label)}" for r in suites),
        "Forgetting",
        "Quant. gap",
        "Train time",
        "Peak mem",
        "Adapter",
    ]
    rows = []
    for c in cmp.candidates:
        deltas = []
        for r in suites:
            cell = next((x for x in r.cells if x.variant == c.name), None)
            deltas.append(fmt_signed(cell.delta) if cell else MISSING)
        t = c.training
        rows.append(
            [
                md_text(c.label),
                _candidate_verdict(c),
                *deltas,
                _forgetting(c),
                " ".join(
                    f"{fmt_signed(g.delta)}{'✅' if g.passed else '❌'}"
                    for g in c.quantization_gaps
                )
                or MISSING,
                fmt_duration(t.train_seconds) if t else MISSING,
                fmt_mb(t.peak_memory_mb) if t else MISSING,
                fmt_bytes(t.adapter_size_bytes) if t else MISSING,
            ]
        )
    return ["**Candidates**", "", *_table(header, rows, "ll" + "r" * (len(header) - 2)), ""]
