"""Per-micro-step readbacks deferred to log time: the same logged numbers, fewer waits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch


def _run(
    tiny_sft: Any, tmp: Path, defer: bool, tokens: str = "non_padding"
) -> tuple[Any, dict[str, int]]:
    """Seeded SFTTrainer steps with evaluation and token counting; the trainer and how many
    times a tensor was read back to the host (``item()``, ``bool()``, ``tolist()``) by
    compute_loss and the Trainer's token count themselves (not by the model's forward)."""
    from contextlib import ExitStack

    from harness.accel import defer_step_readbacks

    rows = [{"prompt": f"ticket {i}:", "completion": f" Q{i % 3} x"} for i in range(24)]
    trainer = tiny_sft(
        tmp,
        rows[:16],
        rows[16:],
        per_device_eval_batch_size=2,
        max_steps=5,
        logging_steps=2,
        eval_strategy="steps",
        eval_steps=3,
        include_num_input_tokens_seen=tokens,
    )
    reads = {"n": 0}
    inside = {"on": False}
    item, as_bool, as_list = torch.Tensor.item, torch.Tensor.__bool__, torch.Tensor.tolist

    def counted(fn: Any) -> Any:
        def wrapper(self: torch.Tensor, *a: Any) -> Any:
            if inside["on"]:
                reads["n"] += 1
            return fn(self, *a)

        return wrapper

    def watched(fn: Any) -> Any:
        def wrapper(*a: Any, **k: Any) -> Any:
            inside["on"] = True
            try:
                return fn(*a, **k)
            finally:
                inside["on"] = False

        return wrapper

    def paused(fn: Any) -> Any:  # transformers' own mask checks read back inside forward
        def wrapper(*a: Any, **k: Any) -> Any:
            was, inside["on"] = inside["on"], False
            try:
                return fn(*a, **k)
            finally:
                inside["on"] = was

        return wrapper

    with ExitStack() as stack:
        if defer:  # first: the counting wrappers below wrap what it put in place
            done = stack.enter_context(defer_step_readbacks(trainer))
            assert done == {"metrics": True, "tokens": True}
        trainer.compute_loss = watched(trainer.compute_loss)
        trainer.model.forward = paused(trainer.model.forward)
        trainer._track_num_input_tokens = watched(trainer._track_num_input_tokens)
        torch.Tensor.item, torch.Tensor.__bool__ = counted(item), counted(as_bool)  # type: ignore[method-assign]
        torch.Tensor.tolist = counted(as_list)  # type: ignore[method-assign]
        try:
            trainer.train()
        finally:
            torch.Tensor.item, torch.Tensor.__bool__ = item, as_bool  # type: ignore[method-assign]
            torch.Tensor.tolist = as_list  # type: ignore[method-assign]
    return trainer, reads


def _untimed(history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The log without wall-clock figures (runtime, per-second rates)."""
    timed = ("runtime", "per_second")
    return [{k: v for k, v in h.items() if not any(t in k for t in timed)} for h in history]


@pytest.mark.parametrize("tokens", ["non_padding", "no"])
def test_deferred_readbacks_log_the_same_numbers_without_waiting_per_micro_step(
    tiny_sft: Any, tmp_path: Path, tokens: str
) -> None:
    plain, plain_reads = _run(tiny_sft, tmp_path / "a", defer=False, tokens=tokens)
    deferred, deferred_reads = _run(tiny_sft, tmp_path / "b", defer=True, tokens=tokens)
    history = _untimed(plain.state.log_history)
    assert _untimed(deferred.state.log_history) == history  # losses, metrics, tokens: equal
    keys = {k for h in history for k in h}
    assert {"entropy", "mean_token_accuracy", "num_tokens"} <= keys
    assert {"eval_loss", "eval_entropy", "eval_mean_token_accuracy"} <= keys
    assert deferred.state.num_input_tokens_seen == plain.state.num_input_tokens_seen
    assert (plain.state.num_input_tokens_seen > 0) == (tokens == "non_padding")
    # trl's compute_loss reads back several scalars per call (10 micro-steps, 8 eval
    # batches), the token count one per micro-step; deferred, none of that happens there,
    # whether or not the Trainer counts tokens (a pending read forced by the token count's
    # method would wait for the GPU once per micro-step)
    assert plain_reads["n"] >= 3 * 18
    assert deferred_reads["n"] == 0


def test_other_trl_releases_keep_their_own_compute_loss(
    tiny_sft: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import harness.accel.patches.trainer as deferred

    monkeypatch.setattr(deferred, "KNOWN_TRL_COMPUTE_LOSS", {})
    with pytest.raises(AssertionError):  # _run asserts both parts applied
        _run(tiny_sft, tmp_path, defer=True)


def test_the_trainer_gets_its_own_methods_back(tiny_sft: Any, tmp_path: Path) -> None:
    from harness.accel import defer_step_readbacks

    rows = [{"prompt": f"ticket {i}:", "completion": f" Q{i % 3} x"} for i in range(8)]
    trainer = tiny_sft(tmp_path, rows, max_steps=2, logging_steps=1)
    callbacks = len(trainer.callback_handler.callbacks)
    with defer_step_readbacks(trainer) as done:
        assert done == {"metrics": True, "tokens": True}
        assert {"log", "compute_loss", "_track_num_input_tokens"} <= set(vars(trainer))
        trainer.train()
    assert not {"log", "compute_loss", "_track_num_input_tokens"} & set(vars(trainer))
    assert len(trainer.callback_handler.callbacks) == callbacks
