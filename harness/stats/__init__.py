"""Paired statistics on per-item results of a candidate and a baseline model.

Both models are scored on the same items, so every statistic here works on per-item pairs:
a percentile bootstrap for the mean difference, an exact McNemar test for pass/fail items, Holm
correction across a family of checks, and minimum-detectable-effect planning. Only numpy and scipy
are used, so this layer can be imported without any model or tracking dependency.
"""

from harness.stats._bootstrap import PairedEstimate, bootstrap_p_value, paired_bootstrap
from harness.stats._mcnemar import McNemarResult, mcnemar_exact
from harness.stats._multiple import HolmResult, holm
from harness.stats._power import (
    Direction,
    gate_detectable_effect,
    minimum_detectable_effect,
    minimum_detectable_effect_binary,
    null_failure_rate,
    paired_sd,
)

__all__ = [
    "Direction",
    "HolmResult",
    "McNemarResult",
    "PairedEstimate",
    "bootstrap_p_value",
    "gate_detectable_effect",
    "holm",
    "mcnemar_exact",
    "minimum_detectable_effect",
    "minimum_detectable_effect_binary",
    "null_failure_rate",
    "paired_bootstrap",
    "paired_sd",
]
