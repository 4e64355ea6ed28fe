"""``not_worse_than_champion`` from made-up paired results: which checks exist, against which
margin, in which direction, and that they join the run's Holm family."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates import Evidence, decide, evaluate, find_check_kind


def _suite(name: str, kind: str) -> SuiteSpec:
    return SuiteSpec(
        name=name,
        path=Path(f"{name}.yaml"),
        kind=kind,  # type: ignore[arg-type]
        version="1",
        output_type="multiple_choice",
        metric="acc",
        capability=None,
        capability_field="capability" if kind == "general" else None,
        data_files={},
        fingerprint=name,
    )


TASK, GENERAL = _suite("task", "task"), _suite("general", "general")


def _items(correct: np.ndarray, caps: bool = False) -> list[ItemResult]:
    return [
        ItemResult(f"i{i}", {"acc": float(v)}, ("a" if i % 2 else "b") if caps else None, int(v), 1)
        for i, v in enumerate(correct)
    ]


def _results(task: np.ndarray, general: np.ndarray) -> dict[str, list[ItemResult]]:
    return {"task": _items(task), "general": _items(general, caps=True)}


def _evidence(policy: GatePolicy, cand_task_shift: int, champions: dict[str, str]) -> Evidence:
    rng = np.random.default_rng(0)
    n = 400
    base_task = (rng.random(n) < 0.2).astype(float)
    champ_task = (rng.random(n) < 0.8).astype(float)
    cand_task = champ_task.copy()
    if cand_task_shift < 0:  # the candidate loses items the champion got right
        idx = np.flatnonzero(cand_task == 1)[:-cand_task_shift]
        cand_task[idx] = 0
    else:
        idx = np.flatnonzero(cand_task == 0)[:cand_task_shift]
        cand_task[idx] = 1
    general = (rng.random(n) < 0.5).astype(float)
    return Evidence(
        policy=policy,
        suites=[TASK, GENERAL],
        results={
            "base": _results(base_task, general),
            "champion": _results(champ_task, general),
            "lora": _results(cand_task, general),
        },
        candidates=["lora"],
        champions=champions,
    )


POLICY = GatePolicy(min_gain=0.1, bootstrap_resamples=2000)


def test_checks_per_suite_and_capability_with_their_margins() -> None:
    checks = evaluate(_evidence(POLICY, -8, {"lora": "champion"}))
    champ = {c.name: c for c in checks if c.kind == "not_worse_than_champion"}
    assert set(champ) == {
        "lora::task::not_worse_than_champion",
        "lora::general::not_worse_than_champion",
        "lora::general/a::not_worse_than_champion",
        "lora::general/b::not_worse_than_champion",
    }
    task = champ["lora::task::not_worse_than_champion"]
    assert task.margin == POLICY.champion_margin
    assert task.baseline > task.candidate and task.reason.startswith("vs champion: change")
    assert champ["lora::general::not_worse_than_champion"].margin == POLICY.forgetting_margin
    assert champ["lora::general/a::not_worse_than_champion"].margin == POLICY.capability_margin
    assert all(c.p_adjusted is not None for c in champ.values())  # in the Holm family
    # 8 items of 400 lost (-0.02): inside the margin; the champion's own checks: none.
    assert all(c.passed for c in champ.values()) and decide(checks).verdict == "GO"
    assert not any(c.variant == "champion" and c.kind != "finite_outputs" for c in checks)


def test_a_regression_past_the_margin_fails_with_the_remedy() -> None:
    checks = evaluate(_evidence(POLICY, -60, {"lora": "champion"}))  # -0.15 on the task
    outcome = decide(checks)
    assert outcome.verdict == "NO-GO"
    (failed,) = [c for c in checks if not c.passed]
    assert failed.name == "lora::task::not_worse_than_champion"
    assert f"allowed drop -{POLICY.champion_margin:.3f}" in failed.reason
    assert any(r.startswith("worse than the champion in task:") for r in outcome.reasons)


def test_required_gain_over_the_champion() -> None:
    policy = GatePolicy(min_gain=0.1, champion_min_gain=0.02, bootstrap_resamples=2000)
    same = {c.name: c for c in evaluate(_evidence(policy, 0, {"lora": "champion"}))}
    task = same["lora::task::not_worse_than_champion"]
    assert not task.passed and "required gain +0.020" in task.reason and task.margin == 0.02
    # general suites stay non-inferiority checks
    assert same["lora::general::not_worse_than_champion"].passed
    better = {c.name: c for c in evaluate(_evidence(policy, 40, {"lora": "champion"}))}
    assert better["lora::task::not_worse_than_champion"].passed  # +0.10 clears +0.02
    # a suite's own values win
    own = GatePolicy.model_validate(
        {
            **policy.model_dump(),
            "suites": {"task": {"champion_min_gain": 0.2, "champion_margin": 0.3}},
        }
    )
    assert own.champion_gain("task") == 0.2 and own.margin("champion_margin", "task") == 0.3
    assert own.champion_gain("general") == 0.02


def test_no_champion_no_check() -> None:
    checks = evaluate(_evidence(POLICY, -60, {}))
    assert not any(c.kind == "not_worse_than_champion" for c in checks)
    kind = find_check_kind("not_worse_than_champion")
    assert kind is not None and kind.scope == "candidate_suite"
    assert kind.display() == {"direction": "no_drop", "shown_as": ["champion"]}
