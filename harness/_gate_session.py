"""A gate run seen from a test session: the logic behind ``harness.pytest_plugin``.

The plugin holds options, collectors and fixtures only; what a check's failure says, which
per-item results belong to which variant, and what verdict a selection of checks gives live
here, so they can be tested and reused without pytest.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from harness.config import Experiment, ItemResult
    from harness.gates import Check
    from harness.pipeline import GateRunResult

VariantResults = dict[str, list["ItemResult"]]

# Environment the CLI sets before a run: nothing is fetched from a hub at run time.
OFFLINE_DEFAULTS = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
}


@dataclass
class GateSession:
    """One experiment's gate run, as the checks and fixtures of a test session use it."""

    experiment: Experiment
    result: GateRunResult
    _results: dict[str, VariantResults] | None = field(default=None, repr=False)

    @property
    def checks(self) -> list[Check]:
        return list(self.result.outcome.checks)

    @property
    def baseline_name(self) -> str:
        found = next((v for v in self.result.gate_summary.variants if v.role == "baseline"), None)
        return found.name if found is not None else "base"

    def suite_path(self, suite: str) -> Path | None:
        found = self.result.gate_summary.suite(suite)
        return Path(found.path) if found is not None and found.path is not None else None

    def results(self) -> dict[str, VariantResults]:
        """variant -> suite -> per-item results, for every variant of the run (baseline too)."""
        if self._results is None:
            self._results = per_item_results(self.experiment, self.result)
        return self._results

    def baseline(self) -> VariantResults:
        return self.results()[self.baseline_name]

    def variant(self, name: str) -> VariantResults:
        results = self.results()
        if name not in results:
            known = ", ".join(sorted(results))
            raise KeyError(f"no variant {name!r} in this gate run (variants: {known})")
        return results[name]


def start(path: Path, *, retrain: bool = False, console: Console | None = None) -> GateSession:
    """Load and validate the experiment, run its gate once. Raises ConfigError for bad input."""
    from harness._signals import sigterm_as_interrupt
    from harness.config import load_experiment
    from harness.pipeline import run_gate

    exp = load_experiment(path)
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)
    with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C: MLflow run KILLED, exit 3
        return GateSession(exp, run_gate(exp, console=console, retrain=retrain))


def per_item_results(exp: Experiment, result: GateRunResult) -> dict[str, VariantResults]:
    """The per-item results a gate run decided on: from the run itself, else from the store.

    The store lookup rebuilds each result key (``harness._gate.keys.result_key``, as the
    pipeline does) from the fingerprints the summary records, so it returns exactly the items
    the checks were computed from (or fails loudly).
    """
    direct: dict[str, VariantResults] | None = getattr(result, "results", None)
    if direct:
        return direct

    from harness._gate.keys import result_key, store_path
    from harness.store import ResultStore

    store = ResultStore(store_path())
    out: dict[str, VariantResults] = {}
    for v in result.gate_summary.variants:
        per_suite: VariantResults = {}
        for s in result.gate_summary.suites:
            items = store.get(result_key(exp.scoring, str(v.fingerprint), s.fingerprint))
            if items is None:
                raise LookupError(
                    f"per-item results of {v.name}/{s.name} are no longer in the result "
                    f"store {store_path()}; run the gate again"
                )
            per_suite[s.name] = items
        out[v.name] = per_suite
    return out


def _num(x: float | None) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{x:.4f}"


def check_properties(check: Check) -> list[tuple[str, Any]]:
    """The evidence of a check as (name, value) pairs: JUnit ``<property>`` elements."""
    return [
        ("check", check.name),
        ("kind", check.kind),
        ("variant", check.variant),
        ("suite", check.suite),
        ("metric", check.metric),
        ("baseline", check.baseline),
        ("candidate", check.candidate),
        ("delta", check.delta),
        ("ci", f"[{_num(check.ci[0])}, {_num(check.ci[1])}]"),
        ("margin", check.margin),
        ("n", check.n),
        ("mde", check.mde),
        ("passed", check.passed),
    ]


