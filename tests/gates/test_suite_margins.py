"""Per-suite margins: a suite in other units (BLEU 0-100) gets its own, the rest the policy's."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.config import ConfigError, GatePolicy, ItemResult, SuiteSpec, load_experiment
from harness.gates import build_checks
from tests.conftest import write_tiny_experiment
from tests.gates.test_direction import _suite


def _items(metric: str, values: np.ndarray) -> list[ItemResult]:
    return [ItemResult(f"i{i}", {metric: float(v)}) for i, v in enumerate(values)]


def _bleu_suite() -> SuiteSpec:
    return replace(
        _suite("general", higher_is_better=True),
        name="replies_bleu",
        output_type="generate_until",
        metric="harness_bleu",
    )


def _checks(policy: GatePolicy) -> list:
    rng = np.random.default_rng(0)
    base = rng.uniform(20, 40, 300)
    cand = base - 1.0 + rng.normal(0, 2.0, 300)  # one BLEU point lower: noise-level for BLEU
    suite = _bleu_suite()
    return build_checks(
        policy,
        [suite],
        {suite.name: _items(suite.metric, base)},
        {"lora": {suite.name: _items(suite.metric, cand)}},
    )


def test_a_bleu_suite_gets_its_own_margin() -> None:
    plain = GatePolicy(bootstrap_resamples=2000, require_change=False)
    (check,) = _checks(plain)
    assert not check.passed and check.margin == pytest.approx(0.05)  # 0.05 BLEU points
    own = GatePolicy(
        bootstrap_resamples=2000,
        require_change=False,
        suites={"replies_bleu": {"forgetting_margin": 3.0}},
    )
    (check,) = _checks(own)
    assert check.passed and check.margin == pytest.approx(3.0)
    assert own.margin("forgetting_margin", "other_suite") == 0.05  # others: the policy's


def test_per_suite_margins_take_any_finite_non_negative_value() -> None:
    GatePolicy(suites={"s": {"min_gain": 2.5, "capability_margin": 0.0}})
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="metric units"):
            GatePolicy(suites={"s": {"forgetting_margin": bad}})
    with pytest.raises(ValueError, match=r"gate\.suites"):
        GatePolicy(forgetting_margin=2.0)  # the shared margin stays a fraction, pointing here


def test_an_unknown_suite_name_is_refused_with_the_choices(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    exp = write_tiny_experiment(
        tmp_path,
        tiny_model_dir,
        gate="gate:\n  suites:\n    no_such_suite:\n      forgetting_margin: 2.0\n",
    )
    with pytest.raises(ConfigError) as e:
        load_experiment(exp)
    assert e.value.field == "gate.suites.no_such_suite"
    assert "tickets" in e.value.fix
