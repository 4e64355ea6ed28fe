"""The whole gate on a tiny random llama: baseline, training, scoring, verdict, MLflow, reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

CHECK_KEYS = {
    "name",
    "kind",
    "variant",
    "suite",
    "metric",
    "baseline",
    "candidate",
    "delta",
    "ci",
    "margin",
    "passed",
    "reason",
}


def _run(exp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "harness", "evaluate", str(exp), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_gate_runs_end_to_end_and_writes_the_contract(tiny_experiment: Path) -> None:
    proc = _run(tiny_experiment)
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    reports = tiny_experiment.parent / "reports"
    latest = reports / "latest"
    assert latest.is_symlink()
    run_dir = latest.resolve()
    for name in ("summary.json", "report.md", "report.html", "junit.xml"):
        assert (run_dir / name).is_file(), name
    summary = json.loads((run_dir / "summary.json").read_text())

    # The contract in DESIGN.md.
    assert summary["verdict"] in ("GO", "NO-GO")
    assert (summary["verdict"] == "GO") == (proc.returncode == 0)
    assert summary["mlflow_run_id"]
    assert isinstance(summary["provenance"], dict) and summary["provenance"]["torch"]
    assert {v["name"] for v in summary["variants"]} == {"base", "lora"}
    assert {s["name"] for s in summary["suites"]} == {"tickets", "general"}
    kinds = {(c["kind"], c["suite"]) for c in summary["checks"]}
    assert ("improves", "tickets") in kinds and ("no_forgetting", "general") in kinds
    for check in summary["checks"]:
        assert check.keys() >= CHECK_KEYS
        assert len(check["ci"]) == 2 and check["ci"][0] <= check["delta"] <= check["ci"][1]
        assert isinstance(check["passed"], bool)
    # Per-capability forgetting checks for the general suite.
    caps = {c["capability"] for c in summary["checks"] if c["suite"] == "general"}
    assert {"arithmetic", "factual"} <= caps
    # The verdict follows from the checks.
    assert (summary["verdict"] == "GO") == all(c["passed"] for c in summary["checks"])
    assert "report" in proc.stdout and summary["verdict"] in proc.stdout

    # MLflow: a finished parent run tagged with the verdict, a child run for the candidate.
    from mlflow.tracking import MlflowClient

    from harness.tracking import tracking_uri

    client = MlflowClient(tracking_uri())
    run = client.get_run(summary["mlflow_run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.tags["harness.verdict"] == summary["verdict"]
    children = client.search_runs(
        [run.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.info.run_id}'"
    )
    assert [c.data.tags["harness.variant"] for c in children] == ["lora"]
    assert any(k.endswith(".delta") for k in children[0].data.metrics)

    # A second run reuses the cached baseline, candidate results and adapter.
    proc2 = _run(tiny_experiment)
    assert proc2.returncode == proc.returncode
    assert "from the result store (no forward passes)" in proc2.stdout
    assert "reusing adapter" in proc2.stdout
    summary2 = json.loads((reports / "latest" / "summary.json").read_text())
    assert summary2["run_id"] != summary["run_id"]
    assert [c["delta"] for c in summary2["checks"]] == [c["delta"] for c in summary["checks"]]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda t: t.replace("name: tiny-experiment", "name: tiny-experiment\nbogus: 1"), "bogus"),
        (lambda t: t.replace("batch_size: 8", "batch_size: many"), "scoring.batch_size"),
        (lambda t: t.replace("suites/general/general.yaml", "suites/nope/nope.yaml"), "suites.1"),
        (lambda t: t + "  alpha: 1.5\n", "gate.alpha"),
    ],
    ids=["unknown-key", "wrong-type", "unknown-suite", "alpha-out-of-range"],
)
def test_bad_config_exits_2_naming_file_field_and_fix(
    tiny_experiment: Path, mutate, needle
) -> None:
    tiny_experiment.write_text(mutate(tiny_experiment.read_text()))
    proc = _run(tiny_experiment)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = " ".join(proc.stderr.split())
    assert str(tiny_experiment.name) in err and needle in err and "fix:" in err


def test_missing_config_file_exits_2(isolated_env: Path) -> None:
    proc = _run(isolated_env / "nowhere.yaml")
    assert proc.returncode == 2
    assert "nowhere.yaml" in proc.stderr and "fix:" in proc.stderr
