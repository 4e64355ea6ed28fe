"""The power plan: what each check of a gate run can tell, worked out before anything is scored.

A check on too few items (or with too tight a margin) fails a harmless adapter by chance: the
lower bound of a noisy delta falls below ``-margin`` although nothing changed. This module says,
per suite and capability, how often that happens and how large a drop is caught, from item
counts and one assumption: the *discordance*, the share of items whose correctness a candidate
changes (both directions), and the baseline's score ``p`` where the store has it.

With paired binary items the check's bootstrap sees per-item differences of spread
``sqrt(discordance)``; but on a fixed suite with a fixed baseline, a candidate that flips right
answers with probability ``f1`` and wrong ones with ``f0`` (no true change: ``p f1 = (1 - p) f0
= discordance / 2``) moves the suite's mean by less than that: its variance per item is
``discordance - discordance**2 / (4 p (1 - p))``. The plan uses both (the interval's width and
the delta's real spread); without a baseline it takes ``p = 0.5``, the largest spread, so a
plan without a store is the cautious one.

Figures (the normal approximation of the paired bootstrap the checks run; calibrated against
the real checks by tests/gates/test_plan.py):

- ``detectable``: the true drop (gain, for ``improves``) caught with probability ``power`` at
  the unadjusted alpha. Holm can only add failures, so a drop this large is caught at least
  that often in the corrected run too: it is the worst case for detection.
- ``null_failure``: the chance that a candidate with no true change fails this check in the
  Holm-corrected run, simulated jointly over every no-drop check of the run (a suite's overall
  check is the item-weighted mean of its capability checks; ``improves`` checks are taken as
  clearly passed, which is what a good candidate does). ``null_failure_worst`` is the same at
  Holm's worst case for one check (it is ranked first: alpha / m).
- ``items_needed`` / ``margin_needed``: what brings a flagged check under alpha even at Holm's
  worst case.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from scipy import stats

from harness.config import GatePolicy
from harness.config._policy import PolicyMargin
from harness.stats import Direction


@dataclass(frozen=True)
class PlannedSuite:
    """What the plan needs of one suite: its name and kind, and item counts per capability
    (``None`` for items without one). ``baseline``/``discordance`` per capability (``None``
    key: the whole suite) come from the result store where it has them: ``discordance`` is a
    candidate's against the base, ``peer_discordance`` two candidates' against each other (what
    a successor against its champion is)."""

    name: str
    kind: str
    items: Mapping[str | None, int]
    baseline: Mapping[str | None, float] = field(default_factory=dict)
    discordance: Mapping[str | None, float] = field(default_factory=dict)
    peer_discordance: Mapping[str | None, float] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.items.values())

    @property
    def capabilities(self) -> list[str]:
        """Capabilities that get their own check (the gate checks them when there are 2+)."""
        caps = sorted(c for c in self.items if c)
        return caps if len(caps) > 1 else []


@dataclass(frozen=True)
class PlanRow:
    """One planned check (per candidate: every candidate gets the same checks)."""

    suite: str
    capability: str | None
    kind: str
    direction: Direction
    items: int
    margin: float
    baseline: float | None
    discordance: float
    discordance_source: str
    detectable: float
    null_failure: float
    null_failure_worst: float
    items_needed: int | None = None
    margin_needed: float | None = None
    flags: tuple[str, ...] = ()

    @property
    def where(self) -> str:
        return f"{self.suite}/{self.capability}" if self.capability else self.suite


@dataclass(frozen=True)
class PowerPlan:
    rows: list[PlanRow]
    alpha: float
    power: float
    checks: int
    """How many p-valued checks Holm corrects across: the deciding family (release candidates,
    their champion checks, deciding quantization gaps)."""
    gate_null_failure: float
    """Chance that a harmless candidate gets NO-GO from the no-drop checks of the run."""

    @property
    def flagged(self) -> list[PlanRow]:
        return [r for r in self.rows if r.flags]


def _sd(discordance: float) -> float:
    return math.sqrt(max(discordance, 1e-12))


def true_sd(discordance: float, baseline: float | None) -> float:
    """Per-item spread of a no-change candidate's delta on a fixed suite and baseline."""
    p = min(max(0.5 if baseline is None else baseline, 0.01), 0.99)
    var = discordance - discordance**2 / (4 * p * (1 - p))
    return math.sqrt(max(var, 0.01 * discordance, 1e-12))


