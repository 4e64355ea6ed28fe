"""Per-micro-step bookkeeping read back when the Trainer logs, not after every forward pass.

trl's ``SFTTrainer.compute_loss`` turns three device scalars into Python numbers after each
forward pass (entropy, token accuracy, tokens in the batch: ``.item()``), and the Trainer does
the same for its count of input tokens seen. Each ``.item()`` waits for the GPU to finish
everything queued, so every micro-step's backward starts on an idle GPU while the host
launches its first kernels, and the host can never run ahead of the device. Here the same
scalars are computed by the same operations, kept on the device, and read back together (one
wait) just before anything reads them: the Trainer's ``log`` (trl averages its metrics there;
the harness's monitor reads the token count in ``on_log``) and any step that saves or
evaluates. The logged values are the same numbers; only when the host waits for them changes.

trl's loss computation has many branches (auxiliary losses, label smoothing, sequence
parallelism, custom loss functions); only its plain branch is reproduced, and only for the
trl release whose source was read (its ``compute_loss`` source is checked by hash). Any other
case, or another trl, runs trl's own ``compute_loss`` unchanged.
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

log = logging.getLogger(__name__)

# sha256 of inspect.getsource(trl.SFTTrainer.compute_loss) for the releases reproduced below
KNOWN_TRL_COMPUTE_LOSS = {"ca448211ff653fe6": "trl 1.16"}


def _source_key(fn: Any) -> str:
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return ""
    return hashlib.sha256(source.encode()).hexdigest()[:16]


class _Pending:
    """Device scalars waiting to be read: trl's metrics per micro-step, tokens seen."""

    def __init__(self, trainer: Any) -> None:
        self.trainer = trainer
        self.metrics: list[tuple[str, Tensor, Tensor, Tensor | None]] = []
        self.tokens: list[Tensor] = []

    def flush(self) -> None:
        """Read everything pending in one transfer and apply it as trl and the Trainer do."""
        if not (self.metrics or self.tokens):
            return
        flat = [t for m in self.metrics for t in m[1:] if t is not None] + self.tokens
        values = iter(torch.stack([t.reshape(()).double() for t in flat]).tolist())
        trainer = self.trainer
        for mode, _entropy, _accuracy, batch_tokens in self.metrics:
            metrics = trainer._metrics[mode]
            metrics["entropy"].append(next(values))
            metrics["mean_token_accuracy"].append(next(values))
            if batch_tokens is not None:
                trainer._total_train_tokens += int(next(values)) // trainer._tp_size
            metrics["num_tokens"] = [trainer._total_train_tokens]
        for _ in self.tokens:
            trainer.state.num_input_tokens_seen += int(next(values))
        self.metrics.clear()
        self.tokens.clear()


def _plain_branch(trainer: Any) -> bool:
    """Whether trl 1.16's compute_loss would take its plain branch for this call."""
    parallelism = getattr(trainer.accelerator, "parallelism_config", None)
    return (
        not (parallelism is not None and getattr(parallelism, "sp_enabled", False))
        and trainer.compute_loss_func is None
        and trainer.label_smoother is None
        and trainer.args.loss_type == "nll"
        and not trainer.aux_loss_enabled
    )


def _compute_loss(pending: _Pending, original: Any) -> Any:
    trainer = pending.trainer

    def compute_loss(
        model: Any, inputs: Any, return_outputs: bool = False, num_items_in_batch: Any = None
    ) -> Any:
        if return_outputs or not _plain_branch(trainer):
            pending.flush()  # keep trl's metric order
            return original(model, inputs, return_outputs, num_items_in_batch)
        # trl 1.16, SFTTrainer.compute_loss, plain branch: the same operations in order
        mode = "train" if trainer.model.training else "eval"
        inputs["use_cache"] = False
        outputs = model(**inputs, fused_lm_head=True)
        per_token_loss = -outputs.log_probs
        num_tokens = outputs.label_mask.sum() if num_items_in_batch is None else num_items_in_batch
        loss = per_token_loss.sum() / torch.as_tensor(num_tokens).clamp(min=1)
        if trainer.args.average_tokens_across_devices and num_items_in_batch is not None:
            loss = loss * (trainer.accelerator.num_processes // trainer.get_tp_size())
        gather = trainer.accelerator.gather_for_metrics
        num_valid = gather(outputs.label_mask.sum()).sum()
        entropy_sum = gather(outputs.entropy.detach().sum()).sum()
        num_correct = gather(outputs.is_top1.sum()).sum()
        some = num_valid > 0
        zero = torch.zeros((), device=num_valid.device)
        entropy = torch.where(some, entropy_sum / num_valid, zero)
        accuracy = torch.where(some, num_correct / num_valid, zero)
        batch_tokens = None
        if mode == "train":
            if "attention_mask" in inputs:
                batch_tokens = gather(inputs["attention_mask"].sum()).sum()
            elif "position_ids" in inputs:
                ids = inputs["position_ids"]
                batch_tokens = gather(torch.tensor(ids.size(1), device=ids.device)).sum()
            else:
                raise ValueError("Expected 'attention_mask' or 'position_ids' in inputs.")
        pending.metrics.append((mode, entropy, accuracy, batch_tokens))
        return loss

    return compute_loss


def _track_tokens(pending: _Pending, original: Any) -> Any:
    trainer = pending.trainer

    def track(inputs: Any) -> None:
        """The Trainer's non-padding count (the attention mask's sum), kept on the device.
        Other settings go to the Trainer's own method ("no" returns at once there); nothing
        pending is read for them — the count is a sum, so the order it is added in does not
        matter, and a read here would wait for the GPU once per micro-step."""
        if trainer.args.include_num_input_tokens_seen != "non_padding" or not (
            isinstance(inputs, Mapping) and "attention_mask" in inputs
        ):
            original(inputs)
            return
        pending.tokens.append(trainer.accelerator.gather(inputs["attention_mask"].sum()).sum())

    return track


def defer_step_readbacks(trainer: Any) -> dict[str, bool]:
    """Keep ``trainer``'s per-micro-step scalars on the device until they are read.

    Returns which parts applied: ``metrics`` (trl's entropy, accuracy and token count; only
    for the trl release reproduced) and ``tokens`` (the Trainer's input-token count).
    """
    from transformers import TrainerCallback
    from trl import SFTTrainer

    pending = _Pending(trainer)
    done = {"metrics": False, "tokens": False}
    if isinstance(trainer, SFTTrainer) and _source_key(SFTTrainer.compute_loss) in (
        KNOWN_TRL_COMPUTE_LOSS
    ):
        trainer.compute_loss = _compute_loss(pending, trainer.compute_loss)  # type: ignore[method-assign]
        done["metrics"] = True
    else:
        log.info("trl's compute_loss is not the reproduced release: its metrics sync per step")
    if hasattr(trainer, "_track_num_input_tokens"):
        trainer._track_num_input_tokens = _track_tokens(pending, trainer._track_num_input_tokens)
        done["tokens"] = True
    original_log = trainer.log

    def log_(logs: dict[str, float], start_time: float | None = None) -> None:
        pending.flush()
        original_log(logs, start_time)

    trainer.log = log_

    class _Flush(TrainerCallback):
        """Before a step's save or evaluation (their state must be current) and at the end."""

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if control.should_save or control.should_evaluate or control.should_training_stop:
                pending.flush()

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            pending.flush()

    trainer.add_callback(_Flush())
    return done
