"""Qualitative side-by-side samples: the items whose answers changed against the baseline.

Aggregate scores say *how much* a fine-tune moved; a reviewer also wants to see *what* moved
(which tickets LoRA now routes right, which arithmetic items QLoRA broke). The gate keeps
every item's prediction, so the changed ones are picked here and stored in ``summary.json``
(``summary["samples"]``), from which both reports render them. Nothing is re-scored.

The input is duck-typed (``item_id``, ``scores``, ``capability``, ``prediction``, ``target``,
``extra``), so this stays importable without the config/pydantic stack.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.report._format import to_float
from harness.report._summary import SampleBlock

DEFAULT_LIMIT = 10
"""Samples per suite: enough to see a pattern, few enough to read in a minute."""

MAX_TEXT = 400
"""Characters kept of one prompt, target or prediction: summary.json must stay small."""

# Keys under ItemResult.extra that may hold the item's input text (none is stored today;
# whichever an engine adds first is shown, and nothing is shown without one).
_PROMPT_KEYS = ("prompt", "input", "context", "question", "text")


class ItemLike(Protocol):
    """What :func:`changed_samples` reads from a per-item result (``ItemResult``)."""

    @property
    def item_id(self) -> str: ...
    @property
    def scores(self) -> Mapping[str, float]: ...
    @property
    def capability(self) -> str | None: ...
    @property
    def prediction(self) -> Any: ...
    @property
    def target(self) -> Any: ...
    @property
    def extra(self) -> Mapping[str, Any]: ...


class SuiteLike(Protocol):
    """What :func:`changed_samples` reads from a suite (``SuiteSpec``)."""

    @property
    def name(self) -> str: ...
    @property
    def metric(self) -> str: ...


def _natural_key(item_id: str) -> tuple[Any, ...]:
    """Sort "q2" before "q10": ids are shown to people, who read them as numbers."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", item_id))


def _clip(value: object) -> Any:
    """A JSON-ready, size-capped copy of a prediction/target (str, number, bool or None)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def _choice_text(index: object, choices: object) -> str | None:
    """For multiple choice, the chosen option's text when the engine stored the options."""
    if (
        isinstance(index, int)
        and not isinstance(index, bool)
        and isinstance(choices, Sequence)
        and not isinstance(choices, (str, bytes))
        and 0 <= index < len(choices)
    ):
        return str(choices[index])
    return None


def _show(value: object, choices: object) -> Any:
    """A choice index becomes "2: Billing" when the options are known; else the raw value."""
    text = _choice_text(value, choices)
    return _clip(f"{value}: {text}" if text is not None else value)


def _prompt(extra: Mapping[str, Any]) -> str | None:
    for key in _PROMPT_KEYS:
        value = extra.get(key)
        if isinstance(value, str) and value.strip():
            return str(_clip(value))
    return None


def _score(item: ItemLike, metric: str) -> float | None:
    return to_float(item.scores.get(metric))


