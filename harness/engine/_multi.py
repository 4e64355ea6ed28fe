"""Several variants of one base (the base plus K peft adapters) scored on one load.

Adapters change every layer, so no activation can be shared between variants; what can be
shared is the load of the base, the tokenisation, the request packing, and (in ``mixed`` mode)
the forward passes themselves: every packed row goes through the model once per variant inside
one batch, peft routing each copy through its adapter (``adapter_names``, ``"__base__"`` for
the bare base). ``switch`` mode instead runs the data once per variant with ``set_adapter``;
which is faster depends on the device (bench/scoring/scoring_gpu.py measures both).

``VariantScorer.lm(name)`` is an lm-eval model for one variant: the first variant asked for a
set of loglikelihood requests scores them for every variant and keeps the others' results, so
``run_suite(scorer.lm("base"), ...)`` then ``run_suite(scorer.lm("lora"), ...)`` costs one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

from harness.engine._lm import HarnessLM
from harness.engine._parallel import score_data_parallel
from harness.engine._scorer import BASE_VARIANT, TokenRequest

Mode = Literal["mixed", "switch"]
Result = tuple[float, bool]


def _adapter_name(variant: str | None) -> str:
    return BASE_VARIANT if variant in (None, BASE_VARIANT, "base") else str(variant)


@contextmanager
def active_variant(model: Any, variant: str | None) -> Iterator[None]:
    """Run the body with one variant active: an adapter by name, or the bare base."""
    name = _adapter_name(variant)
    if name == BASE_VARIANT:
        if hasattr(model, "disable_adapter"):
            with model.disable_adapter():
                yield
        else:
            yield
        return
    if not hasattr(model, "set_adapter"):
        raise ValueError(f"variant {variant!r} needs a peft model with that adapter attached")
    previous = model.active_adapter
    model.set_adapter(name)
    try:
        yield
    finally:
        model.set_adapter(previous)


class VariantScorer:
    """Scores token requests for every variant of one peft model, caching per variant."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        variants: Sequence[str | None],
        mode: Mode = "mixed",
        batch_size: int = 32,
        max_batch_tokens: int | None = None,
        show_progress: bool = False,
        device: str | None = "auto",
    ) -> None:
        if mode not in ("mixed", "switch"):
            raise ValueError(f"mode must be 'mixed' or 'switch', not {mode!r}")
        self.names = [_adapter_name(v) for v in variants]
        if len(set(self.names)) != len(self.names):
            raise ValueError(f"variants repeat: {list(variants)}")
        known = set(getattr(model, "peft_config", {}) or {})
        unknown = [n for n in self.names if n != BASE_VARIANT and n not in known]
        if unknown:
            raise ValueError(f"adapters not attached to the model: {unknown}")
        prompt_learning = [
            n for n in self.names if n != BASE_VARIANT and model.peft_config[n].is_prompt_learning
        ]
        if prompt_learning:
            # The trie scorer runs the base decoder directly and would bypass virtual tokens.
            raise ValueError(
                f"prefix/prompt-tuning adapters {prompt_learning} cannot share batches: score "
                "each with HarnessLM (which uses peft's own forward for them)"
            )
        self.mode = mode
        self.base_lm = HarnessLM(
            model,
            tokenizer,
            batch_size=batch_size,
            show_progress=show_progress,
            max_batch_tokens=max_batch_tokens,
            device=device,
        )
        self.model = self.base_lm.model
        self._cache: dict[str, dict[TokenRequest, Result]] = {n: {} for n in self.names}

    def score(self, requests: Sequence[TokenRequest]) -> dict[str, list[Result]]:
        """Per variant, (sum log p, is_greedy) of every request, in order."""
        self._fill(requests)
        return {n: [self._cache[n][r] for r in requests] for n in self.names}

    def lm(self, variant: str | None) -> _VariantLM:
        """An lm-eval model that scores as ``variant`` and shares this scorer's passes."""
        name = _adapter_name(variant)
        if name not in self._cache:
            raise ValueError(f"unknown variant {variant!r}; this scorer has {self.names}")
        return _VariantLM(self, name)

    def clear(self) -> None:
        """Forget cached results (call between suites to bound memory)."""
        for c in self._cache.values():
            c.clear()

    def _fill(self, requests: Sequence[TokenRequest]) -> None:
        todo = list(dict.fromkeys(r for r in requests if r not in self._cache[self.names[0]]))
        if not todo:
            return
        per_variant = self._score_all(todo)
        for n, res in zip(self.names, per_variant, strict=True):
            self._cache[n].update(zip(todo, res, strict=True))

    def _score_all(self, todo: list[TokenRequest]) -> list[list[Result]]:
        scorer = self.base_lm.scorer

        def run(part: list[TokenRequest]) -> list[list[Result]]:
            if self.mode == "mixed":
                out = scorer.score_variants(part, self.names)
            else:
                out = []
                for n in self.names:
                    with active_variant(self.model, n):
                        out.append(scorer.score(part))
            return [list(x) for x in zip(*out, strict=True)]  # per request: one per variant

        rows = score_data_parallel(
            todo, run, context_of=lambda r: r.context, length_of=_request_len
        )
        return [list(col) for col in zip(*rows, strict=True)]


def _request_len(r: TokenRequest) -> int:
    return len(r.context) + len(r.continuation)


class _VariantLM(HarnessLM):
    """HarnessLM for one variant of a ``VariantScorer`` (shares its model and cache)."""

    def __init__(self, owner: VariantScorer, name: str) -> None:
        base = owner.base_lm
        self.__dict__.update(base.__dict__)  # same model, tokenizer, scorer, settings
        self._owner = owner
        self._variant = name

    def _loglikelihood_tokens(
        self, requests: list[Any], disable_tqdm: bool = False, **kwargs: Any
    ) -> list[tuple[float, bool]]:
        reqs = [TokenRequest(tuple(c), tuple(t)) for c, t in self._truncated(requests)]
        return self._owner.score(reqs)[self._variant]

    def _truncated(self, requests: list[Any]) -> Iterator[tuple[list[int], list[int]]]:
        for _, ctx, cont in requests:
            if not cont:
                raise ValueError("empty continuation: the suite's choice text tokenises to nothing")
            if len(ctx) + len(cont) > self.max_length + 1:
                ctx = (ctx + cont)[-(self.max_length + 1) :][: -len(cont)]
            yield ctx, cont

    def _with_variant(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with active_variant(self.model, self._variant):
            return fn(*args, **kwargs)

    def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
        return self._with_variant(super().loglikelihood_rolling, requests, disable_tqdm)

    def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
        return self._with_variant(super().generate_until, requests, disable_tqdm)
