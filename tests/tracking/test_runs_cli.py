"""``harness runs`` through typer's CliRunner on a real sqlite store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from tests.tracking.conftest import log_fake_gate_run

WIDE = {"COLUMNS": "240"}  # rich wraps to the terminal; a CliRunner has none


@pytest.fixture
def three_runs(mlflow_store: str, adapter_dir: Path) -> dict[str, str]:
    """r1 GO, r2 NO-GO (both of 'exp'), and a failed run of 'other'; name -> mlflow run id."""
    ids = {
        "r1": log_fake_gate_run("r1", "GO", 5, adapter_dir, commit="aaaaaaaaaaaa1")[0],
        "r2": log_fake_gate_run("r2", "NO-GO", 1, adapter_dir, commit="bbbbbbbbbbbb2")[0],
    }
    from harness.tracking import gate_run

    with pytest.raises(RuntimeError), gate_run("other", "r3") as log:
        ids["r3"] = log.run_id
        raise RuntimeError("died mid-run")
    return ids


def test_lists_gate_runs_newest_first_with_verdict_checks_scores_commit(
    three_runs: dict[str, str],
) -> None:
    res = CliRunner().invoke(app, ["runs"], env=WIDE)
    assert res.exit_code == 0, res.output
    out = res.output
    # Newest first; the failed run shows its status instead of a verdict.
    assert out.index("r3") < out.index("r2") < out.index("r1")
    assert "failed" in out and "NO-GO" in out and " GO " in out
    assert three_runs["r1"] in out and three_runs["r2"] in out
    assert "1/2" in out and "0/2" in out
    assert "aaaaaaaaaa" in out and "bbbbbbbbbb" in out
    # Key metrics: the baseline's and the candidate's suite scores (r1: 5/6, r2: 1/6).
    assert "base: tickets.acc 0.3333" in out
    assert "lora: tickets.acc 0.8333" in out and "lora: tickets.acc 0.1667" in out
    # Variant runs are not gate runs.
    assert out.count("lora: tickets.acc") == 2


def test_experiment_and_limit_select_runs(three_runs: dict[str, str]) -> None:
    res = CliRunner().invoke(app, ["runs", "-e", "exp", "--limit", "1"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "r2" in res.output and "r1" not in res.output and "r3" not in res.output

    res = CliRunner().invoke(app, ["runs", "-e", "nope"], env=WIDE)
    assert res.exit_code == 2
    assert "no experiment named 'nope'" in res.output


def test_compare_shows_metrics_side_by_side_with_differences(
    three_runs: dict[str, str],
) -> None:
    # One by run name, one by MLflow run id.
    res = CliRunner().invoke(app, ["runs", "--compare", "r1", three_runs["r2"]], env=WIDE)
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    row = next(line for line in lines if "lora.tickets.acc" in line)
    assert "0.8333" in row and "0.1667" in row and "-0.6667" in row
    row = next(line for line in lines if "base.tickets.acc" in line)
    assert row.count("0.3333") == 2 and "+0.0000" in row
    assert "aaaaaaaaaaaa1" in res.output and "bbbbbbbbbbbb2" in res.output
    assert "NO-GO" in res.output

    changed = (
        CliRunner().invoke(app, ["runs", "--compare", "r1", "r2", "--changed"], env=WIDE).output
    )
    assert "lora.tickets.acc" in changed and "base.tickets.acc" not in changed


def test_compare_with_an_unknown_run_exits_2_naming_it(three_runs: dict[str, str]) -> None:
    res = CliRunner().invoke(app, ["runs", "--compare", "r1", "it's-not-there"], env=WIDE)
    assert res.exit_code == 2
    assert "it's-not-there" in res.output


def test_missing_store_is_reported_not_created(isolated_env: Path) -> None:
    res = CliRunner().invoke(app, ["runs"], env=WIDE)
    assert res.exit_code == 2
    assert "no MLflow store" in res.output
    assert not (isolated_env / "mlflow.db").exists()
