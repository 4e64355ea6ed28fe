"""One gate run end to end: baseline, train or load candidates, score, decide, log, report.

This is glue (like ``cli.py``): it may import any harness package, and each step it calls
lives in the package that owns it.
"""

from __future__ import annotations

import functools
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

import harness
from harness import _provenance
from harness.config import Experiment, ItemResult, Recipe, SuiteSpec
from harness.gates import GateOutcome, build_checks, decide, merge_equivalence_check
from harness.models import cache_root, fingerprint_files, fingerprint_value, variant_fingerprint
from harness.store import ResultKey, ResultStore

EXIT_GO, EXIT_NO_GO, EXIT_CONFIG, EXIT_ERROR = 0, 1, 2, 3


@dataclass(frozen=True)
class GateRunResult:
    run_dir: Path
    summary: dict[str, Any]
    outcome: GateOutcome
    # variant -> suite -> per-item results ("base" included): what custom gates compute from.
    results: dict[str, dict[str, list[ItemResult]]] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_GO if self.outcome.verdict == "GO" else EXIT_NO_GO


def store_path() -> Path:
    """``HARNESS_STORE`` or ``.harness/results.sqlite`` in the working directory."""
    env = os.environ.get("HARNESS_STORE")
    return Path(env) if env else Path.cwd() / ".harness" / "results.sqlite"


def _new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class _Steps:
    """Numbered, timed step lines: progress a person can follow in a CI log."""

    def __init__(self, console: Console) -> None:
        # No "of N": how many steps run depends on what the caches already hold.
        self.console, self.n = console, 0

    def run(self, title: str, fn: Callable[[], Any]) -> Any:
        self.n += 1
        self.console.print(f"[bold cyan]step {self.n}[/] {escape(title)} ...", soft_wrap=True)
        t0 = time.perf_counter()
        out = fn()
        self.console.print(f"      done in {time.perf_counter() - t0:.1f} s")
        return out


def _scoring_key(exp: Experiment) -> dict[str, Any]:
    # batch_size is left out on purpose: it changes speed, not (beyond float noise) scores.
    return {"apply_chat_template": exp.scoring.apply_chat_template, "limit": exp.scoring.limit}


def _score_variant(
    steps: _Steps,
    store: ResultStore,
    lm: Any,
    exp: Experiment,
    variant: str,
    variant_fp: str,
    settings_fp: str,
    provenance: dict[str, Any],
) -> dict[str, list[ItemResult]]:
    """Score every suite for one variant, committing batches and resuming what a crash left."""
    from harness.engine import run_suite

    out: dict[str, list[ItemResult]] = {}
    for suite in exp.suites:
        key = ResultKey(variant_fp, suite.fingerprint, settings_fp, harness.SCORING_VERSION)
        prov = {
            **provenance,
            "variant": variant,
            "suite": suite.name,
            "suite_version": suite.version,
            "scoring_settings": _scoring_key(exp),
        }
        cached = store.get(key)
        if cached is not None:
            steps.console.print(
                f"      {variant}/{suite.name}: {len(cached)} items from the result store "
                "(no forward passes)",
                markup=False,
            )
            out[suite.name] = cached
            continue
        stale = store.why_not_reused(key, suite.name, prov)
        if stale:
            steps.console.print(
                f"      {variant}/{suite.name}: stored results not reused ({'; '.join(stale)})",
                markup=False,
            )
        done = store.partial(key)
        if done:
            steps.console.print(
                f"      {variant}/{suite.name}: resuming, {len(done)} items already committed",
                markup=False,
            )

        def _score(
            s: SuiteSpec = suite, k: ResultKey = key, d: dict[str, ItemResult] = done
        ) -> list[ItemResult]:
            return run_suite(
                lm, s, exp.scoring, skip=d.keys(), on_batch=functools.partial(store.add_items, k)
            )

        new = steps.run(f"Scoring {variant} on {suite.name}", _score)
        store.complete(key, len(done) + len(new), prov)
        items = store.get(key)
        assert items is not None
        out[suite.name] = items
    return out


def _mean(items: list[ItemResult], metric: str) -> float:
    vals = [it.scores.get(metric, float("nan")) for it in items]
    return sum(vals) / len(vals) if vals else float("nan")


