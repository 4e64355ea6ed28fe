"""Candidates side by side (e.g. LoRA vs QLoRA): what each costs and what each buys.

The checks table answers "did each candidate pass?"; a team choosing between a LoRA and a
QLoRA adapter also asks "which one, and at what price?". This module lines the candidates
up per suite and capability (score with its interval, delta vs the baseline with the gate's
paired interval), with their forgetting status, quantisation gap and training costs, so
the HTML and Markdown reports show the same comparison.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from statistics import NormalDist

from harness.report._model import CheckView, ReportView, TrainingView
from harness.report._svg import color_for

BINARY_METRICS = frozenset({"acc", "acc_norm", "exact_match", "em", "accuracy"})
"""Metrics whose per-item score is 0/1, so a score interval follows from the mean and n
alone (Wilson). For others the summary holds no per-item spread, and none is shown."""

_REFERENCE = re.compile(r"^vs (\S+):")


def wilson_interval(p: float, n: float, confidence: float) -> tuple[float, float]:
    """Wilson score interval of a proportion: sane at p=0 or 1 and small n, unlike Wald."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    low = 0.0 if p <= 0 else max(0.0, centre - half)
    high = 1.0 if p >= 1 else min(1.0, centre + half)
    return low, high


@dataclass(frozen=True)
class CompareCell:
    """One variant on one suite or capability."""

    variant: str
    is_baseline: bool
    score: float | None
    score_low: float | None = None
    score_high: float | None = None
    delta: float | None = None
    delta_low: float | None = None
    delta_high: float | None = None
    passed: bool | None = None


@dataclass(frozen=True)
class CompareRow:
    """A suite (``capability`` None) or one capability of a general suite."""

    label: str
    suite: str
    capability: str | None
    kind: str
    metric: str
    cells: tuple[CompareCell, ...]
    threshold: float | None


@dataclass(frozen=True)
class CandidateSummary:
    """One candidate's column: its checks, its training costs, its colour in every chart."""

    name: str
    color: str
    quantization: str | None
    checks: tuple[CheckView, ...]
    training: TrainingView | None
    decides: bool = True  # False: a comparison arm, reported beside the release candidates

    @property
    def label(self) -> str:
        """The column heading: the name, marked when it is a comparison arm."""
        return self.name if self.decides else f"{self.name} (comparison arm)"

    @property
    def passed(self) -> bool:
        """The candidate alone would be GO: it has checks and every one passed."""
        return bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def n_failed(self) -> int:
        return sum(not c.passed for c in self.checks)

    @property
    def forgetting_checks(self) -> tuple[CheckView, ...]:
        return tuple(c for c in self.checks if c.is_forgetting)

    @property
    def forgotten(self) -> tuple[str, ...]:
        """Where a forgetting check failed: capability names, or the suite."""
        return tuple(c.capability or c.suite for c in self.forgetting_checks if not c.passed)

    @property
    def quantization_gaps(self) -> tuple[CheckView, ...]:
        return tuple(c for c in self.checks if c.is_quantization_gap)

    @property
    def adapter_size_mb(self) -> float | None:
        size = self.training.adapter_size_bytes if self.training else None
        return None if size is None else size / 2**20


def gap_reference(check: CheckView) -> str | None:
    """The variant a quantisation-gap check compared against (named in its reason)."""
    match = _REFERENCE.match(check.reason)
    return match.group(1) if match else None


@dataclass(frozen=True)
class ComparisonView:
    baseline: str | None
    candidates: tuple[CandidateSummary, ...]
    rows: tuple[CompareRow, ...]
    score_ci_label: str

    @property
    def has_training(self) -> bool:
        return any(c.training is not None for c in self.candidates)


def _find(checks: tuple[CheckView, ...], suite: str, capability: str | None) -> CheckView | None:
    """The check whose delta is the variant's change vs the baseline on this row."""
    return next(
        (
            c
            for c in checks
            if c.suite == suite and c.capability == capability and "delta" in c.shown_as
        ),
        None,
    )


def build_comparison(view: ReportView) -> ComparisonView:
    """Line up the candidate variants (role ``candidate``) against the baseline."""
    names = [v.name for v in view.variants if v.role == "candidate"]
    if not names:
        names = [v.name for v in view.variants if v.name != view.baseline]
    quant = {v.name: v.quantization for v in view.variants}
    decides = {v.name: v.decides for v in view.variants}
    training = {t.variant: t for t in view.training}
    candidates = tuple(
        CandidateSummary(
            name=name,
            color=color_for(i),
            quantization=quant.get(name),
            checks=tuple(c for c in view.checks if c.variant == name),
            training=training.get(name),
            decides=decides.get(name, True),
        )
        for i, name in enumerate(names)
    )
    confidence = view.confidence if view.confidence is not None else 0.9
    columns = ([view.baseline] if view.baseline else []) + names

    def cells(
        scores: dict[str, float | None],
        suite: str,
        capability: str | None,
        metric: str,
        n: float | None,
    ) -> tuple[tuple[CompareCell, ...], float | None]:
        out = []
        threshold = None
        base = scores.get(view.baseline) if view.baseline else None
        for name in columns:
            score = scores.get(name)
            is_base = name == view.baseline
            check = (
                None if is_base else _find(candidates[names.index(name)].checks, suite, capability)
            )
            n_here = check.n if check is not None and check.n else n
            low = high = None
            if (
                metric in BINARY_METRICS
                and score is not None
                and 0 <= score <= 1
                and n_here is not None
                and n_here > 0
            ):
                low, high = wilson_interval(score, n_here, confidence)
            delta = check.delta if check is not None else None
            if delta is None and not is_base and score is not None and base is not None:
                delta = score - base
            if check is not None and check.threshold is not None:
                threshold = check.threshold
            out.append(
                CompareCell(
                    variant=name,
                    is_baseline=is_base,
                    score=score,
                    score_low=low,
                    score_high=high,
                    delta=None if is_base else delta,
                    delta_low=check.ci_low if check else None,
                    delta_high=check.ci_high if check else None,
                    passed=check.passed if check else None,
                )
            )
        return tuple(out), threshold

    rows = []
    for s in view.suites:
        scores = {c.variant: c.score for c in s.cells}
        row_cells, threshold = cells(scores, s.name, None, s.metric, s.n_items)
        rows.append(CompareRow(s.name, s.name, None, s.kind, s.metric, row_cells, threshold))
        for cap in s.capabilities:
            cap_scores = {c.variant: c.score for c in cap.cells}
            row_cells, threshold = cells(cap_scores, s.name, cap.name, s.metric, None)
            rows.append(
                CompareRow(
                    f"{s.name} / {cap.name}",
                    s.name,
                    cap.name,
                    "capability",
                    s.metric,
                    row_cells,
                    threshold,
                )
            )
    return ComparisonView(
        baseline=view.baseline,
        candidates=candidates,
        rows=tuple(rows),
        score_ci_label=f"{100 * confidence:g}% CI",
    )
