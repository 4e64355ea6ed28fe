"""Per-item metric values: registered with lm-eval, computed by sacrebleu, rouge-score, lm-eval."""

from __future__ import annotations

import math

import pytest

from harness.config._suite import LOWER_IS_BETTER
from harness.engine._metrics import HARNESS_METRICS, item_value, register_metrics


def test_harness_metrics_are_registered_with_lm_eval() -> None:
    register_metrics()
    register_metrics()  # idempotent
    from lm_eval.api.registry import get_metric, get_metric_aggregation, is_higher_better

    for name, higher in HARNESS_METRICS.items():
        assert get_metric(name) is not None
        assert is_higher_better(name) is higher
        assert get_metric_aggregation(name)([1.0, 3.0]) == 2.0  # mean of per-item values
    assert get_metric("acc") is not None  # lm-eval's own metrics are still there


def test_direction_table_agrees_with_lm_eval() -> None:
    """harness.config may not import lm-eval, so it keeps its own lower-is-better list."""
    register_metrics()
    from lm_eval.api.registry import is_higher_better

    for name in LOWER_IS_BETTER:
        assert is_higher_better(name) is False, name
    for name in ("acc", "acc_norm", "exact_match", "bleu", "chrf", *HARNESS_METRICS):
        assert (name not in LOWER_IS_BETTER) is is_higher_better(name), name


def test_sentence_metrics_are_the_libraries_values() -> None:
    import sacrebleu
    from lm_eval.api.registry import get_metric
    from rouge_score import rouge_scorer

    register_metrics()
    ref, pred = "the parcel arrived late on Monday", "the parcel came late on Monday"
    call = {"references": [ref], "predictions": [pred]}
    assert get_metric("harness_bleu")(**call) == sacrebleu.sentence_bleu(pred, [ref]).score
    assert get_metric("harness_chrf")(**call) == sacrebleu.sentence_chrf(pred, [ref]).score
    assert get_metric("harness_ter")(**call) == sacrebleu.sentence_ter(pred, [ref]).score
    rs = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"]).score(ref, pred)
    for kind in ("rouge1", "rouge2", "rougeL"):
        assert get_metric(f"harness_{kind}")(**call) == rs[kind].fmeasure
    stem = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score("runs", "running")
    assert get_metric("harness_rougeL")(**{"references": ["runs"], "predictions": ["running"]},
                                        use_stemmer=True) == stem["rougeL"].fmeasure  # fmt: skip
    assert get_metric("harness_rougeL")(references=[ref], predictions=[ref]) == 1.0
    assert get_metric("harness_rougeL")(references=[ref], predictions=[""]) == 0.0


def test_item_values_from_lm_eval_logged_values() -> None:
    import sacrebleu
    from lm_eval.api.metrics import bits_per_byte, perplexity, weighted_perplexity

    assert item_value("acc", 1.0) == 1.0 and item_value("exact_match", True) == 1.0
    pair = ["the parcel arrived", "the parcel came"]
    assert item_value("bleu", pair) == sacrebleu.sentence_bleu(pair[1], [pair[0]]).score
    assert item_value("chrf", pair) == sacrebleu.sentence_chrf(pair[1], [pair[0]]).score
    assert item_value("bits_per_byte", (-20.0, 10)) == bits_per_byte([(-20.0, 10)])
    assert item_value("bits_per_byte", (-20.0, 10)) == pytest.approx(2.0 / math.log(2))
    assert item_value("word_perplexity", (-6.0, 3)) == weighted_perplexity([(-6.0, 3)])
    assert item_value("perplexity", -2.0) == perplexity([-2.0]) == pytest.approx(math.e**2)
    assert item_value("exact_match,strict", 0.0) == 0.0
    assert item_value("f1", (1, 0)) is None  # corpus-only: no per-item value
    assert math.isnan(item_value("acc", float("inf")) or 0.0)
