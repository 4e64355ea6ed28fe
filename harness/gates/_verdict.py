"""From per-item results to the list of checks and the GO / NO-GO verdict."""

from __future__ import annotations

from dataclasses import dataclass, field

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates._checks import Check, apply_holm, paired_check
from harness.gates._noop import not_a_noop_check

FORGETTING_REMEDIES = (
    "lower the LoRA rank, lower the learning rate, train fewer epochs, "
    "or mix 10-20% general-purpose data into the training set"
)


@dataclass(frozen=True)
class GateOutcome:
    verdict: str
    checks: list[Check]
    reasons: list[str] = field(default_factory=list)


def _by_capability(items: list[ItemResult]) -> dict[str, list[ItemResult]]:
    out: dict[str, list[ItemResult]] = {}
    for it in items:
        if it.capability:
            out.setdefault(it.capability, []).append(it)
    return out


def build_checks(
    policy: GatePolicy,
    suites: list[SuiteSpec],
    baseline: dict[str, list[ItemResult]],
    candidates: dict[str, dict[str, list[ItemResult]]],
    quantization_pairs: list[tuple[str, str]] | None = None,
) -> list[Check]:
    """All checks of a gate run.

    Task suites must improve; general suites, overall and per capability, must not drop;
    every candidate must change something (``not_a_noop``, unless the policy waives it); each
    (quantised variant, reference) pair must stay within the quantisation margin on every
    suite. ``candidates`` may also hold quantised bases (e.g. ``base-nf4``): they get only
    their quantization_gap checks.
    """
    pairs = quantization_pairs or []
    quantised_bases = {v for v, ref in pairs if ref == "base" and v.startswith("base-")}
    checks: list[Check] = []
    for variant, results in candidates.items():
        if variant in quantised_bases:
            continue
        if policy.require_change:
            checks.append(not_a_noop_check(variant, baseline, results))
        for suite in suites:
            base, cand = baseline[suite.name], results[suite.name]
            if suite.kind == "task":
                checks.append(
                    paired_check(
                        kind="improves",
                        variant=variant,
                        suite=suite,
                        capability=None,
                        base=base,
                        cand=cand,
                        policy=policy,
                        margin=policy.margin("min_gain", suite.name),
                    )
                )
                continue
            checks.append(
                paired_check(
                    kind="no_forgetting",
                    variant=variant,
                    suite=suite,
                    capability=None,
                    base=base,
                    cand=cand,
                    policy=policy,
                    margin=policy.margin("forgetting_margin", suite.name),
                )
            )
            base_caps, cand_caps = _by_capability(base), _by_capability(cand)
            if len(base_caps) > 1:
                for cap in sorted(base_caps):
                    checks.append(
                        paired_check(
                            kind="no_forgetting",
                            variant=variant,
                            suite=suite,
                            capability=cap,
                            base=base_caps[cap],
                            cand=cand_caps.get(cap, []),
                            policy=policy,
                            margin=policy.margin("capability_margin", suite.name),
                        )
                    )
    everything = {"base": baseline, **candidates}
    for variant, reference in pairs:
        for suite in suites:
            checks.append(
                paired_check(
                    kind="quantization_gap",
                    variant=variant,
                    suite=suite,
                    capability=None,
                    base=everything[reference][suite.name],
                    cand=everything[variant][suite.name],
                    policy=policy,
                    margin=policy.margin("quantization_margin", suite.name),
                    reference=reference,
                )
            )
    return apply_holm(checks, policy.alpha)


def decide(checks: list[Check]) -> GateOutcome:
    """GO only if every check passed; the reasons name each failure and what to try."""
    failed = [c for c in checks if not c.passed]
    if not checks:
        return GateOutcome("NO-GO", checks, ["no checks were run"])
    if not failed:
        return GateOutcome("GO", checks, [f"all {len(checks)} checks passed"])
    reasons = [f"{c.name}: {c.reason}" for c in failed]
    if any(c.kind == "no_forgetting" for c in failed):
        dropped = [c.capability or c.suite for c in failed if c.kind == "no_forgetting"]
        reasons.append(f"forgetting in {', '.join(dropped)}: try to {FORGETTING_REMEDIES}")
    return GateOutcome("NO-GO", checks, reasons)
