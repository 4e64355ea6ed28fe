"""The built-in check kinds, each declared once: the only place that names them.

Every entry says which policy field holds its margin, its direction, its scope (what it is
computed from), its decision function, the failure rule and remedy people read, and where the
reports show it. See :mod:`harness.gates._registry` for the fields and docs/gates.md for how to
add a kind.
"""

from __future__ import annotations

from collections.abc import Iterable

from harness.config import ItemResult
from harness.gates._champion import not_worse_than_champion
from harness.gates._check import Check
from harness.gates._checks import by_capability, paired_check
from harness.gates._finite import decide_finite
from harness.gates._merge import merge_check
from harness.gates._noop import noop_check
from harness.gates._registry import CheckKind, Evidence, Subject, register_check_kind

FORGETTING_REMEDIES = (
    "lower the LoRA rank, lower the learning rate, train fewer epochs, "
    "or mix 10-20% general-purpose data into the training set"
)


def _paired(kind: CheckKind, s: Subject, ev: Evidence, *, say_reference: bool = False) -> Check:
    """``kind`` on the subject's suite, the variant against its reference (named in the
    reason with ``say_reference``)."""
    assert s.suite is not None and s.reference is not None
    return paired_check(
        kind=kind,
        variant=s.variant,
        suite=s.suite,
        capability=None,
        base=ev.results[s.reference][s.suite.name],
        cand=ev.results[s.variant][s.suite.name],
        policy=ev.policy,
        margin=kind.margin(ev.policy, s.suite.name),
        reference=s.reference if say_reference else None,
    )


def _improves(kind: CheckKind, s: Subject, ev: Evidence) -> Iterable[Check]:
    """Task suites: the candidate must beat the baseline by the required gain."""
    if s.suite is not None and s.suite.kind == "task":
        yield _paired(kind, s, ev)


def _no_forgetting(kind: CheckKind, s: Subject, ev: Evidence) -> Iterable[Check]:
    """General suites, overall and per capability: the candidate must not drop past the margin.

    The forgetting margin is applied here (``kind.margin``: ``forgetting_margin`` overall,
    ``capability_margin`` per capability, a suite's own value first) and compared with the
    lower confidence bound in :func:`harness.gates.paired_check`.
    """
    suite = s.suite
    if suite is None or s.reference is None or suite.kind == "task":
        return
    yield _paired(kind, s, ev)
    base, cand = ev.results[s.reference][suite.name], ev.results[s.variant][suite.name]
    base_caps, cand_caps = by_capability(base), by_capability(cand)
    if len(base_caps) > 1:
        for cap in sorted(base_caps):
            yield paired_check(
                kind=kind,
                variant=s.variant,
                suite=suite,
                capability=cap,
                base=base_caps[cap],
                cand=cand_caps.get(cap, []),
                policy=ev.policy,
                margin=kind.margin(ev.policy, suite.name, capability=True),
            )


def _quantization_gap(kind: CheckKind, s: Subject, ev: Evidence) -> Iterable[Check]:
    """A quantised variant must stay within the margin of its unquantised reference."""
    yield _paired(kind, s, ev, say_reference=True)


def _not_a_noop(kind: CheckKind, s: Subject, ev: Evidence) -> Iterable[Check]:
    """Some output of the candidate must differ from the baseline's (unless waived)."""
    if ev.policy.require_change and s.reference is not None:
        yield noop_check(kind, s.variant, ev.results[s.reference], ev.results[s.variant])


def _merge_equivalence(kind: CheckKind, s: Subject, ev: Evidence) -> Iterable[Check]:
    """The merged model must answer like the adapter that was gated."""
    assert s.suite is not None
    name = s.suite.name
    yield merge_check(
        kind,
        s.variant,
        name,
        ev.results[s.variant][name],
        ev.merged[s.variant][name],
        kind.margin(ev.policy, name),
    )


