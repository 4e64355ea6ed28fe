"""``finite_outputs``: a variant whose model produced NaN or infinite outputs fails first.

A NaN in an adapter's weights turns every log-likelihood into NaN; argmax then picks choice 0,
greedy decoding emits token 0, and a mean accuracy computed from those can look like a gain.
The engine records such items (``ItemResult.nonfinite``, with no prediction and NaN scores);
this check reads one variant's results alone and fails the variant when any item of any suite
is non-finite, naming how many and where, so the verdict's first reason is the real cause
rather than forgetting or a missed gain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping

from harness.config import ItemResult
from harness.gates._check import Check, check_name
from harness.gates._registry import CheckKind, Evidence, Subject


def finite_check(
    kind: CheckKind, variant: str, results: Mapping[str, list[ItemResult]], where: str = "all"
) -> Check:
    """Pass when every item of every suite of ``variant`` has finite model outputs (``where``:
    ``all``, or ``merged`` for the variant merged into the base)."""
    total = 0
    bad: dict[str, int] = {}
    what: Counter[str] = Counter()
    for suite, items in results.items():
        total += len(items)
        for it in items:
            found = it.nonfinite_output()
            if found is not None:
                bad[suite] = bad.get(suite, 0) + 1
                what[found] += 1
    n_bad = sum(bad.values())
    if n_bad:
        suites = ", ".join(f"{s} ({n} of {len(results[s])})" for s, n in bad.items())
        kinds = ", ".join(w for w, _ in what.most_common())
        merged = " (merged)" if where == "merged" else ""
        reason = (
            f"{n_bad} of {total} items have non-finite model outputs ({kinds}) on {suites}"
            f"{merged}: the model computes NaN or infinity (look for NaN/inf in the adapter's "
            "weights, "
            "a diverged training run, or an overflowing dtype); no other check of this "
            "variant means anything"
        )
    else:
        reason = f"all {total} items have finite log-likelihoods, scores and logits"
    frac = n_bad / total if total else 0.0
    return Check(
        name=check_name(variant, where, kind.name),
        kind=kind.name,
        variant=variant,
        suite="all",
        capability=None,
        metric="nonfinite_fraction",
        baseline=0.0,
        candidate=frac,
        delta=frac,
        ci=(frac, frac),
        margin=0.0,
        passed=n_bad == 0,
        reason=reason,
        n=total,
        mde=None,
    )


def decide_finite(kind: CheckKind, s: Subject, ev: Evidence) -> Iterable[Check]:
    """Every scored variant (the baseline too), and every merged candidate.

    Only a failure is reported: finite outputs are the normal state, not evidence anyone
    reads, and a passing check on every variant would change the check count of every clean
    run (JUnit, reports, custom gates counting checks) for nothing.
    """
    found = [finite_check(kind, s.variant, ev.results[s.variant])]
    if s.variant in ev.merged:
        found.append(finite_check(kind, s.variant, ev.merged[s.variant], "merged"))
    yield from (c for c in found if not c.passed)
