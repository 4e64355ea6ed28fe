"""Scoring through ``PeftModel.forward`` for prompt-learning adapters (prefix and prompt tuning).

The shared-context scorer runs the base decoder directly with a tree-shaped attention mask
(that is how it shares contexts). Prompt-learning adapters live in ``PeftModel.forward``
instead: prompt tuning prepends virtual-token embeddings, prefix tuning passes learned
past key/values. The trie scorer would never see them and would score the bare base, so a
model whose active adapter is a prompt-learning one is scored here the plain way, as lm-eval's
HF backend does: one right-padded ``context + continuation`` sequence per request, one forward
through the ``PeftModel`` itself, the float32 log-softmax only at the continuation positions.

Right padding matters: every real token keeps the position it has alone (after the virtual
tokens for prompt tuning, after the prefix cache for prefix tuning), so a batched result equals
the per-request one. Prompt tuning returns logits for ``num_virtual_tokens + T`` positions and
prefix tuning for ``T``; taking the last ``T`` covers both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch

from harness.engine._scorer import TokenRequest, default_batch_tokens


def is_prompt_learning(model: Any) -> bool:
    """Whether ``model``'s active adapter is a prompt-learning one (virtual tokens in forward)."""
    cfg = getattr(model, "active_peft_config", None)
    return bool(getattr(cfg, "is_prompt_learning", False))


class PlainScorer:
    """(sum log p, is_greedy) per request from plain forwards through the model as a whole.

    Same interface as ``SharedContextScorer.score``; slower (no context sharing, padding), but
    it runs whatever ``model.forward`` does, virtual tokens included.
    """

    def __init__(
        self,
        model: Any,
        batch_size: int = 32,
        pad_id: int = 0,
        max_batch_tokens: int | None = None,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.pad_id = pad_id
        self.device = next(model.parameters()).device
        self.max_batch_tokens = max_batch_tokens or default_batch_tokens(self.device)

    def _batches(self, order: list[int], lengths: list[int]) -> Iterator[list[int]]:
        """Longest first; each batch within ``batch_size`` rows and the padded-token budget."""
        batch: list[int] = []
        for i in order:
            width = lengths[batch[0]] if batch else lengths[i]
            if batch and (
                len(batch) >= self.batch_size or (len(batch) + 1) * width > self.max_batch_tokens
            ):
                yield batch
                batch = []
            batch.append(i)
        if batch:
            yield batch

    @torch.inference_mode()
    def score(
        self,
        requests: Sequence[TokenRequest],
        progress: Callable[[int], None] | None = None,
    ) -> list[tuple[float, bool]]:
        """Score every request with the model as it is (its active adapter, if any)."""
        out: list[tuple[float, bool]] = [(0.0, False)] * len(requests)
        # The model sees context + continuation without its last token (as lm-eval's HFLM).
        if any(not r.context or not r.continuation for r in requests):
            raise ValueError("every request needs a context token and a continuation token")
        inputs = [(r.context + r.continuation)[:-1] for r in requests]
        lengths = [len(x) for x in inputs]
        order = sorted(range(len(requests)), key=lambda i: -lengths[i])
        for batch in self._batches(order, lengths):
            width = max(lengths[i] for i in batch)
            ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(batch), width), dtype=torch.long)
            rows: list[int] = []
            cols: list[int] = []
            targets: list[int] = []
            owners: list[int] = []
            for b, i in enumerate(batch):
                seq = inputs[i]
                ids[b, : len(seq)] = torch.tensor(seq, dtype=torch.long)
                mask[b, : len(seq)] = 1
                cont = requests[i].continuation
                first = len(requests[i].context) - 1  # position predicting cont[0]
                rows.extend([b] * len(cont))
                cols.extend(range(first, first + len(cont)))
                targets.extend(cont)
                owners.extend([b] * len(cont))
            logits = self.model(
                input_ids=ids.to(self.device), attention_mask=mask.to(self.device)
            ).logits
            logits = logits[:, -width:]  # drop prompt tuning's virtual-token positions
            picked = logits[
                torch.tensor(rows, device=logits.device), torch.tensor(cols, device=logits.device)
            ].float()
            logp = torch.log_softmax(picked, dim=-1)
            tgt = torch.tensor(targets, device=logp.device)
            tok_lp = logp.gather(1, tgt[:, None])[:, 0].double()
            miss = (logp.argmax(dim=-1) != tgt).long()
            own = torch.tensor(owners, device=logp.device)
            lp_sum = torch.zeros(len(batch), dtype=torch.float64, device=logp.device)
            miss_sum = torch.zeros(len(batch), dtype=torch.long, device=logp.device)
            lp_sum.index_add_(0, own, tok_lp)
            miss_sum.index_add_(0, own, miss)
            for b, (lp, m) in enumerate(zip(lp_sum.tolist(), miss_sum.tolist(), strict=True)):
                out[batch[b]] = (lp, m == 0)
            if progress is not None:
                progress(len(batch))
        return out


