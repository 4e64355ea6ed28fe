"""Real runs of the tiny models through SFTTrainer: QLoRA learns, detectors stop bad runs,
early stopping restores the best checkpoint, and the per-step record is complete."""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path
from typing import Any

import pytest
import torch
from transformers import TrainerCallback

from harness.config import Recipe
from harness.training import TrainingFailed, load_cached, train_lora
from tests.conftest import QUEUES, TOPICS

PROMPT = "Route this support ticket to its queue.\nTicket: {t}\nQueue:"


def _examples(n: int = 24, shuffle_labels: bool = False) -> list[dict[str, str]]:
    rng = random.Random(0)
    rows = []
    for i in range(n):
        q = QUEUES[i % 3]
        label = rng.choice(QUEUES) if shuffle_labels else q
        rows.append(
            {"prompt": PROMPT.format(t=f"{TOPICS[q][i % 3]} ({i})"), "completion": f" {label}"}
        )
    return rows


def _recipe(method: str = "lora", dropout: float = 0.0, **train: Any) -> Recipe:
    data = {"path": "unused.jsonl", "val_fraction": train.pop("val_fraction", 0.0)}
    monitor = train.pop("monitor", {})
    settings = {"learning_rate": 5e-3, "batch_size": 8, "max_steps": 6, "max_seq_len": 64}
    settings |= {"dtype": "float32", "logging_steps": 1, "warmup_ratio": 0.0} | train
    return Recipe.model_validate(
        {
            "name": f"t-{method}",
            "method": method,
            "data": data,
            "lora": {"r": 4, "alpha": 8, "dropout": dropout, "target_modules": "all-linear"},
            "train": settings,
            "monitor": monitor,
        }
    )


class _GradRecorder(TrainerCallback):
    """Which LoRA tensors had a non-zero, finite gradient at each optimizer step."""

    def __init__(self) -> None:
        self.steps: list[dict[str, bool]] = []

    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        model = kw["model"]
        self.steps.append(
            {
                n: p.grad is not None
                and bool(torch.isfinite(p.grad).all())
                and bool(p.grad.abs().sum() > 0)
                for n, p in model.named_parameters()
                if "lora_" in n
            }
        )


def _assert_learns_everywhere(rec: _GradRecorder, losses: list[float], steps: int) -> None:
    assert len(rec.steps) == steps
    assert len(rec.steps[0]) == 2 * 2 * 7  # 2 layers x 7 linear modules x (A, B)
    # B starts at zero, so A has no gradient on the first step; from then on both must have.
    first = rec.steps[0]
    assert all(ok for n, ok in first.items() if "lora_B" in n), first
    for i, step in enumerate(rec.steps[1:], start=2):
        assert all(step.values()), (i, [n for n, ok in step.items() if not ok])
    assert all(b < a for a, b in itertools.pairwise(losses[:4])), losses


def test_qlora_learns_on_cpu(tiny_model_dir_64: Path, tmp_path: Path) -> None:
    recipe = _recipe("qlora", max_steps=4, learning_rate=1e-2)
    rec = _GradRecorder()
    result = train_lora(
        tiny_model_dir_64, "fp", recipe, _examples(), tmp_path / "a", callbacks=[rec]
    )
    _assert_learns_everywhere(rec, [loss for _, loss in result.loss_curve], 4)


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings",
    [
        {},
        {"gradient_checkpointing": True},
        {"grad_accum": 2, "lr_scheduler": "constant", "max_grad_norm": 0.3},
    ],
    ids=["defaults", "checkpointing", "accumulation-clipping"],
)
def test_qlora_keeps_learning_for_the_whole_run(
    tiny_model_dir_64: Path, tmp_path: Path, settings: dict[str, Any]
) -> None:
    recipe = _recipe("qlora", max_steps=12, learning_rate=1e-2, **settings)
    rec = _GradRecorder()
    result = train_lora(
        tiny_model_dir_64, "fp", recipe, _examples(), tmp_path / "a", callbacks=[rec]
    )
    losses = [loss for _, loss in result.loss_curve]
    _assert_learns_everywhere(rec, losses, 12)
    assert sum(losses[-3:]) / 3 < losses[0] - 0.3, losses


