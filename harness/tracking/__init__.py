"""MLflow logging of gate runs (the only package that imports mlflow)."""

from harness.tracking._champion import ChampionVersion, RegistryUnreachable, find_champion
from harness.tracking._mlflow import (
    ADAPTER_MAX_MB_ENV,
    GateRunLog,
    adapter_max_bytes,
    gate_run,
    tracking_uri,
)
from harness.tracking._registry import (
    CANDIDATE_ALIAS,
    CHAMPION_ALIAS,
    register_adapter,
    registered_model_name,
)
from harness.tracking._runs import (
    Comparison,
    GateRunInfo,
    MetricDiff,
    RunNotFound,
    compare_gate_runs,
    get_gate_run,
    list_gate_runs,
)
from harness.tracking._runs_view import comparison_tables, runs_table
from harness.tracking._tables import COLUMNS as ITEM_TABLE_COLUMNS
from harness.tracking._tables import item_table

__all__ = [
    "ADAPTER_MAX_MB_ENV",
    "CANDIDATE_ALIAS",
    "CHAMPION_ALIAS",
    "ITEM_TABLE_COLUMNS",
    "ChampionVersion",
    "Comparison",
    "GateRunInfo",
    "GateRunLog",
    "MetricDiff",
    "RegistryUnreachable",
    "RunNotFound",
    "adapter_max_bytes",
    "compare_gate_runs",
    "comparison_tables",
    "find_champion",
    "gate_run",
    "get_gate_run",
    "item_table",
    "list_gate_runs",
    "register_adapter",
    "registered_model_name",
    "runs_table",
    "tracking_uri",
]
