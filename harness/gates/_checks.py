"""Gate checks computed from paired per-item results.

Every check compares a candidate with the baseline on the same items. A check passes only on
evidence: the relevant confidence bound of the paired delta must clear the policy's threshold,
so a small or noisy suite fails to prove a gain rather than passing by luck.
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates._check import Check, check_name
from harness.gates._registry import CheckKind, check_kind
from harness.stats import (
    Direction,
    bootstrap_p_value,
    gate_detectable_effect,
    holm,
    mcnemar_exact,
    paired_bootstrap,
    paired_sd,
)

__all__ = ["Check", "PairingError", "apply_holm", "paired_arrays", "paired_check"]


class PairingError(ValueError):
    """Baseline and candidate results are not on the same items."""


def by_capability(items: list[ItemResult]) -> dict[str, list[ItemResult]]:
    """Items per capability (items without one left out), for the per-capability checks."""
    out: dict[str, list[ItemResult]] = {}
    for it in items:
        if it.capability:
            out.setdefault(it.capability, []).append(it)
    return out


def paired_arrays(
    base: list[ItemResult], cand: list[ItemResult], metric: str
) -> tuple[np.ndarray, np.ndarray]:
    b = {r.item_id: r.scores.get(metric, math.nan) for r in base}
    c = {r.item_id: r.scores.get(metric, math.nan) for r in cand}
    if b.keys() != c.keys():
        missing = sorted(b.keys() ^ c.keys())[:5]
        raise PairingError(f"baseline and candidate were scored on different items: {missing}")
    ids = sorted(b)
    return np.array([b[i] for i in ids], float), np.array([c[i] for i in ids], float)


def _mde(
    bv: np.ndarray, cv: np.ndarray, alpha: float, margin: float, direction: Direction
) -> float | None:
    """The true effect this check resolves with power 0.8 (see gate_detectable_effect)."""
    n = len(bv)
    if n < 2:
        return None
    sd = paired_sd(bv, cv)
    if sd == 0.0:
        # No item changed: plan with the baseline's own spread instead of claiming MDE 0.
        p = float(np.mean(bv))
        sd = math.sqrt(max(p * (1 - p), 1e-12)) * math.sqrt(2)
    return float(
        gate_detectable_effect(n, sd_diff=sd, margin=margin, direction=direction, alpha=alpha)
    )


def paired_check(
    *,
    kind: str | CheckKind,
    variant: str,
    suite: SuiteSpec,
    capability: str | None,
    base: list[ItemResult],
    cand: list[ItemResult],
    policy: GatePolicy,
    margin: float,
    reference: str | None = None,
) -> Check:
    """Build one check of a kind decided by a confidence bound (its registered direction).

    ``gain`` kinds (``improves``) need the lower bound above +margin; ``no_drop`` kinds
    (``no_forgetting``, ``quantization_gap``) need it above -margin.
    """
    spec = kind if isinstance(kind, CheckKind) else check_kind(kind)
    direction = spec.direction
    if direction is None:
        raise ValueError(f"check kind {spec.name!r} has no direction: not a confidence-bound check")
    threshold = margin if direction == "gain" else -margin
    metric = suite.metric
    where = f"{suite.name}/{capability}" if capability else suite.name
    name = check_name(variant, where, spec.name)
    bv, cv = paired_arrays(base, cand, metric)
    n = len(bv)
    nan = math.nan

    def undecidable(reason: str) -> Check:
        return Check(
            name,
            spec.name,
            variant,
            suite.name,
            capability,
            metric,
            nan,
            nan,
            nan,
            (nan, nan),
            margin,
            False,
            reason,
            n,
            None,
        )

    if n == 0:
        return undecidable("no items to compare")
    if not (np.all(np.isfinite(bv)) and np.all(np.isfinite(cv))):
        bad = int(np.sum(~np.isfinite(bv)) + np.sum(~np.isfinite(cv)))
        return undecidable(
            f"{bad} item score(s) are NaN or infinite; a non-finite metric never passes"
        )
    # The statistics run on "better" = higher; a lower-is-better metric (perplexity, bits per
    # byte) is negated for them and reported back in its own units.
    sign = 1.0 if suite.higher_is_better else -1.0
    est = paired_bootstrap(
        sign * bv,
        sign * cv,
        confidence=1 - 2 * policy.alpha,
        resamples=policy.bootstrap_resamples,
        seed=policy.seed,
    )
    mde = _mde(bv, cv, policy.alpha, margin, direction)
    passed = bool(est.low > threshold)
    if direction == "gain":
        reason = (
            f"gain {est.delta:+.3f}, lower bound {est.low:+.3f} "
            f"{'>' if passed else '<='} required gain {margin:+.3f}"
        )
    else:
        reason = (
            f"change {est.delta:+.3f}, lower bound {est.low:+.3f} "
            f"{'>' if passed else '<='} allowed drop {-margin:+.3f}"
        )
    if sign < 0:
        reason += f" ({metric}: lower is better, so gain = baseline - candidate)"
    if reference is not None:
        reason = f"vs {reference}: {reason}"
    p_value = bootstrap_p_value(
        sign * bv,
        sign * cv,
        threshold=threshold,
        resamples=policy.bootstrap_resamples,
        seed=policy.seed,
    )
    mcnemar = None
    if np.all(np.isin(bv, (0.0, 1.0))) and np.all(np.isin(cv, (0.0, 1.0))):
        mc = mcnemar_exact(bv, cv)
        mcnemar = {"b": float(mc.b), "c": float(mc.c), "p_value": mc.p_value}
    return Check(
        name,
        spec.name,
        variant,
        suite.name,
        capability,
        metric,
        sign * est.baseline,
        sign * est.candidate,
        sign * est.delta,
        (est.low, est.high) if sign > 0 else (-est.high, -est.low),
        margin,
        passed,
        reason,
        n,
        mde,
        p_value=p_value,
        mcnemar=mcnemar,
    )


def apply_holm(checks: list[Check], alpha: float) -> list[Check]:
    """Holm-correct the p-values of all statistical checks of one gate run.

    A gate passes only if every check passes, so the error to control is the chance that any
    check passes by luck: a regression hidden among many capability checks. A check that
    cleared its interval but not its Holm-adjusted p-value fails, and says so.
    """
    idx = [i for i, c in enumerate(checks) if c.p_value is not None]
    if not idx:
        return checks
    result = holm([float(checks[i].p_value) for i in idx], alpha)  # type: ignore[arg-type]
    out = list(checks)
    for i, adj, rejected in zip(idx, result.adjusted, result.rejected, strict=True):
        c = checks[i]
        passed = bool(c.passed and rejected)
        reason = c.reason
        if c.passed and not rejected:
            reason += f"; but Holm-adjusted p={adj:.3g} > alpha {alpha:g} across {len(idx)} checks"
        out[i] = replace(c, p_adjusted=adj, passed=passed, reason=reason)
    return out
