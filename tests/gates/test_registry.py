"""The check-kind registry: each kind declared once, and what a new kind can express."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates import (
    Check,
    CheckKind,
    Evidence,
    Subject,
    build_checks,
    check_kind,
    check_kinds,
    check_name,
    decide,
    evaluate,
    paired_check,
    register_check_kind,
    unregister_check_kind,
)
from harness.stats import gate_detectable_effect

POLICY = GatePolicy(bootstrap_resamples=2000, forgetting_margin=0.01, capability_margin=0.01)


def _suite(name: str, kind: str) -> SuiteSpec:
    return SuiteSpec(
        name=name,
        path=Path(f"{name}.yaml"),
        kind=kind,  # type: ignore[arg-type]
        version="1",
        output_type="multiple_choice",
        metric="acc",
        capability=None,
        capability_field="capability" if kind == "general" else None,
        data_files={},
        fingerprint=name,
    )


def _items(values: list[float], caps: list[str] | None = None) -> list[ItemResult]:
    return [
        ItemResult(f"i{i}", {"acc": v}, caps[i] if caps else None, v == 1.0, True)
        for i, v in enumerate(values)
    ]


def test_builtin_kinds_are_declared_once_with_margin_direction_and_rule() -> None:
    names = [k.name for k in check_kinds()]
    assert names[:6] == [
        "finite_outputs",
        "not_a_noop",
        "improves",
        "no_forgetting",
        "quantization_gap",
        "merge_equivalence",
    ]
    forgetting = check_kind("no_forgetting")
    assert (forgetting.margin_field, forgetting.capability_margin_field) == (
        "forgetting_margin",
        "capability_margin",
    )
    assert forgetting.direction == "no_drop" and forgetting.threshold(0.05) == -0.05
    assert forgetting.failure_rule(0.05) == "needs CI low > -0.0500 (allowed drop)"
    assert forgetting.remedy is not None and "{where}" in forgetting.remedy
    assert check_kind("improves").threshold(0.02) == 0.02
    assert check_kind("merge_equivalence").margin(GatePolicy(merge_tolerance=0.03), "s") == 0.03
    with pytest.raises(KeyError, match="no check kind 'nope'"):
        check_kind("nope")


def test_a_suite_margin_override_reaches_the_kind() -> None:
    policy = GatePolicy(suites={"g": {"forgetting_margin": 0.5}})  # type: ignore[dict-item]
    kind = check_kind("no_forgetting")
    assert kind.margin(policy, "g") == 0.5
    assert kind.margin(policy, "g", capability=True) == policy.capability_margin
    assert kind.margin(policy, "other") == policy.forgetting_margin


def test_power_gets_the_direction_from_the_kind() -> None:
    rng = np.random.default_rng(0)
    base = _items(list((rng.random(200) < 0.5).astype(float)))
    cand = _items(list((rng.random(200) < 0.5).astype(float)))
    suite = _suite("s", "task")
    for name in ("improves", "no_forgetting"):
        c = paired_check(
            kind=name,
            variant="v",
            suite=suite,
            capability=None,
            base=base,
            cand=cand,
            policy=POLICY,
            margin=0.05,
        )
        diffs = [x.scores["acc"] - y.scores["acc"] for x, y in zip(cand, base, strict=True)]
        sd = float(np.std(diffs, ddof=1))
        direction = check_kind(name).direction
        assert direction is not None
        expected = gate_detectable_effect(
            200, sd_diff=sd, margin=0.05, direction=direction, alpha=POLICY.alpha
        )
        assert c.mde == pytest.approx(expected)


def test_registering_checks_its_declaration() -> None:
    def nothing(kind: CheckKind, subject: Subject, ev: Evidence) -> Iterable[Check]:
        return ()

    with pytest.raises(ValueError, match="already registered"):
        register_check_kind(CheckKind("improves", "candidate_suite", nothing, "dup"))
    with pytest.raises(ValueError, match="not a GatePolicy field"):
        register_check_kind(CheckKind("x", "candidate", nothing, "x", margin_field="nope"))
    with pytest.raises(ValueError, match="scope"):
        register_check_kind(CheckKind("x", "everything", nothing, "x"))  # type: ignore[arg-type]


def _finite_outputs(kind: CheckKind, s: Subject, ev: Evidence) -> Iterable[Check]:
    """A prototype of the coming ``finite_outputs``: a variant's own scores, nothing else."""
    bad = sum(
        not math.isfinite(v)
        for items in ev.results[s.variant].values()
        for it in items
        for v in it.scores.values()
    )
    yield Check(
        check_name(s.variant, "all", kind.name),
        kind.name,
        s.variant,
        "all",
        None,
        "non_finite_scores",
        0.0,
        float(bad),
        float(bad),
        (float(bad), float(bad)),
        0.0,
        bad == 0,
        f"{bad} non-finite scores",
        sum(len(items) for items in ev.results[s.variant].values()),
        None,
    )


