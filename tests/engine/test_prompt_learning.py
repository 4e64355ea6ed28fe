"""Prefix- and prompt-tuning adapters are scored through PeftModel.forward, where they act.

The trie scorer runs the base decoder directly, which would silently drop the virtual tokens;
HarnessLM routes a model whose active adapter is a prompt-learning one through plain
right-padded forwards of the PeftModel. Each result must equal a per-request forward of the
same PeftModel (fp32, 1e-4) and differ from the bare base's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.config import ScoringSettings, load_suite
from harness.engine import HarnessLM, is_prompt_learning, run_suite
from harness.models import attach_adapter
from tests.conftest import QUEUES, write_tiny_suites

PAIRS = [
    ("Route this support ticket to its queue.\nTicket: I cannot log in\nQueue:", " Q38"),
    ("Route this support ticket to its queue.\nTicket: I cannot log in\nQueue:", " Q17"),
    ("Question: What is 3 plus 4?\nAnswer:", " 7"),
    ("What is the capital of France?", " Paris"),
    ("", "yes no"),
    ("Ticket: my parcel has not arrived\nQueue: ", "Q23 and more words here"),
]


def _fresh(model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A prefix-tuning and a prompt-tuning adapter with random, non-trivial virtual tokens."""
    from peft import PrefixTuningConfig, PromptTuningConfig, get_peft_model

    root = tmp_path_factory.mktemp("prompt-learning")
    configs = {
        "prefix": PrefixTuningConfig(num_virtual_tokens=4, task_type="CAUSAL_LM"),
        "prompt": PromptTuningConfig(num_virtual_tokens=5, task_type="CAUSAL_LM"),
    }
    out: dict[str, Path] = {}
    for i, (kind, cfg) in enumerate(configs.items()):
        torch.manual_seed(10 + i)
        model = get_peft_model(_fresh(tiny_model_dir), cfg)
        with torch.no_grad():
            for p in model.prompt_encoder.parameters():
                p.normal_(0.0, 1.0)
        out[kind] = root / kind
        model.save_pretrained(str(out[kind]), safe_serialization=True)
    return out


@pytest.fixture(scope="module")
def tok(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model_dir))


def _attached(tiny_model_dir: Path, adapter: Path) -> Any:
    model = attach_adapter(_fresh(tiny_model_dir), adapter, "pl")
    model.set_adapter("pl")
    return model.eval()


def _instance(kind: str, args: tuple[Any, ...]) -> Any:
    from lm_eval.api.instance import Instance

    return Instance(kind, {}, args, 0)


@torch.no_grad()
def _reference(model: Any, ctx: list[int], cont: list[int]) -> tuple[float, bool]:
    """One unpadded forward of the PeftModel: log p(cont | ctx) and greedy, as lm-eval does."""
    ids = torch.tensor([ctx + cont][0][:-1])[None]
    logits = model(input_ids=ids).logits[0, -len(cont) :].float()
    logp = torch.log_softmax(logits, -1)
    target = torch.tensor(cont)
    lp = float(logp.gather(1, target[:, None]).sum())
    return lp, bool((logp.argmax(-1) == target).all())


@pytest.mark.parametrize("kind", ["prefix", "prompt"])
def test_loglikelihood_equals_a_plain_peft_forward_and_differs_from_the_base(
    kind: str, adapters: dict[str, Path], tiny_model_dir: Path, tok: Any
) -> None:
    model = _attached(tiny_model_dir, adapters[kind])
    assert is_prompt_learning(model)
    lm = HarnessLM(model, tok, batch_size=4, show_progress=False, device=None)
    got = lm.loglikelihood([_instance("loglikelihood", p) for p in PAIRS])
    for (_, ctx, cont), (lp, greedy) in zip(lm.encode_pairs(PAIRS), got, strict=True):
        ref_lp, ref_greedy = _reference(model, ctx, cont)
        assert lp == pytest.approx(ref_lp, abs=1e-4)
        assert greedy == ref_greedy

    base = HarnessLM(_fresh(tiny_model_dir), tok, batch_size=4, show_progress=False, device=None)
    assert not is_prompt_learning(base.model)
    base_lps = [lp for lp, _ in base.loglikelihood([_instance("loglikelihood", p) for p in PAIRS])]
    assert max(abs(a - b) for a, b in zip(base_lps, (lp for lp, _ in got), strict=True)) > 1e-2


