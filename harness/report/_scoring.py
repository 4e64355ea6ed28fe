"""The scoring settings and lm-eval's own aggregates, as the Markdown and HTML reports show them.

Scores depend on how items were prompted (chat template, few-shot count and seed, system
prompt), so a reader comparing two reports must see those settings; for a registry suite the
reports also show lm-eval's own aggregate of the task or group (its weighting) beside the
harness's mean, so the figure can be checked against lm-eval's leaderboard-style number.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.report._format import fmt_num
from harness.report._summary import GateSummary


@dataclass(frozen=True)
class LmEvalRow:
    suite: str
    variant: str
    harness: str
    lm_eval: str


def scoring_facts(s: GateSummary) -> list[tuple[str, str]]:
    """(label, value) of the run's scoring settings; empty for a summary without them."""
    sc = s.scoring
    if not sc:
        return []
    facts = [
        ("chat template", "on" if sc.get("apply_chat_template") else "off"),
        ("few-shot seed", str(sc.get("fewshot_seed"))),
        ("system prompt", str(sc.get("system_instruction") or "none")),
        ("limit", "every item" if sc.get("limit") is None else f"first {sc.get('limit')} items"),
    ]
    shots = [f"{x.name} {x.num_fewshot}" for x in s.suites if x.num_fewshot is not None]
    facts.append(("few-shot examples", ", ".join(shots) if shots else "as each task YAML says"))
    return facts


def lm_eval_rows(s: GateSummary) -> list[LmEvalRow]:
    """Per registry suite and variant: the harness's mean and lm-eval's aggregate of the
    gated metric (every filter lm-eval reports for it)."""
    rows = []
    for suite in s.suites:
        for variant, metrics in suite.lm_eval_aggregate.items():
            mine = {k: v for k, v in metrics.items() if k.split(",")[0] == suite.metric}
            shown = ", ".join(f"{k} {fmt_num(v, 4)}" for k, v in sorted(mine.items()))
            rows.append(
                LmEvalRow(suite.name, variant, fmt_num(suite.scores.get(variant), 4), shown or "-")
            )
    return rows
