"""``harness runs`` at the widths it meets: an 80-column terminal or CI log, and a wide one.

Rendered by rich into a string at a fixed width from a real MLflow sqlite store; at 80
columns rich used to squeeze the run id, experiment and scores to slivers and cut "verdict"
to "verdi…", so every field must come out whole at both widths.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from tests.tracking.conftest import log_fake_gate_run


@pytest.fixture
def two_runs(mlflow_store: str, adapter_dir: Path) -> dict[str, str]:
    """A GO and a NO-GO gate run of experiment 'exp'; name -> MLflow run id."""
    return {
        "r1-lora": log_fake_gate_run("r1-lora", "GO", 5, adapter_dir, commit="aaaaaaaaaaaa1")[0],
        "r2-qlora": log_fake_gate_run("r2-qlora", "NO-GO", 1, adapter_dir, commit="bbbbbbbbbb2")[0],
    }


def _render(width: int, show_experiment: bool = True) -> str:
    from harness.tracking import list_gate_runs, runs_table

    console = Console(width=width, record=True, emoji=False, color_system=None)
    with console.capture() as capture:
        console.print(
            runs_table(list_gate_runs(None, 10, None), show_experiment=show_experiment, width=width)
        )
    return capture.get()


def _assert_whole(out: str, ids: dict[str, str], width: int) -> None:
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= width
    assert "…" not in out, out  # nothing cut short, "verdict" included
    assert "verdict" in out
    for name, run_id in ids.items():
        assert name in out
        # The run id on one line, whole: it is pasted into --compare or the MLflow UI.
        assert any(run_id in line for line in lines), (run_id, out)
    assert "GO" in out and "NO-GO" in out
    assert "0/2" in out and "1/2" in out
    assert "aaaaaaaaaa" in out and "bbbbbbbbbb" in out
    assert "2026" in out or "20" in out  # started
    assert sum("exp" in line for line in lines) >= 2  # the experiment of each run
    # Scores whole on their line: baseline and candidate of each run.
    assert sum("base: tickets.acc 0.3333" in line for line in lines) == 2
    assert any("lora: tickets.acc 0.8333" in line for line in lines)
    assert any("lora: tickets.acc 0.1667" in line for line in lines)


def test_runs_at_80_columns_stacks_fields_and_cuts_nothing(two_runs: dict[str, str]) -> None:
    out = _render(80)
    _assert_whole(out, two_runs, 80)
    # Compact layout: three columns, the run id above its scores.
    assert "mlflow run id · scores" in out
    lines = out.splitlines()
    row = next(i for i, line in enumerate(lines) if two_runs["r1-lora"] in line)
    assert "base: tickets.acc" in lines[row + 1]


def test_runs_at_160_columns_keeps_one_column_per_field(two_runs: dict[str, str]) -> None:
    out = _render(160)
    _assert_whole(out, two_runs, 160)
    header = next(line for line in out.splitlines() if "mlflow run id" in line)
    for column in ("gate run", "started (UTC)", "experiment", "verdict", "checks failed"):
        assert column in header
    # One line per run carries its name, id, verdict and commit side by side.
    row = next(line for line in out.splitlines() if two_runs["r2-qlora"] in line)
    assert "r2-qlora" in row and "NO-GO" in row and "bbbbbbbbbb" in row


def test_runs_without_experiment_column_at_80(two_runs: dict[str, str]) -> None:
    out = _render(80, show_experiment=False)
    assert "…" not in out
    assert all(run_id in out for run_id in two_runs.values())
