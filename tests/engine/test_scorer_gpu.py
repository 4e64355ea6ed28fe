"""The scorer on a CUDA device gives the CPU's fp32 results, warm-up included (nox -s gpu)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from harness.engine import HarnessLM, SharedContextScorer
from tests.engine.test_scorer_speed import _random_requests

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def test_cuda_scores_equal_cpu_scores_in_fp32(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    reqs = _random_requests(2)
    cpu = SharedContextScorer(model, batch_size=8, max_batch_tokens=512).score(reqs)
    lm = HarnessLM(model, tok, batch_size=64, device="cuda")  # warms up by default on CUDA
    assert lm.scorer.device.type == "cuda"
    gpu = lm.scorer.score(reqs)
    for (lp, greedy), (rlp, rgreedy) in zip(gpu, cpu, strict=True):
        assert lp == pytest.approx(rlp, abs=1e-4)
        assert greedy == rgreedy
