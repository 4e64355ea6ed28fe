"""How the harness trains fast on a GPU without changing what is learned.

Measured on an H200 (bench/gpu_train.py, docs/benchmarks.md): the seed guide's recipe spends
its time on work that does not change the optimisation — recomputing every layer
(gradient checkpointing) when memory is plentiful, paging an 8-bit optimiser state for a few
million LoRA parameters, and unfused norm/activation kernels. These settings keep the
recipe's hyperparameters (rank, alpha, dropout, learning rate, schedule, effective batch) and
change only how the same steps are computed.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def liger_available() -> bool:
    """liger-kernel's fused Triton kernels need CUDA and the package (an optional extra)."""
    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("liger_kernel") is not None


def speed_settings(cuda: bool, quantized: bool, optim: str = "auto") -> dict[str, Any]:
    """SFTConfig keyword arguments for the fastest exact path on this device.

    ``optim='auto'``: fused AdamW on CUDA (the LoRA states are a few MB, so paging or 8-bit
    states save nothing worth their cost), plain AdamW on CPU.
    """
    out: dict[str, Any] = {}
    if optim == "auto":
        optim = "adamw_torch_fused" if cuda else "adamw_torch"
    out["optim"] = optim
    if cuda:
        out["bf16"] = True
        out["tf32"] = True
        out["dataloader_pin_memory"] = True
        # Batches go to the GPU as they are loaded, from pinned memory without waiting: a
        # blocking copy waits for every kernel queued before it, so each micro-step would
        # start on an idle GPU (harness/training/_deferred.py has the other such waits).
        out["accelerator_config"] = {"non_blocking": True}
        if liger_available():
            # RMSNorm, SwiGLU and RoPE as fused kernels: fewer activations kept, fewer launches.
            out["use_liger_kernel"] = True
    return out


def checkpointing_kwargs(reentrant: bool = False) -> dict[str, Any]:
    """Non-reentrant checkpointing by default: gradients reach the adapters without forcing the
    frozen (possibly 4-bit) embedding output to require grad.

    ``reentrant=True`` runs each checkpointed layer's first forward without building an
    autograd graph and without a hook per saved tensor. On this CPU, with a 22-layer,
    hidden-64 llama where compute is negligible (host work only), an optimizer step of two
    checkpointed micro-steps took 306-322 ms reentrant against 405-422 ms non-reentrant, the
    same gradients (tests/training/test_speed.py). A GPU step of the 1.1B llama was host-bound
    (docs/benchmarks.md); there, LoRA micro-batches of 8 x 2048 ran 47.5k tokens/s reentrant
    against 45.7k non-reentrant (same machine, ``BENCH_REENTRANT=1``), so ``train_lora`` uses
    it on CUDA. It is also what ``offload_saved_inputs`` needs: the layer inputs are the only
    tensors its forward saves. On CPU the default evidence keeps the non-reentrant path.
    """
    return {"gradient_checkpointing_kwargs": {"use_reentrant": reentrant}}


@contextmanager
def no_adapter_input_casts(model: Any, cuda: bool) -> Iterator[None]:
    """Under bf16 autocast, keep peft from casting every adapter input to the fp32 adapter dtype.

    peft casts the activation entering each LoRA layer to the adapter weights' dtype (fp32
    master weights). On an H200 those copies were a fifth of all GPU time for a 1.1B llama
    (bench/gpu_train.py profile). Autocast already runs the adapter matmuls in bf16 and keeps
    the fp32 master weights, so the copies change nothing but speed. On CPU (no autocast) the
    casts are needed and stay.
    """
    if not cuda:
        yield
        return
    from peft.helpers import disable_input_dtype_casting

    with disable_input_dtype_casting(model):
        yield


def use_fused_lora(cuda: bool, quantized: bool) -> bool:
    """Whether training runs each LoRA layer through ``fused_lora`` (harness/training/_fused_lora).

    On CUDA, for both methods. Measured on an H200, same machine, same run
    (bench/gpu_train.py, docs/benchmarks.md): over bitsandbytes 4-bit layers the fused delta
    was faster and leaner (QLoRA 8 x 2048 with checkpointing: 41.9k vs 35.6k tokens/s, 3.84 vs
    4.06 GB); over plain bf16 layers the one-node ``LoraLinear`` (delta added inside the
    base GEMM, a bool mask kept instead of dropped copies) was too (LoRA 16 x 1024 without
    checkpointing: 71.8k vs 65.5k tokens/s, 28.9 vs 34.3 GB). On CPU the default evidence
    is trained through peft's own forward, unchanged. ``quantized`` is kept for callers that
    decide per method.
    """
    del quantized
    return cuda


