"""MLflow logging for gate runs (mlflow is imported only inside ``harness.tracking``).

A gate run is a parent run tagged with its verdict; each variant is a child run with its
training parameters, loss curve, per-suite metrics, per-item tables and (for a candidate) its
adapter, which is also registered as a model version. A run that dies is never left RUNNING:
the context manager ends it FAILED (or KILLED on Ctrl-C and SIGTERM), and every new gate run
first ends the runs of any experiment of the store whose process is gone (SIGKILL).
"""

from __future__ import annotations

import math
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.tracking._registry import ADAPTER_ARTIFACT_PATH, register_adapter

DEFAULT_URI_FILE = "mlflow.db"
ADAPTER_MAX_MB_ENV = "HARNESS_MLFLOW_ADAPTER_MAX_MB"
DEFAULT_ADAPTER_MAX_MB = 200.0
# Tag that tells gate runs (parents) from variant runs (children) in searches.
RUN_KIND_TAG = "harness.run_kind"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
TRAINING_KIND = "custom_model_development"
"""Records that a gate experiment is model training (runs, compare, metric charts), not GenAI
traces. UIs that pick the view per experiment read this tag; MLflow 3.17's own UI picks it from
its "GenAI / Model training" switch (remembered per browser) or ``?workflowType=machine_learning``
in the URL (docs/mlflow.md shows both)."""