@pytest.mark.parametrize("kind", ["prefix", "prompt"])
def test_rolling_loglikelihood_goes_through_the_adapter(
    kind: str, adapters: dict[str, Path], tiny_model_dir: Path, tok: Any
) -> None:
    model = _attached(tiny_model_dir, adapters[kind])
    lm = HarnessLM(model, tok, batch_size=3, show_progress=False, device=None)
    text = "Route this support ticket to its queue. Ticket: my invoice is wrong"
    (rolled,) = lm.loglikelihood_rolling([_instance("loglikelihood_rolling", (text,))])
    ref, _ = _reference(model, [lm.prefix_token_id], lm.tok_encode(text))
    assert rolled == pytest.approx(ref, abs=1e-4)
    with model.disable_adapter():
        (bare,) = lm.loglikelihood_rolling([_instance("loglikelihood_rolling", (text,))])
    assert abs(bare - rolled) > 1e-2


def _sharpened(model_dir: Path) -> Any:
    """The tiny model with its weights scaled up, so greedy tokens depend on the input (the
    unscaled random model repeats one token whatever it sees)."""
    model = _fresh(model_dir)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" not in name:
                p.mul_(10.0)
    return model


@torch.no_grad()
def _greedy_reference(model: Any, ids: list[int], n: int, eos: int) -> list[int]:
    """Greedy decoding one prompt at a time, each step an unpadded PeftModel forward."""
    new: list[int] = []
    for _ in range(n):
        nxt = int(model(input_ids=torch.tensor([ids + new])).logits[0, -1].argmax())
        new.append(nxt)
        if nxt == eos:
            break
    return new


@pytest.mark.parametrize("kind", ["prefix", "prompt"])
def test_generation_applies_the_adapter_in_a_left_padded_batch(
    kind: str, adapters: dict[str, Path], tiny_model_dir: Path, tok: Any
) -> None:
    model = attach_adapter(_sharpened(tiny_model_dir), adapters[kind], "pl").eval()
    lm = HarnessLM(model, tok, batch_size=3, show_progress=False, device=None)
    prompts = ["Ticket: I cannot log in\nQueue:", "What is", "Question: What is 3 plus 4?\nAnswer:"]
    kwargs = {"until": ["\n\n"], "max_gen_toks": 6, "do_sample": False}
    requests = [_instance("generate_until", (p, kwargs)) for p in prompts]
    got = lm.generate_until(requests)
    for prompt, text in zip(prompts, got, strict=True):
        new = _greedy_reference(model, tok(prompt)["input_ids"], 6, lm.eot_token_id)
        assert text == tok.decode(new, skip_special_tokens=True).split("\n\n")[0]
    with model.disable_adapter():
        bare = lm.generate_until(requests)
    assert bare != got  # the virtual tokens changed what the model says

    with pytest.raises(ValueError, match="greedily only"):
        lm.generate_until(
            [
                _instance(
                    "generate_until",
                    ("What is", {"do_sample": True, "temperature": 1.0, "max_gen_toks": 4}),
                )
            ]
        )


@pytest.mark.parametrize("kind", ["prefix", "prompt"])
def test_a_multiple_choice_suite_scores_with_the_adapter(
    kind: str,
    adapters: dict[str, Path],
    tiny_model_dir: Path,
    tok: Any,
    tmp_path: Path,
) -> None:
    paths = write_tiny_suites(tmp_path)
    suite = load_suite(paths["task"])
    model = _attached(tiny_model_dir, adapters[kind])
    lm = HarnessLM(model, tok, batch_size=8, show_progress=False, device=None)
    items = run_suite(lm, suite, ScoringSettings())
    assert len(items) == 30 and all(it.scores["acc"] in (0.0, 1.0) for it in items)
    # Every choice's log-likelihood, and so the prediction, is a plain PeftModel forward's.
    rows = [json.loads(line) for line in (paths["task"].parent / "test.jsonl").open()]
    ticket = {r["id"]: r["ticket"] for r in rows}
    for it in items[:8]:
        ctx = f"Route this support ticket to its queue.\nTicket: {ticket[it.item_id]}\nQueue:"
        enc = lm.encode_pairs([(ctx, f" {q}") for q in QUEUES])
        ref = [_reference(model, c, t)[0] for _, c, t in enc]
        assert it.extra["loglikelihoods"] == pytest.approx(ref, abs=1e-4)
        assert it.prediction == max(range(len(ref)), key=lambda k: ref[k])
