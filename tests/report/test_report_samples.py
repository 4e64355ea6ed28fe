"""changed_samples: which items a reviewer sees side by side, in which order, how capped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from harness.config import ItemResult
from harness.report import (
    GateSummary,
    changed_samples,
    json_safe,
    render_html,
    render_markdown,
)


@dataclass(frozen=True)
class _Suite:
    name: str
    metric: str = "acc"


def _item(item_id: str, pred: Any, ok: bool, **extra: Any) -> ItemResult:
    return ItemResult(item_id, {"acc": float(ok)}, None, pred, "gold", extra)


def test_only_changed_items_score_changes_first_natural_id_order() -> None:
    base = [_item(f"q{i}", "a", False) for i in range(1, 13)]
    # q10 and q2: score changed; q3: prediction changed, same score; the rest unchanged.
    lora = list(base)
    lora[9] = _item("q10", "gold", True)
    lora[1] = _item("q2", "gold", True)
    lora[2] = _item("q3", "b", False)
    out = changed_samples({"base": {"t": base}, "lora": {"t": lora}}, [_Suite("t")], limit=10)
    assert len(out) == 1
    block = out[0]
    assert block["n_items"] == 12 and block["n_changed"] == 3
    assert [s["item_id"] for s in block["items"]] == ["q2", "q10", "q3"]
    first = block["items"][0]
    assert first["target"] == "gold"
    assert first["predictions"] == {
        "base": {"prediction": "a", "score": 0.0},
        "lora": {"prediction": "gold", "score": 1.0},
    }
    assert "prompt" not in first  # not stored by the engine: left out, never invented


def test_cap_is_per_suite_and_counts_everything() -> None:
    base = [_item(str(i), 0, False) for i in range(30)]
    cand = [_item(str(i), 1, True) for i in range(30)]
    results = {"base": {"a": base, "b": base}, "lora": {"a": cand, "b": base}}
    out = changed_samples(results, [_Suite("a"), _Suite("b")], limit=10)
    assert [len(b["items"]) for b in out] == [10, 0]
    assert [b["n_changed"] for b in out] == [30, 0]
    assert [s["item_id"] for s in out[0]["items"]][:3] == ["0", "1", "2"]


def test_any_candidate_changing_an_item_selects_it_and_all_columns_are_kept() -> None:
    base = [_item("x", 0, True), _item("y", 0, True)]
    lora = [_item("x", 0, True), _item("y", 0, True)]
    qlora = [_item("x", 0, True), _item("y", 2, False)]
    results = {"base": {"s": base}, "lora": {"s": lora}, "qlora": {"s": qlora}}
    (block,) = changed_samples(results, [_Suite("s")])
    (sample,) = block["items"]
    assert sample["item_id"] == "y"
    assert list(sample["predictions"]) == ["base", "lora", "qlora"]


def test_choice_indices_shown_with_option_text_and_long_text_clipped(
    report_internals: SimpleNamespace,
) -> None:
    choices = ["billing", "shipping"]
    long_prompt = "word " * 500
    base = [ItemResult("1", {"acc": 0.0}, "reading", 0, 1, {"choices": choices})]
    cand = [ItemResult("1", {"acc": 1.0}, "reading", 1, 1, {"choices": choices})]
    base[0].extra["prompt"] = long_prompt
    (block,) = changed_samples({"base": {"s": base}, "lora": {"s": cand}}, [_Suite("s")])
    (sample,) = block["items"]
    assert sample["target"] == "1: shipping"
    assert sample["predictions"]["base"]["prediction"] == "0: billing"
    assert sample["capability"] == "reading"
    assert len(sample["prompt"]) == report_internals.max_text
    assert sample["prompt"].endswith("…")


def test_no_baseline_or_unknown_suite_gives_nothing() -> None:
    items = [_item("1", 0, True)]
    assert changed_samples({"lora": {"s": items}}, [_Suite("s")]) == []
    assert changed_samples({"base": {"s": items}}, [_Suite("other")]) == []


def test_samples_survive_json_and_render(
    comparison_summary: dict[str, Any], report_internals: SimpleNamespace
) -> None:
    stored = json.loads(json.dumps(json_safe(comparison_summary), allow_nan=False))
    samples = GateSummary.read(stored).samples
    views = report_internals.build_samples(samples, ["base", "lora", "qlora"])
    assert [v.suite for v in views] == ["ticket_routing", "general"]
    ticket = views[0]
    assert ticket.variants == ("base", "lora", "qlora")
    assert len(ticket.items) == 10 and ticket.n_changed > 10
    assert {p.outcome for item in ticket.items for p in item.predictions} >= {"fixed", ""}
    html = render_html(stored)
    assert 'id="samples"' in html and "10 of" in html
    # Prompts are data: markup in them is escaped, not rendered.
    assert "my parcel &lt;b&gt;never&lt;/b&gt; arrived" in html
    md = render_markdown(stored)
    assert "## Changed answers" in md and "▲" in md and "▼" in md


def test_junk_samples_are_ignored(go_summary: dict[str, Any]) -> None:
    go_summary["samples"] = ["junk", {"items": "nope"}, 3]
    assert "Changed answers" in render_html(go_summary)  # one (empty) block survives
    go_summary["samples"] = "nope"
    assert 'id="samples"' not in render_html(go_summary)
