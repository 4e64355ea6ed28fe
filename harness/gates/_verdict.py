"""From per-item results to the list of checks and the GO / NO-GO verdict.

Which checks exist is the kind registry's business (:mod:`harness.gates._registry`): this module
calls every registered kind for every subject of its scope, Holm-corrects the run, and turns
the failures into the verdict's reasons.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates._check import Check
from harness.gates._checks import apply_holm
from harness.gates._registry import CheckKind, Evidence, Subject, check_kinds, priority_of


@dataclass(frozen=True)
class GateOutcome:
    verdict: str
    checks: list[Check]
    reasons: list[str] = field(default_factory=list)


def evaluate(ev: Evidence) -> list[Check]:
    """Every check of a gate run, in a fixed order, Holm-corrected across the run.

    Order: per-variant kinds for every variant; then per candidate its ``candidate`` kinds
    and, suite by suite, its ``candidate_suite`` kinds; then every (variant, reference) pair
    suite by suite; then every merged candidate suite by suite. Within a scope kinds run in
    registry order (priority first).
    """
    checks: list[Check] = []

    def run(kind: CheckKind, subject: Subject) -> None:
        checks.extend(kind.decide(kind, subject, ev))

    for variant in ev.results:
        for kind in check_kinds("variant"):
            run(kind, Subject(variant))
    per_candidate = check_kinds("candidate")
    per_suite = check_kinds("candidate_suite")
    for variant in ev.candidates:
        for kind in per_candidate:
            run(kind, Subject(variant, ev.baseline))
        for suite in ev.suites:
            for kind in per_suite:
                run(kind, Subject(variant, ev.baseline, suite))
    for variant, reference in ev.pairs:
        for suite in ev.suites:
            for kind in check_kinds("pair"):
                run(kind, Subject(variant, reference, suite))
    for variant in ev.merged:
        for suite in ev.suites:
            for kind in check_kinds("merged"):
                run(kind, Subject(variant, variant, suite))
    if not ev.comparison:
        return apply_holm(checks, ev.policy.alpha)
    # Two Holm families: the release checks are corrected among themselves, so a release
    # candidate gets the verdict it would get without comparison arms beside it.
    arm = [c.variant in ev.comparison for c in checks]
    alpha = ev.policy.alpha
    deciding = iter(apply_holm([c for c in checks if c.variant not in ev.comparison], alpha))
    compared = iter(apply_holm([c for c in checks if c.variant in ev.comparison], alpha))
    return [replace(next(compared), decides=False) if a else next(deciding) for a in arm]


def build_checks(
    policy: GatePolicy,
    suites: list[SuiteSpec],
    baseline: dict[str, list[ItemResult]],
    candidates: dict[str, dict[str, list[ItemResult]]],
    quantization_pairs: list[tuple[str, str]] | None = None,
    merged: Mapping[str, dict[str, list[ItemResult]]] | None = None,
) -> list[Check]:
    """All checks of a gate run (:func:`evaluate` on results given variant by variant).

    ``candidates`` may also hold quantised bases (e.g. ``base-nf4``, paired with ``base``):
    they get only their pair checks (``quantization_gap``).
    """
    pairs = quantization_pairs or []
    quantised_bases = {v for v, ref in pairs if ref == "base" and v.startswith("base-")}
    return evaluate(
        Evidence(
            policy=policy,
            suites=suites,
            results={"base": baseline, **candidates},
            candidates=[v for v in candidates if v not in quantised_bases],
            pairs=pairs,
            merged=merged or {},
        )
    )


def decide(checks: list[Check]) -> GateOutcome:
    """GO only if every deciding check passed; the reasons name each failure and what to try.

    Failures are listed by their kind's priority (a kind decided first ranks first), then in
    check order; then each failing kind's remedy, if it has one. Checks of comparison arms
    (``decides`` false) do not decide: their failures follow, marked as not deciding.
    """
    deciding = [c for c in checks if c.decides]
    failed = sorted((c for c in deciding if not c.passed), key=lambda c: priority_of(c.kind))
    arms = [c for c in checks if not c.decides and not c.passed]
    noted = [f"comparison arm, does not decide: {c.name}: {c.reason}" for c in arms]
    if not deciding:
        return GateOutcome("NO-GO", checks, ["no deciding checks were run", *noted])
    if not failed:
        scope = "checks" if len(deciding) == len(checks) else "deciding checks"
        return GateOutcome("GO", checks, [f"all {len(deciding)} {scope} passed", *noted])
    reasons = [f"{c.name}: {c.reason}" for c in failed]
    for kind in check_kinds():
        mine = [c for c in failed if c.kind == kind.name]
        if mine and kind.remedy:
            reasons.append(
                kind.remedy.format(where=", ".join(c.capability or c.suite for c in mine))
            )
    return GateOutcome("NO-GO", checks, reasons + noted)
