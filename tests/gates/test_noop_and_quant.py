from __future__ import annotations

from pathlib import Path

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates import build_checks, not_a_noop_check

POLICY = GatePolicy(bootstrap_resamples=2000)


def _suite() -> SuiteSpec:
    return SuiteSpec(
        name="s",
        path=Path("s.yaml"),
        kind="general",
        version="1",
        output_type="multiple_choice",
        metric="acc",
        capability=None,
        capability_field=None,
        data_files={},
        fingerprint="f",
    )


def _items(lls: list[list[float]], acc: list[float]) -> list[ItemResult]:
    return [
        ItemResult(f"i{i}", {"acc": a}, None, 0, 0, {"loglikelihoods": ll})
        for i, (ll, a) in enumerate(zip(lls, acc, strict=True))
    ]


def test_identical_outputs_fail_not_a_noop_even_when_scores_match() -> None:
    base = {"s": _items([[-1.0, -2.0]] * 10, [1.0] * 10)}
    check = not_a_noop_check("lora", base, base)
    assert not check.passed and "did not load" in check.reason and check.n == 10


def test_changed_loglikelihoods_pass_not_a_noop() -> None:
    base = {"s": _items([[-1.0, -2.0]] * 10, [1.0] * 10)}
    cand = {"s": _items([[-1.0, -2.0]] * 9 + [[-0.5, -2.0]], [1.0] * 10)}
    check = not_a_noop_check("lora", base, cand)
    assert check.passed and check.candidate == 0.1


def test_quantization_pairs_make_gap_checks_and_skip_other_checks_for_quantized_bases() -> None:
    same = _items([[-1.0, -2.0]] * 50, [1.0] * 50)
    worse = _items([[-1.0, -2.0]] * 50, [1.0] * 25 + [0.0] * 25)
    checks = build_checks(
        POLICY,
        [_suite()],
        {"s": same},
        {"base-nf4": {"s": same}, "lora": {"s": same}, "qlora": {"s": worse}},
        [("base-nf4", "base"), ("qlora", "lora")],
    )
    names = {c.name: c for c in checks}
    assert "base-nf4::s::no_forgetting" not in names  # a quantised base only gets its gap check
    assert names["base-nf4::s::quantization_gap"].passed
    gap = names["qlora::s::quantization_gap"]
    assert not gap.passed and gap.reason.startswith("vs lora:") and gap.delta == -0.5


def test_require_change_false_drops_not_a_noop() -> None:
    same = _items([[-1.0, -2.0]] * 5, [1.0] * 5)
    policy = GatePolicy(bootstrap_resamples=2000, require_change=False)
    checks = build_checks(policy, [_suite()], {"s": same}, {"lora": {"s": same}})
    assert [c.kind for c in checks] == ["no_forgetting"]
