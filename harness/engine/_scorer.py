"""Token-level scoring with shared contexts.

A multiple-choice item asks for log p(choice | context) for every choice. lm-eval's HF backend
runs ``context + choice`` once per choice; here the context runs once, its key/value cache is
reused for every choice, and the vocabulary projection is computed only at the positions whose
next-token distribution is actually needed.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class TokenRequest:
    """One (context, continuation) pair, already tokenised exactly as lm-eval does."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]


def _backbone_and_head(model: Any) -> tuple[Any, Any]:
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.get_decoder(), inner.get_output_embeddings()


def _cache_kwarg(decoder: Any) -> str:
    # transformers 5.2x renamed ``past_key_values`` to ``cache``; older releases only know the
    # former. Ask the signature rather than the version string.
    params = inspect.signature(decoder.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _select_cache(cache: Any, rows: torch.Tensor) -> Any:
    from transformers import DynamicCache

    layers = [
        (layer.keys.index_select(0, rows), layer.values.index_select(0, rows))
        for layer in cache.layers
    ]
    return DynamicCache(ddp_cache_data=layers)


class SharedContextScorer:
    """Computes (sum log p, is_greedy) of continuations given contexts, sharing contexts."""

    def __init__(self, model: Any, batch_size: int = 32, pad_id: int = 0) -> None:
        self.model = model
        self.batch_size = batch_size
        self.pad_id = pad_id
        self.decoder, self.head = _backbone_and_head(model)
        self.cache_kw = _cache_kwarg(self.decoder)
        self.device = next(model.parameters()).device

    def _logprobs(self, hidden: torch.Tensor) -> torch.Tensor:
        # float32 log-softmax over the few selected positions only.
        return torch.log_softmax(self.head(hidden).float(), dim=-1)

    @torch.inference_mode()
    def score(
        self,
        requests: Sequence[TokenRequest],
        progress: Callable[[int], None] | None = None,
    ) -> list[tuple[float, bool]]:
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.context, []).append(i)
        contexts = sorted(groups, key=len, reverse=True)
        results: list[tuple[float, bool] | None] = [None] * len(requests)
        for start in range(0, len(contexts), self.batch_size):
            batch = contexts[start : start + self.batch_size]
            self._score_batch(batch, groups, requests, results)
            if progress is not None:
                progress(sum(len(groups[c]) for c in batch))
        assert all(r is not None for r in results)
        return results  # type: ignore[return-value]

    def _score_batch(
        self,
        contexts: list[tuple[int, ...]],
        groups: dict[tuple[int, ...], list[int]],
        requests: Sequence[TokenRequest],
        results: list[tuple[float, bool] | None],
    ) -> None:
        dev = self.device
        lens = torch.tensor([len(c) for c in contexts], device=dev)
        width = int(lens.max())
        ids = torch.full((len(contexts), width), self.pad_id, dtype=torch.long, device=dev)
        for row, ctx in enumerate(contexts):
            ids[row, : len(ctx)] = torch.tensor(ctx, dtype=torch.long, device=dev)
        ctx_mask = (torch.arange(width, device=dev)[None, :] < lens[:, None]).long()
        out = self.decoder(input_ids=ids, attention_mask=ctx_mask, use_cache=True)
        cache = getattr(out, "cache", None) or out.past_key_values
        last = out.last_hidden_state[torch.arange(len(contexts), device=dev), lens - 1]
        first_lp = self._logprobs(last)  # [n_ctx, vocab]: predicts each continuation's 1st token

        # Every request: its first token comes from the context's last position.
        tails: list[tuple[int, int]] = []  # (request index, context row) needing more tokens
        for row, ctx in enumerate(contexts):
            for ri in groups[ctx]:
                cont = requests[ri].continuation
                tok = cont[0]
                lp = float(first_lp[row, tok])
                greedy = int(first_lp[row].argmax()) == tok
                results[ri] = (lp, greedy)
                if len(cont) > 1:
                    tails.append((ri, row))
        # Tails are short (a choice's remaining tokens), so one forward over many of them
        # costs little compute; per-call overhead dominates, hence the wide chunks.
        chunk = self.batch_size * 8
        for start in range(0, len(tails), chunk):
            self._score_tails(
                tails[start : start + chunk], requests, results, cache, ctx_mask, lens
            )

    def _score_tails(
        self,
        tails: list[tuple[int, int]],
        requests: Sequence[TokenRequest],
        results: list[tuple[float, bool] | None],
        cache: Any,
        ctx_mask: torch.Tensor,
        lens: torch.Tensor,
    ) -> None:
        dev = self.device
        rows = torch.tensor([row for _, row in tails], dtype=torch.long, device=dev)
        conts = [requests[ri].continuation for ri, _ in tails]
        m = max(len(c) for c in conts) - 1  # inputs are cont[:-1]; they predict cont[1:]
        ids = torch.full((len(tails), m), self.pad_id, dtype=torch.long, device=dev)
        tmask = torch.zeros((len(tails), m), dtype=torch.long, device=dev)
        for i, c in enumerate(conts):
            ids[i, : len(c) - 1] = torch.tensor(c[:-1], dtype=torch.long, device=dev)
            tmask[i, : len(c) - 1] = 1
        mask = torch.cat([ctx_mask.index_select(0, rows), tmask], dim=1)
        pos = lens.index_select(0, rows)[:, None] + torch.arange(m, device=dev)[None, :]
        out = self.decoder(
            input_ids=ids,
            attention_mask=mask,
            position_ids=pos,
            use_cache=True,
            **{self.cache_kw: _select_cache(cache, rows)},
        )
        hidden = out.last_hidden_state
        # Gather every needed position first: one matrix product with the vocabulary head
        # instead of one matrix-vector product per choice (the head is memory-bound on CPU).
        sel_rows = [i for i, c in enumerate(conts) for _ in range(len(c) - 1)]
        sel_pos = [j for c in conts for j in range(len(c) - 1)]
        targets = torch.tensor([t for c in conts for t in c[1:]], dtype=torch.long, device=dev)
        h = hidden[torch.tensor(sel_rows, device=dev), torch.tensor(sel_pos, device=dev)]
        tok_lp = torch.empty(len(sel_rows), dtype=torch.float32, device=dev)
        hit = torch.empty(len(sel_rows), dtype=torch.bool, device=dev)
        for s in range(0, len(sel_rows), 512):
            lp = self._logprobs(h[s : s + 512])
            tgt = targets[s : s + 512]
            tok_lp[s : s + 512] = lp.gather(1, tgt[:, None]).squeeze(1)
            hit[s : s + 512] = lp.argmax(dim=-1) == tgt
        offset = 0
        for i, (ri, _) in enumerate(tails):
            k = len(conts[i]) - 1
            prev_lp, prev_greedy = results[ri]  # type: ignore[misc]
            results[ri] = (
                prev_lp + float(tok_lp[offset : offset + k].sum()),
                prev_greedy and bool(hit[offset : offset + k].all()),
            )
            offset += k