FINITE_OUTPUTS = register_check_kind(
    CheckKind(
        name="finite_outputs",
        scope="variant",
        decide=decide_finite,
        description="every log-likelihood, score and generation logit of the variant is "
        "finite (a NaN is never a prediction)",
        priority=-100,  # decided first; its failure is the verdict's first reason
    )
)
NOT_A_NOOP = register_check_kind(
    CheckKind(
        name="not_a_noop",
        scope="candidate",
        decide=_not_a_noop,
        description="some output of the candidate differs from the baseline's "
        "(gate.require_change)",
    )
)
IMPROVES = register_check_kind(
    CheckKind(
        name="improves",
        scope="candidate_suite",
        decide=_improves,
        description="task suites: the lower bound of the gain clears gate.min_gain",
        margin_field="min_gain",
        direction="gain",
        rule="needs CI low > +{margin:.4f} (required gain)",
        shown_as=("delta",),
    )
)
NO_FORGETTING = register_check_kind(
    CheckKind(
        name="no_forgetting",
        scope="candidate_suite",
        decide=_no_forgetting,
        description="general suites, overall and per capability: the lower bound of the "
        "change stays above -gate.forgetting_margin (-gate.capability_margin per capability)",
        margin_field="forgetting_margin",
        capability_margin_field="capability_margin",
        direction="no_drop",
        rule="needs CI low > -{margin:.4f} (allowed drop)",
        remedy="forgetting in {where}: try to " + FORGETTING_REMEDIES,
        shown_as=("delta", "forgetting"),
    )
)
QUANTIZATION_GAP = register_check_kind(
    CheckKind(
        name="quantization_gap",
        scope="pair",
        decide=_quantization_gap,
        description="a quantised variant vs its unquantised twin: the lower bound of the "
        "change stays above -gate.quantization_margin",
        margin_field="quantization_margin",
        direction="no_drop",
        shown_as=("quantization_gap",),
    )
)
MERGE_EQUIVALENCE = register_check_kind(
    CheckKind(
        name="merge_equivalence",
        scope="merged",
        decide=_merge_equivalence,
        description="the LoRA merged into the base predicts like the adapter on all but "
        "gate.merge_tolerance of the items (gate.merge_check)",
        margin_field="merge_tolerance",
    )
)
NOT_WORSE_THAN_CHAMPION = register_check_kind(
    CheckKind(
        name="not_worse_than_champion",
        scope="candidate_suite",
        decide=not_worse_than_champion,
        description="a release candidate vs the champion it would replace, every suite and "
        "capability: the lower bound of candidate - champion stays above "
        "-gate.champion_margin on task suites (above +gate.champion_min_gain when set), "
        "-gate.forgetting_margin on general suites, -gate.capability_margin per capability",
        margin_field="champion_margin",
        capability_margin_field="capability_margin",
        direction="no_drop",
        rule="needs CI low of candidate - champion > -{margin:.4f} (allowed drop; "
        "> +gate.champion_min_gain where that is set)",
        remedy="worse than the champion in {where}: keep the champion, or find what changed "
        "since it was trained (data, recipe, hyperparameters) before releasing this adapter",
        shown_as=("champion",),
    )
)


def not_a_noop_check(
    variant: str,
    baseline: dict[str, list[ItemResult]],
    candidate: dict[str, list[ItemResult]],
) -> Check:
    """The ``not_a_noop`` check of one candidate (see :mod:`harness.gates._noop`)."""
    return noop_check(NOT_A_NOOP, variant, baseline, candidate)


def merge_equivalence_check(
    variant: str,
    suite: str,
    unmerged: list[ItemResult],
    merged: list[ItemResult],
    tolerance: float,
) -> Check:
    """The ``merge_equivalence`` check of one candidate on one suite (see ``_merge``)."""
    return merge_check(MERGE_EQUIVALENCE, variant, suite, unmerged, merged, tolerance)
