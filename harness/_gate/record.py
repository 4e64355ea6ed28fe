"""A gate run's summary.json, built as the typed :class:`harness.report.GateSummary`.

The records are validated strictly when built (unknown or mistyped fields fail the run
before anything is written), from plain values: numpy scalars are unwrapped first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from harness.config import Experiment, ItemResult, SuiteSpec
from harness.config._registry_suite import RegistrySuite
from harness.gates import Check, GateOutcome, find_check_kind
from harness.report import (
    ChampionRecord,
    CheckKindInfo,
    CheckRecord,
    GateSummary,
    SampleBlock,
    SuiteRecord,
    VariantRecord,
)


def plain(value: Any) -> Any:
    """``value`` with numpy scalars unwrapped (``.item()``) and tuples kept; NaN stays NaN."""
    if value is None or isinstance(value, bool | str | int | float):
        return value
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(plain(v) for v in value)
    item = getattr(value, "item", None)
    return plain(item()) if callable(item) else value


def variant_record(
    name: str,
    role: str,
    fingerprint: str,
    *,
    quantization: str,
    dtype: str,
    adapter: str | None = None,
    training: dict[str, Any] | None = None,
    decides: bool = True,
    execution: str | None = None,
    notes: list[str] | None = None,
) -> VariantRecord:
    """One scored variant (``role``: baseline, quantized_base or candidate; ``decides``
    false for a comparison arm; ``execution``: how a quantised variant ran)."""
    return VariantRecord.model_validate(
        {
            "name": name,
            "role": role,
            "fingerprint": fingerprint,
            "adapter": adapter,
            "quantization": quantization,
            "dtype": dtype,
            "training": plain(training),
            "decides": decides,
            "execution": execution,
            "notes": list(notes or []),
        }
    )


def _mean(items: list[ItemResult], metric: str) -> float:
    vals = [it.scores.get(metric, math.nan) for it in items]
    return sum(vals) / len(vals) if vals else math.nan


def _lm_eval_view(
    suite: SuiteSpec, results: Mapping[str, Mapping[str, list[ItemResult]]]
) -> tuple[dict[str, dict[str, float]], int | None]:
    """A registry suite's lm-eval aggregate per variant (its top task or group) and its
    few-shot count; nothing for a task-YAML suite."""
    if not isinstance(suite, RegistrySuite) or suite.entry is None or suite.state is None:
        return {}, None
    from harness.engine import lm_eval_aggregate

    agg: dict[str, dict[str, float]] = {}
    for variant, r in results.items():
        out = lm_eval_aggregate(suite, r[suite.name])
        top = out.get(suite.entry.lm_eval) or (next(iter(out.values())) if len(out) == 1 else {})
        agg[variant] = {
            k: float(v)
            for k, v in top.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and k != "sample_len"
        }
    shots = {cfg.get("num_fewshot") for cfg in getattr(suite.state, "configs", {}).values()}
    fewshot = suite.entry.num_fewshot
    if fewshot is None and len(shots) == 1:
        fewshot = next(iter(shots)) or 0
    return agg, fewshot


def suite_record(
    suite: SuiteSpec, results: Mapping[str, Mapping[str, list[ItemResult]]]
) -> SuiteRecord:
    """A suite with every variant's mean score (and per capability, for a general suite;
    beside them lm-eval's own aggregate, for a registry suite)."""
    scores = {v: _mean(r[suite.name], suite.metric) for v, r in results.items()}
    agg, fewshot = _lm_eval_view(suite, results)
    caps: dict[str, dict[str, float]] = {}
    if suite.kind == "general":
        for v, r in results.items():
            by: dict[str, list[ItemResult]] = {}
            for it in r[suite.name]:
                if it.capability:
                    by.setdefault(it.capability, []).append(it)
            if len(by) > 1:
                for cap, its in sorted(by.items()):
                    caps.setdefault(cap, {})[v] = _mean(its, suite.metric)
    return SuiteRecord(
        name=suite.name,
        kind=suite.kind,
        version=suite.version,
        fingerprint=suite.fingerprint,
        n_items=len(next(iter(results.values()))[suite.name]),
        metric=suite.metric,
        higher_is_better=suite.higher_is_better,
        path=str(suite.path),
        scores=plain(scores),
        capabilities=plain(caps),
        **({"lm_eval_aggregate": plain(agg), "num_fewshot": fewshot} if agg else {}),
    )


def check_record(check: Check) -> CheckRecord:
    return CheckRecord.model_validate(plain(check.to_json()))


def check_kinds_info(checks: Iterable[Check]) -> dict[str, CheckKindInfo]:
    """How the reports show each kind among ``checks`` (from the kind registry)."""
    out: dict[str, CheckKindInfo] = {}
    for c in checks:
        kind = find_check_kind(c.kind)
        if c.kind not in out:
            out[c.kind] = CheckKindInfo.model_validate(kind.display() if kind else {})
    return out


def gate_summary(
    exp: Experiment,
    *,
    run_id: str,
    created_at: str,
    outcome: GateOutcome,
    variants: list[VariantRecord],
    suites: list[SuiteRecord],
    mlflow_run_id: str | None,
    mlflow_tracking_uri: str | None,
    provenance: dict[str, Any],
    durations: dict[str, float],
    samples: list[dict[str, Any]],
    champions: list[ChampionRecord] | None = None,
) -> GateSummary:
    """The run's summary.json, every field set (see ``harness.report.GateSummary``)."""
    return GateSummary(
        run_id=run_id,
        experiment=exp.name,
        experiment_file=str(exp.source),
        created_at=created_at,
        verdict=outcome.verdict,
        reasons=list(outcome.reasons),
        checks=[check_record(c) for c in outcome.checks],
        check_kinds=check_kinds_info(outcome.checks),
        variants=variants,
        suites=suites,
        policy=exp.gate.model_dump(),
        scoring=plain(exp.scoring.model_dump()),
        mlflow_run_id=mlflow_run_id,
        mlflow_tracking_uri=mlflow_tracking_uri,
        provenance=plain(provenance),
        durations=dict(durations),
        samples=[SampleBlock.model_validate(plain(b)) for b in samples],
        champions=list(champions or []),
    )
