"""Gate experiments open in MLflow's model-training view, not its GenAI evaluation view.

MLflow 3's UI reads the experiment tag ``mlflow.experimentKind``; without it (or with
``genai_development``) an experiment opens on traces and evaluations, where the LoRA and
QLoRA child runs and their metric charts are not shown.
"""

from __future__ import annotations

from pathlib import Path

from tests.tracking.conftest import log_fake_gate_run


def _kind(experiment: str) -> str | None:
    from mlflow.tracking import MlflowClient

    from harness.tracking._mlflow import tracking_uri

    exp = MlflowClient(tracking_uri()).get_experiment_by_name(experiment)
    assert exp is not None
    return exp.tags.get("mlflow.experimentKind")


def test_gate_run_marks_its_experiment_as_model_training(
    mlflow_store: str, adapter_dir: Path
) -> None:
    log_fake_gate_run("r1", "GO", 5, adapter_dir, experiment="exp-new")
    assert _kind("exp-new") == "custom_model_development"


def test_an_existing_experiment_gets_the_kind_and_a_kind_set_in_the_ui_is_kept(
    mlflow_store: str, adapter_dir: Path
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_store)
    # Made before this harness version (or by hand): no kind yet.
    old = client.create_experiment("exp-old")
    log_fake_gate_run("r1", "GO", 5, adapter_dir, experiment="exp-old")
    assert _kind("exp-old") == "custom_model_development"

    # Someone switches the experiment's view in the UI: the next gate run leaves it.
    client.set_experiment_tag(old, "mlflow.experimentKind", "genai_development")
    log_fake_gate_run("r2", "NO-GO", 1, adapter_dir, experiment="exp-old")
    assert _kind("exp-old") == "genai_development"
