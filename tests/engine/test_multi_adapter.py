"""Base + K adapters on one load: every variant's results equal scoring it alone (fp32)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from harness.config import ScoringSettings, load_suite
from harness.engine import (
    HarnessLM,
    SharedContextScorer,
    TokenRequest,
    VariantScorer,
    active_variant,
    run_suite,
)
from tests.conftest import write_tiny_suites

VARIANTS = [None, "task1", "task2"]


@pytest.fixture(scope="module")
def peft_model(tiny_model_dir: Path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    torch.manual_seed(1)
    # init_lora_weights=False: B is random too, so each adapter really changes the outputs.
    cfg = dict(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"])
    pm = get_peft_model(model, LoraConfig(**cfg, init_lora_weights=False), adapter_name="task1")
    pm.add_adapter("task2", LoraConfig(**cfg, init_lora_weights=False))
    pm.eval()
    return pm, AutoTokenizer.from_pretrained(str(tiny_model_dir))


def _requests(seed: int = 0) -> list[TokenRequest]:
    rng = random.Random(seed)
    reqs = []
    for _ in range(12):
        ctx = tuple(rng.randrange(5, 300) for _ in range(rng.randint(3, 25)))
        for _ in range(rng.randint(1, 4)):
            cont = tuple(rng.randrange(5, 300) for _ in range(rng.randint(1, 5)))
            reqs.append(TokenRequest(ctx, cont))
    return reqs


def _alone(model, variant, reqs):
    with active_variant(model, variant):
        return SharedContextScorer(model, batch_size=3).score(reqs)


@pytest.mark.parametrize("mode", ["mixed", "switch"])
def test_each_variant_equals_scoring_it_alone(peft_model, mode: str) -> None:
    model, tok = peft_model
    reqs = _requests()
    got = VariantScorer(model, tok, VARIANTS, mode=mode, batch_size=6, device=None).score(reqs)
    assert list(got) == ["__base__", "task1", "task2"]
    for variant, name in zip(VARIANTS, got, strict=True):
        want = _alone(model, variant, reqs)
        for (lp, greedy), (wlp, wgreedy) in zip(got[name], want, strict=True):
            assert lp == pytest.approx(wlp, abs=1e-4)
            assert greedy == wgreedy
    # The adapters are not no-ops: otherwise this test would prove nothing.
    diff = max(abs(x[0] - y[0]) for x, y in zip(got["__base__"], got["task1"], strict=True))
    assert diff > 1e-2


def test_base_variant_is_the_model_without_adapters(peft_model) -> None:
    model, tok = peft_model
    reqs = _requests(seed=3)
    got = VariantScorer(model, tok, [None], device=None).score(reqs)["__base__"]
    with model.disable_adapter():
        want = SharedContextScorer(model).score(reqs)
    assert [g[0] for g in got] == pytest.approx([w[0] for w in want], abs=1e-5)


def test_variant_lms_run_suites_like_single_variant_lms(
    peft_model, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    model, tok = peft_model
    suite = load_suite(write_tiny_suites(tmp_path)["general"])
    shared = VariantScorer(model, tok, VARIANTS, mode="mixed", device=None)
    for variant in VARIANTS:
        ours = run_suite(shared.lm(variant), suite, ScoringSettings())
        with active_variant(model, variant):
            want = run_suite(HarnessLM(model, tok, show_progress=False), suite, ScoringSettings())
        for a, b in zip(ours, want, strict=True):
            assert a.prediction == b.prediction
            assert a.extra["loglikelihoods"] == pytest.approx(b.extra["loglikelihoods"], abs=1e-4)


def test_unknown_adapter_is_refused(peft_model) -> None:
    model, tok = peft_model
    with pytest.raises(ValueError, match="not attached"):
        VariantScorer(model, tok, [None, "nope"], device=None)
