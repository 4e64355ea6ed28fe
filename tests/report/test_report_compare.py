"""The LoRA-vs-QLoRA comparison: side-by-side table, charts and job summary."""

from __future__ import annotations

import itertools
import re
from types import SimpleNamespace
from typing import Any

import pytest

from harness.report import render_html, render_job_summary, render_markdown


@pytest.mark.parametrize(("k", "n"), [(61, 100), (3, 20), (0, 20), (20, 20), (1, 1)])
def test_wilson_interval_matches_scipy(k: int, n: int, report_internals: SimpleNamespace) -> None:
    from scipy.stats import binomtest

    ref = binomtest(k, n).proportion_ci(0.90, method="wilson")
    low, high = report_internals.wilson_interval(k / n, n, 0.90)
    assert low == pytest.approx(ref.low, abs=1e-12) and high == pytest.approx(ref.high, abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_nice_ticks_cover_the_data_with_round_steps(report_internals: SimpleNamespace) -> None:
    ticks = report_internals.nice_ticks(-0.12, 0.49)
    assert ticks[0] <= -0.12 and ticks[-1] >= 0.49
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert steps == {0.2}


def test_comparison_lines_up_candidates(
    comparison_summary: dict[str, Any], report_internals: SimpleNamespace
) -> None:
    cmp = report_internals.build_comparison(report_internals.build_view(comparison_summary))
    assert [c.name for c in cmp.candidates] == ["lora", "qlora"]
    lora, qlora = cmp.candidates
    assert lora.passed and not qlora.passed and qlora.n_failed == 2
    assert qlora.forgotten == ("arithmetic",) and lora.forgotten == ()
    assert [g.name for g in qlora.quantization_gaps] == ["qlora::ticket_routing::quantization_gap"]
    rows = {r.label: r for r in cmp.rows}
    assert set(rows) == {
        "ticket_routing",
        "general",
        "general / arithmetic",
        "general / reading",
    }
    base, lcell, qcell = rows["ticket_routing"].cells
    assert base.is_baseline and base.delta is None
    assert qcell.delta == 0.41 and qcell.score == 0.59
    assert (lcell.delta, lcell.delta_low, lcell.delta_high, lcell.passed) == (
        0.43,
        0.37,
        0.49,
        True,
    )
    assert lcell.score_low is not None and lcell.score_high is not None
    assert lcell.score_low < 0.61 < lcell.score_high
    assert rows["general / arithmetic"].cells[2].passed is False
    assert rows["ticket_routing"].threshold == 0.05
    assert cmp.score_ci_label == "90% CI"


def test_html_comparison_section(comparison_summary: dict[str, Any]) -> None:
    html = render_html(comparison_summary)
    section = html[html.index('id="comparison"') : html.index('id="checks"')]
    # Verdict row first, then scores with intervals, costs and the quantization gap.
    assert section.index("Verdict") < section.index("ticket_routing")
    for text in (
        "all 3 checks pass",
        "2 of 4 checks fail",
        "[+0.370, +0.490]",
        "ticket_routing vs lora",
        "6m 43s",
        "1840",
        "1.6 GB",
        "780 MB",
        "1.8 MB",
        "0.34%",
        "0.4100",
    ):
        assert text in section, text
    # Loss chart: a line per candidate for train and validation, axes labelled.
    loss = re.search(r'<svg class="plot line-chart".*?</svg>', section, re.S)
    assert loss is not None
    assert loss.group(0).count("<polyline") == 4
    assert "optimizer step" in loss.group(0) and ">loss<" in loss.group(0)
    assert "stroke-dasharray" in loss.group(0)  # validation is dashed
    assert section.count('class="plot interval-chart"') == 1
    assert section.count('class="plot bar-chart"') == 6  # 5 costs + memory estimate
    assert not re.search(r"\bnan\b|\binf\b", html, re.IGNORECASE)


def test_single_candidate_has_no_comparison_but_keeps_loss_chart(
    go_summary: dict[str, Any],
) -> None:
    html = render_html(go_summary)
    assert 'id="comparison"' not in html
    training = html[html.index('id="training"') :]
    assert 'class="plot line-chart"' in training


def test_older_summary_without_new_training_facts(nogo_summary: dict[str, Any]) -> None:
    """qlora has no training block, lora lacks the optional facts: n/a, no crash."""
    html = render_html(nogo_summary)
    assert 'id="comparison"' in html
    md = render_markdown(nogo_summary)
    row = next(line for line in md.splitlines() if line.startswith("| Peak memory"))
    assert row.count("n/a") == 2


def test_markdown_comparison_comes_right_after_the_reasons(
    comparison_summary: dict[str, Any],
) -> None:
    md = render_markdown(comparison_summary)
    assert md.index("## Why") < md.index("## Candidates compared") < md.index("## Checks")
    verdict = next(line for line in md.splitlines() if line.startswith("| **Verdict**"))
    assert "✅ 3/3 pass" in verdict and "❌ 2/4 fail" in verdict
    gap = next(line for line in md.splitlines() if line.startswith("| Quantization gap"))
    assert "ticket_routing vs lora: -0.020 [-0.050, +0.010] ❌" in gap


def test_job_summary_verdict_then_candidates_then_failures(
    comparison_summary: dict[str, Any],
) -> None:
    js = render_job_summary(comparison_summary)
    lines = js.splitlines()
    assert lines[0] == "# ❌ NO-GO — release gate failed"
    assert js.index("## Why") < js.index("**Candidates**") < js.index("**Checks:**")
    qlora = next(line for line in lines if line.startswith("| qlora |"))
    for text in ("❌ 2/4 fail", "+0.410", "❌ arithmetic", "6m 43s", "780 MB", "1.8 MB"):
        assert text in qlora, text
    checks = [line for line in lines if line.startswith("| `")]
    assert "FAIL" in checks[0] and "FAIL" in checks[1] and "pass" in checks[2]
    assert len(lines) < 40
