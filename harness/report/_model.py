"""A typed, NaN-free view of a gate summary that every renderer reads.

The summary dict is produced by the gate and may grow new keys, new check kinds or
NaN values. Interpreting it once here (which variant is the baseline, what counts as a
capability drop, which numbers are missing) keeps the Markdown and HTML reports from
disagreeing, and keeps the renderers themselves free of defensive ``.get`` chains.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.report._format import ci_bounds, to_float
from harness.report._samples import SuiteSamplesView, build_samples

Summary = Mapping[str, Any]

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


def _records(value: object) -> list[Mapping[str, Any]]:
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [item for item in value if isinstance(item, Mapping)]
    return []


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

    @property
    def classname(self) -> str:
        """JUnit-style class name: CI UIs group test cases by variant, then suite."""
        return f"{self.variant}.{self.suite}"

    @property
    def threshold(self) -> float | None:
        """Where the CI bound must land, on the delta axis, for the known check kinds.

        ``improves`` needs the lower bound above +margin; ``no_forgetting`` needs it
        above -margin. Other kinds may define margin differently, so no line is drawn.
        """
        if self.margin is None:
            return None
        if self.kind == "improves":
            return self.margin
        if self.kind == "no_forgetting":
            return -self.margin
        return None

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

    @property
    def is_go(self) -> bool:
        """Only an exact "GO" passes; an unknown verdict must never look like a release."""
        return self.verdict == "GO"

    @property
    def failed_checks(self) -> tuple[CheckView, ...]:
        return tuple(c for c in self.checks if not c.passed)

    @property
    def general_suites(self) -> tuple[SuiteView, ...]:
        """Suites with per-capability scores (general-ability / forgetting suites)."""
        return tuple(s for s in self.suites if s.capabilities)


def _check(raw: Mapping[str, Any]) -> CheckView:
    low, high = ci_bounds(raw.get("ci"))
    return CheckView(
        name=str(raw.get("name", "")),
        kind=str(raw.get("kind", "")),
        variant=str(raw.get("variant", "")),
        suite=str(raw.get("suite", "")),
        capability=_opt_str(raw.get("capability")),
        metric=str(raw.get("metric", "")),
        baseline=to_float(raw.get("baseline")),
        candidate=to_float(raw.get("candidate")),
        delta=to_float(raw.get("delta")),
        ci_low=low,
        ci_high=high,
        margin=to_float(raw.get("margin")),
        passed=raw.get("passed") is True,
        reason=str(raw.get("reason") or ""),
        n=to_float(raw.get("n")),
        mde=to_float(raw.get("mde")),
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


def _loss_curve(value: object) -> tuple[tuple[float, float], ...]:
    points = []
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        for point in value:
            if (
                isinstance(point, Sequence)
                and not isinstance(point, (str, bytes))
                and len(point) == 2
            ):
                step, loss = to_float(point[0]), to_float(point[1])
                if step is not None and loss is not None:
                    points.append((step, loss))
    return tuple(points)


def build_view(summary: Summary) -> ReportView:
    """Normalise a summary dict into a :class:`ReportView`.

    Tolerates missing optional keys and unknown extra keys, so an older or newer gate
    still produces a readable report instead of a crash at the very last step.
    """
    raw_variants = _records(summary.get("variants"))
    variants = tuple(
        VariantView(
            name=str(v.get("name", "")),
            role=str(v.get("role", "")),
            fingerprint=_opt_str(v.get("fingerprint")),
            adapter=_opt_str(v.get("adapter")),
            quantization=_opt_str(v.get("quantization")),
            dtype=_opt_str(v.get("dtype")),
        )
        for v in raw_variants
    )
    order = [v.name for v in variants]
    baseline = next((v.name for v in variants if v.role == "baseline"), None)
    if baseline is None and order:
        baseline = order[0]

    checks = tuple(_check(c) for c in _records(summary.get("checks")))

    suites = []
    for raw in _records(summary.get("suites")):
        name = str(raw.get("name", ""))
        scores = _mapping(raw.get("scores"))
        raw_caps = _mapping(raw.get("capabilities"))
        cap_names = _present(order, *(_mapping(c) for c in raw_caps.values()))
        capabilities = []
        for cap_name, cap_scores in sorted(raw_caps.items(), key=lambda kv: str(kv[0])):
            failed = frozenset(
                c.variant
                for c in checks
                if not c.passed and c.suite == name and c.capability == str(cap_name)
            )
            capabilities.append(
                CapabilityView(
                    str(cap_name),
                    _cells(_mapping(cap_scores), cap_names, baseline),
                    failed,
                    # summaries written before the field existed were all higher-is-better
                    higher_is_better=raw.get("higher_is_better") is not False,
                )
            )
        suites.append(
            SuiteView(
                name=name,
                kind=str(raw.get("kind", "")),
                version=str(raw.get("version", "")),
                fingerprint=str(raw.get("fingerprint", "")),
                n_items=to_float(raw.get("n_items")),
                metric=str(raw.get("metric", "")),
                cells=_cells(scores, _present(order, scores), baseline),
                capabilities=tuple(capabilities),
            )
        )

    training = []
    for v in raw_variants:
        info = v.get("training")
        if isinstance(info, Mapping):
            training.append(
                TrainingView(
                    variant=str(v.get("name", "")),
                    recipe=_opt_str(info.get("recipe")),
                    train_seconds=to_float(info.get("train_seconds")),
                    steps=to_float(info.get("steps")),
                    final_loss=to_float(info.get("final_loss")),
                    trainable_params=to_float(info.get("trainable_params")),
                    trainable_pct=to_float(info.get("trainable_pct")),
                    loss_curve=_loss_curve(info.get("loss_curve")),
                    tokens_per_second=to_float(info.get("tokens_per_second")),
                    peak_memory_mb=to_float(info.get("peak_memory_mb")),
                    adapter_size_bytes=to_float(info.get("adapter_size_bytes")),
                    val_loss_curve=_loss_curve(info.get("val_loss_curve")),
                    memory_estimate_mb=tuple(
                        (str(k), f)
                        for k, v in _ordered_items(
                            info.get("memory_estimate_mb"), ("full", "lora", "qlora")
                        )
                        if (f := to_float(v)) is not None
                    ),
                    n_examples=to_float(info.get("n_examples")),
                )
            )

    reasons_raw = summary.get("reasons")
    reasons = (
        tuple(str(r) for r in reasons_raw)
        if isinstance(reasons_raw, Sequence) and not isinstance(reasons_raw, (str, bytes))
        else ()
    )
    provenance = tuple(
        (k, _opt_str(v)) for k, v in _ordered_items(summary.get("provenance"), _PROVENANCE_ORDER)
    )
    durations = tuple(
        (k, to_float(v)) for k, v in _ordered_items(summary.get("durations"), _DURATION_ORDER)
    )

    # Checks use the two-sided interval at 1 - 2*alpha: its lower bound is the one-sided
    # bound at 1 - alpha that the gate decides on. Label it with the level actually used.
    policy = summary.get("policy")
    alpha = to_float(policy.get("alpha")) if isinstance(policy, dict) else None
    ci_label = f"{100 * (1 - 2 * alpha):g}% CI" if alpha is not None else "CI"

    return ReportView(
        ci_label=ci_label,
        confidence=1 - 2 * alpha if alpha is not None and 0 < alpha < 0.5 else None,
        samples=build_samples(summary.get("samples"), order),
        run_id=str(summary.get("run_id", "")),
        experiment=str(summary.get("experiment", "")),
        created_at=str(summary.get("created_at", "")),
        verdict=str(summary.get("verdict", "NO-GO")),
        reasons=reasons,
        checks=checks,
        variants=variants,
        baseline=baseline,
        suites=tuple(suites),
        training=tuple(training),
        mlflow_run_id=_opt_str(summary.get("mlflow_run_id")),
        mlflow_tracking_uri=_opt_str(summary.get("mlflow_tracking_uri")),
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
