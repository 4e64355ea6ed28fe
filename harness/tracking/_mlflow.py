"""MLflow logging for gate runs. The only module that imports mlflow.

A gate run is a parent run tagged with its verdict; each candidate is a child run with its
training parameters, loss curve and per-suite metrics. A run that dies is never left RUNNING:
the context manager ends it FAILED (or KILLED on Ctrl-C), and every new gate run first ends
runs whose process is gone.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

DEFAULT_URI_FILE = "mlflow.db"


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///mlflow.db`` in the working directory."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path.cwd() / DEFAULT_URI_FILE).as_posix()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end_orphans(client: Any, experiment_id: str) -> int:
    """End RUNNING runs of this host whose process no longer exists; return how many."""
    host = socket.gethostname()
    runs = client.search_runs(
        [experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=200
    )
    ended = 0
    for run in runs:
        tags = run.data.tags
        pid = tags.get("harness.pid")
        if tags.get("harness.host") == host and pid and pid.isdigit() and not _pid_alive(int(pid)):
            client.set_terminated(run.info.run_id, status="KILLED")
            ended += 1
    return ended


@contextmanager
def _store_init_lock(uri: str) -> Iterator[None]:
    """Serialise store creation between processes for a local sqlite store (no-op otherwise)."""
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    db = Path(uri.removeprefix("sqlite:///"))
    db.parent.mkdir(parents=True, exist_ok=True)
    with open(db.with_name(db.name + ".lock"), "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class GateRunLog:
    """Handle on the parent run of a gate run."""

    def __init__(self, mlflow: Any, run_id: str, uri: str) -> None:
        self._mlflow = mlflow
        self.run_id = run_id
        self.uri = uri

    def log_params(self, params: dict[str, Any]) -> None:
        self._mlflow.log_params({k: str(v)[:500] for k, v in params.items()})

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        clean = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
        if clean:
            self._mlflow.log_metrics(clean, step=step)

    def set_tags(self, tags: dict[str, str]) -> None:
        self._mlflow.set_tags(tags)

    def log_variant(
        self,
        name: str,
        params: dict[str, Any],
        metrics: dict[str, float],
        curve: list[tuple[int, float]] | None = None,
    ) -> str:
        """Log one candidate as a nested child run; returns its run id."""
        with self._mlflow.start_run(run_name=name, nested=True) as child:
            self._mlflow.set_tags(
                {
                    "harness.variant": name,
                    "harness.pid": str(os.getpid()),
                    "harness.host": socket.gethostname(),
                }
            )
            if params:
                self._mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            for step, loss in curve or []:
                self._mlflow.log_metric("train_loss", loss, step=step)
            clean = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
            if clean:
                self._mlflow.log_metrics(clean)
            return str(child.info.run_id)

    def log_artifacts(self, directory: Path) -> None:
        self._mlflow.log_artifacts(str(directory))


@contextmanager
def gate_run(experiment: str, run_name: str) -> Iterator[GateRunLog]:
    """Open the parent run; end it FINISHED, FAILED or KILLED according to how the body ends."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = tracking_uri()
    with _store_init_lock(uri):
        # A fresh sqlite store is created (schema migrations) by the first call that touches
        # it, and an experiment by set_experiment: both race when gate runs start together.
        mlflow.set_tracking_uri(uri)
        exp = mlflow.set_experiment(experiment)
        _end_orphans(MlflowClient(uri), exp.experiment_id)
    run = mlflow.start_run(run_name=run_name)
    mlflow.set_tags({"harness.pid": str(os.getpid()), "harness.host": socket.gethostname()})
    try:
        yield GateRunLog(mlflow, run.info.run_id, uri)
    except KeyboardInterrupt:
        mlflow.end_run(status="KILLED")
        raise
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")
