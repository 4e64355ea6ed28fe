"""Regression against the champion (issue #19) on a team server: the champion flow of
tests/pipeline/champion_flow.py, run against a real ``mlflow server`` whose backend store is
PostgreSQL and whose artifacts are proxied (tests/tracking/conftest.py starts both).

The sqlite test (tests/pipeline/test_champion.py) cannot show that the registry lookups, the
alias moves and the champion's download work through the REST API and the artifact proxy; this
one does, with the same assertions, and then checks that what the flow read came from the
server: aliases and verdicts in PostgreSQL, the champion's weights downloaded through the proxy.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipeline.champion_flow import MODEL, run_champion_flow, ticket_adapters
from tests.tracking.conftest import Server

__all__ = ["ticket_adapters"]  # the module fixture, shared

WEIGHTS = "adapter_model.safetensors"


# About 4 min on 2 busy cores: fitting the three adapters is most of it (as in
# test_champion.py), the server 15-50 s, the three gate runs about 25 s.
@pytest.mark.slow
def test_champion_set_defended_and_moved_through_a_postgres_backed_server(
    tmp_path: Path,
    tiny_model_dir: Path,
    isolated_env: Path,
    mlflow_server: Server,
    ticket_adapters: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import psycopg2
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    runs = run_champion_flow(
        tmp_path / "project", tiny_model_dir, ticket_adapters, mlflow_server.url
    )

    # Every gate run logged through the server: its parent run is there, artifacts proxied.
    client = MlflowClient(mlflow_server.url)
    verdicts = []
    for result in (runs.first, runs.worse, runs.better):
        assert result.gate_summary.mlflow_tracking_uri == mlflow_server.url
        run = client.get_run(result.gate_summary.mlflow_run_id)
        assert run.info.artifact_uri.startswith("mlflow-artifacts:")
        verdicts.append(run.data.tags["harness.verdict"])
    assert verdicts == ["GO", "NO-GO", "GO"]

    # Runs 2 and 3 fetched version 1 (run 1's adapter) through the server: the local copy in
    # the champion cache is byte for byte the adapter run 1 gated, and the server's artifacts
    # destination holds those bytes under version 1's run.
    for result in (runs.worse, runs.better):
        (rec,) = result.gate_summary.champions
        assert f"fetched from the registry's artifacts (models:/{MODEL}/1)" in rec.note
    (cached,) = (isolated_env / "cache" / "champions").glob(f"{MODEL}-v1-*")
    gated = (ticket_adapters[7] / WEIGHTS).read_bytes()
    assert (cached / WEIGHTS).read_bytes() == gated
    v1_run = client.get_model_version(MODEL, "1").run_id
    (on_server,) = [
        p
        for p in mlflow_server.artifacts.rglob(WEIGHTS)
        if f"{v1_run}/artifacts/adapter" in p.as_posix()
    ]
    assert on_server.read_bytes() == gated

    # The registry state the flow asserted through the client is PostgreSQL's own.
    dsn = mlflow_server.backend_uri.replace("+psycopg2", "")  # libpq wants a plain URI
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT alias, version FROM registered_model_aliases WHERE name = %s ORDER BY alias",
            (MODEL,),
        )
        assert cur.fetchall() == [("candidate", 3), ("champion", 3)]
        cur.execute(
            "SELECT version, value FROM model_version_tags "
            "WHERE name = %s AND key = 'harness.verdict' ORDER BY version",
            (MODEL,),
        )
        assert cur.fetchall() == [(1, "GO"), (2, "NO-GO"), (3, "GO")]
        cur.execute(
            "SELECT version, value FROM model_version_tags "
            "WHERE name = %s AND key = 'harness.champion' ORDER BY version",
            (MODEL,),
        )
        gated_against = dict(cur.fetchall())
    conn.close()
    assert gated_against[2] == gated_against[3] == f"{MODEL}/1"
    assert gated_against[1].startswith("none")