#: Sampling-only settings: greedy decoding ignores them (as ``transformers.generate`` does).
_GREEDY_IGNORES = frozenset({"do_sample", "temperature", "top_p", "top_k", "min_p"})


@torch.inference_mode()
def greedy_generate(
    model: Any,
    ids: torch.Tensor,
    mask: torch.Tensor,
    max_new_tokens: int,
    until: Sequence[str],
    tokenizer: Any,
    pad_id: int,
    eos_id: int | None,
    gen_kwargs: dict[str, Any] | None = None,
    nonfinite: list[bool] | None = None,
) -> list[list[int]]:
    """Greedy new tokens per row, every step a full right-padded forward of ``model``.

    ``PeftModel.generate`` does not decode prompt-learning adapters faithfully with peft 0.21
    and transformers 5 (its tokens differ from greedy decoding with plain forwards: prefix
    tuning's learned cache is passed as ``past_key_values`` and transformers replaces it by its
    own ``cache``; prompt tuning ignores the position ids of left-padded rows; see
    tests/engine/test_prompt_learning.py), so such models generate here: no key/value cache
    (each step re-runs the sequence, so the virtual tokens act exactly as in scoring; quadratic
    in the generated length), each row right-padded so its positions are its own.
    ``ids``/``mask`` are the left-padded batch lm-eval's helpers built; a row finishes on
    ``eos_id`` or once its decoded new text holds a stop string of ``until`` (the caller cuts
    the text there, as lm-eval does). Only greedy decoding is supported. ``nonfinite`` (one
    flag per row) is set for rows whose logits were ever non-finite (see ``nonfinite_rows``).
    """
    extra = {k: v for k, v in (gen_kwargs or {}).items() if k not in _GREEDY_IGNORES}
    if (gen_kwargs or {}).get("do_sample") or extra:
        raise ValueError(
            "prompt-learning adapters (prefix/prompt tuning) generate greedily only; "
            f"unsupported generation settings: do_sample={(gen_kwargs or {}).get('do_sample')}"
            f"{', ' + ', '.join(sorted(extra)) if extra else ''}"
        )
    device = next(model.parameters()).device
    prompts = [row[m.bool()].tolist() for row, m in zip(ids.cpu(), mask.cpu(), strict=True)]
    if any(not p for p in prompts):
        raise ValueError("cannot generate from an empty context")
    new: list[list[int]] = [[] for _ in prompts]
    live = list(range(len(prompts)))
    for _ in range(max_new_tokens):
        if not live:
            break
        seqs = [prompts[i] + new[i] for i in live]
        width = max(len(s) for s in seqs)
        batch = torch.full((len(seqs), width), pad_id, dtype=torch.long)
        att = torch.zeros((len(seqs), width), dtype=torch.long)
        for b, s in enumerate(seqs):
            batch[b, : len(s)] = torch.tensor(s, dtype=torch.long)
            att[b, : len(s)] = 1
        logits = model(input_ids=batch.to(device), attention_mask=att.to(device)).logits
        last = torch.tensor([len(s) - 1 for s in seqs], device=logits.device)
        rows = torch.arange(len(seqs), device=logits.device)
        step = logits[:, -width:][rows, last]
        picked = step.argmax(dim=-1).tolist()
        if nonfinite is not None:
            for i, bad in zip(live, nonfinite_rows(step).tolist(), strict=True):
                nonfinite[i] = nonfinite[i] or bool(bad)
        for i, t in zip(live, picked, strict=True):
            new[i].append(int(t))
        live = [
            i
            for i in live
            if new[i][-1] != eos_id and not any(u in tokenizer.decode(new[i]) for u in until)
        ]
    return new


def nonfinite_rows(scores: torch.Tensor) -> torch.Tensor:
    """Per row of next-token logits [rows, vocab]: any NaN or +inf, or every logit -inf.

    -inf alone is legitimate (generation's own processors mask tokens with it); a row with no
    finite logit has no answer, and greedy argmax over NaN emits token 0 as if it had one.
    """
    return (
        torch.isnan(scores).any(dim=-1)
        | torch.isposinf(scores).any(dim=-1)
        | (torch.isneginf(scores).all(dim=-1))
    )
