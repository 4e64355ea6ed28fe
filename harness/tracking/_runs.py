"""Gate runs read back from MLflow as plain data, for ``harness runs`` in a terminal.

A gate run's numbers are split between its parent run (baseline scores, check counts,
durations) and one child run per variant (scores, deltas, interval bounds). Here they are
joined into one flat ``{name: value}`` per gate run, children's metrics prefixed by variant,
so listing and comparing need no knowledge of that layout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.tracking._mlflow import RUN_KIND_TAG, tracking_uri


class RunNotFound(LookupError):
    """No gate run has the given MLflow run id or harness run name."""


@dataclass(frozen=True)
class GateRunInfo:
    """One gate run, flattened: what a row of ``harness runs`` shows."""

    mlflow_run_id: str
    name: str
    experiment: str
    started: datetime
    status: str
    verdict: str | None
    git_commit: str | None
    base_fingerprint: str | None
    checks_failed: int | None
    checks_total: int | None
    metrics: dict[str, float] = field(default_factory=dict)
    suites: tuple[str, ...] = ()

    def key_metrics(self) -> dict[str, float]:
        """Per-variant suite scores (``<variant>.<suite>.<metric>``): the gist of a run."""
        return {
            k: v
            for k, v in self.metrics.items()
            if len(parts := k.split(".")) == 3 and parts[1] in self.suites
        }


@dataclass(frozen=True)
class MetricDiff:
    name: str
    a: float | None
    b: float | None

    @property
    def diff(self) -> float | None:
        if self.a is None or self.b is None:
            return None
        return self.b - self.a


@dataclass(frozen=True)
class Comparison:
    a: GateRunInfo
    b: GateRunInfo
    metrics: list[MetricDiff]

    @property
    def changed(self) -> list[MetricDiff]:
        return [m for m in self.metrics if m.diff is None or abs(m.diff) > 1e-12]


def _client(uri: str | None) -> Any:
    from mlflow.tracking import MlflowClient

    uri = uri or tracking_uri()
    # Reading must not create a store: MLflow would make an empty sqlite file and say nothing.
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        raise RunNotFound(f"no MLflow store at {uri} (set MLFLOW_TRACKING_URI or --tracking-uri)")
    return MlflowClient(uri)


def _info(client: Any, run: Any, experiment: str) -> GateRunInfo:
    metrics = dict(run.data.metrics)
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{run.info.run_id}'",
        max_results=1000,
    )
    for child in children:
        variant = child.data.tags.get("harness.variant") or child.info.run_name
        for k, v in child.data.metrics.items():
            if k != "train_loss":  # a curve, not a result; its last step says little alone
                metrics[f"{variant}.{k}"] = v
    tags = run.data.tags
    failed, total = metrics.get("checks_failed"), metrics.get("checks_total")
    suites = run.data.params.get("suites", "")
    return GateRunInfo(
        mlflow_run_id=run.info.run_id,
        name=run.info.run_name or run.info.run_id,
        experiment=experiment,
        started=datetime.fromtimestamp(run.info.start_time / 1000, tz=timezone.utc),
        status=run.info.status,
        verdict=tags.get("harness.verdict"),
        git_commit=tags.get("harness.git_commit"),
        base_fingerprint=tags.get("harness.base_fingerprint"),
        checks_failed=None if failed is None else int(failed),
        checks_total=None if total is None else int(total),
        metrics=metrics,
        suites=tuple(s for s in suites.split(",") if s),
    )


def _experiments(client: Any, experiment: str | None) -> dict[str, str]:
    """Experiment id -> name: the named one, or every experiment in the store."""
    if experiment is not None:
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            raise RunNotFound(f"no experiment named {experiment!r} in {client.tracking_uri}")
        return {exp.experiment_id: exp.name}
    return {e.experiment_id: e.name for e in client.search_experiments()}


def list_gate_runs(
    experiment: str | None = None, limit: int = 10, uri: str | None = None
) -> list[GateRunInfo]:
    """The newest ``limit`` gate runs (of one experiment, or of all), newest first."""
    client = _client(uri)
    names = _experiments(client, experiment)
    if not names:
        return []
    runs = client.search_runs(
        list(names),
        filter_string=f"tags.`{RUN_KIND_TAG}` = 'gate'",
        order_by=["attributes.start_time DESC"],
        max_results=limit,
    )
    return [_info(client, r, names[r.info.experiment_id]) for r in runs]


def get_gate_run(ref: str, uri: str | None = None) -> GateRunInfo:
    """A gate run by MLflow run id or by harness run name (the ``reports/<run-id>`` name)."""
    from mlflow.exceptions import MlflowException

    client = _client(uri)
    try:
        run = client.get_run(ref)
    except MlflowException:
        run = None
    if run is None or run.data.tags.get(RUN_KIND_TAG) != "gate":
        if "'" in ref or "\\" in ref:  # would break out of the filter string's quotes
            raise RunNotFound(f"no gate run with id or name {ref!r}")
        names = _experiments(client, None)
        found = client.search_runs(
            list(names),
            filter_string=f"tags.`{RUN_KIND_TAG}` = 'gate' and attributes.run_name = '{ref}'",
            max_results=2,
        )
        if not found:
            raise RunNotFound(f"no gate run with id or name {ref!r} in {client.tracking_uri}")
        run = found[0]
    exp = client.get_experiment(run.info.experiment_id)
    return _info(client, run, exp.name)


def compare_gate_runs(a: str, b: str, uri: str | None = None) -> Comparison:
    """Every metric of two gate runs side by side (B minus A), sorted by name."""
    ra, rb = get_gate_run(a, uri), get_gate_run(b, uri)
    names = sorted(ra.metrics.keys() | rb.metrics.keys())
    return Comparison(ra, rb, [MetricDiff(n, ra.metrics.get(n), rb.metrics.get(n)) for n in names])
