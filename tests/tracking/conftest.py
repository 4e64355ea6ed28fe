"""A fresh MLflow sqlite store per test in well under a second.

Creating a store runs MLflow's schema migrations (5-15 s here); every test that only needs an
empty store copies one migrated once per session instead.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

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
