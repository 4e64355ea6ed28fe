"""A NaN-free view of a gate summary that every renderer reads.

The summary arrives as a :class:`~harness.report._summary.GateSummary` (the typed
summary.json), or as a stored dict read through it. Interpreting it once here (which variant
is the baseline, what counts as a capability drop, which numbers are missing, how each check
kind is shown) keeps the Markdown, HTML and JUnit outputs from disagreeing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.report._champion import ChampionView, build_champions
from harness.report._format import pass_mark, to_float
from harness.report._samples import SuiteSamplesView, build_samples
from harness.report._summary import (
    CheckKindInfo,
    CheckRecord,
    GateSummary,
    SummaryInput,
    TrainingRecord,
    as_summary,
)

Summary = SummaryInput

# Display order for well-known keys; others follow alphabetically. A fixed order makes a
# report rendered from the live dict identical to one re-rendered from summary.json,
# which is written with sort_keys.
_PROVENANCE_ORDER = (
    "harness",
    "scoring_version",
    "git_commit",
    "python",
    "torch",
    "transformers",
    "peft",
    "lm_eval",
    "device",
)
_DURATION_ORDER = ("baseline_s", "training_s", "candidates_s", "total_s")


def _ordered_items(value: object, preferred: Sequence[str]) -> list[tuple[str, Any]]:
    items = {str(k): v for k, v in _mapping(value).items()}
    known = [(k, items[k]) for k in preferred if k in items]
    return known + sorted((k, v) for k, v in items.items() if k not in preferred)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class CheckView:
    """One gate assertion with its numbers normalised (NaN/None -> None)."""

    name: str
    kind: str
    variant: str
    suite: str
    capability: str | None
    metric: str
    baseline: float | None
    candidate: float | None
    delta: float | None
    ci_low: float | None
    ci_high: float | None
    margin: float | None
    passed: bool
    reason: str
    n: float | None
    mde: float | None
    # How its kind is decided and shown (summary.json's check_kinds).
    direction: str | None = None
    shown_as: frozenset[str] = frozenset()
    # False: a comparison arm's check, reported but not part of the verdict.
    decides: bool = True

    @property
    def comparison_failure(self) -> bool:
        """Failed, but a comparison arm's: shown plainly, does not decide the verdict."""
        return not self.passed and not self.decides

    @property
    def result(self) -> str:
        """The result cell; a comparison arm's check says it does not decide the verdict."""
        return pass_mark(self.passed) + ("" if self.decides else " (comparison arm, not deciding)")

    @property
    def classname(self) -> str:
        """JUnit-style class name: CI UIs group test cases by variant, then suite."""
        return f"{self.variant}.{self.suite}"

    @property
    def required_bound(self) -> float | None:
        """Where the CI's lower bound must land for the check to pass, on the delta axis:
        +margin for a ``gain`` kind, -margin for a ``no_drop`` kind, None otherwise."""
        if self.margin is None or self.direction is None:
            return None
        return self.margin if self.direction == "gain" else -self.margin

    @property
    def threshold(self) -> float | None:
        """The threshold line drawn with the check's delta vs the baseline: only for kinds
        whose delta is a change vs the baseline (``shown_as`` ``delta``)."""
        return self.required_bound if "delta" in self.shown_as else None

    @property
    def is_forgetting(self) -> bool:
        return "forgetting" in self.shown_as

    @property
    def is_quantization_gap(self) -> bool:
        return "quantization_gap" in self.shown_as

    @property
    def ci_domain(self) -> tuple[float, float]:
        """Axis range for the CI mini-plot: covers 0, the CI, delta and threshold."""
        points = [0.0]
        points += [
            p for p in (self.ci_low, self.ci_high, self.delta, self.threshold) if p is not None
        ]
        low, high = min(points), max(points)
        span = high - low
        pad = span * 0.1 if span > 0 else 0.05
        return low - pad, high + pad


@dataclass(frozen=True)
class ScoreCell:
    """A variant's score on a suite (or capability) and its delta vs the baseline."""

    variant: str
    score: float | None
    delta: float | None
    is_baseline: bool


@dataclass(frozen=True)
class CapabilityView:
    """Per-capability scores of a general suite, with a drop flag per candidate cell."""

    name: str
    cells: tuple[ScoreCell, ...]
    failed_variants: frozenset[str]
    higher_is_better: bool = True

    def flag(self, cell: ScoreCell) -> str:
        """Return "fail" if a gate check on this capability failed, "drop" for any change
        for the worse (a decrease, or an increase of a lower-is-better metric such as bits
        per byte).

        Any such change is flagged, not only those past the margin, because a reviewer should
        see small regressions that the CI still tolerates.
        """
        if cell.is_baseline:
            return ""
        if cell.variant in self.failed_variants:
            return "fail"
        if cell.delta is not None and (cell.delta < 0) == self.higher_is_better and cell.delta:
            return "drop"
        return ""


