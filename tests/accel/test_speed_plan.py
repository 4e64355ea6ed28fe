"""A plan with everything the CUDA path uses (but liger and TF32), applied on the CPU: every
piece applies, training computes what plain trl/peft compute, and nothing is left behind."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.accel import SpeedPlan, plan_speed

ROWS = [{"prompt": f"ticket {i}:", "completion": f" Q{i % 3} x"} for i in range(16)]


def _trainer(tiny_sft: Any, tmp: Path) -> Any:
    return tiny_sft(
        tmp,
        ROWS,
        max_steps=3,
        logging_steps=1,
        gradient_checkpointing=True,
        gradient_checkpointing_kwargs={"use_reentrant": True},
    )


TRAINER_ATTRS = ("log", "compute_loss", "floating_point_ops", "_track_num_input_tokens")
MODULE_ATTRS = ("forward", "train", "_peft_forward", "_harness_lean", "_harness_before")


def _state(trainer: Any) -> dict[str, Any]:
    """What the speed code sets on the trainer, the model and its modules (instance attributes
    by identity, peft's registered variants), and the trainer's callbacks."""
    out: dict[str, Any] = {
        "trainer": {a: id(vars(trainer)[a]) for a in TRAINER_ATTRS if a in vars(trainer)},
        "callbacks": [type(c) for c in trainer.callback_handler.callbacks],
    }
    for name, module in trainer.model.named_modules():
        # the root's forward: accelerate wraps it inside train(), speed or not
        watched = [a for a in MODULE_ATTRS if name or a != "forward"]
        attrs = {a: id(vars(module)[a]) for a in watched if a in vars(module)}
        out[name] = (attrs, dict(getattr(module, "lora_variant", {})))
    return out


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [f"{k}: {before[k]} -> {after.get(k)}" for k in before if before[k] != after.get(k)]


def test_the_cuda_pieces_on_cpu_apply_compute_the_same_and_leave_nothing(
    tiny_sft: Any, tmp_path: Path
) -> None:
    plain = _trainer(tiny_sft, tmp_path / "plain")
    plain.train()
    trainer = _trainer(tiny_sft, tmp_path / "plan")
    before = _state(trainer)
    plan = SpeedPlan(
        enabled=True,
        checkpointing=True,
        reentrant=True,
        trim=True,
        defer=True,
        fused=True,
        lean=True,  # without Triton's interpreter the masks stay torch's: the same draws
        offload=True,
        input_casts_off=False,  # no autocast on CPU: peft's casts are needed
        restore_process=True,
    )
    with plan.guard(trainer.model), plan.training(trainer) as applied:
        assert applied.trimmed and applied.deferred == {"metrics": True, "tokens": True}
        assert applied.fused.fused == 2 * 7 and applied.fused.mlps == 2
        trainer.train()
    assert applied.offloaded is not None  # entered (a tiny llama's inputs are under 1 MiB)
    assert not applied.liger  # not asked for (and no CUDA)
    assert _changed(before, _state(trainer)) == []
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    ref = [h["loss"] for h in plain.state.log_history if "loss" in h]
    # the first loss exactly; after that LoraLinear's one rounding instead of peft's three,
    # through AdamW at lr 1e-2 (which scales tiny gradient differences up), moves the 4th digit
    assert len(losses) == 3 and losses[0] == ref[0]
    assert losses == pytest.approx(ref, rel=1e-3)


def test_off_yields_nothing_applied(tiny_sft: Any, tmp_path: Path) -> None:
    trainer = _trainer(tiny_sft, tmp_path)
    before = _state(trainer)
    plan = plan_speed("off", cuda=True, gradient_checkpointing=True)
    with plan.guard(trainer.model), plan.training(trainer) as applied:
        assert not applied.trimmed and not applied.deferred
        assert applied.fused is None and applied.offloaded is None
        assert _changed(before, _state(trainer)) == []
