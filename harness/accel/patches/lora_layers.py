"""peft's LoRA layers and llama's MLP routed through ``harness.accel.ops`` while training.

``fused_lora(model, enabled, lean)`` changes, for the duration of the context:

* each plain peft ``lora.Linear`` over a frozen 16-bit ``nn.Linear`` (LoRA): its forward,
  per instance, runs ``LoraLinear`` (base GEMM and delta as one node); over another base,
  ``LoraDelta`` (compat row ``peft-lora-linear-forward``);
* each bitsandbytes ``Linear4bit`` / ``Linear8bitLt`` (QLoRA): peft's own forward stays, and
  a ``LoraVariant`` registered for the adapter computes the delta with ``LoraDelta``
  (compat row ``peft-lora-bnb-variant``);
* lean mode only, each llama MLP whose down projection is fused over a plain ``nn.Linear``:
  its forward runs ``SwiGLULoraDown`` (compat rows ``llama-mlp-forward``, and
  ``liger-swiglu-ops`` for liger's kernels on CUDA).

Layers it cannot reproduce exactly (DoRA and other variants, a LoRA bias, several active
adapters, merged weights, forwards already wrapped by hooks) stay on peft's path; calls with
extra arguments (``adapter_names`` routing) or with adapters disabled fall back per call. A
library outside its compat range leaves its layers on peft's path too. Everything is put
back on exit.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import types
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from harness.accel.compat import allowed
from harness.accel.ops.lora import LoraLinear, drop_copies, lora_delta, weight_copies
from harness.accel.ops.swiglu_lora import SwiGLUKernels, SwiGLULoraDown

log = logging.getLogger(__name__)

# MLP classes whose forward is down_proj(silu(gate_proj(x)) * up_proj(x)) (source read)
MLP_CLASSES = {"LlamaMLP", "LigerSwiGLUMLP"}


@functools.cache
def installed(package: str) -> bool:
    """Whether ``package`` can be imported; asked once per process, not per layer call."""
    return importlib.util.find_spec(package) is not None


def _triton_runs(x: Tensor) -> bool:
    """Triton is installed and can run on ``x``: on CUDA, or on CPU through its interpreter
    (``TRITON_INTERPRET=1``, the tests)."""
    if not installed("triton"):
        return False
    return x.is_cuda or os.environ.get("TRITON_INTERPRET") == "1"


def _compute_dtype(layer: Any, x: Tensor, weight_a: Tensor) -> torch.dtype:
    """The dtype peft's adapter matmuls run in: autocast's, else the adapter weights' dtype
    (peft casts the input to it) unless input casting is switched off."""
    device = x.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    if getattr(layer, "cast_input_dtype_enabled", True):
        return weight_a.dtype
    return x.dtype


def _dropout_p(layer: Any, name: str) -> float:
    dropout = layer.lora_dropout[name]
    return float(dropout.p) if isinstance(dropout, nn.Dropout) and dropout.training else 0.0


def _delta(layer: Any, name: str, x: Tensor) -> Tensor:
    weight_a = layer.lora_A[name].weight
    weight_b = layer.lora_B[name].weight
    dtype = _compute_dtype(layer, x, weight_a)
    p = _dropout_p(layer, name)
    return lora_delta(x, weight_a, weight_b, layer.scaling[name], p, None, dtype)


def frozen_linear(layer: Any) -> bool:
    """Whether a LoRA layer's base is a frozen plain ``nn.Linear`` (what ``LoraLinear`` and
    the lean MLP take)."""
    base = layer.base_layer
    return (
        type(base) is nn.Linear
        and not base.weight.requires_grad
        and (base.bias is None or not base.bias.requires_grad)
    )


def node_args(layer: Any, x: Tensor) -> tuple[Any, ...] | None:
    """``LoraLinear``'s arguments after ``x`` for a swapped layer over a frozen ``nn.Linear``
    (base weight and bias, A, B, scaling, dropout probability, the dtype the base layer
    would compute in — autocast's, else its weight's — and whether the dropout mask is
    drawn in Triton kernels); None where the layer is not one."""
    if not frozen_linear(layer):
        return None
    base = layer.base_layer
    name = layer.active_adapters[0]
    weight_a = layer.lora_A[name].weight
    p = _dropout_p(layer, name)
    device = x.device.type
    dtype = (
        torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else base.weight.dtype
    )
    triton_dropout = False
    if p > 0.0 and getattr(layer, "_harness_lean", False) and _triton_runs(x):
        from harness.accel.ops.lora_dropout import supported

        triton_dropout = supported(x, weight_a.shape[0])
    weight_b = layer.lora_B[name].weight
    scaling = float(layer.scaling[name])
    return base.weight, base.bias, weight_a, weight_b, scaling, p, dtype, triton_dropout


def _usable(layer: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """Extra arguments (``adapter_names`` routing), disabled adapters or merged weights: peft's
    own forward handles the call."""
    return not (args or kwargs or layer.disable_adapters or layer.merged)


def _linear_forward(layer: Any, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """peft.tuners.lora.layer.Linear.forward for one vanilla adapter."""
    original = layer._peft_forward
    if not _usable(layer, args, kwargs):
        out: Tensor = original(x, *args, **kwargs)
        return out
    node = node_args(layer, x)
    if node is not None:
        fused: Tensor = LoraLinear.apply(x, *node)
        return fused
    result: Tensor = layer.base_layer(x)
    result_dtype = result.dtype
    return (result + _delta(layer, layer.active_adapters[0], x)).to(result_dtype)


def _variant_class() -> type:
    """peft's ``LoraVariant`` with the vanilla delta computed by ``LoraDelta``: what the
    bitsandbytes layers' own forward calls for an adapter registered in ``lora_variant``."""
    from peft.tuners.lora.layer import LoraVariant

    class FusedDelta(LoraVariant):
        @staticmethod
        def forward(
            module: Any, active_adapter: str, x: Tensor, result: Tensor, **kwargs: Any
        ) -> Tensor:
            delta = _delta(module, active_adapter, x)
            if not torch.is_autocast_enabled():  # as peft's vanilla branch: add in its dtype
                delta = delta.to(result.dtype)
            return result + delta

        # merging while fused: vanilla LoRA's arithmetic (peft's own vanilla branch)
        @staticmethod
        def merge_safe(module: Any, active_adapter: str, orig_weight: Tensor) -> Tensor:
            return orig_weight + module.get_delta_weight(active_adapter)

        @staticmethod
        def merge_unsafe(module: Any, active_adapter: str, orig_weight: Tensor) -> None:
            orig_weight.data += module.get_delta_weight(active_adapter)

        @staticmethod
        def unmerge(module: Any, active_adapter: str, orig_weight: Tensor) -> Tensor:
            return orig_weight - module.get_delta_weight(active_adapter)

    return FusedDelta