def needed(
    n: int, sd: float, spread_sd: float, margin: float, alpha: float, m: int
) -> tuple[int | None, float]:
    """Items and margin that keep a no-drop check's null failure at most alpha even at Holm's
    worst case: ``margin sqrt(n) >= z_{1-alpha/m} sd + z_{1-alpha} spread_sd``."""
    width = _z(1 - alpha / m) * sd + _z(1 - alpha) * spread_sd
    items = math.ceil((width / margin) ** 2) if margin > 0 else None
    return items, width / math.sqrt(n)


def _z(q: float) -> float:
    return float(stats.norm.ppf(q))


def detectable(
    se: float, spread: float, margin: float, direction: Direction, alpha: float, power: float
) -> float:
    """The true drop (``no_drop``) failed, or gain (``gain``) passed, with probability
    ``power``: the check decides on ``delta - z_{1-alpha} se`` against the threshold while the
    delta itself varies by ``spread``."""
    if direction == "gain":
        return margin + _z(1 - alpha) * se + _z(power) * spread
    return max(0.0, margin - _z(1 - alpha) * se + _z(power) * spread)


def _fail_rate(se: float, spread: float, margin: float, level: float) -> float:
    """Chance a no-change candidate's lower bound at ``level`` falls to ``-margin``."""
    return float(stats.norm.cdf((_z(1 - level) * se - margin) / max(spread, 1e-12)))


@dataclass(frozen=True)
class _Spec:
    suite: int
    capability: str | None
    margin: float
    se: float
    """The interval's standard error (from the observed spread, ``sqrt(discordance / n)``)."""
    spread: float
    """The real standard deviation of the delta (:func:`true_sd` / sqrt(n))."""


