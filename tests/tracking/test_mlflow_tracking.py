from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.tracking import gate_run, tracking_uri


def test_uri_defaults_to_sqlite_in_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking_uri() == f"sqlite:///{tmp_path.as_posix()}/mlflow.db"


def test_failed_body_ends_run_failed(isolated_env: Path) -> None:
    from mlflow.tracking import MlflowClient

    with pytest.raises(RuntimeError), gate_run("exp", "r1") as log:
        run_id = log.run_id
        raise RuntimeError("boom")
    assert MlflowClient(tracking_uri()).get_run(run_id).info.status == "FAILED"


def test_run_of_a_killed_process_is_ended_by_the_next_run(isolated_env: Path) -> None:
    from mlflow.tracking import MlflowClient

    code = (
        "import os\n"
        "from harness.tracking import gate_run\n"
        "with gate_run('exp', 'killed') as log:\n"
        "    print(log.run_id, flush=True)\n"
        "    os._exit(9)\n"  # dies like SIGKILL: no cleanup runs
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    orphan = proc.stdout.strip().splitlines()[-1]
    client = MlflowClient(tracking_uri())
    assert client.get_run(orphan).info.status == "RUNNING"
    with gate_run("exp", "next"):
        pass
    assert client.get_run(orphan).info.status == "KILLED"


def test_gate_runs_starting_together_on_a_fresh_store_all_succeed(isolated_env: Path) -> None:
    # Creating a fresh sqlite store runs schema migrations; unserialised, concurrent starts
    # fail with "table ... already exists".
    code = (
        "from harness.tracking import gate_run\n"
        "with gate_run('exp', 'together') as log:\n"
        "    log.log_metrics({'x': 1.0})\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri())
    exp = client.get_experiment_by_name("exp")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 3 and {r.info.status for r in runs} == {"FINISHED"}