def _layer_kinds() -> tuple[type | None, tuple[type, ...]]:
    """peft's plain ``lora.Linear`` (None outside the compat range) and its bitsandbytes
    layers (empty without bitsandbytes or outside the range)."""
    linear: type | None = None
    if allowed("peft-lora-linear-forward"):
        from peft.tuners.lora.layer import Linear

        linear = Linear
    bnb_layers: tuple[type, ...] = ()
    if allowed("peft-lora-bnb-variant"):
        try:
            from peft.tuners.lora import bnb
        except ImportError:  # bitsandbytes missing
            return linear, bnb_layers
        found = (getattr(bnb, n, None) for n in ("Linear4bit", "Linear8bitLt"))
        bnb_layers = tuple(c for c in found if c is not None)
    return linear, bnb_layers


def _why_not(layer: Any) -> str | None:
    """Why ``layer`` must stay on peft's path, or None if the fused path reproduces it."""
    if "forward" in vars(layer):
        return "forward already wrapped"
    active = list(layer.active_adapters)
    if len(active) != 1 or active[0] not in layer.lora_A:
        return "not exactly one active adapter"
    name = active[0]
    if name in getattr(layer, "lora_variant", {}) or getattr(layer, "use_dora", {}).get(name):
        return "DoRA or another LoRA variant"
    a, b = layer.lora_A[name], layer.lora_B[name]
    if type(a) is not nn.Linear or type(b) is not nn.Linear:
        return "adapter factors are not plain Linear"
    if a.bias is not None or b.bias is not None:
        return "LoRA bias"
    if not isinstance(layer.lora_dropout[name], nn.Dropout | nn.Identity):
        return "custom dropout module"
    if layer.merged:
        return "merged weights"
    return None


@dataclass
class FusedReport:
    """How many LoRA layers run fused, and why the others do not."""

    fused: int = 0
    left: Counter[str] = field(default_factory=Counter)
    mlps: int = 0  # MLPs whose SwiGLU product is recomputed in backward (lean)


