"""``not_a_noop``: an adapter that silently failed to load or apply must not pass as harmless.

A candidate whose every per-item output equals the baseline's would sail through every
``no_forgetting`` check. Comparing raw outputs (choice log-likelihoods, generated text) rather
than scores catches it even when accuracy happens to match.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from harness.config import ItemResult
from harness.gates._check import Check, check_name
from harness.gates._registry import CheckKind

# bf16 scoring of identical weights is bit-exact here; a real adapter moves log-likelihoods by
# orders of magnitude more than this.
LOGLIK_TOLERANCE = 1e-4


def _changed(a: ItemResult, b: ItemResult) -> bool:
    la, lb = a.extra.get("loglikelihoods"), b.extra.get("loglikelihoods")
    if isinstance(la, list) and isinstance(lb, list) and len(la) == len(lb):
        return any(
            not (math.isfinite(x) and math.isfinite(y)) or abs(x - y) > LOGLIK_TOLERANCE
            for x, y in zip(la, lb, strict=True)
        )
    return a.prediction != b.prediction or a.scores != b.scores


def noop_check(
    kind: CheckKind,
    variant: str,
    baseline: Mapping[str, list[ItemResult]],
    candidate: Mapping[str, list[ItemResult]],
) -> Check:
    """Pass when at least one item's output differs from the baseline's."""
    total = changed = 0
    for suite, items in baseline.items():
        by_id = {it.item_id: it for it in candidate.get(suite, [])}
        for it in items:
            other = by_id.get(it.item_id)
            if other is None:
                continue
            total += 1
            changed += _changed(it, other)
    frac = changed / total if total else 0.0
    passed = changed > 0
    reason = (
        f"{changed} of {total} items changed output (tolerance {LOGLIK_TOLERANCE:g})"
        if passed
        else f"no output changed on {total} items: the adapter did not load or does not "
        "apply (check target_modules, the adapter path, and that it is active)"
    )
    return Check(
        name=check_name(variant, "all", kind.name),
        kind=kind.name,
        variant=variant,
        suite="all",
        capability=None,
        metric="changed_fraction",
        baseline=0.0,
        candidate=frac,
        delta=frac,
        ci=(frac, frac),
        margin=0.0,
        passed=passed,
        reason=reason,
        n=total,
        mde=None,
    )
