"""One gate run end to end: plan, load, baseline, candidates, decide, record.

This is glue (like ``cli.py``): it may import any harness package. :func:`run_gate` reads as
the list of steps; each step is a short method of :class:`GatePipeline` that calls the module
owning the work: ``harness._gate.scoring`` (the result store), ``.pool`` (the in-memory
models), ``.variants`` (quantised bases, candidates, merged LoRAs), ``harness.gates`` (checks
from the kind registry, the verdict), ``._gate.record`` (summary.json, typed as
``harness.report.GateSummary``) and ``._gate.payload`` (MLflow).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from harness import _provenance
from harness._gate import payload
from harness._gate.champion import find_champions
from harness._gate.keys import store_path
from harness._gate.pool import ModelPool
from harness._gate.record import gate_summary, suite_record, variant_record
from harness._gate.scoring import Scorer, Steps
from harness._gate.variants import EvalItems, Variants
from harness.config import Experiment, ItemResult
from harness.gates import Evidence, GateOutcome, decide, evaluate
from harness.models import variant_fingerprint
from harness.report import GateSummary
from harness.store import ResultStore

if TYPE_CHECKING:
    from harness.tracking import GateRunLog

EXIT_GO, EXIT_NO_GO, EXIT_CONFIG, EXIT_ERROR = 0, 1, 2, 3

__all__ = [
    "EXIT_CONFIG",
    "EXIT_ERROR",
    "EXIT_GO",
    "EXIT_NO_GO",
    "GatePipeline",
    "GateRunResult",
    "run_gate",
    "store_path",
]

_EvalItems = EvalItems  # the name tests/training/test_pipeline_data.py imports


@dataclass(frozen=True)
class GateRunResult:
    run_dir: Path
    gate_summary: GateSummary  # summary.json, typed
    outcome: GateOutcome
    # variant -> suite -> per-item results ("base" included): what custom gates compute from.
    results: dict[str, dict[str, list[ItemResult]]] = field(default_factory=dict)

    @cached_property
    def summary(self) -> dict[str, Any]:
        """summary.json as a dict (NaN where the file holds null)."""
        return self.gate_summary.to_dict()

    @property
    def exit_code(self) -> int:
        return EXIT_GO if self.outcome.verdict == "GO" else EXIT_NO_GO


def run_gate(
    exp: Experiment, console: Console | None = None, retrain: bool = False
) -> GateRunResult:
    """Run the whole gate. Raises ConfigError for bad input; returns the verdict otherwise."""
    from harness.tracking import gate_run

    gate = GatePipeline(exp, console or Console(emoji=False), retrain)
    gate.plan()
    with gate_run(exp.name, gate.run_id) as mlf:
        gate.load(mlf)
        gate.baseline()
        gate.champion()
        gate.candidates()
        outcome = gate.decide()
        return gate.record(mlf, outcome)


def _new_run_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(3)


class GatePipeline:
    """The state of one gate run and its steps, in the order :func:`run_gate` calls them."""

    def __init__(self, exp: Experiment, console: Console, retrain: bool = False) -> None:
        self.exp, self.console, self.retrain = exp, console, retrain
        self.t_start = time.perf_counter()
        self.run_id = _new_run_id()
        self.steps = Steps(console)
        self.durations: dict[str, float] = {}
        self.provenance: dict[str, Any] = {}

    def plan(self) -> None:
        """Open the result store and say what runs."""
        exp = self.exp
        self.store = ResultStore(store_path())
        self.console.print(
            f"[bold]Gate run {self.run_id}[/] for experiment [bold]{exp.name}[/] "
            f"({escape(str(exp.source))})"
        )
        # Before any model loads: a bad champion name or an unreachable registry costs seconds.
        self.champions = find_champions(exp, self.steps)

    def load(self, mlf: GateRunLog) -> None:
        """Load the base once; record provenance; log the run's settings to MLflow."""
        import torch

        from harness.models import load_base

        exp = self.exp
        self.base = base = self.steps.run("Loading base model", lambda: load_base(exp.base))
        device = str(next(base.model.parameters()).device)
        self.provenance = _provenance.collect(exp.source.parent, device)
        self.provenance.update(
            {
                "base_path": str(base.path),
                "base_fingerprint": base.fingerprint,
                "dtype": base.dtype,
                "seed": exp.gate.seed,
                "torch_threads": torch.get_num_threads(),
            }
        )
        payload.log_run_start(mlf, exp, base, self.provenance)
        scorer = Scorer(exp, self.steps, self.store, base.tokenizer, self.provenance)
        pool = ModelPool(exp.base, base, self.steps)
        self.variants = Variants(exp, base, self.steps, scorer, pool, retrain=self.retrain)
        self.champions.check_bases(base)  # a champion of another base: exit 2 before scoring

    def baseline(self) -> None:
        """Score the base on every suite (and each quantised base of gate.quantized_bases)."""
        base, v = self.base, self.variants
        fp = variant_fingerprint(base.fingerprint, None, "none", base.dtype)
        t0 = time.perf_counter()
        results = v.scorer.score(base.model, "base", fp)
        self.durations["baseline_s"] = round(time.perf_counter() - t0, 2)
        v.add(
            variant_record("base", "baseline", fp, quantization="none", dtype=base.dtype), results
        )
        for quant in self.exp.gate.quantized_bases:
            v.quantized_base(quant)

    def champion(self) -> None:
        """Attach and score the champion each release candidate must not be worse than
        (from the result store when it was scored before: its fingerprint is its files')."""
        t0 = time.perf_counter()
        self.champions.score(self.variants, self.steps)
        if self.champions.mapping():
            self.durations["champion_s"] = round(time.perf_counter() - t0, 2)

    def candidates(self) -> None:
        """Train or load, attach and score every candidate; then the merged LoRAs."""
        v = self.variants
        for cand in self.exp.candidates:
            v.candidate(cand)
        self.durations["training_s"] = round(v.train_seconds, 2)
        self.durations["candidates_s"] = round(v.candidate_seconds, 2)
        for record in v.mergeable() if self.exp.gate.merge_check else []:
            v.merge(record)

    def decide(self) -> GateOutcome:
        """Every registered check kind on the paired results (Holm across the run); verdict."""
        v = self.variants
        evidence = Evidence(
            policy=self.exp.gate,
            suites=self.exp.suites,
            results=v.results,
            candidates=[c.name for c in self.exp.candidates],
            pairs=v.pairs,
            merged=v.merged,
            comparison=self.exp.comparison_variants(),
            champions=self.champions.mapping(),
        )
        checks = self.steps.run("Deciding", lambda: evaluate(evidence))
        outcome = decide(checks)
        self.durations["total_s"] = round(time.perf_counter() - self.t_start, 2)
        return outcome

    def record(self, mlf: GateRunLog, outcome: GateOutcome) -> GateRunResult:
        """Log to MLflow; write summary.json and the reports; point reports/latest at them."""
        from harness.report import changed_samples, update_latest_link, write_report_files

        exp, v = self.exp, self.variants
        created_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        suites = [suite_record(s, v.results) for s in exp.suites]
        variants = payload.log_variants(
            mlf,
            exp,
            run_id=self.run_id,
            verdict=outcome.verdict,
            base_fingerprint=self.base.fingerprint,
            variants=v.records,
            suites=suites,
            checks=outcome.checks,
            results=v.results,
            provenance=self.provenance,
            gated_against=self.champions.registry_tags(),
        )
        payload.log_run_end(mlf, suites, outcome.checks, self.durations, outcome.verdict)
        summary = gate_summary(
            exp,
            run_id=self.run_id,
            created_at=created_at,
            outcome=outcome,
            variants=variants,
            suites=suites,
            mlflow_run_id=mlf.run_id,
            mlflow_tracking_uri=mlf.uri,
            provenance=self.provenance,
            durations=self.durations,
            # The items whose answers changed, for the report's side-by-side samples.
            samples=changed_samples(v.results, exp.suites),
            champions=self.champions.records(v.results),
        )
        run_dir = exp.reports_dir / self.run_id
        write_report_files(summary, run_dir)
        update_latest_link(exp.reports_dir, run_dir)
        mlf.log_artifacts(run_dir)
        return GateRunResult(run_dir, summary, outcome, v.results)
