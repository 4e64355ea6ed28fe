"""Recipes run through trl/peft: adapters the gate can score, with their provenance.

Training data is checked before any model loads (``check_training_data``); a run is watched
step by step (``TrainingMonitor``) and stopped with ``TrainingFailed`` when it cannot give a
useful adapter. The GPU speed code is ``harness.accel`` (``train.speed: off`` or
``HARNESS_SPEED=off`` leaves it out). Importing this package imports no torch.
"""

from typing import Any

from harness.training._data_checks import (
    DataReport,
    check_training_data,
    find_contamination,
    personal_data,
    split_train_val,
)
from harness.training._failed import TrainingFailed
from harness.training._format import format_rows, load_training_file, read_jsonl
from harness.training._sft import (
    ADAPTER_META,
    TrainResult,
    adapter_cache_key,
    cached_adapter_dir,
    load_cached,
    train_lora,
)
from harness.training._standalone import (
    StandaloneRun,
    check_base_dir,
    is_main_process,
    recipe_examples,
    train_recipe,
)

__all__ = [
    "ADAPTER_META",
    "DataReport",
    "StandaloneRun",
    "TrainResult",
    "TrainingFailed",
    "TrainingMonitor",
    "adapter_cache_key",
    "cached_adapter_dir",
    "check_base_dir",
    "check_training_data",
    "find_contamination",
    "format_rows",
    "is_main_process",
    "load_cached",
    "load_training_file",
    "personal_data",
    "read_jsonl",
    "recipe_examples",
    "split_train_val",
    "train_lora",
    "train_recipe",
]


def __getattr__(name: str) -> Any:
    # The monitor subclasses a transformers callback: import it only when asked for, so that
    # ``import harness.training`` stays light (no torch, no transformers).
    if name == "TrainingMonitor":
        from harness.training._monitor import TrainingMonitor

        return TrainingMonitor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