@contextmanager
def fused_lora(model: Any, enabled: bool, lean: bool = False) -> Iterator[FusedReport]:
    """Run every LoRA linear layer of ``model`` it can reproduce through ``LoraLinear`` (a
    frozen 16-bit ``nn.Linear`` base) or ``LoraDelta`` (bitsandbytes bases, trainable bases).

    Disabled (``enabled=False``) it changes nothing and imports nothing. On exit each swapped
    layer gets peft's forward back, each registered variant is removed, and the low-precision
    weight copies are dropped.

    ``lean`` trades a little time for memory, for memory-bound (checkpointed) runs: the
    dropout masks of 16-bit layers are drawn inside Triton kernels instead of kept
    (harness/accel/ops/lora_dropout.py; needs Triton and, outside its interpreter, CUDA), and
    each llama MLP whose down projection is fused keeps its gate and up projections but not
    their SwiGLU product (harness/accel/ops/swiglu_lora.py).
    """
    report = FusedReport()
    if not enabled:
        yield report
        return
    from peft.tuners.lora.layer import LoraLayer

    linear, bnb_layers = _layer_kinds()
    swapped: list[nn.Module] = []
    variants: list[tuple[Any, str]] = []
    mlps: list[nn.Module] = []
    with weight_copies():
        try:
            variant = _variant_class()() if bnb_layers else None
            for module in model.modules():
                kind = type(module)
                if kind is not linear and kind not in bnb_layers:
                    if isinstance(module, LoraLayer):
                        report.left[f"{kind.__name__} layer"] += 1
                    continue
                why = _why_not(module)
                if why is not None:
                    report.left[why] += 1
                    continue
                if kind is linear:
                    module._peft_forward = module.forward
                    module.forward = types.MethodType(_linear_forward, module)
                    module._harness_lean = lean
                    swapped.append(module)
                else:
                    name = module.active_adapters[0]
                    module.lora_variant[name] = variant
                    variants.append((module, name))
            report.fused = len(swapped) + len(variants)
            if lean and allowed("llama-mlp-forward"):
                ids = {id(m) for m in swapped}
                kernels = _liger_swiglu()
                for parent in list(model.modules()):
                    mlp = getattr(parent, "mlp", None)
                    if isinstance(mlp, nn.Module) and fusable_mlp(mlp, ids):
                        swap_mlp(mlp, kernels)
                        mlps.append(mlp)
                report.mlps = len(mlps)
            if report.left:
                log.info(
                    "fused LoRA: %d layers fused, %d left on peft's path (%s)",
                    report.fused,
                    sum(report.left.values()),
                    ", ".join(f"{n} {why}" for why, n in report.left.items()),
                )
            yield report
        finally:
            for mlp in mlps:
                restore_mlp(mlp)
            for module in swapped:
                del module.forward
                del module._peft_forward
                del module._harness_lean
            for module, name in variants:
                module.lora_variant.pop(name, None)
            drop_copies(model.parameters())


# --- lean MLP ----------------------------------------------------------------------------------


def _liger_swiglu() -> SwiGLUKernels | None:
    """liger-kernel's SwiGLU forward and backward, where it is installed inside its compat
    range (the kernels run on CUDA only; ``swiglu`` falls back to torch elsewhere)."""
    if not (installed("liger_kernel") and allowed("liger-swiglu-ops")):
        return None
    from liger_kernel.ops.swiglu import swiglu_backward, swiglu_forward

    return SwiGLUKernels(swiglu_forward, swiglu_backward)


def _mlp_forward(mlp: Any, x: Tensor) -> Tensor:
    """The MLP with its down projection through ``SwiGLULoraDown`` where that layer runs
    through ``LoraLinear`` for this call; otherwise the forward it displaced (adapters
    disabled or merged: the down layer's own forward handles those)."""
    down = mlp.down_proj
    if down.disable_adapters or down.merged or not frozen_linear(down):
        before = mlp._harness_before
        out: Tensor = before(x) if before is not None else type(mlp).forward(mlp, x)
        return out
    gate, up = mlp.gate_proj(x), mlp.up_proj(x)
    node = node_args(down, gate)  # of the down layer's own input: the Triton size check
    assert node is not None
    fused: Tensor = SwiGLULoraDown.apply(gate, up, *node, mlp._harness_kernels)
    return fused


def fusable_mlp(module: nn.Module, swapped: set[int]) -> bool:
    """A known SwiGLU MLP whose down projection is a LoRA layer ``fused_lora`` swapped, over
    a plain ``nn.Linear`` (LoRA; a 4-bit QLoRA base keeps the MLP as it is)."""
    config = getattr(module, "config", None)
    act = getattr(config, "hidden_act", None)
    bound = module.__dict__.get("forward")  # none, or liger's: another wrapper stays
    liger = getattr(getattr(bound, "__func__", None), "__qualname__", "")
    return (
        type(module).__name__ in MLP_CLASSES
        and act in ("silu", "swish")
        and (bound is None or liger.endswith("LigerSwiGLUMLP.forward"))
        and all(hasattr(module, n) for n in ("gate_proj", "up_proj", "down_proj"))
        and id(module.down_proj) in swapped
        and type(getattr(module.down_proj, "base_layer", None)) is nn.Linear
    )


def swap_mlp(module: Any, kernels: SwiGLUKernels | None = None) -> None:
    """Route ``module``'s forward through ``_mlp_forward``; ``restore_mlp`` undoes it.

    A forward bound to the instance before (liger-kernel's, applied by
    ``harness.accel.patches.trainer.apply_liger`` before this context is entered) is kept
    for the calls the fused path does not take, and put back on exit."""
    module._harness_before = module.__dict__.get("forward")
    module._harness_kernels = kernels
    module._harness_mlp_forward = types.MethodType(_mlp_forward, module)
    module.forward = module._harness_mlp_forward


def restore_mlp(module: Any) -> None:
    """Put back the forward ``swap_mlp`` displaced; a forward bound after it (by someone
    else) is left in place."""
    if module.__dict__.get("forward") is module._harness_mlp_forward:
        before = module._harness_before
        if before is not None:
            module.forward = before
        else:
            del module.forward
    del module._harness_mlp_forward
    del module._harness_before
    del module._harness_kernels