def describe_failure(check: Check, alpha: float | None = None) -> str:
    """The assertion message of a failed check: every number a reviewer needs, then why
    (the rule quoted is the one its kind declares in the kind registry)."""
    from harness.gates import find_check_kind

    kind = find_check_kind(check.kind)
    rule = kind.failure_rule(check.margin) if kind else f"margin {check.margin:.4f}"
    level = f"{1 - 2 * alpha:.0%} " if alpha is not None else ""
    lines = [
        f"check {check.name} failed ({check.kind}, metric {check.metric})",
        f"  baseline  {_num(check.baseline)}",
        f"  candidate {_num(check.candidate)}",
        f"  delta     {_num(check.delta)}   {level}CI [{_num(check.ci[0])}, {_num(check.ci[1])}]",
        f"  margin    {check.margin:.4f}   {rule}",
        f"  n {check.n}   MDE {_num(check.mde)}",
        f"  reason: {check.reason}",
    ]
    return "\n".join(lines)


@dataclass
class Selection:
    """What happened to the test items of a gate session, for the verdict of what ran."""

    passed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # Failed checks of comparison arms (xfail): shown, not part of the verdict.
    comparison: list[str] = field(default_factory=list)

    def add(self, name: str, outcome: str) -> None:
        outcomes = {"passed": self.passed, "failed": self.failed, "error": self.errors}
        outcomes["comparison"] = self.comparison
        outcomes[outcome].append(name)

    @property
    def ran(self) -> int:
        return len(self.passed) + len(self.failed) + len(self.errors)

    def verdict(self) -> str | None:
        """GO iff everything that ran passed; NO-GO on a failure; None (undecided) otherwise."""
        if self.errors or self.ran == 0:
            return None
        return "NO-GO" if self.failed else "GO"


def summary_lines(
    gates: Iterable[GateSession], selection: Selection, n_checks_selected: int
) -> list[str]:
    """The verdict block printed at the end of a test session (the CLI's shape)."""
    gates = list(gates)
    checks = {c.name: c for g in gates for c in g.checks}
    total = len(checks)
    custom = sum(name not in checks for name in (*selection.passed, *selection.failed))
    verdict = selection.verdict()
    lines = [verdict or "NO VERDICT"]
    if selection.ran == 0:
        lines.append("  - no check ran: nothing to decide on")
    elif verdict == "GO":
        scope = (
            f"all {total} checks passed"
            if n_checks_selected == total
            else f"all {n_checks_selected} selected checks passed "
            f"({total - n_checks_selected} of {total} deselected)"
        )
        if selection.comparison:
            n = n_checks_selected - len(selection.comparison)
            scope = f"all {n} deciding checks passed; {len(selection.comparison)} checks of "
            scope += "comparison arms failed (below; they do not decide)"
        lines.append(f"  - {scope}" + (f", and {custom} custom gates" if custom else ""))
    for name in selection.failed:
        check = checks.get(name)
        lines.append(f"  - {name}: {check.reason if check else 'custom gate failed'}")
    for name in selection.comparison:
        check = checks.get(name)
        reason = check.reason if check else "failed"
        lines.append(f"  - comparison arm, does not decide: {name}: {reason}")
    lines += [f"  - error (could not decide): {name}" for name in selection.errors]
    for g in gates:
        run_dir = g.result.run_dir
        lines.append(
            f"report: {run_dir / 'report.html'}  (covers all {len(g.checks)} checks: "
            f"{g.result.outcome.verdict})"
        )
        lines.append(f"        {run_dir / 'report.md'}")
        summary = g.result.gate_summary
        lines.append(f"mlflow: run {summary.mlflow_run_id} in {summary.mlflow_tracking_uri}")
    return lines


def append_job_summary(gates: Iterable[GateSession]) -> None:
    """Append each run's job summary to ``$GITHUB_STEP_SUMMARY`` when set (as the CLI does)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    with open(target, "a", encoding="utf-8") as fh:
        for g in gates:
            src = g.result.run_dir / "job_summary.md"
            if src.is_file():
                fh.write(src.read_text(encoding="utf-8"))
