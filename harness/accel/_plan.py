"""One training run's speed settings, decided once, and the contexts that apply them.

``plan_speed`` turns the recipe's ``train.speed`` (and ``HARNESS_SPEED``), the device and the
checkpointing fields into a ``SpeedPlan``: which Trainer settings, which patches and which
kernels this run uses. A plan with ``enabled=False`` (speed off) gives no settings, no
callbacks and contexts that enter nothing and import nothing: the run is plain trl/peft.

Measured on an H200 (bench/training/gpu_train.py, docs/benchmarks.md): the seed guide's
recipe spends its time on work that does not change the optimisation — recomputing every
layer (gradient checkpointing) when memory is plentiful, unfused norm/activation kernels,
dtype copies, per-micro-step waits and walks. The plan keeps the recipe's hyperparameters
(rank, alpha, dropout, learning rate, schedule, effective batch, optimiser) and changes only
how the same steps are computed.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from harness.accel._mode import speed_mode


@dataclass(frozen=True)
class SpeedPlan:
    """What the speed code does for one run. Every field is off when ``enabled`` is False.

    Trainer settings (``sft_kwargs``): ``tf32`` (TF32 float32 matmuls), ``non_blocking``
    (batches copied from pinned memory without waiting), ``reentrant`` (reentrant gradient
    checkpointing; None leaves trl's default, non-reentrant), ``checkpoint_fraction`` (below 1:
    only that share of the decoder layers recomputes, ``callbacks``).
    Trainer patches (``training``): ``liger`` (liger-kernel's fused RMSNorm/SwiGLU/RoPE where
    installed), ``trim`` (two model walks per micro-step), ``defer`` (per-micro-step readbacks
    read at log time). Model (``training``): ``fused`` (LoRA layers through
    ``harness.accel.ops``), ``lean`` (Triton dropout masks, SwiGLU product recomputed),
    ``offload`` (checkpointed layer inputs in pinned host memory), ``input_casts_off`` (no
    per-layer casts of the adapter inputs under bf16 autocast). Process (``guard``):
    ``restore_process`` (TF32 and transformers' modeling modules put back afterwards).
    """

    enabled: bool = False
    cuda: bool = False
    checkpointing: bool = False
    tf32: bool = False
    non_blocking: bool = False
    reentrant: bool | None = None
    checkpoint_fraction: float = 1.0
    liger: bool = False
    trim: bool = False
    defer: bool = False
    fused: bool = False
    lean: bool = False
    offload: bool = False
    input_casts_off: bool = False
    restore_process: bool = False

    def sft_kwargs(self) -> dict[str, Any]:
        """``SFTConfig`` / ``TrainingArguments`` keyword arguments (none when off)."""
        out: dict[str, Any] = {}
        if self.tf32:
            out["tf32"] = True
        if self.non_blocking:
            # Batches go to the GPU as they are loaded, from pinned memory without waiting: a
            # blocking copy waits for every kernel queued before it, so each micro-step would
            # start on an idle GPU (patches.trainer.defer_step_readbacks has the other waits).
            out["dataloader_pin_memory"] = True
            out["accelerator_config"] = {"non_blocking": True}
        if self.checkpointing and self.reentrant is not None:
            # Reentrant: each checkpointed layer's first forward builds no autograd graph and
            # hooks no saved tensor. A GPU step of the 1.1B llama was host-bound; there, LoRA
            # micro-batches of 8 x 2048 ran 47.5k tokens/s reentrant against 45.7k
            # non-reentrant (same machine). It is also what ``offload`` needs: the layer
            # inputs are the only tensors its forward saves.
            out["gradient_checkpointing_kwargs"] = {"use_reentrant": self.reentrant}
        return out

    def callbacks(self) -> list[Any]:
        """TrainerCallbacks the plan needs (partial checkpointing); none when off."""
        if not (self.checkpointing and self.checkpoint_fraction < 1.0):
            return []
        from harness.accel.patches.trainer import partial_checkpointing

        return [partial_checkpointing(self.checkpoint_fraction)]

    @contextmanager
    def guard(self, model: Any) -> Iterator[None]:
        """Around everything from the Trainer's settings to the end of training: torch's
        float32 matmul precision and transformers' modeling modules (which liger-kernel
        patches for the whole process) are put back as they were. Enters nothing when off."""
        if not self.restore_process:
            yield
            return
        from harness.accel.patches.modeling import keep_modeling_globals

        with keep_fp32_precision(), keep_modeling_globals(model):
            yield

    @contextmanager
    def training(self, trainer: Any, decoder: Any = None) -> Iterator[Applied]:
        """Around ``trainer.train()``: the plan's patches and kernels, undone on exit.

        ``decoder``: the module whose saved tensors ``offload`` moves (default: the decoder
        stack under the peft / causal-LM wrappers). Yields what applied. Enters nothing and
        imports nothing when off.
        """
        applied = Applied()
        if not self.enabled:
            yield applied
            return
        from harness.accel.offload import offload_saved_inputs
        from harness.accel.patches import (
            apply_liger,
            defer_step_readbacks,
            fused_lora,
            trim_step_overhead,
        )

        with ExitStack() as stack:
            if self.liger:
                applied.liger = apply_liger(trainer.model)
            if self.trim:
                applied.trimmed = stack.enter_context(trim_step_overhead(trainer))
            if self.defer:
                applied.deferred = stack.enter_context(defer_step_readbacks(trainer))
            if self.input_casts_off:
                stack.enter_context(no_adapter_input_casts(trainer.model))
            applied.fused = stack.enter_context(fused_lora(trainer.model, self.fused, self.lean))
            module = decoder if decoder is not None else decoder_of(trainer.model)
            applied.offloaded = stack.enter_context(offload_saved_inputs(module, self.offload))
            yield applied


@dataclass
class Applied:
    """What a plan's ``training`` context applied (for logs and benchmark records)."""

    liger: bool = False
    trimmed: bool = False
    deferred: dict[str, bool] = field(default_factory=dict)
    fused: Any = None  # harness.accel.FusedReport
    offloaded: Any = None  # harness.accel.OffloadStats


