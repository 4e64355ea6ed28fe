"""Input validation shared by the paired statistics.

Every statistic here assumes the two arrays describe the *same* items in the *same* order. A
silent broadcast, a NaN from a failed scorer or an empty suite would all yield a confident-looking
number that means nothing, so they are refused loudly at the boundary instead.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]


def paired_scores(baseline: ArrayLike, candidate: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """Return both score vectors as finite 1-D float64 arrays of equal, non-zero length."""
    b = _as_vector(baseline, "baseline")
    c = _as_vector(candidate, "candidate")
    if b.shape != c.shape:
        raise ValueError(
            f"paired inputs must score the same items: baseline has {b.size} items, "
            f"candidate has {c.size}"
        )
    if b.size == 0:
        raise ValueError("paired inputs are empty: there are no items to compare")
    for name, arr in (("baseline", b), ("candidate", c)):
        bad = ~np.isfinite(arr)
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raise ValueError(
                f"{name} has {int(bad.sum())} non-finite score(s) (NaN/inf), first at item {first}"
            )
    return b, c


def _as_vector(values: ArrayLike, name: str) -> FloatArray:
    raw = np.asarray(values)
    if raw.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold numeric or boolean scores, got dtype {raw.dtype}")
    if raw.ndim != 1:
        raise ValueError(f"{name} must be one score per item (1-D), got shape {raw.shape}")
    return raw.astype(np.float64, copy=False)


def check_probability(value: float, name: str) -> float:
    """Refuse levels outside the open interval (0, 1); NaN fails the comparison and is refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number in (0, 1), got {value!r}")
    v = float(value)
    if not 0.0 < v < 1.0:
        raise ValueError(f"{name} must lie strictly between 0 and 1, got {value!r}")
    return v


def check_count(value: int, name: str, minimum: int) -> int:
    """Refuse non-integers (a float count is almost always a unit mix-up) and too-small counts."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    v = int(value)
    if v < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {v}")
    return v


def check_nonnegative(value: float, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0.0:
        raise ValueError(f"{name} must be finite and non-negative, got {value!r}")
    return v
