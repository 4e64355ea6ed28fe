"""Paired percentile bootstrap for the mean per-item difference (candidate - baseline).

Pairing matters: both models answer the same items, and item difficulty dominates the variance
of either mean on its own. Resampling *items* (keeping each item's two scores together) cancels
that shared difficulty, so the interval is far tighter than one built from two independent means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from harness.stats._checks import FloatArray, check_count, check_probability, paired_scores

# Upper bound on index entries drawn per chunk (resamples x items). Resampling is vectorised,
# but a (resamples, n) index matrix for a 100k-item suite would need ~8 GB at once; chunking keeps
# the peak near 8M x (8-byte index + 8-byte gathered score) = ~128 MB. Chunks draw from one
# generator in row order, so the result does not depend on this constant.
_MAX_INDEX_ENTRIES = 8_000_000

_MIN_RESAMPLES = 1000


@dataclass(frozen=True)
class PairedEstimate:
    """Means of both models on the same items and a bootstrap interval for their difference."""

    baseline: float
    candidate: float
    delta: float
    low: float
    high: float
    confidence: float
    n: int
    resamples: int


def paired_bootstrap(
    baseline: ArrayLike,
    candidate: ArrayLike,
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> PairedEstimate:
    """Estimate ``mean(candidate - baseline)`` with a two-sided percentile bootstrap interval.

    The same ``seed`` always gives the same interval, so a gate decision can be replayed exactly
    from stored per-item scores.

    One-sided use: the lower bound of the two-sided interval at confidence ``c`` is a one-sided
    lower bound at confidence ``(1 + c) / 2``. A gate that wants a one-sided test at level
    ``alpha`` ("is the candidate no worse than baseline - margin?") should therefore pass
    ``confidence = 1 - 2 * alpha`` and read only ``low`` (or only ``high``).

    When every item's difference is identical (e.g. both models agree on every item) there is no
    sampling variability, and the interval collapses to ``[delta, delta]`` exactly — ``[0, 0]``
    when the models never disagree — rather than a band of floating-point noise.

    Fewer than 1000 resamples is refused: the tail quantiles that decide the gate would then rest
    on a handful of resamples and wobble from seed to seed.
    """
    b, c = paired_scores(baseline, candidate)
    level = check_probability(confidence, "confidence")
    count = check_count(resamples, "resamples", _MIN_RESAMPLES)
    diff = c - b
    delta = float(diff.mean())

    if np.all(diff == diff[0]):
        low = high = delta
    else:
        means = _resampled_means(diff, count, np.random.default_rng(seed))
        tail = (1.0 - level) / 2.0
        low_q, high_q = np.quantile(means, [tail, 1.0 - tail])
        low, high = float(low_q), float(high_q)

    return PairedEstimate(
        baseline=float(b.mean()),
        candidate=float(c.mean()),
        delta=delta,
        low=low,
        high=high,
        confidence=level,
        n=int(diff.size),
        resamples=count,
    )


def _resampled_means(diff: FloatArray, resamples: int, rng: np.random.Generator) -> FloatArray:
    """Mean of ``diff`` over ``resamples`` with-replacement item resamples, drawn in chunks."""
    n = diff.size
    per_chunk = max(1, _MAX_INDEX_ENTRIES // n)
    means = np.empty(resamples, dtype=np.float64)
    for start in range(0, resamples, per_chunk):
        stop = min(start + per_chunk, resamples)
        idx = rng.integers(0, n, size=(stop - start, n), dtype=np.intp)
        means[start:stop] = diff[idx].mean(axis=1)
    return means


def bootstrap_p_value(
    baseline: ArrayLike,
    candidate: ArrayLike,
    *,
    threshold: float,
    resamples: int = 10_000,
    seed: int = 0,
) -> float:
    """One-sided bootstrap p-value for H0: ``mean(candidate - baseline) <= threshold``.

    It is the share of resampled mean differences at or below ``threshold`` (with the usual
    +1 correction, so it is never exactly 0). Drawn with the same seed and resamples as
    :func:`paired_bootstrap`, it agrees with that interval: p < alpha exactly when the
    one-sided lower bound at 1 - alpha clears the threshold. Gates need p-values, not only
    intervals, to correct for testing many checks at once (Holm).
    """
    b, c = paired_scores(baseline, candidate)
    count = check_count(resamples, "resamples", _MIN_RESAMPLES)
    if not np.isfinite(threshold):
        raise ValueError("threshold must be finite")
    diff = c - b
    if np.all(diff == diff[0]):
        return 1.0 / (count + 1) if float(diff[0]) > threshold else 1.0
    means = _resampled_means(diff, count, np.random.default_rng(seed))
    return float((1 + np.count_nonzero(means <= threshold)) / (count + 1))
