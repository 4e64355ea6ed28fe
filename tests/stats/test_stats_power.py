"""Tests for minimum-detectable-effect planning and the paired sd."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from harness.stats import (
    minimum_detectable_effect,
    minimum_detectable_effect_binary,
    paired_sd,
)


def test_matches_formula_one_and_two_sided() -> None:
    one = minimum_detectable_effect(100, sd_diff=0.5)
    assert one == pytest.approx((stats.norm.ppf(0.95) + stats.norm.ppf(0.8)) * 0.5 / 10)
    assert one == pytest.approx((1.6448536 + 0.8416212) * 0.05, rel=1e-6)
    two = minimum_detectable_effect(100, sd_diff=0.5, one_sided=False)
    assert two == pytest.approx((stats.norm.ppf(0.975) + stats.norm.ppf(0.8)) * 0.5 / 10)
    assert two > one
    custom = minimum_detectable_effect(50, sd_diff=1.2, alpha=0.01, power=0.9)
    assert custom == pytest.approx(
        (stats.norm.ppf(0.99) + stats.norm.ppf(0.9)) * 1.2 / math.sqrt(50)
    )


def test_decreases_with_n_as_one_over_sqrt_n() -> None:
    mdes = [minimum_detectable_effect(n, sd_diff=0.4) for n in (100, 400, 1600)]
    assert mdes[0] > mdes[1] > mdes[2]
    assert mdes[0] / mdes[1] == pytest.approx(2.0)


def test_zero_sd_gives_zero_mde() -> None:
    assert minimum_detectable_effect(10, sd_diff=0.0) == 0.0


def test_binary_uses_sqrt_of_discordant_rate() -> None:
    got = minimum_detectable_effect_binary(400, discordant_rate=0.3, alpha=0.1, one_sided=False)
    want = minimum_detectable_effect(400, sd_diff=math.sqrt(0.3), alpha=0.1, one_sided=False)
    assert got == pytest.approx(want)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n": 1, "sd_diff": 0.5},
        {"n": 0, "sd_diff": 0.5},
        {"n": 10.0, "sd_diff": 0.5},
        {"n": 10, "sd_diff": -0.1},
        {"n": 10, "sd_diff": float("nan")},
        {"n": 10, "sd_diff": 0.5, "alpha": 0.0},
        {"n": 10, "sd_diff": 0.5, "alpha": 1.0},
        {"n": 10, "sd_diff": 0.5, "power": 1.0},
        {"n": 10, "sd_diff": 0.5, "power": -0.2},
    ],
)
def test_refuses_bad_planning_inputs(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        minimum_detectable_effect(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("rate", [-0.1, 1.1, float("nan")])
def test_binary_refuses_bad_discordant_rate(rate: float) -> None:
    with pytest.raises(ValueError, match="discordant_rate"):
        minimum_detectable_effect_binary(100, discordant_rate=rate)


def test_paired_sd_is_sd_of_differences() -> None:
    rng = np.random.default_rng(0)
    b = rng.normal(size=50)
    c = b + rng.normal(0.1, 0.2, size=50)
    assert paired_sd(b, c) == pytest.approx(np.std(c - b, ddof=1))
    assert paired_sd([1, 0, 1], [1, 0, 1]) == 0.0


def test_paired_sd_refuses_single_item_and_mismatch() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        paired_sd([1.0], [0.0])
    with pytest.raises(ValueError, match="same items"):
        paired_sd([1.0, 0.0], [0.0])


def test_planted_effect_at_the_mde_is_detected_about_80_percent_of_the_time() -> None:
    """Simulate paired binary items with a true effect equal to the binary MDE.

    The true sd of differences is sqrt(d - delta^2), a little below the planning value sqrt(d),
    so realised power sits slightly above 0.8; the band allows for that and for 300 replications.
    """
    n, rate, alpha, reps = 400, 0.3, 0.05, 300
    mde = minimum_detectable_effect_binary(n, discordant_rate=rate, alpha=alpha)
    # Item outcome probabilities: candidate-only correct, baseline-only correct, concordant.
    p_c, p_b = (rate + mde) / 2, (rate - mde) / 2
    rng = np.random.default_rng(11)
    z_crit = stats.norm.ppf(1 - alpha)
    detected = 0
    for _ in range(reps):
        u = rng.random(n)
        concordant_correct = rng.random(n) < 0.6
        baseline = np.where(u < p_c, 0, np.where(u < p_c + p_b, 1, concordant_correct))
        candidate = np.where(u < p_c, 1, np.where(u < p_c + p_b, 0, concordant_correct))
        diff = candidate.astype(float) - baseline
        z = diff.mean() / (paired_sd(baseline, candidate) / math.sqrt(n))
        detected += z > z_crit
    assert 0.7 <= detected / reps <= 0.9
