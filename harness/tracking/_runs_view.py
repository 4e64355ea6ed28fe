"""Terminal tables for ``harness runs``: gate runs listed, or two compared metric by metric."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text

from harness.tracking._runs import Comparison, GateRunInfo


def _fmt(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"


def _signed(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:+.4f}" if abs(value) < 10 else f"{value:+.1f}"


def _verdict(run: GateRunInfo) -> Text:
    if run.verdict in ("GO", "NO-GO"):
        return Text(run.verdict, style="bold green" if run.verdict == "GO" else "bold red")
    # No verdict: the run failed, was killed, or is still running.
    return Text(run.status.lower(), style="yellow")


def _checks(run: GateRunInfo) -> str:
    if run.checks_failed is None or run.checks_total is None:
        return "—"
    return f"{run.checks_failed}/{run.checks_total}"


def _scores(run: GateRunInfo) -> str:
    by_variant: dict[str, list[str]] = {}
    for name, value in sorted(run.key_metrics().items()):
        variant, rest = name.split(".", 1)
        by_variant.setdefault(variant, []).append(f"{rest} {_fmt(value)}")
    # The baseline first: every other line reads against it.
    order = sorted(by_variant, key=lambda v: (v != "base", v))
    return "\n".join(f"{v}: {', '.join(by_variant[v])}" for v in order)


SCORES_MIN = 28
"""Narrowest scores column that still shows one ``variant: suite.metric 0.1234`` per line."""


def _wide_width(runs: list[GateRunInfo], show_experiment: bool) -> int:
    """Columns the one-line-per-field layout needs to show every cell whole.

    Every column but scores is as wide as its widest cell (or header); scores gets
    ``SCORES_MIN``. Each column costs three more for its padding and left border.
    """
    widths = [
        max([len("gate run"), *(len(r.name) for r in runs)]),
        max([len("mlflow run id"), *(len(r.mlflow_run_id) for r in runs)]),
        len("started (UTC)"),
        len("verdict"),
        len("checks failed"),
        SCORES_MIN,
        len("commit") + 4,
    ]
    if show_experiment:
        widths.append(max([len("experiment"), *(len(r.experiment) for r in runs)]))
    return sum(w + 3 for w in widths) + 1


def runs_table(runs: list[GateRunInfo], show_experiment: bool, width: int | None = None) -> Table:
    """One row per gate run, newest first, laid out for a terminal ``width`` columns wide.

    When the one-column-per-field table does not fit (a CI log or an 80-column terminal),
    rich would squeeze the run id, experiment and scores to slivers and cut "verdict"; the
    compact layout instead stacks the fields into three columns that each stay readable.
    """
    if width is not None and width < _wide_width(runs, show_experiment):
        return _compact_table(runs, show_experiment)
    table = Table(title="Gate runs (newest first)", show_lines=True)
    table.add_column("gate run", no_wrap=True)
    table.add_column("mlflow run id", style="dim", overflow="fold")
    table.add_column("started (UTC)", no_wrap=True)
    if show_experiment:
        table.add_column("experiment")
    table.add_column("verdict", no_wrap=True)
    table.add_column("checks failed", justify="right", no_wrap=True)
    table.add_column("scores")
    table.add_column("commit", no_wrap=True)
    for run in runs:
        cells: list[str | Text] = [
            run.name,
            run.mlflow_run_id,
            run.started.strftime("%Y-%m-%d %H:%M"),
        ]
        if show_experiment:
            cells.append(run.experiment)
        cells += [_verdict(run), _checks(run), _scores(run), (run.git_commit or "—")[:10]]
        table.add_row(*cells)
    return table


def _compact_table(runs: list[GateRunInfo], show_experiment: bool) -> Table:
    """Fields stacked per cell: who/when, verdict, then run id above the scores.

    What gives way: nothing is dropped or cut; the run id (needed whole to paste into
    ``--compare`` or the MLflow UI) keeps its own line above the scores, which wrap.
    """
    table = Table(title="Gate runs (newest first)", show_lines=True)
    table.add_column("gate run · started · commit", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    table.add_column("mlflow run id · scores", overflow="fold")
    for run in runs:
        who = Text(run.name)
        who.append("\n" + run.started.strftime("%Y-%m-%d %H:%M"), style="dim")
        if show_experiment:
            who.append("\n" + run.experiment)
        who.append("\n" + (run.git_commit or "—")[:10], style="dim")
        verdict = _verdict(run)
        if run.checks_failed is not None:
            verdict.append(f"\n{_checks(run)} failed", style="")
        detail = Text(run.mlflow_run_id, style="dim")
        scores = _scores(run)
        if scores:
            detail.append("\n" + scores)
        table.add_row(who, verdict, detail)
    return table


def comparison_tables(cmp: Comparison, changed_only: bool) -> tuple[Table, Table]:
    """(who the two runs are, their metrics side by side with B minus A)."""
    a, b = cmp.a, cmp.b
    head = Table(title="Gate runs compared", show_header=True)
    head.add_column("")
    head.add_column("A")
    head.add_column("B")
    head.add_row("gate run", a.name, b.name)
    head.add_row("mlflow run id", a.mlflow_run_id, b.mlflow_run_id)
    head.add_row("experiment", a.experiment, b.experiment)
    head.add_row("started (UTC)", *(r.started.strftime("%Y-%m-%d %H:%M") for r in (a, b)))
    head.add_row("verdict", _verdict(a), _verdict(b))
    head.add_row("checks failed", _checks(a), _checks(b))
    head.add_row("git commit", a.git_commit or "—", b.git_commit or "—")
    head.add_row("base fingerprint", *((r.base_fingerprint or "—")[:16] for r in (a, b)))

    rows = cmp.changed if changed_only else cmp.metrics
    body = Table(title="Metrics (B − A)" + (", changed only" if changed_only else ""))
    body.add_column("metric")
    body.add_column("A", justify="right")
    body.add_column("B", justify="right")
    body.add_column("B − A", justify="right")
    for m in rows:
        d = m.diff
        style = "" if d is not None and abs(d) < 1e-12 else "bold"
        body.add_row(m.name, _fmt(m.a), _fmt(m.b), Text(_signed(d), style=style))
    return head, body
