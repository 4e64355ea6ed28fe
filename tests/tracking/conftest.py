"""MLflow stores for the tracking tests: a fresh sqlite store per test in well under a second,
and one real ``mlflow server`` on PostgreSQL per session for the slow team-deployment tests.

Creating a store runs MLflow's schema migrations (5-15 s here); every test that only needs an
empty store copies one migrated once per session instead.

The server fixtures do what docs/mlflow.md tells a team to do (a PostgreSQL database, one
``mlflow server`` with ``--serve-artifacts``), on free ports in temporary directories, and tear
it all down. They are session-scoped because migrating a fresh PostgreSQL database is most of
their cost (30-50 s): the slow tests that use them share one server and keep apart by
experiment and registered model names. PostgreSQL refuses to run as root, so as root its
commands run as the ``postgres`` (else ``nobody``) user.
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


@pytest.fixture(scope="session")
def _empty_mlflow_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(f"sqlite:///{db}").search_experiments()
    return db


@pytest.fixture
def mlflow_store(isolated_env: Path, _empty_mlflow_db: Path) -> str:
    """``MLFLOW_TRACKING_URI`` of a fresh, migrated sqlite store in the test's directory."""
    shutil.copy(_empty_mlflow_db, isolated_env / "mlflow.db")
    return os.environ["MLFLOW_TRACKING_URI"]


def log_fake_gate_run(
    run_name: str,
    verdict: str,
    cand_correct: int,
    adapter_dir: Path | None,
    *,
    experiment: str = "exp",
    commit: str = "0123456789abcdef",
    adapter_key: str | None = None,
) -> tuple[str, str]:
    """Log a gate run the way ``run_gate`` does, from made-up items; return (parent, child) ids.

    Six items of one suite ``tickets``: the baseline gets items 0 and 3 right, the candidate
    the first ``cand_correct``.
    """
    from harness.config import ItemResult
    from harness.tracking import gate_run, item_table

    base = [ItemResult(f"i{k}", {"acc": float(k % 3 == 0)}, "cap", k % 3, 0) for k in range(6)]
    cand = [
        ItemResult(
            f"i{k}", {"acc": float(k < cand_correct)}, "cap", 0 if k < cand_correct else 1, 0
        )
        for k in range(6)
    ]
    b_acc, c_acc = 2 / 6, cand_correct / 6
    with gate_run(experiment, run_name) as log:
        log.set_tags({"harness.git_commit": commit, "harness.base_fingerprint": "f" * 64})
        log.log_params({"suites": "tickets", "candidates": "lora"})
        child = log.log_variant(
            "lora",
            {"train.steps": 2, "adapter": str(adapter_dir)},
            {"tickets.acc": c_acc, "improves.tickets.delta": c_acc - b_acc},
            [(1, 2.0), (2, 1.5)],
            tables={"tickets": item_table("acc", base, cand)},
            adapter_dir=adapter_dir,
            adapter_key=adapter_key,
        )
        if adapter_dir is not None:
            log.register_adapter("lora", child, verdict, {"harness.gate_run_id": run_name})
        log.log_metrics(
            {
                "base.tickets.acc": b_acc,
                "checks_failed": 0.0 if verdict == "GO" else 1.0,
                "checks_total": 2.0,
            }
        )
        log.set_tags({"harness.verdict": verdict})
    return log.run_id, child


@pytest.fixture
def adapter_dir(tmp_path: Path) -> Path:
    """A stand-in adapter: a config and 1000 bytes of 'weights'."""
    d = tmp_path / "adapter"
    d.mkdir()
    (d / "adapter_config.json").write_text('{"r": 4, "peft_type": "LORA"}', encoding="utf-8")
    (d / "adapter_model.safetensors").write_bytes(bytes(range(250)) * 4)
    return d


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
    """A running server: its URL, its artifacts destination, its backend store URI."""

    url: str
    artifacts: Path
    backend_uri: str


@pytest.fixture(scope="session")
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


@pytest.fixture(scope="session")
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