@pytest.fixture
def finite_outputs() -> Iterator[CheckKind]:
    kind = register_check_kind(
        CheckKind(
            "finite_outputs_test",
            "variant",
            _finite_outputs,
            "every score of the variant is finite",
            rule="needs 0 non-finite scores",
            remedy="non-finite scores in {where}: check the model's dtype",
            priority=-10,
        )
    )
    yield kind
    unregister_check_kind(kind.name)


def test_a_variant_kind_is_decided_first_and_its_failures_rank_first(
    finite_outputs: CheckKind,
) -> None:
    caps = ["math"] * 50 + ["facts"] * 50
    base = {"g": _items([1.0] * 100, caps), "t": _items([0.0] * 100)}
    cand = {
        "g": _items([1.0] * 50 + [0.0] * 50, caps),  # forgets facts
        "t": _items([math.nan] + [1.0] * 99),
    }
    checks = build_checks(POLICY, [_suite("t", "task"), _suite("g", "general")], base, {"v": cand})
    # The built-in finite_outputs (priority -100) reports only failures: v's, before the toy.
    assert [c.name for c in checks[:3]] == [
        "base::all::finite_outputs_test",
        "v::all::finite_outputs",
        "v::all::finite_outputs_test",
    ]
    assert checks[0].passed and not checks[2].passed  # it read each variant's results alone
    outcome = decide(checks)
    assert outcome.reasons[0].startswith("v::all::finite_outputs: 1 of 200 items have non-finite")
    assert outcome.reasons[1] == "v::all::finite_outputs_test: 1 non-finite scores"
    failed_kinds = [r.split(": ", 1)[0].rsplit("::", 1)[-1] for r in outcome.reasons[:-2]]
    assert failed_kinds[:2] == ["finite_outputs", "finite_outputs_test"]
    assert "no_forgetting" in failed_kinds
    # Remedies follow the failures, in kind priority order.
    assert outcome.reasons[-2] == "non-finite scores in all: check the model's dtype"
    assert outcome.reasons[-1].startswith("forgetting in g, facts: try to")


def test_evaluate_orders_scopes_like_the_gate_always_did() -> None:
    suites = [_suite("t", "task"), _suite("g", "general")]
    same = {"t": _items([1.0] * 20), "g": _items([1.0] * 20)}
    ev = Evidence(
        policy=POLICY,
        suites=suites,
        results={"base": same, "base-nf4": same, "lora": same, "qlora": same},
        candidates=["lora", "qlora"],
        pairs=[("base-nf4", "base"), ("qlora", "lora")],
        merged={"lora": same},
    )
    names = [c.name for c in evaluate(ev)]
    assert names == [
        "lora::all::not_a_noop",
        "lora::t::improves",
        "lora::g::no_forgetting",
        "qlora::all::not_a_noop",
        "qlora::t::improves",
        "qlora::g::no_forgetting",
        "base-nf4::t::quantization_gap",
        "base-nf4::g::quantization_gap",
        "qlora::t::quantization_gap",
        "qlora::g::quantization_gap",
        "lora::t::merge_equivalence",
        "lora::g::merge_equivalence",
    ]
