"""Scoring settings and lm-eval's own aggregate in report.md and report.html."""

from __future__ import annotations

from typing import Any

from harness.report import GateSummary, render_html, render_markdown
from tests.report.conftest import make_summary


def _with_registry(summary: dict[str, Any]) -> dict[str, Any]:
    out = dict(summary)
    out["scoring"] = {
        "batch_size": 8,
        "apply_chat_template": True,
        "limit": None,
        "fewshot_seed": 7,
        "system_instruction": "Answer with one letter.",
    }
    suite = dict(out["suites"][0])
    suite.update(
        name="mmlu",
        metric="acc",
        scores={v: 0.4321 for v in suite["scores"]},
        lm_eval_aggregate={
            v: {"acc,none": 0.4188, "acc_stderr,none": 0.01} for v in suite["scores"]
        },
        num_fewshot=5,
    )
    out["suites"] = [*out["suites"], suite]
    return out


def test_markdown_and_html_show_scoring_settings_and_lm_eval_aggregate() -> None:
    data = _with_registry(make_summary())
    GateSummary.model_validate(data)  # the fields are part of the typed summary
    md = render_markdown(data)
    assert "## Scoring settings" in md
    assert "- **chat template:** on" in md
    assert "- **few-shot seed:** 7" in md
    assert "- **system prompt:** Answer with one letter." in md
    assert "- **few-shot examples:** mmlu 5" in md
    assert "| mmlu | base | 0.4321 | acc,none 0.4188 |" in md
    assert "acc_stderr" not in md
    html = render_html(data)
    assert '<section id="scoring">' in html
    assert "<td>mmlu</td><td>base</td><td>0.4321</td><td>acc,none 0.4188</td>" in html
    assert "Answer with one letter." in html


def test_older_summary_without_scoring_renders_no_section() -> None:
    data = make_summary()
    data.pop("scoring", None)
    assert "## Scoring settings" not in render_markdown(data)
    assert '<section id="scoring">' not in render_html(data)