def _suite_summary(
    suite: SuiteSpec, results: dict[str, dict[str, list[ItemResult]]]
) -> dict[str, Any]:
    scores = {v: _mean(r[suite.name], suite.metric) for v, r in results.items()}
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
    n = len(next(iter(results.values()))[suite.name])
    return {
        "name": suite.name,
        "kind": suite.kind,
        "version": suite.version,
        "fingerprint": suite.fingerprint,
        "n_items": n,
        "metric": suite.metric,
        "higher_is_better": suite.higher_is_better,
        "path": str(suite.path),
        "scores": scores,
        "capabilities": caps,
    }


def _recipe_params(recipe: Recipe | None) -> dict[str, Any]:
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


class _EvalItems:
    """The experiment's evaluation prompts per suite, built once and only if a recipe trains.

    The contamination check compares training rows with these.
    """

    def __init__(self, suites: list[SuiteSpec]) -> None:
        self.suites = suites
        self._items: dict[str, list[str]] | None = None

    def get(self) -> dict[str, list[str]]:
        if self._items is None:
            from harness.engine import build_task

            self._items = {}
            for suite in self.suites:
                task = build_task(suite)
                self._items[suite.name] = [str(task.doc_to_text(d)) for d in task.eval_docs]
        return self._items


def run_gate(
    exp: Experiment, console: Console | None = None, retrain: bool = False
) -> GateRunResult:
    """Run the whole gate. Raises ConfigError for bad input; returns the verdict otherwise."""
    import torch

    from harness.engine import HarnessLM, training_examples
    from harness.models import (
        attach_adapter,
        load_base,
        load_quantized_base,
        read_adapter_config,
    )
    from harness.report import changed_samples, update_latest_link, write_report_files
    from harness.tracking import gate_run, item_table
    from harness.training import adapter_cache_key, load_cached, recipe_examples, train_lora

    console = console or Console()
    t_start = time.perf_counter()
    run_id = _new_run_id()
    store = ResultStore(store_path())
    steps = _Steps(console)
    console.print(
        f"[bold]Gate run {run_id}[/] for experiment [bold]{exp.name}[/] ({escape(str(exp.source))})"
    )
    durations: dict[str, float] = {}

    with gate_run(exp.name, run_id) as mlf:
        base = steps.run("Loading base model", lambda: load_base(exp.base))
        device = str(next(base.model.parameters()).device)
        provenance = _provenance.collect(exp.source.parent, device)
        provenance.update(
            {
                "base_path": str(base.path),
                "base_fingerprint": base.fingerprint,
                "dtype": base.dtype,
                "seed": exp.gate.seed,
                "torch_threads": torch.get_num_threads(),
            }
        )
        settings_fp = fingerprint_value(_scoring_key(exp))
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
        base_fp = variant_fingerprint(base.fingerprint, None, "none", base.dtype)
        lm = HarnessLM(base.model, base.tokenizer, batch_size=exp.scoring.batch_size)
        t0 = time.perf_counter()
        results = {
            "base": _score_variant(steps, store, lm, exp, "base", base_fp, settings_fp, provenance)
        }
        durations["baseline_s"] = round(time.perf_counter() - t0, 2)

        variants: list[dict[str, Any]] = [
            {
                "name": "base",
                "role": "baseline",
                "fingerprint": base_fp,
                "adapter": None,
                "quantization": "none",
                "dtype": base.dtype,
                "training": None,
            }
        ]
        # One in-memory model per (base quantisation, peft adapter type): candidates served the
        # same way share it (peft keeps several adapters on one load and switches between them,
        # but holds one adapter type per model, so another type gets a fresh load of the base).
        # Key (quant, None) is a load no adapter has touched yet; the first type takes it over.
        models: dict[tuple[str, str | None], Any] = {("none", None): base.model}
        pairs: list[tuple[str, str]] = []

        def _model_for(quant: str, peft_type: str | None = None) -> Any:
            if (quant, peft_type) in models:
                return models[(quant, peft_type)]
            if peft_type is not None and (quant, None) in models:
                models[(quant, peft_type)] = models.pop((quant, None))
            elif quant == "none":
                models[(quant, peft_type)] = steps.run(
                    f"Loading a fresh copy of the base for {peft_type} adapters",
                    lambda: load_base(exp.base, fingerprint=base.fingerprint).model,
                )
            else:
                models[(quant, peft_type)] = steps.run(
                    f"Loading base quantised ({quant}, bitsandbytes)",
                    lambda: (
                        load_quantized_base(
                            exp.base, quant, base.tokenizer, fingerprint=base.fingerprint
                        ).model
                    ),
                )
            return models[(quant, peft_type)]

        for qbase in exp.gate.quantized_bases:
            quant: str = qbase
            qname = f"base-{quant}"
            qfp = variant_fingerprint(base.fingerprint, None, quant, base.dtype)
            qlm = HarnessLM(_model_for(quant), base.tokenizer, batch_size=exp.scoring.batch_size)
            results[qname] = _score_variant(
                steps, store, qlm, exp, qname, qfp, settings_fp, provenance
            )
            pairs.append((qname, "base"))
            variants.append(
                {
                    "name": qname,
                    "role": "quantized_base",
                    "fingerprint": qfp,
                    "adapter": None,
                    "quantization": quant,
                    "dtype": base.dtype,
                    "training": None,
                }
            )
        t_train = 0.0
        t_cand = 0.0
        eval_items = _EvalItems(exp.suites)
        prompt_learning: set[str] = set()  # candidates with virtual tokens: nothing to merge
        for cand in exp.candidates:
            quant = cand.quantization or "none"
            training: dict[str, Any] | None = None
            if cand.recipe is not None:
                recipe = exp.recipes[cand.name]
                # The same rows `harness train` forms (so it shares the adapter cache), checked
                # against this experiment's suites for contamination.
                examples, data_report = recipe_examples(
                    recipe, base.tokenizer, training_examples, eval_items.get()
                )
                for warning in data_report.warnings:
                    console.print(f"      {cand.name}: training data: {warning}", markup=False)
                adapter_dir = (
                    cache_root()
                    / "adapters"
                    / adapter_cache_key(base.fingerprint, recipe, examples)
                )
                tr = None if retrain else load_cached(adapter_dir)
                if tr is not None:
                    console.print(
                        f"      {cand.name}: reusing adapter trained earlier from the "
                        f"same base, recipe and data ({adapter_dir}); --retrain to redo",
                        markup=False,
                    )
                else:
                    t1 = time.perf_counter()
                    title = f"Training {cand.name} from {recipe.source} ({len(examples)} examples)"
                    tr = steps.run(
                        title,
                        functools.partial(
                            train_lora,
                            base.path,
                            base.fingerprint,
                            recipe,
                            examples,
                            adapter_dir,
                            data_report=data_report,
                        ),
                    )
                    t_train += time.perf_counter() - t1
                training = tr.to_json()
            else:
                assert cand.adapter is not None
                adapter_dir = cand.adapter
            peft_type = str(read_adapter_config(adapter_dir).get("peft_type"))
            model = attach_adapter(
                _model_for(quant, peft_type),
                adapter_dir,
                cand.name,
                base_fingerprint=base.fingerprint,
            )
            models[(quant, peft_type)] = model
            if model.peft_config[cand.name].is_prompt_learning:
                prompt_learning.add(cand.name)
            model.set_adapter(cand.name)
            model.eval()
            adapter_fp = fingerprint_files(adapter_dir)
            vfp = variant_fingerprint(base.fingerprint, adapter_fp, quant, base.dtype)
            clm = HarnessLM(model, base.tokenizer, batch_size=exp.scoring.batch_size)
            t1 = time.perf_counter()
            results[cand.name] = _score_variant(
                steps, store, clm, exp, cand.name, vfp, settings_fp, provenance
            )
            t_cand += time.perf_counter() - t1
            if cand.compare_to is not None:
                pairs.append((cand.name, cand.compare_to))
            variants.append(
                {
                    "name": cand.name,
                    "role": "candidate",
                    "fingerprint": vfp,
                    "adapter": str(adapter_dir),
                    "quantization": quant,
                    "dtype": base.dtype,
                    "training": training,
                }
            )
        durations["training_s"] = round(t_train, 2)
        durations["candidates_s"] = round(t_cand, 2)

        # merge_equivalence: the merged model users deploy, scored like the adapter we gated.
        merged_results: dict[str, dict[str, list[ItemResult]]] = {}
        mergeable = (
            [
                v
                for v in variants
                if v["role"] == "candidate"
                and v["quantization"] == "none"
                # Prefix/prompt tuning adds virtual tokens: there is nothing to merge.
                and v["name"] not in prompt_learning
            ]
            if exp.gate.merge_check
            else []
        )
        for v in mergeable:
            adapter_dir = Path(v["adapter"])
            fresh = steps.run(
                f"Merging {v['name']} into a fresh copy of the base",
                lambda: load_base(exp.base, fingerprint=base.fingerprint),
            )
            merged_model = attach_adapter(
                fresh.model, adapter_dir, v["name"], base_fingerprint=base.fingerprint
            ).merge_and_unload()
            mfp = variant_fingerprint(
                base.fingerprint, fingerprint_files(adapter_dir), "none", base.dtype, merged=True
            )
            mlm = HarnessLM(merged_model, base.tokenizer, batch_size=exp.scoring.batch_size)
            merged_results[v["name"]] = _score_variant(
                steps, store, mlm, exp, f"{v['name']}-merged", mfp, settings_fp, provenance
            )

        checks = steps.run(
            "Deciding",
            lambda: build_checks(
                exp.gate,
                exp.suites,
                results["base"],
                {k: v for k, v in results.items() if k != "base"},
                pairs,
            ),
        )
        for name, merged in merged_results.items():
            checks.extend(
                merge_equivalence_check(
                    name, s.name, results[name][s.name], merged[s.name], exp.gate.merge_tolerance
                )
                for s in exp.suites
            )
        outcome = decide(checks)
        durations["total_s"] = round(time.perf_counter() - t_start, 2)
        summary: dict[str, Any] = {
            "run_id": run_id,
            "experiment": exp.name,
            "experiment_file": str(exp.source),
            "created_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "verdict": outcome.verdict,
            "reasons": outcome.reasons,
            "checks": [c.to_json() for c in checks],
            "variants": variants,
            "suites": [_suite_summary(s, results) for s in exp.suites],
            "policy": exp.gate.model_dump(),
            "mlflow_run_id": mlf.run_id,
            "mlflow_tracking_uri": mlf.uri,
            "provenance": provenance,
            "durations": durations,
        }
        for v in variants[1:]:
            metrics: dict[str, float] = {}
            for s in summary["suites"]:
                metrics[f"{s['name']}.{s['metric']}"] = s["scores"][v["name"]]
            for c in checks:
                if c.variant == v["name"]:
                    tag = c.name.split("::", 1)[1].replace("::", ".").replace("/", ".")
                    metrics[f"{tag}.delta"] = c.delta
                    metrics[f"{tag}.ci_low"] = c.ci[0]
                    metrics[f"{tag}.ci_high"] = c.ci[1]
            tr_json = v["training"] or {}
            child_id = mlf.log_variant(
                v["name"],
                {
                    "adapter": v["adapter"],
                    "fingerprint": v["fingerprint"],
                    **{
                        f"train.{k}": tr_json[k]
                        for k in (
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
                        if k in tr_json
                    },
                    **_recipe_params(exp.recipes.get(v["name"])),
                },
                metrics,
                [tuple(x) for x in tr_json.get("loss_curve", [])],
                tables={
                    s["name"]: item_table(
                        s["metric"], results["base"][s["name"]], results[v["name"]][s["name"]]
                    )
                    for s in summary["suites"]
                },
                adapter_dir=Path(v["adapter"]) if v["adapter"] else None,
                adapter_key=v["fingerprint"],
                history=tr_json.get("history"),
                val_curve=[tuple(x) for x in tr_json.get("val_loss_curve", [])],
            )
            if v["role"] == "candidate" and v["adapter"]:
                model_name, version = mlf.register_adapter(
                    v["name"],
                    child_id,
                    outcome.verdict,
                    {
                        "harness.gate_run_id": run_id,
                        "harness.variant_fingerprint": v["fingerprint"],
                        "harness.base_fingerprint": base.fingerprint,
                        "harness.git_commit": provenance.get("git_commit") or "unknown",
                    },
                )
                v["registered_model"] = {"name": model_name, "version": version}
        mlf.log_metrics(
            {f"base.{s['name']}.{s['metric']}": s["scores"]["base"] for s in summary["suites"]}
        )
        mlf.log_metrics(
            {
                "checks_failed": float(sum(not c.passed for c in checks)),
                "checks_total": float(len(checks)),
                **durations,
            }
        )
        mlf.set_tags({"harness.verdict": outcome.verdict})
        # The items whose answers changed, for the report's side-by-side samples.
        summary["samples"] = changed_samples(results, exp.suites)
        run_dir = exp.reports_dir / run_id
        write_report_files(summary, run_dir)
        update_latest_link(exp.reports_dir, run_dir)
        mlf.log_artifacts(run_dir)
    return GateRunResult(run_dir, summary, outcome, results)
