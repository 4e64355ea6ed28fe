"""Our scoring backend as an lm-eval model, so any lm-eval task runs through it unchanged."""

from __future__ import annotations

from typing import Any

import torch
from lm_eval.api.model import TemplateLM
from tqdm.auto import tqdm

from harness.engine._scorer import SharedContextScorer, TokenRequest


class HarnessLM(TemplateLM):
    """lm-eval ``LM`` over an in-memory model (a plain model or a ``PeftModel``).

    Tokenisation follows lm-eval's HF backend exactly (``TemplateLM._encode_pair``, BOS as
    the prefix of empty contexts) so per-item results match it; only the scoring differs.
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        batch_size: int = 32,
        max_gen_toks: int = 256,
        show_progress: bool = True,
    ) -> None:
        super().__init__()
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_gen_toks = max_gen_toks
        self.show_progress = show_progress
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self._pad_id = int(pad)
        self.scorer = SharedContextScorer(model, batch_size=batch_size, pad_id=self._pad_id)
        self._max_length = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)

    # -- tokenisation, as lm-eval's HFLM --------------------------------------------------
    @property
    def eot_token_id(self) -> int:
        return int(self.tokenizer.eos_token_id)

    @property
    def prefix_token_id(self) -> int:
        bos = self.tokenizer.bos_token_id
        return int(bos) if bos is not None else self.eot_token_id

    @property
    def max_length(self) -> int:
        return self._max_length

    def tok_encode(
        self, string: str, add_special_tokens: bool | None = None, **kwargs: Any
    ) -> list[int]:
        kw: dict[str, Any] = {}
        if add_special_tokens is not None:
            kw["add_special_tokens"] = add_special_tokens
        elif self.tokenizer.bos_token and string.startswith(self.tokenizer.bos_token):
            kw["add_special_tokens"] = False
        return list(self.tokenizer.encode(string, **kw))

    def tok_decode(self, tokens: list[int]) -> str:
        return str(self.tokenizer.decode(tokens, skip_special_tokens=True))

    # -- requests -----------------------------------------------------------------------
    def _loglikelihood_tokens(
        self, requests: list[Any], disable_tqdm: bool = False, **kwargs: Any
    ) -> list[tuple[float, bool]]:
        reqs = []
        for _, ctx, cont in requests:
            if not cont:
                raise ValueError("empty continuation: the suite's choice text tokenises to nothing")
            total = len(ctx) + len(cont)
            if total > self._max_length + 1:  # truncate from the left, as HFLM does
                ctx = (ctx + cont)[-(self._max_length + 1) :][: -len(cont)]
            reqs.append(TokenRequest(tuple(ctx), tuple(cont)))
        bar = tqdm(
            total=len(reqs),
            desc="loglikelihood",
            disable=disable_tqdm or not self.show_progress,
            leave=False,
        )
        try:
            return self.scorer.score(reqs, progress=bar.update)
        finally:
            bar.close()

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        """Whole-document log-likelihood in disjoint windows, as lm-eval's rolling windows."""
        from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

        out: list[float] = []
        for (text,) in (r.args for r in requests):
            windows = [
                make_disjoint_window(w)
                for w in get_rolling_token_windows(
                    token_list=self.tok_encode(text, add_special_tokens=False),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self._max_length,
                    context_len=1,
                )
            ]
            scored = self.scorer.score([TokenRequest(tuple(c), tuple(t)) for c, t in windows])
            out.append(sum(lp for lp, _ in scored))
        return out

    @torch.inference_mode()
    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Greedy batched generation with stop sequences (left padding)."""
        outputs: list[str | None] = [None] * len(requests)
        order = sorted(range(len(requests)), key=lambda i: -len(requests[i].args[0]))
        bar = tqdm(
            total=len(requests),
            desc="generate",
            disable=disable_tqdm or not self.show_progress,
            leave=False,
        )
        tok = self.tokenizer
        prev_side = tok.padding_side
        tok.padding_side = "left"
        try:
            for start in range(0, len(order), self.batch_size):
                idx = order[start : start + self.batch_size]
                ctxs = [requests[i].args[0] for i in idx]
                kwargs = dict(requests[idx[0]].args[1])
                until = kwargs.pop("until", None) or []
                until = [until] if isinstance(until, str) else list(until)
                max_new = int(kwargs.pop("max_gen_toks", self.max_gen_toks))
                enc = tok(ctxs, return_tensors="pt", padding=True, add_special_tokens=False)
                enc = {k: v.to(self.scorer.device) for k, v in enc.items()}
                gen = self.model.generate(
                    **enc,
                    max_new_tokens=max_new,
                    do_sample=False,
                    pad_token_id=self._pad_id,
                    stop_strings=until or None,
                    tokenizer=tok,
                )
                new = gen[:, enc["input_ids"].shape[1] :]
                for j, i in enumerate(idx):
                    text = tok.decode(new[j], skip_special_tokens=True)
                    for stop in until:
                        if stop and stop in text:
                            text = text.split(stop)[0]
                    outputs[i] = text
                bar.update(len(idx))
        finally:
            tok.padding_side = prev_side
            bar.close()
        return [o or "" for o in outputs]
