"""HarnessLM.generate_until and loglikelihood_rolling against lm-eval's HFLM (fp32, tiny model).

HarnessLM is what every suite runs through, so its generation and rolling log-likelihoods
must be the ones lm-eval's own HF backend would produce on the same weights.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.engine import HarnessLM


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(str(tiny_model_dir))


@pytest.fixture(scope="module")
def hflm(tiny: tuple[Any, Any]) -> Any:
    from lm_eval.models.huggingface import HFLM

    model, tok = tiny
    return HFLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=3)


def _gen(context: str, **kwargs: Any) -> Any:
    from lm_eval.api.instance import Instance

    return Instance("generate_until", {}, (context, kwargs), 0)


def _rolling(text: str) -> Any:
    from lm_eval.api.instance import Instance

    return Instance("loglikelihood_rolling", {}, (text,), 0)


PROMPTS = [
    "Question: What is 3 plus 4?\nAnswer:",
    "Ticket: my parcel has not arrived\nQueue:",
    "Route this support ticket to its queue.\nTicket: I cannot log in\nQueue:",
    "What is the capital of France?",
    "yes no",
    "Question: What is the capital of Italy? Answer in one word.\nAnswer:",
    "Paris",
]


def _lm(tiny: tuple[Any, Any], batch_size: int = 3) -> HarnessLM:
    model, tok = tiny
    return HarnessLM(model, tok, batch_size=batch_size, show_progress=False)


def test_generation_matches_hflm_exactly(tiny: tuple[Any, Any], hflm: Any) -> None:
    reqs = [_gen(p, until=["\n\n"], max_gen_toks=12, do_sample=False) for p in PROMPTS]
    ours = _lm(tiny).generate_until(reqs)
    ref = hflm.generate_until(reqs)
    assert ours == ref
    assert any(o.strip() for o in ours)  # the comparison is not between empty strings


def test_mixed_generation_kwargs_match_hflm(tiny: tuple[Any, Any], hflm: Any) -> None:
    reqs = [
        _gen(p, until=["."] if i % 2 else ["\n"], max_gen_toks=4 + 3 * (i % 3))
        for i, p in enumerate(PROMPTS)
    ]
    assert _lm(tiny).generate_until(reqs) == hflm.generate_until(reqs)


def test_stop_sequence_cuts_the_output(tiny: tuple[Any, Any]) -> None:
    lm = _lm(tiny)
    free = lm.generate_until([_gen(PROMPTS[0], until=[], max_gen_toks=24)])[0]
    assert len(free) >= 6, free
    stop = free[3:5]
    cut = lm.generate_until([_gen(PROMPTS[0], until=[stop], max_gen_toks=24)])[0]
    assert cut == free.split(stop)[0]
    assert stop not in cut


def test_max_gen_toks_bounds_the_output(tiny: tuple[Any, Any]) -> None:
    _, tok = tiny
    lm = _lm(tiny)
    long = lm.generate_until([_gen(PROMPTS[1], until=[], max_gen_toks=16)])[0]
    short = lm.generate_until([_gen(PROMPTS[1], until=[], max_gen_toks=3)])[0]
    assert long.startswith(short) and len(short) < len(long)
    assert len(tok.encode(short, add_special_tokens=False)) <= 3


def test_batched_results_come_back_in_input_order(tiny: tuple[Any, Any]) -> None:
    reqs = [_gen(p, until=["\n"], max_gen_toks=6) for p in PROMPTS]
    one_by_one = [_lm(tiny, batch_size=1).generate_until([r])[0] for r in reqs]
    assert _lm(tiny, batch_size=4).generate_until(reqs) == one_by_one
    assert len(set(one_by_one)) > 1  # distinct outputs, so a reordering would show


_WORDS = [
    "the",
    "delivery",
    "is",
    "late",
    "and",
    "tracking",
    "shows",
    "nothing",
    "my",
    "parcel",
    "has",
    "not",
    "arrived",
]
DOCS = [
    "Paris is the capital of France.",
    "I was charged twice and my invoice is wrong. Please refund my payment.",
    # Longer than max_length (256 tokens), so it is scored in several rolling windows.
    " ".join(random.Random(7).choice(_WORDS) for _ in range(180)),
    "yes",
]


def test_rolling_loglikelihood_matches_hflm(tiny: tuple[Any, Any]) -> None:
    """HFLM with ``logits_cache=False``: with its default logits cache (lm-eval 0.4.13), a
    batch holding two rolling windows of one document mis-scores the shorter last window
    (-158.85 instead of -159.12 here, where a plain forward pass and HFLM on that window
    alone both give -159.12). The cache is a speed-up for multiple choice; turning it off
    changes no other value."""
    from lm_eval.models.huggingface import HFLM

    model, tok = tiny
    hflm = HFLM(pretrained=model, tokenizer=tok, device="cpu", batch_size=3, logits_cache=False)
    assert len(tok.encode(DOCS[2])) > hflm.max_length  # several rolling windows
    reqs = [_rolling(d) for d in DOCS]
    ours = _lm(tiny).loglikelihood_rolling(reqs)
    ref = hflm.loglikelihood_rolling(reqs)
    assert ours == pytest.approx(ref, abs=1e-4)
    assert all(x < 0 for x in ours)


def test_rolling_long_document_is_the_sum_of_its_windows(tiny: tuple[Any, Any]) -> None:
    """A document beyond max_length is scored in full: its windows cover every token."""
    from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

    model, _ = tiny
    lm = _lm(tiny)
    tokens = lm.tok_encode(DOCS[2])
    windows = [
        make_disjoint_window(w)
        for w in get_rolling_token_windows(tokens, lm.prefix_token_id, lm.max_length, 1)
    ]
    assert len(windows) >= 2 and sum(len(c) for _, c in windows) == len(tokens)
    total = 0.0
    with torch.no_grad():
        for ctx, cont in windows:
            ids = torch.tensor([ctx + cont[:-1]])
            logp = torch.log_softmax(model(ids).logits[0].float(), -1)[-len(cont) :]
            total += float(logp.double().gather(1, torch.tensor(cont)[:, None]).sum())
    assert lm.loglikelihood_rolling([_rolling(DOCS[2])])[0] == pytest.approx(total, abs=1e-4)
