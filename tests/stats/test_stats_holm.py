"""Tests for the Holm step-down correction."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness.stats import HolmResult, holm

p_value = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
families = st.lists(p_value, min_size=1, max_size=30)


def _reference_step_down(p: list[float], alpha: float) -> list[bool]:
    """Textbook Holm: walk ascending p, reject while p_(k) <= alpha / (m - k), then stop.

    Compared as ``(m - k) * p_(k) <= alpha``, the same rounding the adjusted p-values use, so the
    two agree even at exact float boundaries such as p = 0.05 / 11.
    """
    m = len(p)
    rejected = [False] * m
    for k, i in enumerate(sorted(range(m), key=lambda j: p[j])):
        if (m - k) * p[i] > alpha:
            break
        rejected[i] = True
    return rejected


def test_hand_worked_example() -> None:
    # m = 4. Ascending: 0.005 (#3), 0.01 (#0), 0.03 (#2), 0.04 (#1).
    # Multiplied by 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04; running max: 0.02, 0.03, 0.06, 0.06.
    # Step-down at 0.05: 0.005 <= 0.0125 yes, 0.01 <= 0.0167 yes, 0.03 <= 0.025 no -> stop,
    # so #1 (p = 0.04 < 0.05 on its own) is *not* rejected.
    result = holm([0.01, 0.04, 0.03, 0.005], alpha=0.05)
    assert isinstance(result, HolmResult)
    assert result.adjusted == pytest.approx((0.03, 0.06, 0.06, 0.02))
    assert result.rejected == (True, False, False, True)


def test_caps_at_one_and_single_test_is_unchanged() -> None:
    assert holm([0.4, 0.5, 0.9]).adjusted == pytest.approx((1.0, 1.0, 1.0))
    assert holm([0.03]) == HolmResult(adjusted=(0.03,), rejected=(True,))


def test_ties_get_equal_adjusted_values() -> None:
    result = holm([0.02, 0.01, 0.02])
    assert result.adjusted == pytest.approx((0.04, 0.03, 0.04))


def test_empty_family() -> None:
    assert holm([]) == HolmResult(adjusted=(), rejected=())


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.5, 2.0, float("nan")])
def test_refuses_bad_alpha(alpha: float) -> None:
    with pytest.raises(ValueError, match="alpha"):
        holm([0.1, 0.2], alpha=alpha)


@pytest.mark.parametrize("bad", [-0.01, 1.01, float("nan"), float("inf")])
def test_refuses_p_values_outside_unit_interval(bad: float) -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        holm([0.1, bad])


@given(families)
def test_adjusted_between_raw_and_one(p: list[float]) -> None:
    adjusted = holm(p).adjusted
    assert len(adjusted) == len(p)
    for raw, adj in zip(p, adjusted, strict=True):
        assert raw <= adj <= 1.0
        assert adj <= min(1.0, len(p) * raw)  # never worse than Bonferroni


@given(families)
def test_monotone_in_raw_p_and_order_preserving(p: list[float]) -> None:
    adjusted = holm(p).adjusted
    for i in range(len(p)):
        for j in range(len(p)):
            if p[i] <= p[j]:
                assert adjusted[i] <= adjusted[j]
    # Reversing the input reverses the output: results stay attached to their hypotheses.
    assert holm(p[::-1]).adjusted == adjusted[::-1]


@given(families, st.sampled_from([0.01, 0.05, 0.1]))
def test_decisions_match_textbook_step_down(p: list[float], alpha: float) -> None:
    result = holm(p, alpha=alpha)
    assert list(result.rejected) == _reference_step_down(p, alpha)
    assert result.rejected == tuple(a <= alpha for a in result.adjusted)
