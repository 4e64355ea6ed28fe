"""Tests for the exact McNemar test."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from harness.stats import McNemarResult, mcnemar_exact


def _pairs(both: int, neither: int, b: int, c: int) -> tuple[list[int], list[int]]:
    """Build per-item correctness with the given concordant and discordant counts."""
    base = [1] * both + [0] * neither + [1] * b + [0] * c
    cand = [1] * both + [0] * neither + [0] * b + [1] * c
    return base, cand


def test_counts_and_known_p_value() -> None:
    base, cand = _pairs(both=50, neither=30, b=10, c=2)
    result = mcnemar_exact(base, cand)
    assert isinstance(result, McNemarResult)
    assert (result.b, result.c) == (10, 2)
    assert result.p_value == pytest.approx(stats.binomtest(2, 12).pvalue)
    # Hand value: 2 * P(X <= 2 | Bin(12, 1/2)) = 2 * 79 / 4096.
    assert result.p_value == pytest.approx(2 * 79 / 4096)


def test_p_value_is_symmetric_in_direction() -> None:
    forward = mcnemar_exact(*_pairs(5, 5, 10, 2))
    backward = mcnemar_exact(*_pairs(5, 5, 2, 10))
    assert (backward.b, backward.c) == (2, 10)
    assert backward.p_value == pytest.approx(forward.p_value)


def test_no_discordant_pairs_gives_p_one() -> None:
    base, cand = _pairs(both=40, neither=10, b=0, c=0)
    assert mcnemar_exact(base, cand) == McNemarResult(b=0, c=0, p_value=1.0)


def test_balanced_discordance_is_not_significant() -> None:
    result = mcnemar_exact(*_pairs(20, 20, 7, 7))
    assert result.p_value == pytest.approx(1.0)


def test_accepts_bool_and_float_binary_inputs() -> None:
    base, cand = _pairs(3, 4, 6, 1)
    as_bool = mcnemar_exact(np.array(base, dtype=bool), np.array(cand, dtype=bool))
    as_float = mcnemar_exact(np.array(base, dtype=float), np.array(cand, dtype=float))
    assert as_bool == as_float == mcnemar_exact(base, cand)


@pytest.mark.parametrize(
    ("baseline", "candidate", "match"),
    [
        ([1, 0, 0.5], [1, 0, 1], "0/1"),
        ([1, 0, 1], [1, 2, 1], "0/1"),
        ([1, 0, float("nan")], [1, 0, 1], "non-finite"),
        ([1, 0, 1], [1, 0], "same items"),
        ([], [], "empty"),
    ],
)
def test_refuses_non_binary_or_mismatched_inputs(
    baseline: list[float], candidate: list[float], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        mcnemar_exact(baseline, candidate)
