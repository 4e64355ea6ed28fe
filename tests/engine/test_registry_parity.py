"""lm-eval's registered mmlu, hellaswag and gsm8k as suites: same predictions as lm-eval's HFLM.

The data sits in a Hugging Face hub cache laid out in tmp (tests/engine/registry_cache.py), in
the real repos' formats; the task definitions are lm-eval's own YAMLs, unchanged. The harness
side scores through ``run_suite`` with ``HarnessLM``; the reference is ``simple_evaluate`` with
``HFLM`` on the same cache (``load_dataset`` pointed at the snapshot directory, as datasets 5.2
does not find hub-cache-only datasets by name offline).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.config import ScoringSettings
from harness.config._registry_suite import RegistrySuite, registry_suite
from harness.engine import HarnessLM, run_suite
from tests.conftest import make_tiny_model
from tests.engine.registry_cache import REV_B, fill_cache


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """HF_HOME with the three datasets at revision a; the env is set for the whole module."""
    home = tmp_path_factory.mktemp("hf-home")
    fill_cache(home / "hub")
    return home


@pytest.fixture
def hf_env(hub: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_HOME", str(hub))
    monkeypatch.setenv("HF_HUB_CACHE", str(hub / "hub"))
    monkeypatch.setenv("HF_DATASETS_CACHE", str(hub / "datasets"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    return hub


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny llama with room for gsm8k's few-shot prompts plus 256 generated tokens."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    d = make_tiny_model(tmp_path_factory.mktemp("tiny-long"))
    cfg = json.loads((d / "config.json").read_text())
    cfg["max_position_embeddings"] = 4096
    (d / "config.json").write_text(json.dumps(cfg))
    model = AutoModelForCausalLM.from_pretrained(str(d), dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(str(d))


def _suite(raw: dict[str, Any], tmp: Path, **kw: Any) -> RegistrySuite:
    return registry_suite(
        {"kind": "general", **raw}, tmp / "exp.yaml", "suites.0", ScoringSettings(**kw)
    )


def _reference(model: Any, tok: Any, name: str, monkeypatch: pytest.MonkeyPatch, **kw: Any):
    """lm-eval's own path: TaskManager, simple_evaluate, HFLM, data from the same cache."""
    import datasets
    from huggingface_hub import snapshot_download
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    from harness.engine._registry import task_manager
    from harness.engine._registry_data import hub_cache

    real = datasets.load_dataset

    def from_cache(path: str, name: str | None = None, **kwargs: Any) -> Any:
        snap = snapshot_download(
            path, repo_type="dataset", local_files_only=True, cache_dir=hub_cache()
        )
        return real(snap, name, **kwargs)

    monkeypatch.setattr(datasets, "load_dataset", from_cache)
    hflm = HFLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=8)
    return simple_evaluate(
        model=hflm,
        tasks=[name],
        task_manager=task_manager(),
        bootstrap_iters=0,
        log_samples=True,
        verbosity="ERROR",
        **kw,
    )


def _by_item(ref: dict[str, Any], suite: RegistrySuite) -> dict[str, list[dict[str, Any]]]:
    single = len(suite.subtasks) == 1
    out: dict[str, list[dict[str, Any]]] = {}
    for task, samples in ref["samples"].items():
        for s in samples:
            key = str(s["doc_id"]) if single else f"{task}/{s['doc_id']}"
            out.setdefault(key, []).append(s)
    return out


@pytest.mark.parametrize("name", ["mmlu", "hellaswag"])
def test_multiple_choice_matches_hflm(name, tiny, hf_env, tmp_path, monkeypatch) -> None:
    from harness.engine._registry_run import lm_eval_aggregate

    model, tok = tiny
    suite = _suite({"lm_eval": name, "capabilities": "groups"}, tmp_path)
    ours = run_suite(
        HarnessLM(model, tok, batch_size=8, show_progress=False), suite, ScoringSettings()
    )
    ref = _reference(model, tok, name, monkeypatch)
    by_item = _by_item(ref, suite)
    assert len(ours) == len(by_item) == (171 if name == "mmlu" else 6)
    for item in ours:
        (sample,) = by_item[item.item_id]
        lls = [float(r[0]) for r in sample["filtered_resps"]]
        assert item.extra["loglikelihoods"] == pytest.approx(lls, abs=1e-4)
        assert item.scores["acc"] == sample["acc"]
        if name == "hellaswag":  # utils.process_docs (!function) built the choices
            assert item.scores["acc_norm"] == sample["acc_norm"]
    agg = lm_eval_aggregate(suite, ours)
    key = "acc,none"
    assert agg[name][key] == pytest.approx(ref["results"][name][key], abs=1e-9)
    if name == "mmlu":
        assert {c for _, c in suite.subtasks} == {
            "mmlu_stem",
            "mmlu_other",
            "mmlu_social_sciences",
            "mmlu_humanities",
        }
        assert {it.capability for it in ours} == {c for _, c in suite.subtasks}
        for g in ("mmlu_stem", "mmlu_humanities"):
            assert agg[g][key] == pytest.approx(ref["results"][g][key], abs=1e-9)