def test_every_label_masked_is_refused_before_training(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "a"
    with pytest.raises(TrainingFailed) as e:
        train_lora(tiny_model_dir, "fp", _recipe(max_seq_len=9), _examples(), out)
    assert e.value.field == "train.max_seq_len" and "every label is masked" in e.value.problem
    assert not out.exists()


def test_nan_from_a_poisoned_base_stops_the_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    poisoned = tmp_path / "poisoned"
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    with torch.no_grad():
        model.model.norm.weight.fill_(math.nan)
    model.save_pretrained(str(poisoned))
    AutoTokenizer.from_pretrained(str(tiny_model_dir)).save_pretrained(str(poisoned))
    out = tmp_path / "a"
    with pytest.raises(TrainingFailed) as e:
        train_lora(poisoned, "fp", _recipe(), _examples(), out)
    assert e.value.step == 1 and "nan" in e.value.problem.lower()
    assert not out.exists()


class _ZeroGrads(TrainerCallback):
    """Cuts every adapter tensor off from the loss, as a broken adapter wiring would."""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        for p in kw["model"].parameters():
            if p.requires_grad:
                p.register_hook(torch.zeros_like)


def test_dead_adapter_stops_the_run(tiny_model_dir: Path, tmp_path: Path) -> None:
    recipe = _recipe(max_steps=10, monitor={"dead_grad_steps": 3})
    with pytest.raises(TrainingFailed) as e:
        train_lora(
            tiny_model_dir, "fp", recipe, _examples(), tmp_path / "a", callbacks=[_ZeroGrads()]
        )
    assert e.value.step == 3 and "gradient norm has been 0" in e.value.problem


def test_early_stopping_restores_the_best_checkpoint(tiny_model_dir: Path, tmp_path: Path) -> None:
    # Random labels: the model memorises the training rows, validation loss climbs.
    recipe = _recipe(
        learning_rate=3e-2,
        max_steps=80,
        val_fraction=0.3,
        eval_steps=2,
        early_stopping_patience=2,
        lr_scheduler="constant",
        monitor={"overfit_patience": 10},
    )
    result = train_lora(tiny_model_dir, "fp", recipe, _examples(40, True), tmp_path / "a")
    assert result.stopped_early and result.steps < 80
    assert result.stop_reason is not None and "early stopping" in result.stop_reason
    best_step, best_loss = min(result.val_loss_curve, key=lambda x: x[1])
    assert result.best_step == best_step
    assert result.val_loss == pytest.approx(best_loss, abs=1e-4)
    assert result.val_loss_curve[-1][1] > best_loss  # it did get worse before it stopped
    report = result.data_report
    assert report["rows"] == 40 and report["train"] + report["val"] == 40 and report["val"] >= 12
    assert result.n_examples == report["train"]
    h = result.history[-1]
    assert set(h) == {
        "step",
        "loss",
        "learning_rate",
        "grad_norm",
        "tokens_per_second",
        "peak_memory_mb",
    }
    assert h["tokens_per_second"] > 0 and h["peak_memory_mb"] > 0 and h["grad_norm"] > 0
    assert result.peak_memory_mb > 0 and result.tokens_per_second > 0
    cached = load_cached(tmp_path / "a")
    assert cached is not None and cached.val_loss_curve == result.val_loss_curve


def test_load_cached_reads_results_written_before_monitoring(tmp_path: Path) -> None:
    (tmp_path / "adapter_model.safetensors").write_bytes(b"")
    old = {
        "adapter_dir": "a",
        "recipe": "r",
        "steps": 3,
        "train_seconds": 1.0,
        "final_loss": 1.0,
        "loss_curve": [[1, 2.0]],
        "trainable_pct": 1.0,
    }
    (tmp_path / "harness_adapter.json").write_text(json.dumps({"training": old}))
    cached = load_cached(tmp_path)
    assert cached is not None and cached.history == [] and cached.best_step is None
    assert cached.loss_curve == [(1, 2.0)] and not cached.stopped_early
