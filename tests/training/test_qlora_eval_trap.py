"""The bitsandbytes CPU trap stays covered, on the real 4-bit layers and on the dequantized ones.

On CPU, bitsandbytes' 4-bit layers take another kernel in evaluation mode (the packed
inference path). A validation pass in the middle of training puts the model in eval mode and
back: if any of that left the adapter cut off from the loss, the adapter would stop learning
silently. These runs evaluate every 2 steps and check that every LoRA tensor gets a real
gradient at every step after the first, with ``HARNESS_NF4_EXECUTION=bitsandbytes`` (the real
``Linear4bit`` layers stay) and with the default CPU execution (NF4 dequantized once). The
dead-adapter detector is checked on the real 4-bit path too: it stops a run whose adapter
gets no gradient.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import TrainerCallback

from harness.training import TrainingFailed, train_lora
from tests.training.test_training_runs import _examples, _GradRecorder, _recipe, _ZeroGrads

pytest.importorskip("bitsandbytes")


class _LayerKinds(TrainerCallback):
    """The classes of the frozen base layers under the adapter, as trained."""

    def __init__(self) -> None:
        self.kinds: set[str] = set()

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        for name, module in kw["model"].named_modules():
            if name.endswith("q_proj.base_layer"):
                self.kinds.add(type(module).__name__)


@pytest.mark.parametrize(
    ("env", "execution", "layer"),
    [
        ("bitsandbytes", "bitsandbytes-4bit", "Linear4bit"),
        ("dequantized", "nf4-dequantized-once", "DequantizedLinear4bit"),
    ],
)
def test_eval_mid_training_leaves_every_adapter_tensor_learning(
    tiny_model_dir_64: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    env: str,
    execution: str,
    layer: str,
) -> None:
    monkeypatch.setenv("HARNESS_NF4_EXECUTION", env)
    recipe = _recipe(
        "qlora", max_steps=6, learning_rate=1e-2, val_fraction=0.25, eval_steps=2, dtype="bfloat16"
    )
    grads, kinds = _GradRecorder(), _LayerKinds()
    result = train_lora(
        tiny_model_dir_64, "fp", recipe, _examples(), tmp_path / "a", callbacks=[grads, kinds]
    )
    assert result.execution == execution and kinds.kinds == {layer}
    assert len(result.val_loss_curve) >= 2  # evaluation did run mid-training
    assert len(grads.steps) == 6
    for i, step in enumerate(grads.steps[1:], start=2):  # B starts at 0: A learns from step 2
        assert step and all(step.values()), (i, [n for n, ok in step.items() if not ok])
    assert all(torch.isfinite(torch.tensor(loss)) for _, loss in result.loss_curve)


def test_dead_adapter_detector_stops_a_qlora_run_on_real_4bit_layers(
    tiny_model_dir_64: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_NF4_EXECUTION", "bitsandbytes")
    recipe = _recipe("qlora", max_steps=10, dtype="bfloat16", monitor={"dead_grad_steps": 3})
    with pytest.raises(TrainingFailed) as e:
        train_lora(
            tiny_model_dir_64, "fp", recipe, _examples(), tmp_path / "a", callbacks=[_ZeroGrads()]
        )
    assert e.value.step == 3 and "gradient norm has been 0" in e.value.problem
