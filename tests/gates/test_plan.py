"""The power plan, calibrated on the planted-effect simulation: the real checks (paired
bootstrap, Holm, decide) run on simulated paired binary items, and the plan's false NO-GO rate
and detectable drop must match what they do.

Model (bench/validity/planted_effect.py's): a fixed baseline, correct with probability ``p``
per item; the candidate flips right answers with probability ``f1`` and wrong ones with ``f0``
so that a share ``D`` of items changes and the expected change is ``-drop``.

Tolerances: 200 replications give a binomial standard error of at most 0.035 on a rate, so
rates must agree within 0.10 (about 3 standard errors).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates import build_checks, decide, paired_check
from harness.gates._plan import PlannedSuite, plan_power, true_sd

REPS = 200
TOL = 0.10
D = 0.25


def _suite(kind: str = "general") -> SuiteSpec:
    return SuiteSpec(
        name="general",
        path=Path("general.yaml"),
        kind=kind,  # type: ignore[arg-type]
        version="1",
        output_type="multiple_choice",
        metric="acc",
        capability=None,
        capability_field="capability",
        data_files={},
        fingerprint="sim",
    )


def _pair(
    rng: np.random.Generator, n: int, p: float, drop: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    base = (rng.random(n) < p).astype(float)
    p = float(base.mean())  # no true change on *this* suite: the expected change is -drop
    f1 = min(1.0, (D + drop) / (2 * p))
    f0 = min(1.0, max(0.0, (D - drop) / (2 * (1 - p))))
    u = rng.random(n)
    flip = np.where(base == 1.0, u < f1, u < f0)
    return base, np.where(flip, 1.0 - base, base)


def _items(values: np.ndarray, caps: list[str | None]) -> list[ItemResult]:
    return [ItemResult(f"i{i}", {"acc": float(v)}, caps[i]) for i, v in enumerate(values)]


POLICY = GatePolicy(
    bootstrap_resamples=1000,
    require_change=False,
    forgetting_margin=0.06,
    capability_margin=0.10,
    plan_discordance=D,
)


def test_one_check_false_nogo_and_detectable_drop_match_the_real_check() -> None:
    n, p = 250, 0.5
    plan = plan_power(
        [PlannedSuite("general", "general", {None: n}, baseline={None: p})], POLICY, draws=40_000
    )
    (row,) = plan.rows
    assert plan.checks == 1
    assert 0.2 < row.null_failure < 0.6  # a margin where the rate is worth measuring

    def fail_rate(drop: float) -> float:
        fails = 0
        for rep in range(REPS):
            b, c = _pair(np.random.default_rng(rep), n, p, drop)
            check = paired_check(
                kind="no_forgetting",
                variant="lora",
                suite=_suite(),
                capability=None,
                base=_items(b, [None] * n),
                cand=_items(c, [None] * n),
                policy=POLICY,
                margin=POLICY.forgetting_margin,
            )
            fails += not check.passed
        return fails / REPS

    assert fail_rate(0.0) == pytest.approx(row.null_failure, abs=TOL)
    # The planned detectable drop, planted, is caught about plan_power of the time.
    assert fail_rate(row.detectable) == pytest.approx(POLICY.plan_power, abs=TOL)


def test_holm_across_capabilities_gate_false_nogo_matches_the_plan() -> None:
    caps = {"a": (150, 0.5), "b": (150, 0.3), "c": (150, 0.7)}
    labels: list[str | None] = [c for c, (k, _) in caps.items() for _ in range(k)]
    plan = plan_power(
        [
            PlannedSuite(
                "general",
                "general",
                {c: k for c, (k, _) in caps.items()},
                baseline={**{c: q for c, (_, q) in caps.items()}, None: 0.5},
            )
        ],
        POLICY,
        draws=40_000,
    )
    assert plan.checks == 4  # overall + 3 capabilities, Holm across all
    nogo = 0
    for rep in range(REPS):
        rng = np.random.default_rng(1000 + rep)
        pairs = [_pair(rng, k, q) for k, q in caps.values()]
        b = np.concatenate([x for x, _ in pairs])
        c = np.concatenate([y for _, y in pairs])
        checks = build_checks(
            POLICY,
            [_suite()],
            {"general": _items(b, labels)},
            {"lora": {"general": _items(c, labels)}},
        )
        nogo += decide(checks).verdict == "NO-GO"
    assert 0.1 < plan.gate_null_failure < 0.7
    assert nogo / REPS == pytest.approx(plan.gate_null_failure, abs=TOL)


def test_flags_and_what_would_do() -> None:
    """Five 100-item suites under the default 0.05 margin (the issue's case) fail a harmless
    adapter nearly always; the plan flags each and its advice, applied, clears the flag."""
    policy = GatePolicy(plan_discordance=0.3)
    suites = [PlannedSuite(f"s{i}", "general", {None: 100}) for i in range(5)]
    plan = plan_power(suites, policy)
    assert len(plan.flagged) == 5
    assert plan.gate_null_failure > 0.95
    row = plan.rows[0]
    assert "fails a harmless adapter" in row.flags[0]
    assert row.items_needed is not None and row.items_needed > 1000
    assert row.margin_needed is not None and 0.15 < row.margin_needed < 0.3
    bigger = plan_power(
        [PlannedSuite(f"s{i}", "general", {None: row.items_needed}) for i in range(5)], policy
    )
    assert not bigger.flagged
    wider = GatePolicy(plan_discordance=0.3, forgetting_margin=min(1.0, row.margin_needed + 1e-3))
    assert not plan_power(suites, wider).flagged


def test_default_suite_shape_is_not_flagged_and_task_suites_plan_a_gain() -> None:
    caps = {"x": 250, "y": 250, "z": 250, "w": 250, "v": 250, "u": 250}
    plan = plan_power(
        [PlannedSuite("general", "general", caps), PlannedSuite("t", "task", {None: 300})],
        GatePolicy(),
    )
    assert not plan.flagged
    assert plan.checks == 8
    assert plan.gate_null_failure <= 0.05
    task = next(r for r in plan.rows if r.suite == "t")
    assert task.kind == "improves" and task.detectable > GatePolicy().min_gain


def test_true_sd_is_largest_without_a_baseline() -> None:
    assert true_sd(0.25, None) == pytest.approx(np.sqrt(0.25 - 0.0625))
    assert true_sd(0.25, 0.2) < true_sd(0.25, None) < np.sqrt(0.25)


def test_champion_checks_are_planned_with_their_margins() -> None:
    """With a champion every subject is planned twice: against the base and against the
    champion (task suites at champion_margin, or as a gain with champion_min_gain), all in
    one Holm family."""
    suites = [
        PlannedSuite("general", "general", {"a": 250, "b": 250}, baseline={None: 0.6}),
        PlannedSuite("t", "task", {None: 300}),
    ]
    policy = GatePolicy(champion_margin=0.12)
    plain = plan_power(suites, policy)
    both = plan_power(suites, policy, champions=1)
    assert plain.checks == 4 and both.checks == 8
    champ = [r for r in both.rows if r.kind == "not_worse_than_champion"]
    assert [(r.suite, r.capability) for r in champ] == [(r.suite, r.capability) for r in plain.rows]
    margins = {r.where: (r.direction, r.margin, r.baseline) for r in champ}
    assert margins == {
        "general": ("no_drop", policy.forgetting_margin, None),  # champion's score unknown
        "general/a": ("no_drop", policy.capability_margin, None),
        "general/b": ("no_drop", policy.capability_margin, None),
        "t": ("no_drop", 0.12, None),
    }
    assert all(0.0 <= r.null_failure <= 1.0 for r in champ)
    gain = plan_power(suites, GatePolicy(champion_min_gain=0.02), champions=1)
    task = next(r for r in gain.rows if r.kind == "not_worse_than_champion" and r.suite == "t")
    assert task.direction == "gain" and task.margin == 0.02 and np.isnan(task.null_failure)


def test_champion_checks_use_the_discordance_between_stored_candidates() -> None:
    """Two adapters disagree more than an adapter and its base: where the store has two
    candidates, the champion checks are planned with their discordance, the base checks with
    the base's, and the wider churn makes the champion checks easier to fail by chance."""
    suites = [
        PlannedSuite(
            "t",
            "task",
            {None: 300},
            discordance={None: 0.2},
            peer_discordance={None: 0.5},
        )
    ]
    plan = plan_power(suites, GatePolicy(champion_margin=0.06), champions=1, draws=20_000)
    base_row, champ_row = plan.rows
    assert (base_row.discordance, base_row.discordance_source) == (0.2, "observed")
    assert champ_row.kind == "not_worse_than_champion"
    assert champ_row.discordance == 0.5
    assert champ_row.discordance_source == "observed between stored candidates"
    narrow = plan_power(
        [replace(suites[0], peer_discordance={})], GatePolicy(champion_margin=0.06), champions=1
    )
    assert narrow.rows[1].discordance == 0.2
    assert champ_row.null_failure > narrow.rows[1].null_failure + 0.05


def test_champion_task_check_false_nogo_matches_the_real_check() -> None:
    """A successor as good as the champion, through the real not_worse_than_champion check."""
    from harness.gates import NOT_WORSE_THAN_CHAMPION

    n, policy = 300, GatePolicy(bootstrap_resamples=1000, champion_margin=0.05, plan_discordance=D)
    plan = plan_power([PlannedSuite("t", "task", {None: n})], policy, champions=1, draws=40_000)
    (row,) = [r for r in plan.rows if r.kind == "not_worse_than_champion"]
    assert 0.2 < row.null_failure < 0.7
    fails = 0
    for rep in range(REPS):
        champion, successor = _pair(np.random.default_rng(500 + rep), n, 0.5)
        check = paired_check(
            kind=NOT_WORSE_THAN_CHAMPION,
            variant="lora",
            suite=_suite("task"),
            capability=None,
            base=_items(champion, [None] * n),
            cand=_items(successor, [None] * n),
            policy=policy,
            margin=policy.champion_margin,
            reference="champion",
        )
        fails += not check.passed
    assert fails / REPS == pytest.approx(row.null_failure, abs=TOL)
