"""Registry suite entries: bad input (exit 2 with file, field, fix), the limit sample, the example.

Offline, no model: lm-eval's registry and a tmp hub cache (tests/engine/registry_cache.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.config import ConfigError, ScoringSettings, load_experiment
from harness.config._registry_suite import RegistrySuite, registry_suite
from tests.engine.registry_cache import fill_cache

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def hf_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "hf"
    fill_cache(home / "hub")
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    return home


def _suite(raw: dict[str, Any], tmp: Path, check_data: bool = True) -> RegistrySuite:
    file = tmp / "exp.yaml"
    return registry_suite(
        {"kind": "general", **raw}, file, "suites.2", ScoringSettings(), check_data
    )


def test_unknown_name_lists_the_closest(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        _suite({"lm_eval": "hellaswg"}, tmp_path, check_data=False)
    assert e.value.field == "suites.2.lm_eval" and e.value.file == str(tmp_path / "exp.yaml")
    assert "not a registered" in e.value.problem and "hellaswag" in e.value.problem


def test_bad_entry_fields_name_the_entry(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        _suite({"lm_eval": "mmlu", "limt": 5}, tmp_path, check_data=False)
    assert e.value.field == "suites.2.limt"
    with pytest.raises(ConfigError) as e:
        _suite({"lm_eval": "mmlu", "capabilities": "subjects"}, tmp_path, check_data=False)
    assert e.value.field == "suites.2.capabilities"


def test_metric_without_per_item_value_is_refused(tmp_path: Path) -> None:
    """glue's cola gates on mcc, a corpus statistic: there is nothing to pair per item."""
    with pytest.raises(ConfigError) as e:
        _suite({"lm_eval": "cola"}, tmp_path, check_data=False)
    assert e.value.field == "suites.2.metric" and "no per-item value" in e.value.problem
    with pytest.raises(ConfigError) as e:
        _suite({"lm_eval": "gsm8k", "metric": "acc"}, tmp_path, check_data=False)
    assert "exact_match" in e.value.fix


def test_dataset_missing_offline_names_dataset_config_and_command(hf_env, tmp_path) -> None:
    with pytest.raises(ConfigError) as e:
        _suite({"lm_eval": "arc_challenge"}, tmp_path)
    err = e.value
    assert err.field == "suites.2.lm_eval"
    assert "allenai/ai2_arc" in err.problem and "ARC-Challenge" in err.problem
    assert "offline" in err.problem
    assert "hf download --repo-type dataset allenai/ai2_arc" in err.fix


def test_limit_larger_than_the_split(hf_env, tmp_path) -> None:
    with pytest.raises(ConfigError) as e:
        _suite({"lm_eval": "gsm8k", "limit": 5}, tmp_path)
    assert e.value.field == "suites.2.limit" and "4 items" in e.value.problem


def test_validation_without_data_cannot_score(tmp_path) -> None:
    from harness.engine import run_suite

    suite = _suite({"lm_eval": "gsm8k"}, tmp_path, check_data=False)
    assert suite.fingerprint.startswith("unresolved")
    with pytest.raises(ConfigError, match="validated without its data"):
        run_suite(None, suite, ScoringSettings())


def test_stratified_sample() -> None:
    from harness.engine._registry_run import stratified_sample

    sizes = {"a": 100, "b": 50, "c": 10, "d": 1}
    got = stratified_sample(sizes, 40, seed=0)
    assert {t: len(v) for t, v in got.items()} == {"a": 25, "b": 12, "c": 3, "d": 0}
    # shares 24.8, 12.4, 2.5, 0.2: the two items left go to the largest remainders (a, c)
    assert got == stratified_sample(sizes, 40, seed=0)
    assert got != stratified_sample(sizes, 40, seed=1)
    assert all(v == sorted(set(v)) and all(0 <= i < sizes[t] for i in v) for t, v in got.items())
    assert stratified_sample(sizes, None, 0)["a"] == list(range(100))


def test_group_limit_is_a_stratified_seeded_sample(hf_env, tmp_path) -> None:
    from harness.engine._registry_run import selection

    suite = _suite({"lm_eval": "mmlu", "limit": 57}, tmp_path)
    picked = selection(suite, ScoringSettings())
    assert len(picked) == 57 and len({t for t, _ in picked}) == 57  # one per subject
    again = selection(_suite({"lm_eval": "mmlu", "limit": 57}, tmp_path), ScoringSettings())
    assert picked == again
    ten = selection(suite, ScoringSettings(limit=10))  # scoring.limit: a smaller sample
    assert len(ten) == 10 and len({t for t, _ in ten}) == 10
    caps = dict(suite.subtasks)
    assert len({caps[t] for t, _ in ten}) > 1  # not the first ten subjects (all STEM)
    other = _suite({"lm_eval": "mmlu", "limit": 57, "sample_seed": 1}, tmp_path)
    assert other.fingerprint != suite.fingerprint


def test_capability_modes(tmp_path) -> None:
    groups = _suite({"lm_eval": "mmlu"}, tmp_path, check_data=False)
    tasks = _suite({"lm_eval": "mmlu", "capabilities": "tasks"}, tmp_path, check_data=False)
    none = _suite({"lm_eval": "mmlu", "capabilities": "none"}, tmp_path, check_data=False)
    assert dict(groups.subtasks)["mmlu_anatomy"] == "mmlu_stem"
    assert dict(tasks.subtasks)["mmlu_anatomy"] == "mmlu_anatomy"
    assert set(dict(none.subtasks).values()) == {None}
    assert len(groups.subtasks) == 57 and groups.metric == "acc" and groups.higher_is_better
    single = _suite({"lm_eval": "hellaswag"}, tmp_path, check_data=False)
    assert single.subtasks == (("hellaswag", None),)


def test_example_validates_without_data() -> None:
    """The documented example needs the cache to score; CI validates it without data."""
    exp = load_experiment(ROOT / "examples" / "standard-benchmarks.yaml", check_data=False)
    named = {s.name: s for s in exp.suites if isinstance(s, RegistrySuite)}
    assert {"mmlu", "arc_challenge", "hellaswag", "gsm8k"} <= set(named)
    assert all(s.kind == "general" for s in named.values())
    assert any(not isinstance(s, RegistrySuite) for s in exp.suites)  # task YAMLs unchanged
