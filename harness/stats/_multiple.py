"""Holm step-down correction for a family of gate checks.

A release gate runs several checks (tasks, slices, forgetting probes); testing each at ``alpha``
would flag a regression somewhere far more often than ``alpha`` when nothing changed. Holm controls
the family-wise error rate under any dependence between the checks and is uniformly more powerful
than Bonferroni. SciPy ships only Benjamini-Hochberg (FDR, a weaker guarantee), so Holm is
implemented here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from harness.stats._checks import check_probability


@dataclass(frozen=True)
class HolmResult:
    """Holm-adjusted p-values and rejection decisions, both in the caller's input order."""

    adjusted: tuple[float, ...]
    rejected: tuple[bool, ...]


def holm(p_values: Sequence[float], alpha: float = 0.05) -> HolmResult:
    """Holm-adjust ``p_values`` and reject those whose adjusted p-value is ``<= alpha``.

    Adjusted p-values are returned (not just decisions) so reports can show how far each check
    was from the line; ``adjusted[i] <= alpha`` is exactly Holm's step-down rule. They are made
    monotone in the raw p-values (a smaller raw p never gets a larger adjusted p) and capped at 1.
    Ties in the raw p-values are ordered stably, which cannot change any adjusted value.
    Decisions are read off the adjusted values, so a report can never show a rejected check with
    an adjusted p above ``alpha`` (or the reverse) because of float rounding at the boundary.

    An empty family is allowed and yields empty tuples: there is nothing to reject.
    """
    level = check_probability(alpha, "alpha")
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be a flat sequence, got shape {p.shape}")
    bad = ~((p >= 0.0) & (p <= 1.0))  # also catches NaN, which fails both comparisons
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(f"p-values must lie in [0, 1]; item {first} is {float(p[first])!r}")
    m = p.size
    if m == 0:
        return HolmResult(adjusted=(), rejected=())

    order = np.argsort(p, kind="stable")
    multipliers = np.arange(m, 0, -1, dtype=np.float64)  # m, m-1, ..., 1 for ascending p
    stepped = np.minimum(1.0, np.maximum.accumulate(multipliers * p[order]))
    adjusted = np.empty(m, dtype=np.float64)
    adjusted[order] = stepped
    return HolmResult(
        adjusted=tuple(float(x) for x in adjusted),
        rejected=tuple(bool(x <= level) for x in adjusted),
    )
