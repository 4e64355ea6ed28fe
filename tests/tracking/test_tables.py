from __future__ import annotations

import math

from harness.config import ItemResult
from harness.tracking import ITEM_TABLE_COLUMNS, item_table


def test_one_row_per_item_in_baseline_order_with_changed_flags() -> None:
    base = [
        ItemResult("b", {"acc": 1.0}, "x", 0, 0),
        ItemResult("a", {"acc": 0.0}, "y", 2, 1),
    ]
    cand = [
        ItemResult("a", {"acc": 1.0}, "y", 1, 1),
        ItemResult("b", {"acc": 1.0}, "x", 0, 0),
    ]
    t = item_table("acc", base, cand)
    assert tuple(t) == ITEM_TABLE_COLUMNS
    assert t["item_id"] == ["b", "a"]
    assert t["capability"] == ["x", "y"]
    assert t["baseline_score"] == [1.0, 0.0]
    assert t["candidate_score"] == [1.0, 1.0]
    assert t["changed"] == [False, True]
    # Choice indices become strings: one type per column for the MLflow table view.
    assert t["baseline_prediction"] == ["0", "2"]
    assert t["candidate_prediction"] == ["0", "1"]
    assert t["target"] == ["0", "1"]


def test_generations_stay_text_and_nan_scores_are_empty_cells() -> None:
    base = [ItemResult("g1", {"exact_match": math.nan}, None, "Paris", ["Paris"])]
    cand = [ItemResult("g1", {"exact_match": 1.0}, None, "Paris.", ["Paris"])]
    t = item_table("exact_match", base, cand)
    assert t["baseline_score"] == [None]
    assert t["changed"] == [True]
    assert t["baseline_prediction"] == ["Paris"] and t["candidate_prediction"] == ["Paris."]
    assert t["target"] == ['["Paris"]']


def test_an_item_only_one_side_has_is_kept_not_dropped() -> None:
    base = [ItemResult("a", {"acc": 1.0})]
    cand = [ItemResult("a", {"acc": 1.0}), ItemResult("extra", {"acc": 0.0})]
    t = item_table("acc", base, cand)
    assert t["item_id"] == ["a", "extra"]
    assert t["baseline_score"] == [1.0, None]
    assert t["changed"] == [False, True]
