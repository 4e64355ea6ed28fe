from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates import PairingError, apply_holm, build_checks, decide, paired_check

POLICY = GatePolicy(bootstrap_resamples=2000)


def _suite(kind: str = "task") -> SuiteSpec:
    return SuiteSpec(
        name="s",
        path=Path("s.yaml"),
        kind=kind,
        version="1",  # type: ignore[arg-type]
        output_type="multiple_choice",
        metric="acc",
        capability=None,
        capability_field="capability" if kind == "general" else None,
        data_files={},
        fingerprint="f",
    )


def _items(values: list[float], caps: list[str] | None = None) -> list[ItemResult]:
    return [
        ItemResult(f"i{i}", {"acc": v}, caps[i] if caps else None) for i, v in enumerate(values)
    ]


def test_improves_passes_only_when_lower_bound_clears_gain() -> None:
    rng = np.random.default_rng(0)
    base = _items(list((rng.random(300) < 0.2).astype(float)))
    better = _items(list((rng.random(300) < 0.8).astype(float)))
    same = _items([it.scores["acc"] for it in base])
    ok = paired_check(
        kind="improves",
        variant="v",
        suite=_suite(),
        capability=None,
        base=base,
        cand=better,
        policy=POLICY,
        margin=0.1,
    )
    assert ok.passed and ok.ci[0] > 0.1 and ok.name == "v::s::improves"
    flat = paired_check(
        kind="improves",
        variant="v",
        suite=_suite(),
        capability=None,
        base=base,
        cand=same,
        policy=POLICY,
        margin=0.0,
    )
    assert not flat.passed and flat.delta == 0.0


def test_no_forgetting_fails_on_a_real_drop_and_names_the_capability() -> None:
    caps = ["math"] * 100 + ["facts"] * 100
    base = _items([1.0] * 200, caps)
    cand = _items([1.0] * 100 + [0.0] * 60 + [1.0] * 40, caps)
    checks = build_checks(POLICY, [_suite("general")], {"s": base}, {"v": {"s": cand}})
    outcome = decide(checks)
    assert outcome.verdict == "NO-GO"
    failed = {c.capability for c in checks if not c.passed}
    assert failed == {None, "facts"}
    assert any("facts" in r and "learning rate" in r for r in outcome.reasons)


def test_nan_metric_never_passes() -> None:
    base = _items([1.0, 0.0, 1.0])
    cand = _items([1.0, math.nan, 1.0])
    c = paired_check(
        kind="no_forgetting",
        variant="v",
        suite=_suite("general"),
        capability=None,
        base=base,
        cand=cand,
        policy=POLICY,
        margin=1.0,
    )
    assert not c.passed and "NaN" in c.reason


def test_results_on_different_items_are_refused() -> None:
    with pytest.raises(PairingError):
        paired_check(
            kind="improves",
            variant="v",
            suite=_suite(),
            capability=None,
            base=_items([1.0, 0.0]),
            cand=_items([1.0]),
            policy=POLICY,
            margin=0.0,
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"alpha": 0.0},
        {"alpha": 1.0},
        {"alpha": float("nan")},
        {"forgetting_margin": -0.1},
        {"min_gain": float("inf")},
        {"capability_margin": 2.0},
        {"bootstrap_resamples": 10},
    ],
)
def test_nonsense_policy_values_are_refused(bad: dict[str, float]) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        GatePolicy(**bad)


def test_p_value_agrees_with_the_interval_and_mcnemar_is_reported() -> None:
    rng = np.random.default_rng(3)
    base = _items(list((rng.random(400) < 0.5).astype(float)))
    cand = _items(list((rng.random(400) < 0.6).astype(float)))
    c = paired_check(
        kind="improves",
        variant="v",
        suite=_suite(),
        capability=None,
        base=base,
        cand=cand,
        policy=POLICY,
        margin=0.0,
    )
    assert c.p_value is not None and (c.p_value < POLICY.alpha) == (c.ci[0] > 0.0)
    assert c.mcnemar is not None and c.mcnemar["b"] + c.mcnemar["c"] > 0


def test_holm_fails_checks_that_only_pass_uncorrected() -> None:
    rng = np.random.default_rng(0)
    clear = []
    for k in range(4):
        base = _items(list((rng.random(300) < 0.3).astype(float)))
        clear.append(
            paired_check(
                kind="improves",
                variant=f"v{k}",
                suite=_suite(),
                capability=None,
                base=base,
                cand=_items([1.0] * 300),
                policy=POLICY,
                margin=0.0,
            )
        )
    b = np.zeros(200)
    c = np.zeros(200)
    c[:10] = 1.0  # 10 wins, 3 losses: one-sided p ~0.03, each passes at alpha on its own
    b[10:13] = 1.0
    edges = [
        paired_check(
            kind="improves",
            variant=f"edge{k}",
            suite=_suite(),
            capability=None,
            base=_items(list(b)),
            cand=_items(list(c)),
            policy=POLICY,
            margin=0.0,
        )
        for k in range(3)
    ]
    assert all(e.passed for e in edges)
    corrected = apply_holm([*clear, *edges], POLICY.alpha)
    for e in corrected[4:]:
        assert e.p_adjusted is not None and e.p_adjusted > POLICY.alpha
        assert not e.passed and "Holm" in e.reason
    assert all(c.passed for c in corrected[:4])
