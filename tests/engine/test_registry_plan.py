"""Registry suites in the power plan and the summary: item counts per capability before
scoring, lm-eval's own aggregate beside the harness's mean (offline, no model: lm-eval's
registry and a tmp hub cache)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness._gate.plan import item_counts
from harness._gate.record import suite_record
from harness.config import ItemResult, ScoringSettings
from harness.config._registry_suite import registry_suite
from harness.engine import lm_eval_aggregate
from tests.engine.registry_cache import fill_cache


@pytest.fixture
def mmlu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    home = tmp_path / "hf"
    fill_cache(home / "hub")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    raw = {"kind": "general", "lm_eval": "mmlu", "limit": 57}
    return registry_suite(raw, tmp_path / "exp.yaml", "suites.1", ScoringSettings(), True)


def test_item_counts_are_the_scored_sample_by_sub_group(mmlu) -> None:  # type: ignore[no-untyped-def]
    counts = item_counts(mmlu, ScoringSettings())
    assert sum(counts.values()) == 57
    assert set(counts) == {c for _, c in mmlu.subtasks}
    assert len(counts) == 4  # mmlu's sub-groups: stem, humanities, social sciences, other
    assert sum(item_counts(mmlu, ScoringSettings(limit=10)).values()) == 10


def test_suite_record_carries_lm_eval_aggregate(mmlu) -> None:  # type: ignore[no-untyped-def]
    from harness.engine._registry_run import item_id, selection

    caps = dict(mmlu.subtasks)
    picked = selection(mmlu, ScoringSettings())

    def items(offset: int) -> list[ItemResult]:
        return [
            ItemResult(
                item_id(mmlu, t, i),
                {"acc": float((k + offset) % 3 == 0)},
                caps[t],
                extra={"task": t},
            )
            for k, (t, i) in enumerate(picked)
        ]

    results = {"base": {mmlu.name: items(0)}, "lora": {mmlu.name: items(1)}}
    record = suite_record(mmlu, results)
    for variant in results:
        want = lm_eval_aggregate(mmlu, results[variant][mmlu.name])["mmlu"]["acc,none"]
        assert record.lm_eval_aggregate[variant]["acc,none"] == pytest.approx(want)
    # One item per subject: lm-eval's size-weighted mean is the harness's plain mean here.
    assert record.lm_eval_aggregate["base"]["acc,none"] == pytest.approx(record.scores["base"])
    assert record.num_fewshot == 0
