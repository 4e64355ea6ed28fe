"""Team deployment: a real ``mlflow server`` on PostgreSQL with proxied artifacts.

The fixture does what docs/mlflow.md tells a team to do (a PostgreSQL database, one
``mlflow server`` with ``--serve-artifacts``), on free ports in temporary directories, and
tears it all down. PostgreSQL refuses to run as root, so as root its commands run as the
``postgres`` (else ``nobody``) user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.tracking.conftest import log_fake_gate_run

PG_BINARIES = ("initdb", "pg_ctl", "postgres")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pg_user() -> dict[str, Any]:
    """subprocess kwargs that run PostgreSQL's commands as a user it accepts."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            pw = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
    pytest.skip("running as root and no 'postgres' or 'nobody' user to run PostgreSQL as")


@dataclass(frozen=True)
class Server:
    url: str
    artifacts: Path
    backend_uri: str


@pytest.fixture(scope="module")
def postgres_uri() -> Iterator[str]:
    """A throwaway PostgreSQL cluster with a database ``mlflow``; yields its SQLAlchemy URI."""
    missing = [b for b in PG_BINARIES if shutil.which(b) is None]
    if missing:
        pytest.skip(f"PostgreSQL binaries not on PATH: {', '.join(missing)}")
    psycopg2 = pytest.importorskip("psycopg2", reason="pip install psycopg2-binary (dev extra)")
    as_user = _pg_user()
    # Not pytest's tmp_path: its parents are private to root, and postgres may run as another
    # user who must reach the data and socket directories.
    root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
    data = root / "data"
    if as_user:
        os.chown(root, as_user["user"], as_user["group"])
    port = _free_port()
    pg = {"cwd": root, "capture_output": True, "text": True, "timeout": 120, **as_user}
    try:
        init = subprocess.run(
            ["initdb", "-D", str(data), "-U", "mlflow", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=False,
            **pg,
        )
        assert init.returncode == 0, init.stdout + init.stderr
        start = subprocess.run(
            [
                "pg_ctl",
                "-D",
                str(data),
                "-l",
                str(root / "postgres.log"),
                "-o",
                f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off",
                "-w",
                "start",
            ],
            check=False,
            **pg,
        )
        log = root / "postgres.log"
        assert start.returncode == 0, start.stderr + (log.read_text() if log.exists() else "")
        conn = psycopg2.connect(host="127.0.0.1", port=port, user="mlflow", dbname="postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE DATABASE mlflow")
        conn.close()
        # The driver is named: SQLAlchemy 2.1 makes bare postgresql:// mean psycopg 3.
        yield f"postgresql+psycopg2://mlflow@127.0.0.1:{port}/mlflow"
    finally:
        if (data / "postmaster.pid").exists():
            subprocess.run(
                ["pg_ctl", "-D", str(data), "-m", "fast", "-w", "stop"], check=False, **pg
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def mlflow_server(postgres_uri: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``mlflow server`` on ``postgres_uri``, serving (proxying) artifacts from a temp dir."""
    artifacts = tmp_path_factory.mktemp("mlflow-artifacts")
    port = _free_port()
    log = tmp_path_factory.mktemp("mlflow-server") / "server.log"
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--workers",
        "1",
        "--backend-store-uri",
        postgres_uri,
        "--artifacts-destination",
        str(artifacts),
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    env.pop("MLFLOW_TRACKING_URI", None)
    with open(log, "w") as out:
        # Its own process group: the server forks workers, and teardown must end them all.
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180  # a fresh database is migrated at first start
        while True:
            if proc.poll() is not None:
                pytest.fail(f"mlflow server exited {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"mlflow server not healthy in 180 s:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield Server(url, artifacts, postgres_uri)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=20)


# 30-55 s in all on 2 busy cores, most of it MLflow migrating the fresh PostgreSQL database.
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
