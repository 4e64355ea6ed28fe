"""Per-item comparison tables: one row per item, baseline beside candidate.

MLflow's ``log_table`` shows these in the run's Artifacts and Evaluation views, so a reviewer
can filter to the items a candidate changed instead of trusting an aggregate. Building the
rows is plain data work and lives apart from the module that talks to MLflow.
"""

from __future__ import annotations

import json
import math
from typing import Any

from harness.config import ItemResult

COLUMNS = (
    "item_id",
    "capability",
    "baseline_score",
    "candidate_score",
    "changed",
    "baseline_prediction",
    "candidate_prediction",
    "target",
)


def _score(item: ItemResult | None, metric: str) -> float | None:
    if item is None:
        return None
    v = item.scores.get(metric)
    # NaN is not JSON: a missing or undefined score is an empty cell, not a bogus number.
    return None if v is None or not math.isfinite(v) else float(v)


def _text(value: Any) -> str | None:
    """Predictions are choice indices, generations or lists: one string type per column."""
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def item_table(
    metric: str, baseline: list[ItemResult], candidate: list[ItemResult]
) -> dict[str, list[Any]]:
    """Columns of the per-item table for one (candidate, suite), in the baseline's item order.

    ``changed`` means the item's score on the gated metric differs, which is exactly what the
    paired statistics count; predictions are shown beside it for generation suites, where a
    different answer can score the same.
    """
    base = {it.item_id: it for it in baseline}
    cand = {it.item_id: it for it in candidate}
    ids = [*base, *(i for i in cand if i not in base)]
    cols: dict[str, list[Any]] = {c: [] for c in COLUMNS}
    for item_id in ids:
        b, c = base.get(item_id), cand.get(item_id)
        either = b if b is not None else c
        assert either is not None
        bs, cs = _score(b, metric), _score(c, metric)
        cols["item_id"].append(item_id)
        cols["capability"].append(either.capability)
        cols["baseline_score"].append(bs)
        cols["candidate_score"].append(cs)
        cols["changed"].append(bs != cs)
        cols["baseline_prediction"].append(_text(b.prediction) if b is not None else None)
        cols["candidate_prediction"].append(_text(c.prediction) if c is not None else None)
        cols["target"].append(_text(either.target))
    return cols
