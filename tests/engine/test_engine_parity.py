"""Our shared-context scorer must agree with lm-eval's HFLM item for item (fp32, tiny model)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from harness.config import ScoringSettings, load_suite
from harness.engine import HarnessLM, SharedContextScorer, TokenRequest, run_suite
from tests.conftest import write_tiny_suites


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(str(tiny_model_dir))


def _naive(model, req: TokenRequest) -> tuple[float, bool]:
    ids = torch.tensor([list(req.context) + list(req.continuation)[:-1]])
    with torch.no_grad():
        logp = torch.log_softmax(model(ids).logits[0].float(), -1)
    n = len(req.continuation)
    rows = logp[-n:]
    tgt = torch.tensor(req.continuation)
    return float(rows.gather(1, tgt[:, None]).sum()), bool((rows.argmax(-1) == tgt).all())


def test_shared_context_matches_one_forward_per_request(tiny) -> None:
    model, _ = tiny
    rng = random.Random(0)
    reqs = []
    for _ in range(9):
        ctx = tuple(rng.randrange(5, 300) for _ in range(rng.randint(3, 20)))
        for _ in range(rng.randint(1, 4)):
            reqs.append(
                TokenRequest(ctx, tuple(rng.randrange(5, 300) for _ in range(rng.randint(1, 5))))
            )
    got = SharedContextScorer(model, batch_size=4).score(reqs)
    for r, (lp, greedy) in zip(reqs, got, strict=True):
        want_lp, want_greedy = _naive(model, r)
        assert lp == pytest.approx(want_lp, abs=1e-4)
        assert greedy == want_greedy


def test_suite_results_match_lm_eval_hflm(tiny, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    from lm_eval.evaluator import evaluate
    from lm_eval.models.huggingface import HFLM

    from harness.engine import build_task

    model, tok = tiny
    paths = write_tiny_suites(tmp_path)
    for key in ("task", "general"):
        suite = load_suite(paths[key])
        ours = run_suite(
            HarnessLM(model, tok, batch_size=5, show_progress=False), suite, ScoringSettings()
        )
        hflm = HFLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=5)
        ref = evaluate(
            lm=hflm,
            task_dict={suite.name: build_task(suite)},
            bootstrap_iters=0,
            log_samples=True,
            verbosity="ERROR",
        )
        ref_samples = sorted(ref["samples"][suite.name], key=lambda s: s["doc_id"])
        assert len(ref_samples) == len(ours)
        for item, sample in zip(ours, ref_samples, strict=True):
            ref_lls = [float(r[0]) for r in sample["filtered_resps"]]
            assert item.extra["loglikelihoods"] == pytest.approx(ref_lls, abs=1e-4)
            assert item.scores["acc"] == sample["acc"]