def test_generation_with_filters_matches_hflm(tiny, hf_env, tmp_path, monkeypatch) -> None:
    """gsm8k 2-shot (random draws from train) through both of lm-eval's filters."""
    model, tok = tiny
    suite = _suite({"lm_eval": "gsm8k", "num_fewshot": 2}, tmp_path)
    lm = HarnessLM(model, tok, batch_size=8, show_progress=False)
    ours = {it.item_id: it for it in run_suite(lm, suite, ScoringSettings())}
    ref = _reference(model, tok, "gsm8k", monkeypatch, num_fewshot=2)
    by_item = _by_item(ref, suite)
    assert len(ours) == len(by_item) == 4
    for item_id, item in ours.items():
        samples = {s["filter"]: s for s in by_item[item_id]}
        assert set(samples) == {"strict-match", "flexible-extract"}
        assert item.prediction == samples["strict-match"]["filtered_resps"][0]
        raw = samples["strict-match"]["resps"][0][0]
        assert item.extra.get("response", item.prediction) == raw
        assert (
            item.extra["filtered"]["flexible-extract"]
            == (samples["flexible-extract"]["filtered_resps"][0])
        )
        for flt, s in samples.items():
            assert item.scores[f"exact_match,{flt}"] == s["exact_match"]
        assert item.scores["exact_match"] == samples["strict-match"]["exact_match"]


def test_resumed_fewshot_run_gives_the_same_prompts(tiny, hf_env, tmp_path, monkeypatch) -> None:
    """hellaswag 2-shot: lm-eval draws the shots from one random stream, document by document;
    scored in batches of two with items skipped (a resumed run), every item still gets the
    prompt of one uninterrupted simple_evaluate pass (log-likelihoods show any change)."""
    model, tok = tiny
    suite = _suite({"lm_eval": "hellaswag", "num_fewshot": 2}, tmp_path)
    lm = HarnessLM(model, tok, batch_size=8, show_progress=False)
    resumed = run_suite(lm, suite, ScoringSettings(), skip={"1", "4"}, batch_items=2)
    assert [it.item_id for it in resumed] == ["0", "2", "3", "5"]
    by_item = _by_item(_reference(model, tok, "hellaswag", monkeypatch, num_fewshot=2), suite)
    for it in resumed:
        (sample,) = by_item[it.item_id]
        lls = [float(r[0]) for r in sample["filtered_resps"]]
        assert it.extra["loglikelihoods"] == pytest.approx(lls, abs=1e-4)


@pytest.mark.parametrize("name", ["mmlu", "hellaswag", "gsm8k"])
def test_changed_revision_is_not_reused(name, hf_env, tmp_path) -> None:
    from harness.store import ResultKey, ResultStore

    first = _suite({"lm_eval": name}, tmp_path)
    fill_cache(hf_env / "hub", revision=REV_B, tweak=" (revised)")  # refs/main -> b
    try:
        second = _suite({"lm_eval": name}, tmp_path)
    finally:
        fill_cache(hf_env / "hub")  # back to revision a for the other tests
    assert first.fingerprint != second.fingerprint
    assert "@aaaaaaaaaaaa" in first.version and "@bbbbbbbbbbbb" in second.version
    store = ResultStore(tmp_path / "store.sqlite")
    old = ResultKey("v", first.fingerprint, "s", "1")
    store.put(old, [], {"suite": first.name, "suite_version": first.version})
    new = ResultKey("v", second.fingerprint, "s", "1")
    assert store.get(new) is None
    (why,) = store.why_not_reused(new, second.name, {"suite_version": second.version})
    assert "@aaaaaaaaaaaa" in why and "@bbbbbbbbbbbb" in why
