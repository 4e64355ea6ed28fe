"""Training on a CUDA device takes the fast path and still learns everywhere (nox -s gpu).

The CUDA path differs from the CPU one (bf16 autocast, liger kernels where installed, no
peft input casts, real bitsandbytes CUDA 4-bit layers and paged 8-bit AdamW for QLoRA), so
the checks of tests/training/test_training_runs.py are repeated on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from harness.config import Recipe
from harness.training import train_lora
from tests.training.test_training_runs import _assert_learns_everywhere, _examples, _GradRecorder
from tests.training.test_training_runs import _recipe as _cpu_recipe

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]


def _recipe(method: str, **train: Any) -> Recipe:
    # bf16 and dropout > 0: the CUDA path computes the LoRA delta its own way for QLoRA
    return _cpu_recipe(
        method, dropout=0.05, dtype="bfloat16", learning_rate=1e-2, max_steps=12, **train
    )


@pytest.mark.parametrize("method", ["lora", "qlora"])
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"gradient_checkpointing": True},
        {"gradient_checkpointing": True, "offload_checkpoints": True},
    ],
    ids=["plain", "checkpointing", "offload"],
)
def test_adapters_learn_on_cuda(
    tiny_model_dir_64: Path, tmp_path: Path, method: str, settings: dict[str, Any]
) -> None:
    from transformers.models.llama import modeling_llama

    recipe = _recipe(method, **settings)
    rec = _GradRecorder()
    rope, precision = modeling_llama.apply_rotary_pos_emb, torch.backends.fp32_precision
    result = train_lora(
        tiny_model_dir_64, "fp", recipe, _examples(), tmp_path / "a", callbacks=[rec]
    )
    # liger's module patches and the Trainer's TF32 do not outlive training
    assert modeling_llama.apply_rotary_pos_emb is rope
    assert torch.backends.fp32_precision == precision
    losses = [loss for _, loss in result.loss_curve]
    _assert_learns_everywhere(rec, losses, 12)
    assert sum(losses[-3:]) / 3 < losses[0] - 0.3, losses
    assert result.peak_memory_mb > 0