def plan_speed(
    setting: str = "auto",
    *,
    cuda: bool,
    gradient_checkpointing: bool = False,
    checkpoint_fraction: float = 1.0,
    offload_checkpoints: bool = False,
    bf16: bool = False,
) -> SpeedPlan:
    """The plan for a run: ``setting`` is the recipe's ``train.speed`` (``HARNESS_SPEED=off``
    overrides it), ``cuda`` whether it trains on a CUDA device, ``bf16`` whether it runs
    under bf16 autocast. Off: ``SpeedPlan()``, nothing at all.

    On CPU only the step trim applies (the default evidence is trained there, through peft's
    own forward: its adapters are what plain trl/peft compute). On CUDA, as measured on an H200
    (docs/benchmarks.md): TF32, non-blocking batch copies, liger-kernel, reentrant
    checkpointing, deferred readbacks, the fused LoRA layers for LoRA and QLoRA alike, lean
    mode with checkpointing (memory is then what the recipe is bounded by), and the recipe's
    ``checkpoint_fraction`` and ``offload_checkpoints``.
    """
    if speed_mode(setting) == "off":
        return SpeedPlan()
    ckpt = gradient_checkpointing
    return SpeedPlan(
        enabled=True,
        cuda=cuda,
        checkpointing=ckpt,
        tf32=cuda,
        non_blocking=cuda,
        reentrant=cuda,
        checkpoint_fraction=checkpoint_fraction if cuda and ckpt else 1.0,
        liger=cuda,
        trim=True,
        defer=cuda,
        fused=cuda,
        lean=cuda and ckpt,
        offload=cuda and ckpt and offload_checkpoints,
        input_casts_off=cuda and bf16,
        restore_process=True,
    )


def decoder_of(model: Any) -> Any:
    """The decoder stack under a peft/causal-LM wrapper: what ``offload_saved_inputs`` hooks
    (its layers are the checkpointed ones; the loss head stays on the device)."""
    from torch import nn

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    get = getattr(base, "get_decoder", None)
    decoder = get() if callable(get) else None
    return decoder if isinstance(decoder, nn.Module) else base


@contextmanager
def no_adapter_input_casts(model: Any) -> Iterator[None]:
    """Under bf16 autocast, keep peft from casting every adapter input to the fp32 adapter
    dtype (peft's public ``disable_input_dtype_casting``).

    peft casts the activation entering each LoRA layer to the adapter weights' dtype (fp32
    master weights). On an H200 those copies were a fifth of all GPU time for a 1.1B llama
    (bench/training/gpu_train.py profile). Autocast already runs the adapter matmuls in bf16
    and keeps the fp32 master weights, so the copies change nothing but speed. Without
    autocast (CPU) the casts are needed: the plan leaves them on.
    """
    from peft.helpers import disable_input_dtype_casting

    with disable_input_dtype_casting(model):
        yield


@contextmanager
def keep_fp32_precision() -> Iterator[None]:
    """Put torch's float32 matmul precision back as it was when training ends.

    ``TrainingArguments(tf32=True)`` switches the whole process to TF32 for float32 matrix
    products and never switches back. A gate that trains a candidate and then scores in
    float32 in the same process would score in TF32 — different numbers from scoring alone
    (seen on an H200: the float32 CUDA-vs-CPU scoring test failed after the training tests ran
    in the same process). Training keeps its TF32; what runs after it does not inherit it.
    """
    import torch

    backends: Any = torch.backends
    new_api = hasattr(backends, "fp32_precision")
    saved = (
        backends.fp32_precision
        if new_api
        else (backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32)
    )
    try:
        yield
    finally:
        if new_api:
            backends.fp32_precision = saved
        else:
            backends.cuda.matmul.allow_tf32, backends.cudnn.allow_tf32 = saved
