"""LoRA adapters of chosen ticket accuracy for the tiny llama, made in a second on the CPU.

The tiny model's ticket suite draws each ticket from nine phrases, three per queue. An adapter
fitted here answers the phrases in ``correct`` with their queue and every other phrase with the
next queue, so its accuracy on the ticket suite is (about) ``len(correct) / 9`` whatever the
random base does: adapters that are worse or better than each other by a known margin, for the
champion tests. The fit uses the scoring's own tokenisation (``HarnessLM.encode_pairs``).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tests.conftest import QUEUES, TOPICS

PROMPT = "Route this support ticket to its queue.\nTicket: {}\nQueue:"
PHRASES = [(text, QUEUES.index(q)) for q in QUEUES for text in TOPICS[q]]  # 9, queue order


def make_ticket_adapter(
    model_dir: Path, out: Path, correct: Iterable[int], *, seed: int = 0, steps: int = 150
) -> Path:
    """Fit a LoRA (r 8, q/k/v/o) answering phrase ``i`` right iff ``i`` in ``correct``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.engine import HarnessLM

    right = set(correct)
    torch.manual_seed(seed)
    tok = AutoTokenizer.from_pretrained(str(model_dir))
    base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    lm = HarnessLM(base, tok, batch_size=8)
    seqs, spans, labels = [], [], []
    for i, (text, label) in enumerate(PHRASES):
        pairs = [(PROMPT.format(text), f" {q}") for q in QUEUES]
        for _, ctx, cont in lm.encode_pairs(pairs):
            spans.append((len(seqs), len(ctx), len(ctx) + len(cont)))
            seqs.append(ctx + cont)
        labels.append(label if i in right else (label + 1) % len(QUEUES))
    width = max(len(x) for x in seqs)
    pad = tok.pad_token_id if tok.pad_token_id is not None else 0
    ids = torch.tensor([x + [pad] * (width - len(x)) for x in seqs])
    mask = torch.tensor([[1] * len(x) + [0] * (width - len(x)) for x in seqs])
    cfg = LoraConfig(
        r=8,
        lora_alpha=16,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],
    )
    model = get_peft_model(base, cfg)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=2e-2)
    target = torch.tensor(labels)
    for _ in range(steps):
        logp = torch.log_softmax(model(input_ids=ids, attention_mask=mask).logits, -1)
        per_seq = torch.stack(
            [
                logp[row, start - 1 : end - 1].gather(1, ids[row, start:end, None]).sum()
                for row, start, end in spans
            ]
        )
        loss = torch.nn.functional.cross_entropy(per_seq.view(len(PHRASES), -1), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if loss.item() < 0.02:
            break
    model.save_pretrained(str(out))
    return out