@dataclass(frozen=True)
class SuiteView:
    """One evaluation suite with its scores per variant."""

    name: str
    kind: str
    version: str
    fingerprint: str
    n_items: float | None
    metric: str
    cells: tuple[ScoreCell, ...]
    capabilities: tuple[CapabilityView, ...]

    @property
    def chart_max(self) -> float:
        """Upper end of the bar chart axis: 1.0 for [0, 1] metrics, else the max score.

        Fixing the axis at 1.0 for accuracy-like metrics keeps charts comparable across
        runs; metrics on other scales (BLEU, ROUGE x100) get a data-driven axis.
        """
        scores = [c.score for c in self.cells if c.score is not None]
        top = max(scores, default=0.0)
        return 1.0 if top <= 1.0 else top * 1.05


@dataclass(frozen=True)
class TrainingView:
    """Training facts for one candidate variant that was fine-tuned in this run."""

    variant: str
    recipe: str | None
    train_seconds: float | None
    steps: float | None
    final_loss: float | None
    trainable_params: float | None
    trainable_pct: float | None
    loss_curve: tuple[tuple[float, float], ...]
    # Optional facts (newer trainers add them; an older summary.json simply lacks them).
    tokens_per_second: float | None = None
    peak_memory_mb: float | None = None
    adapter_size_bytes: float | None = None
    val_loss_curve: tuple[tuple[float, float], ...] = ()
    memory_estimate_mb: tuple[tuple[str, float], ...] = ()
    n_examples: float | None = None
    execution: str | None = None  # how a 4-bit base ran while training (QLoRA)

    @property
    def final_val_loss(self) -> float | None:
        return self.val_loss_curve[-1][1] if self.val_loss_curve else None


@dataclass(frozen=True)
class VariantView:
    """A model variant as evaluated: identity facts shown in the provenance section."""

    name: str
    role: str
    fingerprint: str | None
    adapter: str | None
    quantization: str | None
    dtype: str | None
    decides: bool = True  # False: a comparison arm (its checks do not decide the verdict)
    execution: str | None = None  # how a quantised variant ran (bitsandbytes-4bit, ...)
    notes: tuple[str, ...] = ()  # how it was loaded or scored (own tokenizer, chat template)

    @property
    def role_label(self) -> str:
        """The role as the reports print it: what it is, and whether its checks decide."""
        what = self.role.replace("_", " ")
        if self.role == "baseline":
            return what
        if self.role == "champion":
            return "champion (the release to beat)"
        return f"{what} (comparison arm)" if not self.decides else f"{what} (release)"