def use_lean_lora(cuda: bool, checkpointing: bool) -> bool:
    """Whether ``fused_lora`` runs lean (dropout masks drawn in Triton kernels, the MLP's
    SwiGLU product recomputed): on CUDA with gradient checkpointing, where memory is what
    the recipe is bounded by. Measured on H200s (bench/gpu_train.py, 1.1B llama, session 5
    in docs/benchmarks.md): checkpointed 8 x 2048 micro-batches, 51.7k tokens/s at 3.77 GB
    with the Triton masks against 50.8k at 4.11 GB with torch's on one machine; with the MLP
    product recomputed as well, 16 x 2048 micro-batches fit in 4.76 GB instead of 5.10.
    Without checkpointing (16 x 1024, memory to spare) the Triton masks were slower: 62.7k
    against 68.6k tokens/s on one machine, so the speed recipes keep torch's dropout.
    """
    return cuda and checkpointing


def checkpoint_some_layers(model: Any, fraction: float) -> int:
    """Keep gradient checkpointing on only ``fraction`` of the decoder layers; returns how many.

    Full checkpointing recomputes every layer in backward (a third more compute) to keep only
    each layer's input; when memory allows some layers' activations, recomputing fewer is the
    cheapest speed-up that computes the same gradients. The layers kept checkpointed
    (``round(fraction * n)``, at least one) are spread evenly. Call after the Trainer has
    switched checkpointing on: transformers marks each ``GradientCheckpointingLayer``.
    """
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    on = [layer for layer in layers if layer.gradient_checkpointing]
    if not on or fraction >= 1.0:
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


def trim_step_overhead(trainer: Any) -> None:
    """Take two whole-model walks out of every micro-step of ``trainer``; results unchanged.

    The Trainer calls ``model.train()`` before each micro-step (a recursive walk that sets
    ``training`` on every module: ~2,000 with LoRA on a 22-layer llama) and counts FLOPs for
    its log with ``model.num_parameters(exclude_embeddings=True)`` (two more walks). On an H200
    a micro-step of the 1.1B llama cost ~250-300 ms of host time whatever its size, so host
    work is what limits tokens/s there (docs/benchmarks.md). Here ``train(mode)`` on the
    trained model returns at once when the model was last set to that same mode through it
    (``eval()`` goes through it too), and the parameter count is taken once.
    """
    model = trainer.model
    cls_train = type(model).train
    state: dict[str, bool | None] = {"mode": None}

    def train(mode: bool = True) -> Any:
        if state["mode"] is mode and model.training is mode:
            return model
        state["mode"] = mode
        return cls_train(model, mode)

    model.train = train
    count: dict[str, int] = {}
    main_input = getattr(model, "main_input_name", "input_ids")

    def floating_point_ops(inputs: dict[str, Any]) -> int:
        if main_input not in inputs or not hasattr(model, "num_parameters"):
            return 0
        if "n" not in count:
            count["n"] = int(model.num_parameters(exclude_embeddings=True))
        return 6 * int(inputs[main_input].numel()) * count["n"]

    trainer.floating_point_ops = floating_point_ops


@contextmanager
def keep_fp32_precision() -> Iterator[None]:
    """Put torch's float32 matmul precision back as it was when training ends.

    ``TrainingArguments(tf32=True)`` (``speed_settings`` on CUDA) switches the whole process
    to TF32 for float32 matrix products and never switches back. A gate that trains a
    candidate and then scores in float32 in the same process would score in TF32 — different
    numbers from scoring alone (seen on an H200: the float32 CUDA-vs-CPU scoring test failed
    after the training tests ran in the same process). Training keeps its TF32; what runs
    after it does not inherit it.
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


@contextmanager
def keep_modeling_globals(model: Any) -> Iterator[None]:
    """Undo, when training ends, what liger-kernel patched in transformers' modeling modules.

    ``use_liger_kernel`` patches the trained model's instances, but also the modeling module
    itself (for llama: ``apply_rotary_pos_emb``, ``LlamaRMSNorm`` and ``LlamaMLP`` replaced by
    Triton versions), for the rest of the process. A model built afterwards in the same
    process — the gate scores the candidate after training it — then runs Triton kernels it
    did not ask for, and fails outright on CPU (seen on an H200: a CPU scorer after the CUDA
    training tests raised "Pointer argument cannot be accessed from Triton"). The module
    attributes, and each of its classes' ``forward``, are put back as they were.
    """
    import sys

    names = {type(m).__module__ for m in model.modules()}
    modules = [sys.modules[n] for n in names if n.startswith("transformers.models.")]
    saved = [(mod, dict(vars(mod))) for mod in modules]
    forwards = [
        (cls, cls.__dict__["forward"])
        for _, attrs in saved
        for cls in attrs.values()
        if isinstance(cls, type) and "forward" in cls.__dict__
    ]
    try:
        yield
    finally:
        for mod, attrs in saved:
            for key in [k for k in vars(mod) if k not in attrs]:
                delattr(mod, key)
            for key, value in attrs.items():
                if vars(mod).get(key) is not value:
                    setattr(mod, key, value)
        for cls, forward in forwards:
            if cls.__dict__.get("forward") is not forward:
                setattr(cls, "forward", forward)  # noqa: B010
