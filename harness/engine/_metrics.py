"""Per-item metric values, so paired gate statistics work for every output type.

lm-eval computes BLEU, chrF and TER once over the whole corpus (its ``bleu``/``chrf``/``ter``
metrics pass ``(reference, prediction)`` through to a corpus aggregation), and perplexity /
bits per byte once over summed log-likelihoods. A release gate compares two models item by
item, so it needs one number per item. This module

* registers sentence-level metrics with lm-eval's registry (``harness_bleu``, ``harness_chrf``,
  ``harness_ter`` via sacrebleu; ``harness_rouge1``/``harness_rouge2``/``harness_rougeL``/
  ``harness_rougeLsum`` via rouge-score), usable in any suite's ``metric_list``;
* turns the value lm-eval logs for an item under one of its own corpus metrics into that
  item's value, by calling the same library (sacrebleu sentence scores) or lm-eval's own
  aggregation on a one-item list (perplexities, bits per byte).

Nothing here computes a score itself: sacrebleu, rouge-score and lm-eval do.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

# Metric name -> higher is better, for every per-item metric this module knows.
HARNESS_METRICS: dict[str, bool] = {
    "harness_bleu": True,
    "harness_chrf": True,
    "harness_ter": False,
    "harness_rouge1": True,
    "harness_rouge2": True,
    "harness_rougeL": True,
    "harness_rougeLsum": True,
}


def _first(values: Any) -> str:
    """lm-eval hands metric functions one-element lists; the item's text is the element."""
    if isinstance(values, (list, tuple)):
        if len(values) != 1:
            raise ValueError(f"expected one value per item, got {len(values)}")
        values = values[0]
    return "" if values is None else str(values)


def _refs(references: Any) -> list[str]:
    """One reference or several alternatives for the same item."""
    ref = references[0] if isinstance(references, (list, tuple)) and references else references
    if isinstance(ref, (list, tuple)):
        return [str(r) for r in ref]
    return [str(ref)]


def _sacrebleu(kind: str) -> Callable[..., float]:
    def metric(references: Any, predictions: Any, **kwargs: Any) -> float:
        import sacrebleu

        fn: Any = getattr(sacrebleu, f"sentence_{kind}")
        return float(fn(_first(predictions), _refs(references), **kwargs).score)

    metric.__name__ = f"harness_{kind}"
    return metric


@lru_cache(maxsize=16)
def _rouge_scorer(rouge_type: str, use_stemmer: bool) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer([rouge_type], use_stemmer=use_stemmer)


def _rouge(rouge_type: str) -> Callable[..., float]:
    def metric(references: Any, predictions: Any, use_stemmer: bool = False, **_: Any) -> float:
        scorer = _rouge_scorer(rouge_type, bool(use_stemmer))
        pred = _first(predictions)
        # Several references: rouge-score takes the best match (max over references).
        scores = scorer.score_multi(_refs(references), pred)
        return float(scores[rouge_type].fmeasure)

    metric.__name__ = f"harness_{rouge_type}"
    return metric


_REGISTERED = False


def register_metrics() -> None:
    """Register the harness's per-item metrics with lm-eval (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    # Import lm-eval's own metrics first: its registry fills itself lazily only while empty,
    # and registering ours first would leave ``acc``, ``mean``, ... unregistered.
    import lm_eval.api.metrics  # noqa: F401
    from lm_eval.api.registry import metric_registry, register_metric

    makers: dict[str, Callable[[], Callable[..., float]]] = {
        "harness_bleu": lambda: _sacrebleu("bleu"),
        "harness_chrf": lambda: _sacrebleu("chrf"),
        "harness_ter": lambda: _sacrebleu("ter"),
        "harness_rouge1": lambda: _rouge("rouge1"),
        "harness_rouge2": lambda: _rouge("rouge2"),
        "harness_rougeL": lambda: _rouge("rougeL"),
        "harness_rougeLsum": lambda: _rouge("rougeLsum"),
    }
    for name, make in makers.items():
        if name in metric_registry:
            continue
        register_metric(
            metric=name,
            higher_is_better=HARNESS_METRICS[name],
            output_type="generate_until",
            aggregation="mean",
        )(make())
    _REGISTERED = True


def _sentence_from_pair(kind: str) -> Callable[[Any], float]:
    """lm-eval's corpus ``bleu``/``chrf``/``chrf++``/``ter`` log ``[reference, prediction]``."""

    def value(pair: Any) -> float:
        import sacrebleu

        ref, pred = pair
        refs = [str(r) for r in ref] if isinstance(ref, (list, tuple)) else [str(ref)]
        pred = pred[0] if isinstance(pred, (list, tuple)) else pred
        if kind == "bleu":
            return float(sacrebleu.sentence_bleu(str(pred), refs).score)
        if kind == "ter":
            return float(sacrebleu.sentence_ter(str(pred), refs).score)
        order = 2 if kind == "chrf++" else 0
        return float(sacrebleu.sentence_chrf(str(pred), refs, word_order=order).score)

    return value


def _one_item_aggregate(name: str) -> Callable[[Any], float]:
    """lm-eval's own corpus aggregation applied to a one-item corpus."""

    def value(item: Any) -> float:
        from lm_eval.api import metrics

        agg: Callable[[Sequence[Any]], float] = {
            "perplexity": metrics.perplexity,
            "word_perplexity": metrics.weighted_perplexity,
            "byte_perplexity": metrics.weighted_perplexity,
            "bits_per_byte": metrics.bits_per_byte,
        }[name]
        return float(agg([tuple(item) if isinstance(item, (list, tuple)) else item]))

    return value


_PER_ITEM: dict[str, Callable[[Any], float]] = {
    "bleu": _sentence_from_pair("bleu"),
    "chrf": _sentence_from_pair("chrf"),
    "chrf++": _sentence_from_pair("chrf++"),
    "ter": _sentence_from_pair("ter"),
    "perplexity": _one_item_aggregate("perplexity"),
    "word_perplexity": _one_item_aggregate("word_perplexity"),
    "byte_perplexity": _one_item_aggregate("byte_perplexity"),
    "bits_per_byte": _one_item_aggregate("bits_per_byte"),
}


_LOG_LIKELIHOOD = {"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte"}


def item_value(metric: str, value: Any) -> float | None:
    """One item's value of ``metric`` from what lm-eval logged, or None if it has none.

    Plain numbers pass through; lm-eval's corpus metrics are scored per item with the same
    library; other pass-through values (``f1``/``mcc`` pairs, ``brier_score``) have no per-item
    meaning and give None.
    """
    base = metric.split(",", 1)[0]
    try:
        if base in _PER_ITEM and (base in _LOG_LIKELIHOOD or isinstance(value, (list, tuple))):
            out = _PER_ITEM[base](value)
        elif isinstance(value, (bool, int, float)):
            out = float(value)
        elif hasattr(value, "item") and not isinstance(value, (list, tuple, dict, str)):
            out = float(value.item())  # numpy scalars
        else:
            return None
    except OverflowError:
        return float("nan")
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if math.isfinite(out) else float("nan")
