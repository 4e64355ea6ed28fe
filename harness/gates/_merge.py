"""``merge_equivalence``: the merged model users deploy must answer like the adapter we gated.

Merging folds ``B @ A`` into the base weights; in bf16 that rounds differently from applying
the adapter on the side, so outputs may drift. Predictions must agree on all but a tolerated
share of items, and the largest log-likelihood drift is reported.
"""

from __future__ import annotations

import math

from harness.config import ItemResult
from harness.gates._check import Check, check_name
from harness.gates._registry import CheckKind


def merge_check(
    kind: CheckKind,
    variant: str,
    suite: str,
    unmerged: list[ItemResult],
    merged: list[ItemResult],
    tolerance: float,
) -> Check:
    by_id = {it.item_id: it for it in merged}
    n = agree = 0
    drift = 0.0
    for it in unmerged:
        other = by_id.get(it.item_id)
        if other is None:
            continue
        n += 1
        agree += it.prediction == other.prediction
        la, lb = it.extra.get("loglikelihoods"), other.extra.get("loglikelihoods")
        if isinstance(la, list) and isinstance(lb, list) and len(la) == len(lb):
            for x, y in zip(la, lb, strict=True):
                d = abs(x - y)
                drift = max(drift, d if math.isfinite(d) else math.inf)
    frac = agree / n if n else math.nan
    passed = n > 0 and math.isfinite(frac) and (1.0 - frac) <= tolerance
    reason = (
        f"merged and unmerged predictions agree on {agree}/{n} items "
        f"(allowed disagreement {tolerance:.1%}); largest log-likelihood drift {drift:.3g}"
    )
    return Check(
        name=check_name(variant, suite, kind.name),
        kind=kind.name,
        variant=variant,
        suite=suite,
        capability=None,
        metric="prediction_agreement",
        baseline=1.0,
        candidate=frac,
        delta=frac - 1.0,
        ci=(frac - 1.0, frac - 1.0),
        margin=tolerance,
        passed=passed,
        reason=reason,
        n=n,
        mde=None,
    )
