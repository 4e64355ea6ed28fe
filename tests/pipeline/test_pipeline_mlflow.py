"""What one real gate run (tiny model, in-process) leaves in MLflow, and its typed summary."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from typer.testing import CliRunner


def test_gate_run_logs_tables_adapter_registry_and_lists_in_harness_runs(
    tiny_experiment: Path,
    mlflow_store: str,
    tmp_path: Path,
    per_item_results: Callable[..., Any],
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient
    from rich.console import Console

    from harness.cli import app
    from harness.config import load_experiment
    from harness.pipeline import run_gate

    result = run_gate(load_experiment(tiny_experiment), console=Console(quiet=True))
    summary = result.summary
    client = MlflowClient(mlflow_store)
    parent = client.get_run(summary["mlflow_run_id"])
    assert parent.data.tags["harness.verdict"] == summary["verdict"]
    assert parent.data.tags["harness.git_commit"]
    assert parent.data.tags["harness.base_fingerprint"]
    top = {f.path for f in client.list_artifacts(parent.info.run_id)}
    assert {"summary.json", "report.md", "report.html", "junit.xml"} <= top

    (child,) = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    assert child.data.tags["harness.variant"] == "lora"
    # One table per suite, one row per item, same items the gate compared.
    for suite in ("tickets", "general"):
        table = mlflow.load_table(f"items/{suite}.json", run_ids=[child.info.run_id])
        items = result.results["lora"][suite]
        assert table["item_id"].tolist() == [it.item_id for it in result.results["base"][suite]]
        assert len(table) == len(items)
    adapter_files = {f.path for f in client.list_artifacts(child.info.run_id, "adapter")}
    assert "adapter/adapter_config.json" in adapter_files

    lora = next(v for v in summary["variants"] if v["name"] == "lora")
    reg = lora["registered_model"]
    assert reg == {"name": "tiny-experiment-lora", "version": "1"}
    version = client.get_model_version_by_alias(reg["name"], "candidate")
    assert version.run_id == child.info.run_id
    assert version.tags["harness.gate_run_id"] == summary["run_id"]
    assert version.tags["harness.verdict"] == summary["verdict"]
    aliases = set(client.get_model_version(reg["name"], "1").aliases)
    assert ("champion" in aliases) == (summary["verdict"] == "GO")

    res = CliRunner().invoke(app, ["runs"], env={"COLUMNS": "240"})
    assert res.exit_code == 0, res.output
    assert summary["run_id"] in res.output and summary["verdict"] in res.output
    assert "lora: general.acc" in res.output and "tickets.acc" in res.output

    # Training is browsable per step: loss, learning rate and gradient norm as curves, and the
    # recipe's hyperparameters as params.
    history = {
        key: [m.value for m in client.get_metric_history(child.info.run_id, key)]
        for key in ("train_loss", "train.learning_rate", "train.grad_norm")
    }
    train_json = lora["training"]
    assert len(history["train_loss"]) == len(train_json["loss_curve"]) > 0
    assert len(history["train.learning_rate"]) == len(train_json["history"]) > 0
    assert all(v >= 0 for v in history["train.grad_norm"])
    params = child.data.params
    assert float(params["recipe.train.learning_rate"]) > 0
    assert params["recipe.method"] == "lora"

    # summary.json is the typed GateSummary: it validates strictly and round-trips exactly.
    from harness.report import GateSummary, summary_json_text

    text = (result.run_dir / "summary.json").read_text(encoding="utf-8")
    stored = GateSummary.model_validate_json(text)
    assert summary_json_text(stored) == text == summary_json_text(result.gate_summary)
    assert result.gate_summary.variants[1].registered_model is not None
    assert "registered_model" not in result.summary["variants"][0]  # absent, not null
    assert set(stored.check_kinds) == {c.kind for c in stored.checks}
    assert GateSummary.load(result.run_dir / "summary.json") == stored

    # The plugin's store lookup builds the run's result keys with the same function.
    exp = load_experiment(tiny_experiment)
    from_store = per_item_results(exp, dataclasses.replace(result, results={}))
    assert from_store == result.results
