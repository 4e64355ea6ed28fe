"""Lower-is-better metrics (perplexity, bits per byte): gates test gains in that direction."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.config import GatePolicy, ItemResult, SuiteSpec, load_suite
from harness.gates import paired_check

POLICY = GatePolicy(bootstrap_resamples=2000)


def _suite(kind: str, higher_is_better: bool) -> SuiteSpec:
    return SuiteSpec(
        name="s",
        path=Path("s.yaml"),
        kind=kind,  # type: ignore[arg-type]
        version="1",
        output_type="loglikelihood_rolling",
        metric="bits_per_byte",
        capability=None,
        capability_field=None,
        data_files={},
        fingerprint="f",
        higher_is_better=higher_is_better,
    )


def _items(values: np.ndarray) -> list[ItemResult]:
    return [ItemResult(f"i{i}", {"bits_per_byte": float(v)}) for i, v in enumerate(values)]


@pytest.fixture
def bpb() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    base = rng.uniform(1.0, 2.0, 200)
    return base, base - 0.3 + rng.normal(0, 0.05, 200)  # the candidate is 0.3 bpb better


def _check(kind: str, suite: SuiteSpec, base: np.ndarray, cand: np.ndarray, margin: float):
    return paired_check(
        kind=kind,
        variant="v",
        suite=suite,
        capability=None,
        base=_items(base),
        cand=_items(cand),
        policy=POLICY,
        margin=margin,
    )


def test_lower_bits_per_byte_is_an_improvement(bpb: tuple[np.ndarray, np.ndarray]) -> None:
    base, cand = bpb
    lower = _suite("task", higher_is_better=False)
    c = _check("improves", lower, base, cand, margin=0.1)
    assert c.passed, c.reason
    assert c.baseline == pytest.approx(base.mean()) and c.candidate == pytest.approx(cand.mean())
    assert c.delta == pytest.approx(cand.mean() - base.mean()) and c.delta < -0.25
    assert c.ci[0] <= c.delta <= c.ci[1] and c.ci[1] < -0.1  # in metric units
    assert "lower is better" in c.reason
    # the same numbers read as higher-is-better are a large drop
    assert not _check("improves", replace(lower, higher_is_better=True), base, cand, 0.1).passed


def test_higher_bits_per_byte_is_forgetting(bpb: tuple[np.ndarray, np.ndarray]) -> None:
    base, better = bpb
    general = _suite("general", higher_is_better=False)
    assert _check("no_forgetting", general, base, better, margin=0.05).passed
    worse = base + 0.3
    c = _check("no_forgetting", general, base, worse, margin=0.05)
    assert not c.passed and c.delta == pytest.approx(0.3)
    assert c.mcnemar is None  # not a 0/1 metric


def test_direction_comes_from_the_suite_yaml(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"text": "a"}\n')
    base = (
        "task: t\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: d.jsonl\n"
        "output_type: loglikelihood_rolling\n"
    )
    cases = {
        "metric_list: [{metric: bits_per_byte}]\n": False,  # lm-eval's direction
        "metric_list: [{metric: acc}]\n": True,
        "metric_list: [{metric: harness_rougeL}]\n": True,
        "metric_list: [{metric: my_loss, higher_is_better: false}]\n": False,
    }
    for i, (metrics, expected) in enumerate(cases.items()):
        p = tmp_path / f"s{i}.yaml"
        p.write_text(base + metrics + "metadata: {version: 1, kind: general}\n")
        assert load_suite(p).higher_is_better is expected, metrics
    p = tmp_path / "override.yaml"
    p.write_text(
        base + "metric_list: [{metric: acc}]\n"
        "metadata: {version: 1, kind: task, higher_is_better: false}\n"
    )
    assert load_suite(p).higher_is_better is False
