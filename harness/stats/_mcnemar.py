"""Exact McNemar test for paired pass/fail outcomes.

Items both models get right (or both get wrong) say nothing about which model is better; only the
discordant items do. Under "no difference" each discordant item is equally likely to favour either
model, so the count favouring one side is Binomial(b + c, 1/2). The exact binomial test is used
rather than the chi-squared approximation because gate suites often have few discordant items.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats

from harness.stats._checks import FloatArray, paired_scores


@dataclass(frozen=True)
class McNemarResult:
    """Discordant counts and the two-sided exact p-value.

    ``b``: baseline correct, candidate wrong. ``c``: baseline wrong, candidate correct.
    """

    b: int
    c: int
    p_value: float


def mcnemar_exact(baseline_correct: ArrayLike, candidate_correct: ArrayLike) -> McNemarResult:
    """Two-sided exact McNemar test on per-item correctness (0/1 or bool).

    Non-binary values are refused rather than thresholded: a partial-credit score passed here by
    mistake would otherwise be silently turned into pass/fail. With no discordant items the data
    cannot favour either model, so the p-value is 1.
    """
    base, cand = paired_scores(baseline_correct, candidate_correct)
    _require_binary(base, "baseline_correct")
    _require_binary(cand, "candidate_correct")
    base_ok = base == 1.0
    cand_ok = cand == 1.0
    b = int(np.count_nonzero(base_ok & ~cand_ok))
    c = int(np.count_nonzero(~base_ok & cand_ok))
    if b + c == 0:
        return McNemarResult(b=0, c=0, p_value=1.0)
    p = float(stats.binomtest(b, b + c, 0.5, alternative="two-sided").pvalue)
    return McNemarResult(b=b, c=c, p_value=min(1.0, p))


def _require_binary(values: FloatArray, name: str) -> None:
    bad = (values != 0.0) & (values != 1.0)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must be 0/1 or bool per item; item {first} is {float(values[first])!r}"
        )
