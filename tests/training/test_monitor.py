"""The monitor's detectors on the real transformers callback objects, step by step."""

from __future__ import annotations

import math

import pytest
import torch
from transformers import TrainerControl, TrainerState

from harness.config import MonitorSettings
from harness.training import TrainingFailed
from harness.training._monitor import TrainingMonitor


def _monitor(**settings: int) -> tuple[TrainingMonitor, TrainerState, TrainerControl]:
    m = TrainingMonitor(MonitorSettings(**settings), "r.yaml", has_eval=True)
    state, control = TrainerState(), TrainerControl()
    return m, state, control


def _log(m: TrainingMonitor, state: TrainerState, control: TrainerControl, **logs: float) -> None:
    m.on_log(None, state, control, logs=logs)


def test_history_records_each_logged_step() -> None:
    m, state, control = _monitor()
    m.on_train_begin(None, state, control)
    for step, loss in ((1, 2.0), (5, 1.5)):
        state.global_step = step
        state.num_input_tokens_seen = 100 * step
        _log(m, state, control, loss=loss, learning_rate=1e-3, grad_norm=0.5)
    assert [h["step"] for h in m.history] == [1, 5]
    h = m.history[-1]
    assert h["loss"] == 1.5 and h["learning_rate"] == 1e-3 and h["grad_norm"] == 0.5
    assert h["tokens_per_second"] > 0 and h["peak_memory_mb"] > 0


def test_nan_at_first_step_blames_the_model_later_the_learning_rate() -> None:
    m, state, control = _monitor()
    state.global_step = 1
    with pytest.raises(TrainingFailed) as e:
        _log(m, state, control, loss=math.nan, grad_norm=math.nan)
    assert e.value.field == "train.dtype" and "before any learning" in e.value.problem
    m, state, control = _monitor()
    _log(m, state, control, loss=2.0, grad_norm=1.0)
    state.global_step = 10
    with pytest.raises(TrainingFailed) as e:
        _log(m, state, control, loss=math.inf, grad_norm=1.0)
    assert e.value.field == "train.learning_rate" and e.value.step == 10
    assert "diverged" in e.value.problem and "lower train.learning_rate" in e.value.fix


def test_flat_loss_stops_after_the_configured_steps() -> None:
    m, state, control = _monitor(flat_loss_steps=4)
    for step in range(3):
        state.global_step = step
        _log(m, state, control, loss=1.25, grad_norm=0.0)
    state.global_step = 3
    with pytest.raises(TrainingFailed) as e:
        _log(m, state, control, loss=1.25, grad_norm=0.0)
    assert "stayed at 1.25 for 4 logged steps" in e.value.problem


def test_noisy_but_healthy_losses_do_not_trip_the_flat_detector() -> None:
    m, state, control = _monitor(flat_loss_steps=2)
    for step, loss in enumerate([2.0, 2.1, 1.9, 2.0, 1.8]):
        state.global_step = step
        _log(m, state, control, loss=loss, grad_norm=1.0)
    assert len(m.history) == 5


class _Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lora_A = torch.nn.Parameter(torch.ones(2, 2))
        self.lora_B = torch.nn.Parameter(torch.ones(2, 2))


def _grads(model: _Tiny, a: float, b: float) -> None:
    model.lora_A.grad = torch.full((2, 2), a)
    model.lora_B.grad = torch.full((2, 2), b)


def test_zero_gradient_norm_stops_the_run() -> None:
    m, state, control = _monitor(dead_grad_steps=3)
    model = _Tiny()
    m.on_train_begin(None, state, control, model=model)
    for step in range(2):
        state.global_step = step
        _grads(model, 0.0, 0.0)
        m.on_pre_optimizer_step(None, state, control, model=model)
    state.global_step = 2
    with pytest.raises(TrainingFailed) as e:
        m.on_pre_optimizer_step(None, state, control, model=model)
    assert "gradient norm has been 0 for 3 optimizer steps" in e.value.problem
    assert e.value.step == 3


def test_one_adapter_tensor_cut_off_is_named() -> None:
    # LoRA A gets no gradient on step 1 (B starts at zero): allowed once, not for good.
    m, state, control = _monitor(dead_grad_steps=2)
    model = _Tiny()
    m.on_train_begin(None, state, control, model=model)
    for step in range(2):
        state.global_step = step
        _grads(model, 0.0, 1.0)
        m.on_pre_optimizer_step(None, state, control, model=model)
    _grads(model, 0.0, 1.0)
    with pytest.raises(TrainingFailed) as e:
        m.on_pre_optimizer_step(None, state, control, model=model)
    assert "1 of 2 adapter tensors" in e.value.problem and "lora_A" in e.value.problem
    assert e.value.field == "lora.target_modules"


def test_nan_gradient_stops_the_run() -> None:
    m, state, control = _monitor()
    model = _Tiny()
    m.on_train_begin(None, state, control, model=model)
    _grads(model, math.nan, 1.0)
    with pytest.raises(TrainingFailed) as e:
        m.on_pre_optimizer_step(None, state, control, model=model)
    assert "NaN or infinite" in e.value.problem and "lora_A" in e.value.problem


def test_overfitting_stops_and_says_why() -> None:
    m, state, control = _monitor(overfit_patience=2)
    train = [2.0, 1.5, 1.0, 0.5]
    val = [1.8, 1.7, 1.9, 2.2]
    for i, (tr, va) in enumerate(zip(train, val, strict=True)):
        state.global_step = 10 * (i + 1)
        _log(m, state, control, loss=tr, grad_norm=1.0)
        _log(m, state, control, eval_loss=va)
        assert control.should_training_stop == (i == 3)
    assert m.stop_reason is not None and "overfitting" in m.stop_reason
    assert "1.7000 at step 20 -> 2.2000 at step 40" in m.stop_reason
    assert m.val_curve == [(10, 1.8), (20, 1.7), (30, 1.9), (40, 2.2)]


def test_val_rising_with_train_rising_is_not_overfitting() -> None:
    m, state, control = _monitor(overfit_patience=1)
    for i, (tr, va) in enumerate([(1.0, 1.0), (1.2, 1.3), (1.4, 1.5)]):
        state.global_step = i + 1
        _log(m, state, control, loss=tr, grad_norm=1.0)
        _log(m, state, control, eval_loss=va)
    assert not control.should_training_stop and m.stop_reason is None
