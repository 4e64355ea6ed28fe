"""All patching of third-party internals, and nothing else: every reach into transformers,
trl, peft or liger-kernel internals that the speed code makes lives in this subpackage, one
row of ``harness.accel.compat.PATCHES`` each, applied only inside its version range.

``lora_layers``: peft's LoRA layers and llama's MLP routed through ``harness.accel.ops``;
``trainer``: the Trainer's per-micro-step walks and readbacks, partial checkpointing, liger;
``modeling``: transformers' modeling modules put back after liger.

Importing this package imports torch (through ``lora_layers``); ``harness.accel`` imports it
only when speed is on.
"""

from harness.accel.patches.lora_layers import FusedReport, fused_lora
from harness.accel.patches.modeling import keep_modeling_globals
from harness.accel.patches.trainer import (
    apply_liger,
    checkpoint_some_layers,
    defer_step_readbacks,
    liger_available,
    partial_checkpointing,
    trim_step_overhead,
)

__all__ = [
    "FusedReport",
    "apply_liger",
    "checkpoint_some_layers",
    "defer_step_readbacks",
    "fused_lora",
    "keep_modeling_globals",
    "liger_available",
    "partial_checkpointing",
    "trim_step_overhead",
]
