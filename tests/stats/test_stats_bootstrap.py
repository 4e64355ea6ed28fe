"""Tests for the paired percentile bootstrap."""

from __future__ import annotations

import math

import numpy as np
import pytest

from harness.stats import PairedEstimate, _bootstrap, paired_bootstrap


def _planted(n: int, effect: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    difficulty = rng.normal(0.0, 1.0, n)  # shared by both models: pairing should cancel it
    baseline = difficulty + rng.normal(0.0, 0.3, n)
    candidate = difficulty + effect + rng.normal(0.0, 0.3, n)
    return baseline, candidate


def test_same_seed_reproduces_and_other_seed_differs() -> None:
    b, c = _planted(300, 0.1, seed=1)
    first = paired_bootstrap(b, c, seed=7)
    assert paired_bootstrap(b, c, seed=7) == first
    other = paired_bootstrap(b, c, seed=8)
    assert (other.low, other.high) != (first.low, first.high)
    assert other.delta == first.delta


def test_fields_describe_the_inputs() -> None:
    b, c = _planted(250, 0.2, seed=2)
    est = paired_bootstrap(b, c, confidence=0.9, resamples=2000)
    assert isinstance(est, PairedEstimate)
    assert est.baseline == pytest.approx(b.mean())
    assert est.candidate == pytest.approx(c.mean())
    assert est.delta == pytest.approx(c.mean() - b.mean())
    assert (est.confidence, est.n, est.resamples) == (0.9, 250, 2000)
    assert est.low <= est.delta <= est.high


def test_interval_contains_planted_effect_and_excludes_zero() -> None:
    b, c = _planted(2000, 0.1, seed=3)
    est = paired_bootstrap(b, c)
    assert est.low < 0.1 < est.high
    assert est.low > 0.0


def test_pairing_gives_a_much_tighter_interval_than_the_unpaired_spread() -> None:
    b, c = _planted(1000, 0.0, seed=4)
    est = paired_bootstrap(b, c)
    unpaired_se = math.sqrt(b.var(ddof=1) / b.size + c.var(ddof=1) / c.size)
    assert est.high - est.low < 0.5 * (2 * 1.96 * unpaired_se)


def test_width_shrinks_with_n() -> None:
    widths = []
    for n in (100, 400, 1600):
        b, c = _planted(n, 0.1, seed=5)
        est = paired_bootstrap(b, c, resamples=4000)
        widths.append(est.high - est.low)
    assert widths[0] > widths[1] > widths[2]
    # Roughly 1/sqrt(n): quadrupling n about halves the width.
    assert 1.5 < widths[0] / widths[1] < 2.7
    assert 1.5 < widths[1] / widths[2] < 2.7


def test_zero_differences_give_a_degenerate_zero_interval() -> None:
    scores = np.random.default_rng(6).integers(0, 2, 500)
    est = paired_bootstrap(scores, scores.copy())
    assert (est.delta, est.low, est.high) == (0.0, 0.0, 0.0)


def test_constant_difference_gives_a_degenerate_interval_at_that_difference() -> None:
    b = np.linspace(0.0, 0.5, 333)
    est = paired_bootstrap(b, b + 0.25)
    assert est.low == est.high == est.delta
    assert est.delta == pytest.approx(0.25)


def test_accepts_bool_and_list_inputs() -> None:
    b = [True, False, True, True, False] * 20
    c = [True, True, True, False, True] * 20
    est = paired_bootstrap(b, c, resamples=1000)
    assert est.delta == pytest.approx(0.2)


def test_chunking_does_not_change_the_result(monkeypatch: pytest.MonkeyPatch) -> None:
    b, c = _planted(257, 0.05, seed=9)
    whole = paired_bootstrap(b, c, resamples=1500, seed=3)
    monkeypatch.setattr(_bootstrap, "_MAX_INDEX_ENTRIES", 257 * 7 + 5)  # 7 resamples per chunk
    chunked = paired_bootstrap(b, c, resamples=1500, seed=3)
    assert chunked == whole


@pytest.mark.parametrize(
    ("baseline", "candidate", "match"),
    [
        ([1.0, float("nan"), 0.0], [1.0, 1.0, 0.0], "non-finite"),
        ([1.0, 1.0, 0.0], [1.0, float("inf"), 0.0], "non-finite"),
        ([1.0, 0.0, 1.0], [1.0, 0.0], "same items"),
        ([], [], "empty"),
        ([[1.0, 0.0]], [[1.0, 0.0]], "1-D"),
        (["a", "b"], ["a", "b"], "numeric"),
    ],
)
def test_refuses_bad_scores(baseline: object, candidate: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        paired_bootstrap(baseline, candidate)  # type: ignore[arg-type]


@pytest.mark.parametrize("confidence", [0.0, 1.0, -0.1, 1.5, float("nan")])
def test_refuses_confidence_outside_open_unit_interval(confidence: float) -> None:
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap([0.0, 1.0], [1.0, 1.0], confidence=confidence)


@pytest.mark.parametrize("resamples", [0, 999, 1500.0])
def test_refuses_too_few_or_non_integer_resamples(resamples: int) -> None:
    with pytest.raises(ValueError, match="resamples"):
        paired_bootstrap([0.0, 1.0], [1.0, 1.0], resamples=resamples)


def test_null_coverage_of_90_percent_interval() -> None:
    """Under no true difference, a 90% interval should contain 0 about 90% of the time."""
    rng = np.random.default_rng(2024)
    datasets, n = 200, 200
    covered = 0
    for i in range(datasets):
        baseline = rng.random(n) < 0.6
        candidate = rng.random(n) < 0.6
        est = paired_bootstrap(baseline, candidate, confidence=0.9, resamples=2000, seed=i)
        covered += est.low <= 0.0 <= est.high
    assert covered / datasets >= 0.85
