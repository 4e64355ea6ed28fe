"""Minimum detectable effect (MDE) for planning paired comparisons.

A gate that passes because a suite is too small to see a regression is worse than no gate. The
MDE says, before running anything, how large a true difference must be to be caught with the
requested power, so suites can be sized (or a pass reported as "underpowered").

The normal approximation is used: per-item differences are bounded, suites have hundreds of items,
and a planning number does not need small-sample exactness.
"""

from __future__ import annotations

import math
from typing import Literal

from numpy.typing import ArrayLike
from scipy import stats

from harness.stats._checks import check_count, check_nonnegative, check_probability, paired_scores

Direction = Literal["gain", "no_drop"]
"""How a margin-based check decides: ``gain`` passes when the one-sided lower bound of the paired
delta clears ``+margin`` (superiority), ``no_drop`` when it clears ``-margin`` (non-inferiority).
Each check kind declares its direction (``harness.gates``); this module only does the arithmetic."""


def minimum_detectable_effect(
    n: int,
    *,
    sd_diff: float,
    alpha: float = 0.05,
    power: float = 0.8,
    one_sided: bool = True,
) -> float:
    """Smallest true mean difference detected with probability ``power`` by a level-``alpha`` test.

    ``(z_{1-a} + z_{power}) * sd_diff / sqrt(n)`` with ``a = alpha`` one-sided or ``alpha / 2``
    two-sided. One-sided is the default because a release gate asks a directional question
    ("did it get worse?"). ``sd_diff`` is the standard deviation of the per-item differences
    (see :func:`paired_sd`), not of either model's scores: pairing is what makes suites affordable.
    """
    items = check_count(n, "n", 2)
    sd = check_nonnegative(sd_diff, "sd_diff")
    a = check_probability(alpha, "alpha")
    pw = check_probability(power, "power")
    tail = a if one_sided else a / 2.0
    z_alpha = float(stats.norm.ppf(1.0 - tail))
    z_power = float(stats.norm.ppf(pw))
    return (z_alpha + z_power) * sd / math.sqrt(items)


def minimum_detectable_effect_binary(
    n: int,
    *,
    discordant_rate: float,
    alpha: float = 0.05,
    power: float = 0.8,
    one_sided: bool = True,
) -> float:
    """MDE for paired pass/fail items, from the expected rate of items the two models disagree on.

    Uses ``sd_diff = sqrt(discordant_rate)``. For differences in {-1, 0, 1} the true variance is
    ``discordant_rate - delta**2``, so this is the largest sd consistent with that disagreement
    rate: a conservative planning value. It is the one to use when a pilot run shows an observed
    sd of 0 (the models agreed on every pilot item), which would otherwise claim any effect is
    detectable; plan with a plausible disagreement rate instead.
    """
    rate = check_nonnegative(discordant_rate, "discordant_rate")
    if rate > 1.0:
        raise ValueError(f"discordant_rate is a fraction of items and must be <= 1, got {rate}")
    return minimum_detectable_effect(
        n, sd_diff=math.sqrt(rate), alpha=alpha, power=power, one_sided=one_sided
    )


def paired_sd(baseline: ArrayLike, candidate: ArrayLike) -> float:
    """Sample sd (ddof=1) of per-item differences: the ``sd_diff`` that MDE planning needs.

    It is the spread of the *differences* that governs paired power; it is usually much smaller
    than either model's own spread because hard items are hard for both.
    """
    b, c = paired_scores(baseline, candidate)
    if b.size < 2:
        raise ValueError("paired_sd needs at least 2 items to estimate a spread")
    return float((c - b).std(ddof=1))


def gate_detectable_effect(
    n: int,
    *,
    sd_diff: float,
    margin: float,
    direction: Direction,
    alpha: float = 0.05,
    power: float = 0.8,
) -> float:
    """The true effect a margin-based gate check decides on with the given power.

    A gate check compares a one-sided lower bound with a threshold, so the effect it can
    resolve depends on the margin, not only on the noise:

    - ``direction="gain"`` (pass when ``low > margin``): the true *gain* that passes with
      probability ``power`` is ``margin + (z_{1-alpha} + z_power) * s``;
    - ``direction="no_drop"`` (non-inferiority, pass when ``low > -margin``): the true *drop*
      that fails the check with probability ``power`` is ``margin - (z_{1-alpha} - z_power) * s``
      (never below 0),

    where ``s = sd_diff / sqrt(n)``. A drop of this size is caught at least ``power`` of the
    time; a smaller one may pass.
    """
    if direction not in ("gain", "no_drop"):
        raise ValueError(f"direction must be 'gain' or 'no_drop', got {direction!r}")
    count = check_count(n, "n", 2)
    a = check_probability(alpha, "alpha")
    pw = check_probability(power, "power")
    sd = check_nonnegative(sd_diff, "sd_diff")
    se = sd / math.sqrt(count)
    z_a, z_b = float(stats.norm.ppf(1 - a)), float(stats.norm.ppf(pw))
    if direction == "gain":
        return margin + (z_a + z_b) * se
    return max(0.0, margin - (z_a - z_b) * se)


def null_failure_rate(n: int, *, sd_diff: float, margin: float, alpha: float = 0.05) -> float:
    """Chance that a non-inferiority check fails a candidate that changed nothing on average.

    ``Phi(z_{1-alpha} - margin / s)``: above ``alpha`` the suite is too small (or the margin
    too tight) to clear a healthy candidate reliably.
    """
    count = check_count(n, "n", 2)
    a = check_probability(alpha, "alpha")
    sd = check_nonnegative(sd_diff, "sd_diff")
    se = sd / math.sqrt(count)
    if se == 0.0:
        return 0.0 if margin > 0 else 1.0
    return float(stats.norm.cdf(float(stats.norm.ppf(1 - a)) - margin / se))