def changed_samples(
    results: Mapping[str, Mapping[str, Sequence[ItemLike]]],
    suites: Sequence[SuiteLike],
    limit: int = DEFAULT_LIMIT,
    baseline: str = "base",
) -> list[dict[str, Any]]:
    """Pick, per suite, up to ``limit`` items whose answer changed for any candidate.

    ``results`` is ``variant -> suite -> items`` as the gate run holds it, ``baseline``
    included. An item counts as changed when a candidate's prediction or metric score
    differs from the baseline's. Items whose *score* changed (fixed or broken) come first,
    then prediction-only changes, each in natural item-id order, so the selection is the
    same on every run. ``n_changed`` keeps the full count, so "10 of 37" can be shown.
    """
    base_results = results.get(baseline)
    if base_results is None:
        return []
    candidates = [v for v in results if v != baseline]
    out: list[dict[str, Any]] = []
    for suite in suites:
        base_items = base_results.get(suite.name)
        if base_items is None:
            continue
        by_variant = {
            v: {it.item_id: it for it in results[v].get(suite.name, ())} for v in candidates
        }
        ranked: list[tuple[int, tuple[Any, ...], dict[str, Any]]] = []
        for item in base_items:
            choices = item.extra.get("choices")
            base_score = _score(item, suite.metric)
            predictions: dict[str, dict[str, Any]] = {
                baseline: {"prediction": _show(item.prediction, choices), "score": base_score}
            }
            score_changed = answer_changed = False
            for variant in candidates:
                other = by_variant[variant].get(item.item_id)
                if other is None:
                    continue
                score = _score(other, suite.metric)
                predictions[variant] = {
                    "prediction": _show(other.prediction, choices),
                    "score": score,
                }
                score_changed |= score != base_score
                answer_changed |= other.prediction != item.prediction
            if not (score_changed or answer_changed):
                continue
            sample: dict[str, Any] = {
                "item_id": item.item_id,
                "capability": item.capability,
                "target": _show(item.target, choices),
                "predictions": predictions,
            }
            prompt = _prompt(item.extra)
            if prompt is not None:
                sample["prompt"] = prompt
            ranked.append((0 if score_changed else 1, _natural_key(item.item_id), sample))
        ranked.sort(key=lambda r: (r[0], r[1]))
        out.append(
            {
                "suite": suite.name,
                "metric": suite.metric,
                "baseline": baseline,
                "n_items": len(base_items),
                "n_changed": len(ranked),
                "items": [sample for _, _, sample in ranked[: max(limit, 0)]],
            }
        )
    return out


# --- reading them back for the renderers -------------------------------------------------


@dataclass(frozen=True)
class SamplePrediction:
    variant: str
    prediction: str
    score: float | None
    is_baseline: bool
    changed: bool
    outcome: str = ""
    """"fixed"/"broken" when the score rose/fell vs the baseline; "" otherwise."""


@dataclass(frozen=True)
class SampleView:
    item_id: str
    capability: str | None
    prompt: str | None
    target: str
    predictions: tuple[SamplePrediction, ...]


@dataclass(frozen=True)
class SuiteSamplesView:
    suite: str
    metric: str
    n_items: int
    n_changed: int
    variants: tuple[str, ...]
    items: tuple[SampleView, ...]


def _display(value: object) -> str:
    if value is None:
        return "∅"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _outcome(score: float | None, base: float | None) -> str:
    if score is None or base is None or score == base:
        return ""
    return "fixed" if score > base else "broken"


def build_samples(
    blocks: Sequence[SampleBlock], order: Sequence[str]
) -> tuple[SuiteSamplesView, ...]:
    """The summary's ``samples`` (see :class:`SampleBlock`) as the renderers show them.

    Columns follow the report's variant order (baseline first); a variant missing from an
    item shows as an empty cell rather than shifting the columns.
    """
    views = []
    for block in blocks:
        baseline = block.baseline
        seen: list[str] = []
        for item in block.items:
            seen += [v for v in item.predictions if v not in seen]
        variants = [baseline] if baseline in seen else []
        variants += [v for v in order if v in seen and v not in variants]
        variants += [v for v in seen if v not in variants]
        items = []
        for item in block.items:
            base_entry = item.predictions.get(baseline)
            base_pred = base_entry.prediction if base_entry is not None else None
            base_score = to_float(base_entry.score) if base_entry is not None else None
            cells = []
            for v in variants:
                entry = item.predictions.get(v)
                if entry is None:
                    cells.append(SamplePrediction(v, "", None, v == baseline, False))
                    continue
                score = to_float(entry.score)
                is_base = v == baseline
                cells.append(
                    SamplePrediction(
                        variant=v,
                        prediction=_display(entry.prediction),
                        score=score,
                        is_baseline=is_base,
                        changed=not is_base and entry.prediction != base_pred,
                        outcome="" if is_base else _outcome(score, base_score),
                    )
                )
            items.append(
                SampleView(
                    item_id=item.item_id,
                    capability=item.capability,
                    prompt=item.prompt,
                    target=_display(item.target),
                    predictions=tuple(cells),
                )
            )
        views.append(
            SuiteSamplesView(
                suite=block.suite,
                metric=block.metric,
                n_items=block.n_items if block.n_items is not None else len(items),
                n_changed=block.n_changed if block.n_changed is not None else len(items),
                variants=tuple(variants),
                items=tuple(items),
            )
        )
    return tuple(views)
