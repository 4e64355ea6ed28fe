"""From lm-eval's logged samples to one ``ItemResult`` per document.

Shared by task-YAML suites (:mod:`harness.engine._suite_runner`) and registry suites
(:mod:`harness.engine._registry_run`), apart from both so that neither imports the other back.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from harness.config import ConfigError, ItemResult, SuiteSpec

__all__ = ["_item_id", "_items_from_samples"]


def _prediction(sample: dict[str, Any], output_type: str) -> tuple[Any, dict[str, Any]]:
    """The item's prediction and the raw model outputs kept beside it.

    Multiple choice: the argmax choice index and every choice's log-likelihood. Generation:
    the filtered answer (after ``filter_list``), plus the raw text when a filter changed it.
    Loglikelihood / rolling: whether the continuation is greedy (or None) and its
    log-likelihood, kept as ``loglikelihoods`` so merge and no-op checks see the drift.
    """
    resps = sample.get("filtered_resps")
    if not isinstance(resps, list) or not resps:
        return None, {}
    if output_type == "multiple_choice":
        lls = [float(r[0]) if isinstance(r, (list, tuple)) else float(r) for r in resps]
        pred = max(range(len(lls)), key=lambda i: lls[i]) if lls else None
        return pred, {"loglikelihoods": lls}
    if output_type == "generate_until":
        pred = resps[0]
        raw = sample.get("resps")
        first = raw[0][0] if isinstance(raw, list) and raw and raw[0] else None
        return pred, ({"response": first} if isinstance(first, str) and first != pred else {})
    if output_type == "loglikelihood":
        ll, greedy = resps[0]
        return bool(greedy), {"loglikelihoods": [float(ll)]}
    if output_type == "loglikelihood_rolling":
        ll = resps[0][0] if isinstance(resps[0], (list, tuple)) else resps[0]
        return None, {"loglikelihoods": [float(ll)]}
    return None, {}


def _item_id(doc: Any, index: int) -> str:
    return str(doc.get("id", index)) if isinstance(doc, dict) else str(index)


def _context(sample: dict[str, Any]) -> str | None:
    """The prompt of a sample's first request (lm-eval logs every request's arguments)."""
    args = sample.get("arguments")
    if isinstance(args, list) and args and isinstance(args[0], (list, tuple)) and args[0]:
        return args[0][0] if isinstance(args[0][0], str) else None
    return None


def _nonfinite(
    item: ItemResult, group: list[dict[str, Any]], nonfinite_contexts: Collection[str]
) -> ItemResult:
    """The item as the gate must see it when the model's output was NaN or infinite.

    Such an output is no answer: argmax over NaN log-likelihoods picks choice 0, greedy decoding
    over NaN logits emits token 0, and the scores computed from them can look fine (accuracy
    1 when the gold answer is choice 0). The item keeps no prediction, every score becomes NaN
    (no paired check passes on it) and ``nonfinite`` names what was non-finite, for the
    ``finite_outputs`` check.
    """
    what = item.nonfinite_output()
    if what is None and any(_context(s) in nonfinite_contexts for s in group):
        what = "generation logits"
    if what is None:
        return item
    extra = dict(item.extra)
    if item.prediction is not None:
        extra["nonfinite_prediction"] = item.prediction  # kept to read, never compared
    extra.pop("filtered", None)
    scores = {k: float("nan") for k in item.scores}
    return ItemResult(item.item_id, scores, item.capability, None, item.target, extra, what)


def _items_from_samples(
    samples: list[dict[str, Any]],
    suite: SuiteSpec,
    metric_names: list[str],
    nonfinite_contexts: Collection[str] = (),
    positions: list[int] | None = None,
) -> list[ItemResult]:
    """One ItemResult per document, whatever the number of lm-eval filters.

    ``positions`` are the split positions of the documents a ``samples=`` call scored, in
    order. Some lm-eval versions log ``doc_id`` as the position within that selection (0 in
    every batch), others as the split position; the k-th document is ``positions[k]`` either
    way, so a suite without an ``id`` column keeps its ids across batches and resumed runs.

    lm-eval logs one sample per (filter, document). Scores of the first filter keep the
    metric's own name; with several filters every score is also kept as ``metric,filter``
    (lm-eval's result key), so ``metadata.primary_metric`` can name either. An item whose
    model output was non-finite (NaN log-likelihoods or scores; generation whose prompt is in
    ``nonfinite_contexts``) is recorded as such, without a prediction (see ``_nonfinite``).
    """
    from harness.engine._metrics import item_value

    filters = list(dict.fromkeys(str(s.get("filter", "none")) for s in samples))
    by_doc: dict[int, list[dict[str, Any]]] = {}
    for s in samples:
        by_doc.setdefault(int(s["doc_id"]), []).append(s)
    results: list[ItemResult] = []
    if positions is not None and len(positions) != len(by_doc):
        raise RuntimeError(f"lm-eval scored {len(by_doc)} of {len(positions)} items")
    for k, doc_id in enumerate(sorted(by_doc)):
        position = doc_id if positions is None else positions[k]
        group = sorted(by_doc[doc_id], key=lambda s: filters.index(str(s.get("filter", "none"))))
        first = group[0]
        doc = first["doc"]
        scores: dict[str, float] = {}
        for s in group:
            for name in metric_names or [suite.metric]:
                if name not in s:
                    continue
                val = item_value(name, s[name])
                if val is None:
                    continue
                if s is first:
                    scores[name] = val
                if len(filters) > 1:
                    scores[f"{name},{s.get('filter', 'none')}"] = val
        cap = suite.capability
        if suite.capability_field and isinstance(doc, dict):
            cap = str(doc.get(suite.capability_field, cap))
        pred, extra = _prediction(first, suite.output_type)
        if len(group) > 1:
            extra["filtered"] = {
                str(s.get("filter")): _prediction(s, suite.output_type)[0] for s in group
            }
        item = ItemResult(_item_id(doc, position), scores, cap, pred, first.get("target"), extra)
        results.append(_nonfinite(item, group, nonfinite_contexts))
    if results and suite.metric not in results[0].scores:
        raise ConfigError(
            suite.path,
            "metadata.primary_metric",
            f"metric {suite.metric!r} has no per-item value; the per-item scores are "
            f"{sorted(results[0].scores)}",
            "gate on a per-item metric: acc, exact_match, harness_rougeL, harness_bleu, "
            "bits_per_byte, ... (docs/suites.md lists them)",
        )
    return results