@dataclass(frozen=True)
class ReportView:
    """Everything the renderers need, derived once from a summary."""

    run_id: str
    experiment: str
    created_at: str
    verdict: str
    reasons: tuple[str, ...]
    checks: tuple[CheckView, ...]
    variants: tuple[VariantView, ...]
    baseline: str | None
    suites: tuple[SuiteView, ...]
    training: tuple[TrainingView, ...]
    mlflow_run_id: str | None
    mlflow_tracking_uri: str | None
    provenance: tuple[tuple[str, str | None], ...]
    durations: tuple[tuple[str, float | None], ...]
    ci_label: str = "90% CI"
    confidence: float | None = None
    samples: tuple[SuiteSamplesView, ...] = ()
    # Per release candidate, its champion side by side (base -> champion -> candidate).
    champions: tuple[ChampionView, ...] = ()

    @property
    def is_go(self) -> bool:
        """Only an exact "GO" passes; an unknown verdict must never look like a release."""
        return self.verdict == "GO"

    @property
    def failed_checks(self) -> tuple[CheckView, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def comparison_failures(self) -> tuple[CheckView, ...]:
        """Failed checks of comparison arms (they do not decide the verdict)."""
        return tuple(c for c in self.checks if c.comparison_failure)

    @property
    def tally(self) -> str:
        """The "N passed, M failed" line, and how many failures are comparison arms'."""
        n_fail, n_arm = len(self.failed_checks), len(self.comparison_failures)
        arms = f" ({n_arm} of them of comparison arms: reported, not deciding)" if n_arm else ""
        return f"{len(self.checks) - n_fail} passed, {n_fail} failed{arms}"

    @property
    def general_suites(self) -> tuple[SuiteView, ...]:
        """Suites with per-capability scores (general-ability / forgetting suites)."""
        return tuple(s for s in self.suites if s.capabilities)


def _check(c: CheckRecord, info: CheckKindInfo) -> CheckView:
    return CheckView(
        name=c.name,
        kind=c.kind,
        variant=c.variant,
        suite=c.suite,
        capability=c.capability,
        metric=c.metric,
        baseline=to_float(c.baseline),
        candidate=to_float(c.candidate),
        delta=to_float(c.delta),
        ci_low=to_float(c.ci[0]),
        ci_high=to_float(c.ci[1]),
        margin=to_float(c.margin),
        passed=c.passed,
        reason=c.reason,
        n=to_float(c.n),
        mde=to_float(c.mde),
        direction=info.direction,
        shown_as=frozenset(info.shown_as),
        decides=c.decides,
    )


def _present(order: Sequence[str], *score_maps: Mapping[str, Any]) -> list[str]:
    """Variant names present in any of ``score_maps``, in variant-list order first."""
    seen = {str(k) for scores in score_maps for k in scores}
    names = [v for v in order if v in seen]
    for scores in score_maps:
        names += [str(k) for k in scores if str(k) not in names]
    return names


def _cells(
    scores: Mapping[str, Any], names: Sequence[str], baseline: str | None
) -> tuple[ScoreCell, ...]:
    """One cell per name (missing scores are None) so capability rows share columns."""
    base = to_float(scores.get(baseline)) if baseline is not None else None
    cells = []
    for name in names:
        score = to_float(scores.get(name))
        delta = None
        if name != baseline and score is not None and base is not None:
            delta = score - base
        cells.append(ScoreCell(str(name), score, delta, name == baseline))
    return tuple(cells)


def _curve(points: list[tuple[float | None, float | None]]) -> tuple[tuple[float, float], ...]:
    out = []
    for step, loss in points:
        x, y = to_float(step), to_float(loss)
        if x is not None and y is not None:
            out.append((x, y))
    return tuple(out)


def _training(name: str, t: TrainingRecord) -> TrainingView:
    return TrainingView(
        variant=name,
        recipe=t.recipe,
        train_seconds=to_float(t.train_seconds),
        steps=to_float(t.steps),
        final_loss=to_float(t.final_loss),
        trainable_params=to_float(t.trainable_params),
        trainable_pct=to_float(t.trainable_pct),
        loss_curve=_curve(t.loss_curve),
        tokens_per_second=to_float(t.tokens_per_second),
        peak_memory_mb=to_float(t.peak_memory_mb),
        adapter_size_bytes=to_float(t.adapter_size_bytes),
        val_loss_curve=_curve(t.val_loss_curve),
        memory_estimate_mb=tuple(
            (k, f)
            for k, v in _ordered_items(t.memory_estimate_mb, ("full", "lora", "qlora"))
            if (f := to_float(v)) is not None
        ),
        n_examples=to_float(t.n_examples),
        execution=t.execution,
    )


def build_view(summary: Summary) -> ReportView:
    """Normalise a summary (a :class:`GateSummary`, or a stored dict) into a view.

    A stored dict is read leniently (``GateSummary.read``), so a summary from an older or
    newer gate still produces a readable report instead of a crash at the very last step.
    """
    s: GateSummary = as_summary(summary)
    variants = tuple(
        VariantView(
            v.name,
            v.role,
            v.fingerprint,
            v.adapter,
            v.quantization,
            v.dtype,
            decides=v.decides,
            execution=v.execution,
            notes=tuple(v.notes),
        )
        for v in s.variants
    )
    order = [v.name for v in variants]
    baseline = s.baseline
    checks = tuple(_check(c, s.kind_info(c.kind)) for c in s.checks)

    suites = []
    for raw in s.suites:
        cap_names = _present(order, *raw.capabilities.values())
        capabilities = []
        for cap_name, cap_scores in sorted(raw.capabilities.items()):
            failed = frozenset(
                c.variant
                for c in checks
                if not c.passed and c.suite == raw.name and c.capability == cap_name
            )
            capabilities.append(
                CapabilityView(
                    cap_name,
                    _cells(cap_scores, cap_names, baseline),
                    failed,
                    higher_is_better=raw.higher_is_better,
                )
            )
        suites.append(
            SuiteView(
                name=raw.name,
                kind=raw.kind,
                version=raw.version,
                fingerprint=raw.fingerprint,
                n_items=to_float(raw.n_items),
                metric=raw.metric,
                cells=_cells(raw.scores, _present(order, raw.scores), baseline),
                capabilities=tuple(capabilities),
            )
        )

    training = tuple(_training(v.name, v.training) for v in s.variants if v.training is not None)
    provenance = tuple((k, _opt_str(v)) for k, v in _ordered_items(s.provenance, _PROVENANCE_ORDER))
    durations = tuple((k, to_float(v)) for k, v in _ordered_items(s.durations, _DURATION_ORDER))

    # Checks use the two-sided interval at 1 - 2*alpha: its lower bound is the one-sided
    # bound at 1 - alpha that the gate decides on. Label it with the level actually used.
    alpha = to_float(s.alpha)
    ci_label = f"{100 * (1 - 2 * alpha):g}% CI" if alpha is not None else "CI"

    return ReportView(
        ci_label=ci_label,
        confidence=1 - 2 * alpha if alpha is not None and 0 < alpha < 0.5 else None,
        samples=build_samples(s.samples, order),
        champions=build_champions(s, order),
        run_id=s.run_id,
        experiment=s.experiment,
        created_at=s.created_at,
        verdict=s.verdict,
        reasons=tuple(s.reasons),
        checks=checks,
        variants=variants,
        baseline=baseline,
        suites=tuple(suites),
        training=training,
        mlflow_run_id=s.mlflow_run_id,
        mlflow_tracking_uri=s.mlflow_tracking_uri,
        provenance=provenance,
        durations=durations,
    )


def is_finite_tree(value: object) -> bool:
    """True when no float anywhere in ``value`` is NaN or infinite (for tests/asserts)."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, Mapping):
        return all(is_finite_tree(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return all(is_finite_tree(v) for v in value)
    return True
