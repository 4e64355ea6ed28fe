"""How the harness trains fast on a GPU without changing what is learned.

Layout (after Liger-Kernel: kernels apart from patches):

* ``ops/`` — the kernels: ``LoraDelta`` and ``LoraLinear`` (LoRA layers as autograd Functions
  that keep less), ``SwiGLULoraDown`` (a SwiGLU MLP's product recomputed, not kept), and the
  Triton LoRA-dropout kernels. They know nothing of peft, trl or transformers.
* ``patches/`` — every reach into a third-party library's internals, each one a row of
  ``compat.PATCHES`` and applied only inside its version range.
* ``compat`` — that table, and ``check_versions()``.
* ``offload`` — checkpointed layer inputs kept in host memory (torch's public hooks only).
* ``plan_speed`` / ``SpeedPlan`` — what one run uses, decided once from the recipe's
  ``train.speed``, ``HARNESS_SPEED`` and the device; ``SpeedPlan.training(trainer)`` applies
  it around ``trainer.train()``.

Off (``train.speed: off`` or ``HARNESS_SPEED=off``) the plan is empty: training is plain
trl/peft. Importing this package imports no torch; the kernels and patches are imported the
first time one is used.
"""

from __future__ import annotations

from typing import Any

from harness.accel._mode import SPEED_ENV, SpeedSetting, speed_mode
from harness.accel._plan import (
    Applied,
    SpeedPlan,
    decoder_of,
    keep_fp32_precision,
    no_adapter_input_casts,
    plan_speed,
)
from harness.accel.compat import PATCHES, Patch, VersionOutsideTable, allowed, check_versions

# name -> (module, attribute): imported on first use (torch, and for the last five triton)
_LAZY = {
    "FusedReport": ("harness.accel.patches", "FusedReport"),
    "apply_liger": ("harness.accel.patches", "apply_liger"),
    "checkpoint_some_layers": ("harness.accel.patches", "checkpoint_some_layers"),
    "defer_step_readbacks": ("harness.accel.patches", "defer_step_readbacks"),
    "fused_lora": ("harness.accel.patches", "fused_lora"),
    "keep_modeling_globals": ("harness.accel.patches", "keep_modeling_globals"),
    "liger_available": ("harness.accel.patches", "liger_available"),
    "partial_checkpointing": ("harness.accel.patches", "partial_checkpointing"),
    "trim_step_overhead": ("harness.accel.patches", "trim_step_overhead"),
    "OffloadStats": ("harness.accel.offload", "OffloadStats"),
    "offload_saved_inputs": ("harness.accel.offload", "offload_saved_inputs"),
    "LoraDelta": ("harness.accel.ops.lora", "LoraDelta"),
    "LoraLinear": ("harness.accel.ops.lora", "LoraLinear"),
    "lora_delta": ("harness.accel.ops.lora", "lora_delta"),
    "SwiGLULoraDown": ("harness.accel.ops.swiglu_lora", "SwiGLULoraDown"),
    "drop_probability": ("harness.accel.ops.lora_dropout", "drop_probability"),
    "dropout_grad_a": ("harness.accel.ops.lora_dropout", "dropout_grad_a"),
    "dropout_grad_x": ("harness.accel.ops.lora_dropout", "dropout_grad_x"),
    "dropout_project": ("harness.accel.ops.lora_dropout", "dropout_project"),
    "lora_dropout_tiles": ("harness.accel.ops.lora_dropout", "tuned"),
}

__all__ = [
    "PATCHES",
    "SPEED_ENV",
    "Applied",
    "FusedReport",
    "LoraDelta",
    "LoraLinear",
    "OffloadStats",
    "Patch",
    "SpeedPlan",
    "SpeedSetting",
    "SwiGLULoraDown",
    "VersionOutsideTable",
    "allowed",
    "apply_liger",
    "check_versions",
    "checkpoint_some_layers",
    "decoder_of",
    "defer_step_readbacks",
    "drop_probability",
    "dropout_grad_a",
    "dropout_grad_x",
    "dropout_project",
    "fused_lora",
    "keep_fp32_precision",
    "keep_modeling_globals",
    "liger_available",
    "lora_delta",
    "lora_dropout_tiles",
    "no_adapter_input_casts",
    "offload_saved_inputs",
    "partial_checkpointing",
    "plan_speed",
    "speed_mode",
    "trim_step_overhead",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
