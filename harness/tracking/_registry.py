"""Adapters in the MLflow model registry: one version per gated candidate, aliases by verdict.

Each candidate of an experiment is its own registered model, ``<experiment>-<candidate>``.
Every gate run adds a version (the adapter logged on the candidate's child run) and points the
alias ``candidate`` at it; a GO verdict also moves ``champion`` there. Deployment then loads
``models:/<name>@champion`` and never needs to know run ids.
"""

from __future__ import annotations

import re
from typing import Any

CANDIDATE_ALIAS = "candidate"
CHAMPION_ALIAS = "champion"
ADAPTER_ARTIFACT_PATH = "adapter"


def registered_model_name(experiment: str, candidate: str) -> str:
    """``<experiment>-<candidate>``, with characters the registry rejects replaced by ``-``."""
    return re.sub(r"[^A-Za-z0-9_.\-]+", "-", f"{experiment}-{candidate}").strip("-")


def _ensure_registered_model(client: Any, name: str, experiment: str) -> None:
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    try:
        client.get_registered_model(name)
        return
    except MlflowException:
        pass
    try:
        client.create_registered_model(
            name,
            tags={"harness.experiment": experiment},
            description=(
                f"LoRA/QLoRA adapter gated by experiment '{experiment}'. Alias 'champion' is "
                "the newest version with a GO verdict; 'candidate' the newest gated."
            ),
        )
    except MlflowException as exc:
        # Two gate runs of the same experiment can both find the model missing.
        if exc.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise


def register_adapter(
    client: Any,
    experiment: str,
    candidate: str,
    run_id: str,
    verdict: str,
    tags: dict[str, str],
) -> tuple[str, str]:
    """Register ``runs:/<run_id>/adapter`` as a new version; return (model name, version).

    The version carries the verdict and gate run in its tags, so the registry alone answers
    "which gate run let this adapter through".
    """
    name = registered_model_name(experiment, candidate)
    _ensure_registered_model(client, name, experiment)
    mv = client.create_model_version(
        name,
        source=f"runs:/{run_id}/{ADAPTER_ARTIFACT_PATH}",
        run_id=run_id,
        tags={**tags, "harness.verdict": verdict},
        description=f"gate verdict {verdict}",
    )
    version = str(mv.version)
    client.set_registered_model_alias(name, CANDIDATE_ALIAS, version)
    if verdict == "GO":
        client.set_registered_model_alias(name, CHAMPION_ALIAS, version)
    return name, version