def simulate_null(
    specs: Sequence[_Spec],
    weights: Mapping[int, Mapping[str, float]],
    alpha: float,
    m: int,
    *,
    draws: int = 20_000,
    seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Per-check and any-check failure rates of no-drop checks under no true change, Holm
    across ``m`` checks (checks outside ``specs`` are taken as passed with p close to 0)."""
    rng = np.random.default_rng(seed)
    if not specs:
        return np.zeros(0), 0.0
    cap_draws: dict[tuple[int, str | None], np.ndarray] = {}
    for s in specs:
        if s.capability is not None:
            cap_draws[(s.suite, s.capability)] = rng.standard_normal(draws) * s.spread
    deltas = np.empty((draws, len(specs)))
    for j, s in enumerate(specs):
        own = cap_draws.get((s.suite, s.capability))
        if own is not None:
            deltas[:, j] = own
        elif weights.get(s.suite):
            w = weights[s.suite]
            deltas[:, j] = sum(w[c] * cap_draws[(s.suite, c)] for c in w)
        else:
            deltas[:, j] = rng.standard_normal(draws) * s.spread
    margins = np.array([s.margin for s in specs])
    ses = np.array([max(s.se, 1e-12) for s in specs])
    p = stats.norm.cdf((-margins - deltas) / ses)
    # Holm over m checks, the m - len(specs) others at p ~ 0 (ranked first).
    offset = m - len(specs)
    order = np.argsort(p, axis=1)
    sorted_p = np.take_along_axis(p, order, axis=1)
    thresholds = alpha / (m - offset - np.arange(len(specs)))
    ok_sorted = np.cumprod(sorted_p <= thresholds, axis=1).astype(bool)
    ok = np.empty_like(ok_sorted)
    np.put_along_axis(ok, order, ok_sorted, axis=1)
    fail = ~ok
    return fail.mean(axis=0), float(fail.any(axis=1).mean())


def _subjects(
    suites: Sequence[PlannedSuite], champion: bool
) -> Iterable[tuple[int, PlannedSuite, str | None, bool]]:
    """(key, suite, capability, against the champion) of every check one candidate gets: the
    checks against the base, then (with a champion) the same subjects against the champion,
    keyed apart so the null simulation draws their deltas independently."""
    for against in (False, True) if champion else (False,):
        for i, s in enumerate(suites):
            key = i + len(suites) if against else i
            for cap in [None, *s.capabilities] if s.kind != "task" else [None]:
                yield key, s, cap, against


def _threshold(
    policy: GatePolicy, s: PlannedSuite, cap: str | None, champion: bool
) -> tuple[float, Direction]:
    """The margin and direction of a check, as the check kinds decide them."""
    if s.kind == "task":
        if not champion:
            return policy.margin("min_gain", s.name), "gain"
        gain = policy.champion_gain(s.name)
        if gain is not None:
            return gain, "gain"
        return policy.margin("champion_margin", s.name), "no_drop"
    name: PolicyMargin = "forgetting_margin" if cap is None else "capability_margin"
    return policy.margin(name, s.name), "no_drop"


def _discordance(
    s: PlannedSuite, cap: str | None, champion: bool, policy: GatePolicy, assumed: str
) -> tuple[float, str]:
    """The discordance a check is planned with, and where it comes from.

    Against a champion the closest evidence is two stored candidates against each other: a
    successor and its champion are two adapters, not an adapter and its base. On a task suite
    the base's figure is the task being learnt (0.70 of the default's ticket items) and
    overstates those checks' noise (it flagged the default's own champion check); two
    adapters differed on 0.38 (LoRA vs QLoRA) and retrains on 0.37-0.51
    (bench/evidence/champion_noise.py).
    """
    if champion and cap in s.peer_discordance:
        return s.peer_discordance[cap], "observed between stored candidates"
    if cap in s.discordance:
        return s.discordance[cap], "observed"
    return policy.plan_discordance, assumed


def _kind(s: PlannedSuite, champion: bool) -> str:
    if champion:
        return "not_worse_than_champion"
    return "improves" if s.kind == "task" else "no_forgetting"


def plan_power(
    suites: Sequence[PlannedSuite],
    policy: GatePolicy,
    *,
    candidates: int = 1,
    champions: int = 0,
    pairs: int | None = None,
    discordance_source: str = "assumed (gate.plan_discordance)",
    draws: int = 20_000,
) -> PowerPlan:
    """The power plan of a gate run's deciding checks: ``candidates`` release candidates,
    ``champions`` of them also checked against a champion, and ``pairs`` quantization-gap
    subjects that decide (a quantised base a release candidate is served on, a release
    candidate's ``compare_to``; default: every base of ``gate.quantized_bases``), each
    checked on every suite. Comparison arms are Holm-corrected in a family of their own and
    do not decide the verdict, so they are not counted (see the module doc)."""
    alpha, power = policy.alpha, policy.plan_power
    per_candidate = sum(1 + len(s.capabilities) if s.kind != "task" else 1 for s in suites)
    n_pairs = len(policy.quantized_bases) if pairs is None else pairs
    m = max(1, (candidates + champions) * per_candidate + n_pairs * len(suites))
    rows: list[PlanRow] = []
    specs: list[_Spec] = []
    weights: dict[int, dict[str, float]] = {}
    for i, s, cap, champion in _subjects(suites, champions > 0):
        if s.capabilities:
            in_caps = sum(s.items[c] for c in s.capabilities)
            weights[i] = {c: s.items[c] / in_caps for c in s.capabilities}
        n = s.total if cap is None else s.items[cap]
        margin, direction = _threshold(policy, s, cap, champion)
        d, source = _discordance(s, cap, champion, policy, discordance_source)
        # Against a champion the reference's score is unknown before the run: the
        # cautious spread (p = 0.5), not the base's stored score.
        sd, base = _sd(d), None if champion else s.baseline.get(cap)
        se = sd / math.sqrt(max(n, 1))
        spread = true_sd(d, base) / math.sqrt(max(n, 1))
        if n < 2:
            det, worst = math.nan, 1.0
        else:
            det = detectable(se, spread, margin, direction, alpha, power)
            worst = _fail_rate(se, spread, margin, alpha / m) if direction == "no_drop" else 1.0
        if direction == "no_drop":
            specs.append(_Spec(i, cap, margin, se, spread))
        rows.append(
            PlanRow(
                s.name,
                cap,
                _kind(s, champion),
                direction,
                n,
                margin,
                base,
                d,
                source,
                det,
                math.nan,
                worst,
            )
        )
    rates, gate_rate = simulate_null(specs, weights, alpha, m, draws=draws, seed=policy.seed)
    it = iter(rates)
    out: list[PlanRow] = []
    for r in rows:
        if r.direction != "no_drop":
            out.append(r)
            continue
        rate = float(next(it))
        flags: list[str] = []
        if rate > alpha:
            flags.append(f"fails a harmless adapter {rate:.1%} of the time (alpha {alpha:g})")
        if not math.isnan(r.detectable) and r.detectable > r.margin:
            flags.append(f"catches a drop of {r.margin:.3f} less than {power:.0%} of the time")
        if r.items < 2:
            flags.append("fewer than 2 items: the check cannot decide")
        items_needed = margin_needed = None
        if flags and r.items >= 2:
            items_needed, margin_needed = needed(
                r.items,
                _sd(r.discordance),
                true_sd(r.discordance, r.baseline),
                r.margin,
                alpha,
                m,
            )
        out.append(
            replace(
                r,
                null_failure=rate,
                flags=tuple(flags),
                items_needed=items_needed,
                margin_needed=margin_needed,
            )
        )
    return PowerPlan(out, alpha, power, m, gate_rate)
