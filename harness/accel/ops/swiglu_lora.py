"""A SwiGLU product and the LoRA down projection it feeds as one node that keeps less.

In a checkpointed layer's backward every activation of the recomputed layer is live at once,
and that moment is the step's memory peak. A llama MLP keeps three intermediate-wide tensors
for it: the gate and up projections (the SwiGLU's inputs) and their product
``silu(gate) * up`` (the down projection's input, for the LoRA ``A`` gradient). The product is
cheap to make again from the other two. ``SwiGLULoraDown`` keeps only gate and up, recomputes
the product in backward for the ``A`` gradient, and lets it go before the input gradient is
made: one intermediate-wide tensor less at the peak (for a 1.1B llama and 16 x 2048 tokens,
352 MiB; measured on an H200, bench/training/gpu_train.py ``ours-lora-5g-m16``: a 5.10 GB
peak became 4.76 GB, 54.0k tokens/s against 55.8-55.9k without it on two other machines).

Kernels only: the SwiGLU kernels come in as an argument (``SwiGLUKernels``: liger-kernel's
forward and backward where the caller found them usable, else ``None`` for
``F.silu(gate) * up`` and its autograd), and the down projection's math is ``LoraLinear``'s
(same dropout draws, so checkpointing's recompute replays them).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from harness.accel.ops.lora import lora_linear_backward, lora_linear_forward


class SwiGLUKernels(NamedTuple):
    """A SwiGLU forward ``(gate, up) -> (gate, up, product)`` and a backward
    ``(gate, up, grad) -> (grad_gate, grad_up)`` that may write into gate and up."""

    forward: Callable[[Tensor, Tensor], tuple[Tensor, Tensor, Tensor]]
    backward: Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


def swiglu(gate: Tensor, up: Tensor, kernels: SwiGLUKernels | None) -> Tensor:
    if kernels is not None and gate.is_cuda:
        return kernels.forward(gate, up)[2]
    return F.silu(gate) * up


def swiglu_backward(
    gate: Tensor, up: Tensor, grad: Tensor, kernels: SwiGLUKernels | None
) -> tuple[Tensor, Tensor]:
    if kernels is not None and gate.is_cuda:
        return kernels.backward(gate, up, grad)  # in place
    with torch.enable_grad():
        g, u = gate.detach().requires_grad_(), up.detach().requires_grad_()
        gg, gu = torch.autograd.grad(F.silu(g) * u, (g, u), grad)
    return gg, gu


class SwiGLULoraDown(torch.autograd.Function):
    """``LoraLinear(silu(gate) * up)``, keeping gate and up but not their product."""

    @staticmethod
    def forward(
        ctx: Any,
        gate: Tensor,
        up: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        weight_a: Tensor,
        weight_b: Tensor,
        scaling: float,
        p: float,
        dtype: torch.dtype,
        triton_dropout: bool,
        kernels: SwiGLUKernels | None = None,
    ) -> Tensor:
        out, h, mask, seed = lora_linear_forward(
            swiglu(gate, up, kernels).to(dtype), weight, bias, weight_a, weight_b, scaling, p,
            dtype, triton_dropout,
        )  # fmt: skip
        ctx.save_for_backward(gate, up, weight, weight_a, weight_b, h, mask)
        ctx.scaling, ctx.p, ctx.dtype, ctx.seed = scaling, p, dtype, seed
        ctx.kernels = kernels
        return out

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, ...]:
        gate, up, weight, weight_a, weight_b, h, mask = ctx.saved_tensors
        needs: tuple[bool, ...] = ctx.needs_input_grad
        need_act = needs[0] or needs[1]
        # the product is passed, not held here: the callee drops it before the input gradient
        grad_act, grad_a, grad_b = lora_linear_backward(
            grads[0], swiglu(gate, up, ctx.kernels).to(ctx.dtype), weight, weight_a, weight_b,
            h, mask, ctx, need_act, needs[4], needs[5],
        )  # fmt: skip
        grad_gate = grad_up = None
        if grad_act is not None:
            grad_act = grad_act.view(gate.shape).to(gate.dtype)
            grad_gate, grad_up = swiglu_backward(gate, up, grad_act, ctx.kernels)
        return grad_gate, grad_up, None, None, grad_a, grad_b, None, None, None, None, None
