"""The Trainer's step loop without its waits and walks: same numbers, less host work.

Each function here applies one or more rows of ``harness.accel.compat.PATCHES`` to one
trainer (or its model) and undoes them on exit:

* ``trim_step_overhead`` (rows ``trainer-model-train``, ``trainer-floating-point-ops``): the
  two whole-model walks the Trainer makes every micro-step;
* ``defer_step_readbacks`` (rows ``trl-sft-compute-loss``, ``trainer-log``,
  ``trainer-track-num-input-tokens``): the per-micro-step ``.item()`` readbacks;
* ``partial_checkpointing`` (row ``checkpointing-layer-flag``): checkpointing on a share of
  the decoder layers;
* ``apply_liger`` (row ``liger-apply-to-instance``): liger-kernel's fused RMSNorm, SwiGLU
  and RoPE, applied as ``use_liger_kernel=True`` would, but before the LoRA layers are swapped.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from harness.accel.compat import allowed

log = logging.getLogger(__name__)


# --- trim ------------------------------------------------------------------------------------


@contextmanager
def trim_step_overhead(trainer: Any) -> Iterator[bool]:
    """Take two whole-model walks out of every micro-step of ``trainer``; results unchanged.

    The Trainer calls ``model.train()`` before each micro-step (a recursive walk that sets
    ``training`` on every module: ~2,000 with LoRA on a 22-layer llama) and counts FLOPs for
    its log with ``model.num_parameters(exclude_embeddings=True)`` (two more walks). On an H200
    a micro-step of the 1.1B llama cost ~250-300 ms of host time whatever its size, so host
    work is what limits tokens/s there (docs/benchmarks.md). Here ``train(mode)`` on the
    trained model returns at once when the model was last set to that same mode through it
    (``eval()`` goes through it too), and the parameter count is taken once. Yields whether it
    applied (transformers inside its compat range).
    """
    if not (allowed("trainer-model-train") and allowed("trainer-floating-point-ops")):
        yield False
        return
    model = trainer.model
    cls_train = type(model).train
    state: dict[str, bool | None] = {"mode": None}

    def train(mode: bool = True) -> Any:
        if state["mode"] is mode and model.training is mode:
            return model
        state["mode"] = mode
        return cls_train(model, mode)

    count: dict[str, int] = {}
    main_input = getattr(model, "main_input_name", "input_ids")

    def floating_point_ops(inputs: dict[str, Any]) -> int:
        if main_input not in inputs or not hasattr(model, "num_parameters"):
            return 0
        if "n" not in count:
            count["n"] = int(model.num_parameters(exclude_embeddings=True))
        return 6 * int(inputs[main_input].numel()) * count["n"]

    model.train = train
    trainer.floating_point_ops = floating_point_ops
    try:
        yield True
    finally:
        if model.__dict__.get("train") is train:
            del model.train
        if trainer.__dict__.get("floating_point_ops") is floating_point_ops:
            del trainer.floating_point_ops


# --- deferred readbacks ----------------------------------------------------------------------

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
        self.metrics: list[tuple[str, Any, Any, Any]] = []
        self.tokens: list[Any] = []

    def flush(self) -> None:
        """Read everything pending in one transfer and apply it as trl and the Trainer do."""
        if not (self.metrics or self.tokens):
            return
        import torch

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
    import torch

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


@contextmanager
def defer_step_readbacks(trainer: Any) -> Iterator[dict[str, bool]]:
    """Keep ``trainer``'s per-micro-step scalars on the device until they are read.

    trl's ``SFTTrainer.compute_loss`` turns three device scalars into Python numbers after
    each forward pass (entropy, token accuracy, tokens in the batch: ``.item()``), and the
    Trainer does the same for its count of input tokens seen. Each ``.item()`` waits for the
    GPU to finish everything queued, so every micro-step's backward starts on an idle GPU
    while the host launches its first kernels. Here the same scalars are computed by the same
    operations, kept on the device, and read back together (one wait) just before anything
    reads them: the Trainer's ``log`` (trl averages its metrics there; the harness's monitor
    reads the token count in ``on_log``) and any step that saves or evaluates. The logged
    values are the same numbers; only when the host waits for them changes.

    trl's loss computation has many branches (auxiliary losses, label smoothing, sequence
    parallelism, custom loss functions); only its plain branch is reproduced, and only for the
    trl release whose source was read (its ``compute_loss`` source is checked by hash, on top
    of the compat table's version range). Any other case, or another trl, runs trl's own
    ``compute_loss`` unchanged.

    Yields which parts applied: ``metrics`` (trl's entropy, accuracy and token count) and
    ``tokens`` (the Trainer's input-token count). Everything pending is read and the
    trainer's own methods are back on exit.
    """
    from transformers import TrainerCallback
    from trl import SFTTrainer

    done = {"metrics": False, "tokens": False}
    if not allowed("trainer-log"):  # the flush point: without it nothing can wait
        yield done
        return
    pending = _Pending(trainer)
    patched: dict[str, Any] = {}
    if (
        isinstance(trainer, SFTTrainer)
        and allowed("trl-sft-compute-loss")
        and _source_key(SFTTrainer.compute_loss) in KNOWN_TRL_COMPUTE_LOSS
    ):
        patched["compute_loss"] = _compute_loss(pending, trainer.compute_loss)
        done["metrics"] = True
    else:
        log.info("trl's compute_loss is not the reproduced release: its metrics sync per step")
    if hasattr(trainer, "_track_num_input_tokens") and allowed("trainer-track-num-input-tokens"):
        patched["_track_num_input_tokens"] = _track_tokens(pending, trainer._track_num_input_tokens)
        done["tokens"] = True
    original_log = trainer.log

    def log_(logs: dict[str, float], start_time: float | None = None) -> None:
        pending.flush()
        original_log(logs, start_time)

    patched["log"] = log_

    class _Flush(TrainerCallback):
        """Before a step's save or evaluation (their state must be current) and at the end."""

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            if control.should_save or control.should_evaluate or control.should_training_stop:
                pending.flush()

        def on_train_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            pending.flush()

    flush = _Flush()
    for name, fn in patched.items():
        setattr(trainer, name, fn)
    trainer.add_callback(flush)
    try:
        yield done
    finally:
        pending.flush()
        trainer.remove_callback(flush)
        for name, fn in patched.items():
            if trainer.__dict__.get(name) is fn:
                delattr(trainer, name)


# --- partial checkpointing -------------------------------------------------------------------


def checkpoint_some_layers(model: Any, fraction: float) -> int:
    """Keep gradient checkpointing on only ``fraction`` of the decoder layers; returns how many.

    Full checkpointing recomputes every layer in backward (a third more compute) to keep only
    each layer's input; when memory allows some layers' activations, recomputing fewer is the
    cheapest speed-up that computes the same gradients. The layers kept checkpointed
    (``round(fraction * n)``, at least one) are spread evenly. Call after the Trainer has
    switched checkpointing on: transformers marks each ``GradientCheckpointingLayer``.
    Outside the compat range every layer stays checkpointed.
    """
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    on = [layer for layer in layers if layer.gradient_checkpointing]
    if not on or fraction >= 1.0 or not allowed("checkpointing-layer-flag"):
        return len(on)
    keep = max(1, round(fraction * len(on)))
    chosen = {(j * len(on)) // keep for j in range(keep)}
    for i, layer in enumerate(on):
        layer.gradient_checkpointing = i in chosen
    return keep


def partial_checkpointing(fraction: float) -> Any:
    """A TrainerCallback applying ``checkpoint_some_layers`` once the Trainer has enabled
    checkpointing (it does so in ``train()``, just before ``on_train_begin``)."""
    from transformers import TrainerCallback

    class _PartialCheckpointing(TrainerCallback):
        def __init__(self) -> None:
            self.checkpointed: int | None = None

        def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            model = kw.get("model")
            if model is not None:
                self.checkpointed = checkpoint_some_layers(model, fraction)

    return _PartialCheckpointing()


# --- liger -----------------------------------------------------------------------------------


def liger_available() -> bool:
    """liger-kernel's fused Triton kernels need CUDA and the package (the ``gpu`` extra)."""
    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("liger_kernel") is not None


def apply_liger(model: Any) -> bool:
    """Apply liger-kernel's kernels to ``model``'s instance as the Trainer would for
    ``use_liger_kernel=True``, with trl's setting (no fused linear cross entropy: trl's own
    fused LM head computes the loss). Done before ``fused_lora`` is entered, so liger's MLP
    forward is what the lean MLP displaces, not what displaces it. Returns whether applied.
    Wrap in ``patches.modeling.keep_modeling_globals``: liger patches the modeling module for
    the whole process."""
    if not (liger_available() and allowed("liger-apply-to-instance")):
        return False
    try:
        from transformers.integrations.liger import apply_liger_kernel
    except ImportError:  # a transformers 5 release without the module
        log.warning("transformers.integrations.liger.apply_liger_kernel missing: no liger")
        return False
    apply_liger_kernel(model, {"fused_linear_cross_entropy": False})
    return True
