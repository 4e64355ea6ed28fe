"""Recipes run through trl/peft: adapters the gate can score, with their provenance."""

from harness.training._sft import (
    ADAPTER_META,
    TrainResult,
    adapter_cache_key,
    load_cached,
    train_lora,
)

__all__ = ["ADAPTER_META", "TrainResult", "adapter_cache_key", "load_cached", "train_lora"]
