"""What a gate run logs to MLflow, shaped from the run's records (``harness.tracking`` logs it).

The parent run gets the experiment's settings when the base is loaded (:func:`log_run_start`)
and the verdict, check counts, durations and baseline scores at the end (:func:`log_run_end`);
every other variant gets a child run with its training facts, recipe, scores, check deltas and
per-item tables, and a candidate's adapter is registered as a model version
(:func:`log_variants`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import Experiment, ItemResult, Recipe
from harness.gates import Check
from harness.report import RegisteredModel, SuiteRecord, VariantRecord

if TYPE_CHECKING:
    from harness.models import LoadedBase
    from harness.tracking import GateRunLog

# Training facts logged as a variant's params (train.<key>), when the trainer reported them.
TRAIN_PARAMS = (
    "recipe",
    "steps",
    "train_seconds",
    "trainable_pct",
    "tokens_per_second",
    "peak_memory_mb",
    "adapter_size_bytes",
    "best_step",
    "stop_reason",
)


def log_run_start(
    mlf: GateRunLog, exp: Experiment, base: LoadedBase, provenance: dict[str, Any]
) -> None:
    mlf.set_tags(
        {
            "harness.base_fingerprint": base.fingerprint,
            "harness.git_commit": provenance.get("git_commit") or "unknown",
            "harness.experiment_file": str(exp.source),
        }
    )
    mlf.log_params(
        {
            "base": exp.base.model,
            "dtype": base.dtype,
            "suites": ",".join(s.name for s in exp.suites),
            "candidates": ",".join(c.name for c in exp.candidates),
            **{f"gate.{k}": v for k, v in exp.gate.model_dump().items()},
        }
    )


def recipe_params(recipe: Recipe | None) -> dict[str, Any]:
    """A trained candidate's hyperparameters as flat MLflow params (recipe.train.lr ...)."""
    if recipe is None:
        return {}
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}", v)
        else:
            flat[prefix] = value

    walk("recipe", recipe.model_dump(mode="json", exclude={"source"}))
    return flat


def variant_metrics(variant: str, suites: list[SuiteRecord], checks: list[Check]) -> dict[str, Any]:
    """``<suite>.<metric>`` scores and each check's ``<where>.<kind>.delta|ci_low|ci_high``
    (NaN values are left out when logged)."""
    metrics: dict[str, Any] = {}
    for s in suites:
        metrics[f"{s.name}.{s.metric}"] = s.scores[variant]
    for c in checks:
        if c.variant == variant:
            tag = c.name.split("::", 1)[1].replace("::", ".").replace("/", ".")
            metrics[f"{tag}.delta"] = c.delta
            metrics[f"{tag}.ci_low"] = c.ci[0]
            metrics[f"{tag}.ci_high"] = c.ci[1]
    return metrics


def _log_variant(
    mlf: GateRunLog,
    exp: Experiment,
    v: VariantRecord,
    suites: list[SuiteRecord],
    checks: list[Check],
    results: dict[str, dict[str, list[ItemResult]]],
) -> str:
    from harness.tracking import item_table

    tr = v.training.model_dump(exclude_unset=True) if v.training is not None else {}
    return mlf.log_variant(
        v.name,
        {
            "adapter": v.adapter,
            "fingerprint": v.fingerprint,
            "decides": v.decides,  # false: a comparison arm, reported but not deciding
            **({"execution": v.execution} if v.execution else {}),
            **{f"train.{k}": tr[k] for k in TRAIN_PARAMS if k in tr},
            **recipe_params(exp.recipes.get(v.name)),
        },
        variant_metrics(v.name, suites, checks),
        [tuple(x) for x in tr.get("loss_curve", [])],
        tables={
            s.name: item_table(s.metric, results["base"][s.name], results[v.name][s.name])
            for s in suites
        },
        # A champion's adapter is already in the registry (or a directory): not logged again.
        adapter_dir=Path(v.adapter) if v.adapter and v.role != "champion" else None,
        adapter_key=v.fingerprint,
        history=tr.get("history"),
        val_curve=[tuple(x) for x in tr.get("val_loss_curve", [])],
    )


def log_variants(
    mlf: GateRunLog,
    exp: Experiment,
    *,
    run_id: str,
    verdict: str,
    base_fingerprint: str,
    variants: list[VariantRecord],
    suites: list[SuiteRecord],
    checks: list[Check],
    results: dict[str, dict[str, list[ItemResult]]],
    provenance: dict[str, Any],
    gated_against: dict[str, str] | None = None,
) -> list[VariantRecord]:
    """A child run per variant but the baseline; returns the variants, each candidate with
    the ``registered_model`` its adapter was registered as.

    A version's tags say what a later run needs to gate against it as the champion: the
    base it was gated on (fingerprint, location, dtype), how it is served (quantisation),
    and (``harness.champion``) the champion it was itself gated against."""
    out = variants[:1]
    for v in variants[1:]:
        child_id = _log_variant(mlf, exp, v, suites, checks, results)
        if v.role == "candidate" and v.adapter:
            # A comparison arm's version records the run's verdict but never says "GO": only
            # a GO version moves the `champion` alias, and the arm is not what ships.
            name, version = mlf.register_adapter(
                v.name,
                child_id,
                verdict if v.decides else f"{verdict} (comparison arm, not released)",
                {
                    "harness.role": "release" if v.decides else "comparison",
                    "harness.gate_run_id": run_id,
                    "harness.variant_fingerprint": str(v.fingerprint),
                    "harness.base_fingerprint": base_fingerprint,
                    "harness.git_commit": provenance.get("git_commit") or "unknown",
                    "harness.base_model": exp.base.model,
                    "harness.dtype": str(v.dtype),
                    "harness.quantization": str(v.quantization or "none"),
                    **(
                        {"harness.champion": gated_against[v.name]}
                        if gated_against and v.name in gated_against
                        else {}
                    ),
                },
            )
            v = v.model_copy(
                update={"registered_model": RegisteredModel(name=name, version=version)}
            )
        out.append(v)
    return out


def log_run_end(
    mlf: GateRunLog,
    suites: list[SuiteRecord],
    checks: list[Check],
    durations: dict[str, float],
    verdict: str,
) -> None:
    base_scores: dict[str, Any] = {f"base.{s.name}.{s.metric}": s.scores["base"] for s in suites}
    mlf.log_metrics(base_scores)
    mlf.log_metrics(
        {
            "checks_failed": float(sum(not c.passed for c in checks)),
            # Only these decide the verdict (comparison arms' checks do not).
            "checks_failed_deciding": float(sum(not c.passed and c.decides for c in checks)),
            "checks_total": float(len(checks)),
            **durations,
        }
    )
    mlf.set_tags({"harness.verdict": verdict})
