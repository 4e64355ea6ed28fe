"""Our scoring backend as an lm-eval model, so any lm-eval task runs through it unchanged."""

from __future__ import annotations

from typing import Any

import torch
from lm_eval.api.model import TemplateLM
from tqdm.auto import tqdm

from harness.engine._parallel import process_state, score_data_parallel
from harness.engine._prompt_learning import (
    PlainScorer,
    greedy_generate,
    is_prompt_learning,
    nonfinite_rows,
)
from harness.engine._scorer import SharedContextScorer, TokenRequest, gc_paused


def place_model(model: Any, device: str) -> Any:
    """Move an unquantised model to ``device`` ("auto": this process's accelerator)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(inner, "hf_quantizer", None) is not None:
        return model  # bitsandbytes models are placed when loaded and cannot be moved
    target = process_state().device if device == "auto" else torch.device(device)
    if next(model.parameters()).device != target:
        model.to(target)
    return model


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
        max_batch_tokens: int | None = None,
        device: str | None = "auto",
        warmup: bool | None = None,
    ) -> None:
        """``batch_size`` caps distinct contexts per forward, ``max_batch_tokens`` padded tokens
        (default 8,192 on CPU, 65,536 on CUDA). ``device="auto"`` moves a model still on the CPU
        to this process's accelerator (``accelerate``'s ``PartialState().device``: the local GPU
        under ``accelerate launch``); ``None`` leaves it where it is. ``warmup`` (default: on
        a GPU) runs dummy batches at load so the first suite does not pay one-off GPU costs."""
        super().__init__()
        if device is not None:
            model = place_model(model, device)
        self.model = model
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.max_gen_toks = max_gen_toks
        self.show_progress = show_progress
        pad = tokenizer.pad_token_id
        if pad is None:
            pad = tokenizer.eos_token_id if tokenizer.eos_token_id is not None else 0
        self._pad_id = int(pad)
        self.scorer = SharedContextScorer(
            model, batch_size=batch_size, pad_id=self._pad_id, max_batch_tokens=max_batch_tokens
        )
        # Prompt-learning adapters act inside PeftModel.forward, which the trie scorer bypasses.
        self.plain_scorer = PlainScorer(
            model, batch_size=batch_size, pad_id=self._pad_id, max_batch_tokens=max_batch_tokens
        )
        self._max_length = int(getattr(model.config, "max_position_embeddings", 2048) or 2048)
        # Prompts whose generation saw a NaN or infinite logit: the text decoded from them is
        # no answer (greedy argmax over NaN emits token 0), so the suite runner marks the item.
        self.nonfinite_contexts: set[str] = set()
        if warmup is None:
            warmup = self.scorer.device.type == "cuda"
        if warmup:  # one-off GPU costs at load, not inside the first suite's timing
            self.scorer.warmup()

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

    # -- chat templates, as HFLM: the tokenizer's own (an adapter's tokenizer brings its) --
    @property
    def tokenizer_name(self) -> str:
        return str(getattr(self.tokenizer, "name_or_path", "") or "").replace("/", "__")

    def apply_chat_template(
        self, chat_history: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str:
        """Render lm-eval's chat history with the tokenizer's template (``scoring.
        apply_chat_template``); a template that refuses the system role gets it dropped, as
        in HFLM."""
        import jinja2

        def render(history: list[dict[str, str]]) -> str:
            return str(
                self.tokenizer.apply_chat_template(
                    history,
                    tokenize=False,
                    add_generation_prompt=add_generation_prompt,
                    continue_final_message=not add_generation_prompt,
                )
            )

        try:
            return render(chat_history)
        except jinja2.exceptions.TemplateError:
            return render([m for m in chat_history if m["role"] != "system"])

    # -- requests -----------------------------------------------------------------------
    def _score(self, reqs: list[TokenRequest], progress: Any = None) -> list[tuple[float, bool]]:
        """Trie scorer, or plain forwards while a prompt-learning adapter is active (checked
        per call: the pipeline switches adapters on one shared model)."""
        if is_prompt_learning(self.model):
            return self.plain_scorer.score(reqs, progress=progress)
        return self.scorer.score(reqs, progress=progress)

    def _encode_many(self, strings: list[str], add_special_tokens: bool | None) -> list[list[int]]:
        """``tok_encode`` for many strings in one batched call of the (fast) tokenizer."""
        out: list[list[int]] = [[] for _ in strings]
        if add_special_tokens is not None:
            split = {add_special_tokens: list(range(len(strings)))}
        else:  # tok_encode's rule: no second BOS before a string that starts with one
            bos = self.tokenizer.bos_token
            split = {False: [], True: []}
            for i, st in enumerate(strings):
                split[bool(not (bos and st.startswith(bos)))].append(i)
        for special, idx in split.items():
            if idx:
                enc = self.tokenizer(
                    [strings[i] for i in idx],
                    add_special_tokens=special,
                    return_attention_mask=False,  # ids only: the rest costs a copy per string
                    return_token_type_ids=False,
                )
                for i, ids in zip(idx, enc["input_ids"], strict=True):
                    out[i] = ids if isinstance(ids, list) else list(ids)
        return out

    def encode_pairs(self, pairs: list[tuple[str, str]]) -> list[tuple[Any, list[int], list[int]]]:
        """``TemplateLM.loglikelihood``'s tokenisation, batched: each distinct string once.

        Identical token ids to lm-eval (trailing context spaces move to the continuation; the
        continuation is the tail of the encoded whole; an empty context becomes the prefix
        token), but one tokenizer call for all strings instead of two per request.
        """
        plain: dict[str, int] = {}
        nospecial: dict[str, int] = {}
        plan: list[tuple[bool, int, int]] = []
        for context, continuation in pairs:
            if context == "":
                k = nospecial.setdefault(continuation, len(nospecial))
                plan.append((True, k, -1))
                continue
            n_spaces = len(context) - len(context.rstrip())
            if n_spaces > 0:
                continuation = context[-n_spaces:] + continuation
                context = context[:-n_spaces]
            c = plain.setdefault(context, len(plain))
            w = plain.setdefault(context + continuation, len(plain))
            plan.append((False, c, w))
        enc = self._encode_many(list(plain), None)
        enc_ns = self._encode_many(list(nospecial), False)
        out: list[tuple[Any, list[int], list[int]]] = []
        for pair, (empty, a, b) in zip(pairs, plan, strict=True):
            if empty:
                cont = enc_ns[a]
                if cont and self.prefix_token_id == cont[0]:
                    out.append((pair, cont[:1], cont[1:]))
                else:
                    out.append((pair, [self.prefix_token_id], cont))
            else:
                ctx = enc[a]
                out.append((pair, ctx, enc[b][len(ctx) :]))
        return out

    def loglikelihood(
        self, requests: list[Any], disable_tqdm: bool = False
    ) -> list[tuple[float, bool]]:
        with gc_paused():  # tokenising and packing make many objects, none cyclic
            return self._loglikelihood_tokens(
                self.encode_pairs([tuple(r.args) for r in requests]), disable_tqdm=disable_tqdm
            )

    def _token_requests(self, requests: list[Any]) -> list[TokenRequest]:
        """(key, context ids, continuation ids) -> ``TokenRequest``, left-truncated as HFLM."""
        reqs = []
        for _, ctx, cont in requests:
            if not cont:
                raise ValueError("empty continuation: the suite's choice text tokenises to nothing")
            total = len(ctx) + len(cont)
            if total > self._max_length + 1:  # truncate from the left, as HFLM does
                ctx = (ctx + cont)[-(self._max_length + 1) :][: -len(cont)]
            reqs.append(TokenRequest(tuple(ctx), tuple(cont)))
        return reqs

    def _loglikelihood_tokens(
        self, requests: list[Any], disable_tqdm: bool = False, **kwargs: Any
    ) -> list[tuple[float, bool]]:
        reqs = self._token_requests(requests)
        bar = tqdm(
            total=len(reqs),
            desc="loglikelihood",
            disable=disable_tqdm or not self.show_progress,
            leave=False,
        )
        try:
            # Under ``accelerate launch`` each process scores a shard; all get every result.
            return score_data_parallel(
                reqs,
                lambda part: self._score(part, progress=bar.update),
                context_of=lambda r: r.context,
                length_of=lambda r: len(r.context) + len(r.continuation),
            )
        finally:
            bar.close()

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        """Whole-document log-likelihood in lm-eval's disjoint rolling windows, as HFLM.

        Tokenised like HFLM (``tok_encode`` with the tokenizer's default special tokens), cut
        into ``max_length`` windows by lm-eval's own helpers, and scored in one batch of
        windows across all documents; each document's windows are summed.
        """
        from lm_eval.utils import get_rolling_token_windows, make_disjoint_window

        windows: list[TokenRequest] = []
        owner: list[int] = []
        for i, (text,) in enumerate(r.args for r in requests):
            for ctx, cont in map(
                make_disjoint_window,
                get_rolling_token_windows(
                    token_list=self.tok_encode(text),
                    prefix_token=self.prefix_token_id,
                    max_seq_len=self.max_length,
                    context_len=1,
                ),
            ):
                windows.append(TokenRequest(tuple(ctx), tuple(cont)))
                owner.append(i)
        bar = tqdm(
            total=len(windows),
            desc="rolling loglikelihood",
            disable=disable_tqdm or not self.show_progress,
            leave=False,
        )
        try:
            scored = self._score(windows, progress=bar.update) if windows else []
        finally:
            bar.close()
        out = [0.0] * len(requests)
        for i, (lp, _) in zip(owner, scored, strict=True):
            out[i] += lp
        return out

    @torch.inference_mode()
    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        """Greedy batched generation with stop sequences, following lm-eval's HFLM step by step.

        Same helpers as HFLM (``Collator`` grouping by generation kwargs and sorting longest
        first, ``normalize_gen_kwargs``, EOS added to the stop sequences, left padding and
        left truncation to ``max_length - max_gen_toks``, lm-eval's stop criteria, and its
        post-processing), so in fp32 the generated strings match HFLM's for the same batch
        size. Results come back in the order of ``requests``.
        """
        from lm_eval.models.utils import (
            Collator,
            handle_stop_sequences,
            has_bos_prefix,
            normalize_gen_kwargs,
            postprocess_generated_text,
        )
        from lm_eval.models.utils_hf import stop_sequences_criteria

        tok = self.tokenizer

        def sort_key(args: tuple[str, dict[str, Any]]) -> tuple[int, str]:
            return -len(self.tok_encode(args[0])), args[0]

        collator = Collator(
            [r.args for r in requests],
            sort_fn=sort_key,
            group_by="gen_kwargs",
            group_fn=lambda x: x[1],
        )
        eos = tok.decode(self.eot_token_id, skip_special_tokens=False)
        bar = tqdm(
            total=len(requests),
            desc="generate",
            disable=disable_tqdm or not self.show_progress,
            leave=False,
        )
        res: list[str] = []
        prev_side = tok.padding_side
        try:
            for chunk in collator.get_batched(n=self.batch_size):
                contexts, all_kwargs = zip(*chunk, strict=True)
                kwargs: dict[str, Any] = dict(
                    normalize_gen_kwargs(all_kwargs[0], self.max_gen_toks)
                )
                until = handle_stop_sequences(kwargs.pop("until", None), eos=eos)
                max_gen_toks = int(kwargs.pop("max_gen_toks"))
                max_ctx_len = self.max_length - max_gen_toks
                if max_ctx_len <= 0:
                    raise ValueError(
                        f"max_gen_toks {max_gen_toks} must be below the model's maximum "
                        f"length {self.max_length}"
                    )
                special: dict[str, bool] = {}
                if has_bos_prefix(contexts[0], getattr(tok, "bos_token", None)):
                    special = {"add_special_tokens": False}
                tok.padding_side = "left"
                enc = tok(list(contexts), padding="longest", return_tensors="pt", **special)
                device = next(self.model.parameters()).device
                ids = enc["input_ids"][:, -max_ctx_len:].to(device)
                mask = enc["attention_mask"][:, -max_ctx_len:].to(device)
                kwargs.setdefault("do_sample", False)
                if not kwargs["do_sample"] and kwargs.get("temperature", 0.0) == 0.0:
                    kwargs.pop("temperature", None)
                max_length = kwargs.pop("max_length", ids.shape[1] + max_gen_toks)
                bad = [False] * len(contexts)
                if is_prompt_learning(self.model):  # peft's generate misapplies them
                    rows = greedy_generate(
                        self.model,
                        ids,
                        mask,
                        max_length - ids.shape[1],
                        until,
                        tok,
                        self._pad_id,
                        self.eot_token_id,
                        kwargs,
                        nonfinite=bad,
                    )
                else:
                    watch = _FiniteWatch(ids.shape[0], ids.device)
                    out = self.model.generate(
                        input_ids=ids,
                        attention_mask=mask,
                        max_length=max_length,
                        stopping_criteria=stop_sequences_criteria(
                            tok, until, ids.shape[1], ids.shape[0]
                        ),
                        pad_token_id=self._pad_id,
                        use_cache=True,
                        logits_processor=watch.as_list(),
                        **kwargs,
                    )
                    rows = out[:, ids.shape[1] :].tolist()
                    bad = watch.bad.tolist()
                self.nonfinite_contexts.update(
                    c for c, flag in zip(contexts, bad, strict=True) if flag
                )
                for row in rows:
                    text = tok.decode(row, skip_special_tokens=True)
                    res.append(postprocess_generated_text(text, until, None))
                bar.update(len(contexts))
        finally:
            tok.padding_side = prev_side
            bar.close()
        return list(collator.get_original(res))


class _FiniteWatch:
    """A logits processor that only looks: which rows of a generate batch ever saw a NaN or
    +inf logit, or a step whose logits were all -inf (no token possible).

    -inf alone is legitimate (generate's own processors mask tokens with it). Flags stay on the
    device and are read once after ``generate``, which has synchronised by then anyway.
    """

    def __init__(self, rows: int, device: torch.device) -> None:
        self.bad = torch.zeros(rows, dtype=torch.bool, device=device)

    def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        self.bad |= nonfinite_rows(scores)
        return scores

    def as_list(self) -> Any:
        from transformers import LogitsProcessor, LogitsProcessorList

        watch = self

        class _Processor(LogitsProcessor):
            def __call__(self, input_ids: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
                return watch(input_ids, scores)

        return LogitsProcessorList([_Processor()])