def tracking_uri() -> str:
    """``MLFLOW_TRACKING_URI`` when set, else ``sqlite:///mlflow.db`` in the working directory."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(Path.cwd() / DEFAULT_URI_FILE).as_posix()}"


def adapter_max_bytes() -> int:
    """Adapters up to this size are copied into the run; larger ones are logged by location.

    A LoRA adapter is a few MB, but an adapter that trains embeddings can be gigabytes, and
    copying that into every gate run's artifacts would fill the team's store.
    """
    raw = os.environ.get(ADAPTER_MAX_MB_ENV)
    if raw is None or raw == "":
        return int(DEFAULT_ADAPTER_MAX_MB * 1e6)
    try:
        mb = float(raw)
    except ValueError:
        mb = -1.0
    if not (mb >= 0 and math.isfinite(mb)):
        raise ConfigError(
            None,
            ADAPTER_MAX_MB_ENV,
            f"must be a size in MB, 0 or more (got {raw!r})",
            f"set {ADAPTER_MAX_MB_ENV}=200 (or unset it for the default, 200)",
        )
    return int(mb * 1e6)


def _dir_size(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _end_orphans(client: Any) -> int:
    """End RUNNING runs of this host whose process no longer exists; return how many.

    Every experiment of the store, not only the one about to run: a SIGKILLed run of another
    experiment would otherwise show "running" until that experiment happened to run again.
    """
    host = socket.gethostname()
    ids = [e.experiment_id for e in client.search_experiments()]
    if not ids:
        return 0
    runs = client.search_runs(
        ids,
        filter_string=f"attributes.status = 'RUNNING' and tags.`harness.host` = '{host}'",
        max_results=1000,
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


ADAPTER_KEY_TAG = "harness.adapter_key"


class GateRunLog:
    """Handle on the parent run of a gate run."""

    def __init__(
        self, mlflow: Any, run_id: str, uri: str, experiment: str, max_adapter_bytes: int
    ) -> None:
        self._mlflow = mlflow
        self.run_id = run_id
        self.uri = uri
        self.experiment = experiment
        self.max_adapter_bytes = max_adapter_bytes
        # variant run -> the run whose artifacts hold its adapter (itself, or an earlier run
        # that logged the same adapter: a cached adapter is not copied again)
        self._adapter_source: dict[str, str] = {}

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
        *,
        tables: dict[str, dict[str, list[Any]]] | None = None,
        adapter_dir: Path | None = None,
        history: list[dict[str, Any]] | None = None,
        val_curve: list[tuple[int, float]] | None = None,
        adapter_key: str | None = None,
    ) -> str:
        """Log one variant as a nested child run; returns its run id.

        ``tables`` maps a suite name to per-item columns (see ``item_table``): each becomes one
        ``log_table`` artifact ``items/<suite>.json``. ``adapter_dir`` is logged under
        ``adapter/`` (or by location when larger than ``max_adapter_bytes``). ``history`` is the
        training monitor's per-step record (loss, learning rate, gradient norm, tokens/s, peak
        memory), logged as step metrics so the MLflow UI draws each as a curve; ``val_curve``
        the validation loss at each evaluation. ``adapter_key`` (the variant fingerprint: base
        weights, adapter files, quantisation) lets a later run that reuses a cached adapter
        point at the run that already holds its files instead of copying them again.
        """
        with self._mlflow.start_run(run_name=name, nested=True) as child:
            self._mlflow.set_tags(
                {
                    "harness.variant": name,
                    RUN_KIND_TAG: "variant",
                    "harness.pid": str(os.getpid()),
                    "harness.host": socket.gethostname(),
                }
            )
            if params:
                self._mlflow.log_params({k: str(v)[:500] for k, v in params.items()})
            for step, loss in curve or []:
                self._mlflow.log_metric("train_loss", loss, step=step)
            for row in history or []:
                step_metrics = {
                    f"train.{k}": float(v)
                    for k, v in row.items()
                    if k != "step" and isinstance(v, int | float) and v == v
                }
                if step_metrics:
                    self._mlflow.log_metrics(step_metrics, step=int(row["step"]))
            for step, loss in val_curve or []:
                self._mlflow.log_metric("val_loss", loss, step=step)
            clean = {k: float(v) for k, v in metrics.items() if v is not None and v == v}
            if clean:
                self._mlflow.log_metrics(clean)
            for suite, columns in (tables or {}).items():
                self._mlflow.log_table(data=columns, artifact_file=f"items/{suite}.json")
            child_id = str(child.info.run_id)
            if adapter_dir is not None:
                held_by = self._earlier_copy(adapter_key) if adapter_key else None
                if held_by is not None:
                    self._mlflow.set_tags(
                        {
                            ADAPTER_KEY_TAG: adapter_key,
                            "harness.adapter_logged": "reused",
                            "harness.adapter_run_id": held_by,
                            "harness.adapter_location": str(adapter_dir.resolve()),
                        }
                    )
                    self._adapter_source[child_id] = held_by
                else:
                    if adapter_key:
                        self._mlflow.set_tag(ADAPTER_KEY_TAG, adapter_key)
                    self._log_adapter(adapter_dir)
            return child_id

    def _earlier_copy(self, key: str) -> str | None:
        """An earlier, still active run of this experiment holding these adapter files."""
        found = self._mlflow.search_runs(
            experiment_names=[self.experiment],
            filter_string=(
                f"tags.`{ADAPTER_KEY_TAG}` = '{key}' and tags.`harness.adapter_logged` = 'files'"
            ),
            max_results=1,
            output_format="list",
        )
        return str(found[0].info.run_id) if found else None

    def _log_adapter(self, adapter_dir: Path) -> None:
        """Copy the adapter into the run, or record where it lives when it is too large."""
        size = _dir_size(adapter_dir)
        full = size <= self.max_adapter_bytes
        self._mlflow.set_tags(
            {
                "harness.adapter_location": str(adapter_dir.resolve()),
                "harness.adapter_bytes": str(size),
                "harness.adapter_logged": "files" if full else "location",
            }
        )
        if full:
            self._mlflow.log_artifacts(str(adapter_dir), ADAPTER_ARTIFACT_PATH)
            return
        # Keep the small files (adapter_config.json names the base and target modules) so the
        # registered version still says what it is, and a pointer to the weights.
        for path in sorted(adapter_dir.glob("*.json")):
            if path.stat().st_size <= 1_000_000:
                self._mlflow.log_artifact(str(path), ADAPTER_ARTIFACT_PATH)
        self._mlflow.log_text(
            f"{adapter_dir.resolve()}\n"
            f"({size} bytes: over {ADAPTER_MAX_MB_ENV}, so the weights were not copied)\n",
            f"{ADAPTER_ARTIFACT_PATH}/LOCATION.txt",
        )

    def register_adapter(
        self, candidate: str, variant_run_id: str, verdict: str, tags: dict[str, str]
    ) -> tuple[str, str]:
        """Register the adapter logged for ``variant_run_id`` (on that run, or on the earlier
        run holding the same files); return (model name, version)."""
        from mlflow.tracking import MlflowClient

        return register_adapter(
            MlflowClient(self.uri),
            self.experiment,
            candidate,
            self._adapter_source.get(variant_run_id, variant_run_id),
            verdict,
            {**tags, "harness.gate_mlflow_run_id": self.run_id},
        )

    def log_artifacts(self, directory: Path) -> None:
        self._mlflow.log_artifacts(str(directory))


@contextmanager
def gate_run(experiment: str, run_name: str) -> Iterator[GateRunLog]:
    """Open the parent run; end it FINISHED, FAILED or KILLED according to how the body ends."""
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = tracking_uri()
    max_adapter = adapter_max_bytes()  # a bad setting fails before any work, not after it
    with _store_init_lock(uri):
        # A fresh sqlite store is created (schema migrations) by the first call that touches
        # it, and an experiment by set_experiment: both race when gate runs start together.
        mlflow.set_tracking_uri(uri)
        exp = mlflow.set_experiment(experiment)
        if EXPERIMENT_KIND_TAG not in exp.tags:  # a kind chosen in the UI is kept
            MlflowClient(uri).set_experiment_tag(
                exp.experiment_id, EXPERIMENT_KIND_TAG, TRAINING_KIND
            )
        _end_orphans(MlflowClient(uri))
    run = mlflow.start_run(run_name=run_name)
    mlflow.set_tags(
        {
            RUN_KIND_TAG: "gate",
            "harness.pid": str(os.getpid()),
            "harness.host": socket.gethostname(),
        }
    )
    try:
        yield GateRunLog(mlflow, run.info.run_id, uri, experiment, max_adapter)
    except KeyboardInterrupt:
        mlflow.end_run(status="KILLED")
        raise
    except BaseException:
        mlflow.end_run(status="FAILED")
        raise
    else:
        mlflow.end_run(status="FINISHED")
