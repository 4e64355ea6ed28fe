"""Team deployment: a gate run logged through a real ``mlflow server`` on PostgreSQL with
proxied artifacts (the server and database come from tests/tracking/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tracking.conftest import Server, log_fake_gate_run


# 27-55 s alone on 2 busy cores, most of it starting PostgreSQL and MLflow migrating the
# fresh database; about 6 s when another slow test has started the session's server.
@pytest.mark.slow
def test_gate_run_logged_through_the_server_lands_in_postgres_and_proxied_artifacts(
    mlflow_server: Server,
    adapter_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mlflow
    import psycopg2
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.chdir(tmp_path)
    parent, child = log_fake_gate_run("srv-1", "GO", 5, adapter_dir, experiment="team")

    client = MlflowClient(mlflow_server.url)
    run = client.get_run(parent)
    assert run.info.status == "FINISHED"
    assert run.data.tags["harness.verdict"] == "GO"
    assert run.data.tags["harness.git_commit"] == "0123456789abcdef"
    # Proxied: the client sees only mlflow-artifacts URIs, never the server's disk.
    assert client.get_run(child).info.artifact_uri.startswith("mlflow-artifacts:")
    table = mlflow.load_table("items/tickets.json", run_ids=[child])
    assert len(table) == 6 and int(table["changed"].sum()) == 3
    champion = client.get_model_version_by_alias("team-lora", "champion")
    assert champion.run_id == child and champion.tags["harness.verdict"] == "GO"

    # The bytes are on the server's artifacts destination ...
    stored = {
        p.relative_to(mlflow_server.artifacts).as_posix()
        for p in mlflow_server.artifacts.rglob("*")
    }
    assert any(p.endswith(f"{child}/artifacts/items/tickets.json") for p in stored), stored
    weights = [
        p for p in stored if p.endswith(f"{child}/artifacts/adapter/adapter_model.safetensors")
    ]
    assert len(weights) == 1
    blob = (mlflow_server.artifacts / weights[0]).read_bytes()
    assert blob == (adapter_dir / "adapter_model.safetensors").read_bytes()
    # ... and the run itself is in PostgreSQL.
    dsn = mlflow_server.backend_uri.replace("+psycopg2", "")  # libpq wants a plain URI
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT name, status FROM runs WHERE run_uuid = %s", (parent,))
        assert cur.fetchone() == ("srv-1", "FINISHED")
    conn.close()
