"""The LoRA delta ``scaling * B(A(dropout(x)))`` as autograd Functions that keep less.

Kernels only: nothing here knows peft. ``harness/accel/patches/lora_layers.py`` reads a peft
layer's weights and routes its forward through these.

peft computes ``lora_B(lora_A(dropout(x)))`` with ordinary modules, so autograd keeps, for
every adapted linear layer, a full copy of its input after dropout (for ``lora_A``'s weight
gradient) and the dropout mask. With adapters on q, k, v, o, gate, up and down that is about
40% of a llama layer's saved activations (bench/training/gpu_train.py, 1.1B llama on an
H200), and the dropout kernels were 8.7% of GPU time. ``LoraDelta`` keeps only the layer input
``x`` (q, k and v share one, and the frozen path needs it anyway), the r-wide intermediate,
and the state of the random generator, and regenerates the same mask in backward. The
arithmetic is peft's, in the same dtypes, so a run computes the same function; only what is
kept changes.

``LoraLinear`` goes one step further for a frozen 16-bit ``nn.Linear`` base (LoRA rather than
QLoRA): base and delta as one node, the delta added inside the base GEMM, the dropout mask
kept as bool (see its docstring for what it measured).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor


def _generator(device: torch.device) -> torch.Generator | None:
    """The default generator dropout draws from on ``device`` (None: keep the mask instead).

    The global generator (not a private one) so that gradient checkpointing, which restores
    the global states before recomputing a layer, replays the same mask in the recompute.
    """
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        gen: torch.Generator = torch.cuda.default_generators[index]
        return gen
    if device.type == "cpu":
        return torch.default_generator
    return None


def _dropout_with_state(x: Tensor, p: float, state: Tensor, gen: torch.Generator) -> Tensor:
    """The mask ``native_dropout`` drew from ``state``, leaving the generator where it was."""
    now = gen.get_state()
    gen.set_state(state)
    try:
        _, mask = torch.native_dropout(x, p, True)
    finally:
        gen.set_state(now)
    return mask


class LoraDelta(torch.autograd.Function):
    """``scaling * (dropout(x) @ A.T) @ B.T`` computed in ``dtype``; saves x, not dropout(x).

    ``mask`` (bool, True = kept) fixes the dropout mask (tests, or devices whose generator
    state cannot be replayed); otherwise ``p > 0`` draws one with ``torch.native_dropout``
    and backward redraws it from the saved generator state. Gradients come back in each
    input's own dtype, as autocast's casts would return them.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight_a: Tensor,
        weight_b: Tensor,
        scaling: float,
        p: float,
        mask: Tensor | None,
        dtype: torch.dtype,
    ) -> Tensor:
        xc = x.to(dtype)
        state: Tensor | None = None
        if p > 0.0:
            if mask is not None:
                dropped = torch.ops.aten.native_dropout_backward(xc, mask, 1.0 / (1.0 - p))
            else:
                gen = _generator(x.device)
                if gen is not None:
                    state = gen.get_state()
                dropped, drawn = torch.native_dropout(xc, p, True)
                if gen is None:
                    mask = drawn
        else:
            dropped = xc
        h = F.linear(dropped, low_precision(weight_a, dtype))
        out = F.linear(h, low_precision(weight_b, dtype)) * scaling
        ctx.save_for_backward(x, weight_a, weight_b, h, mask)
        ctx.scaling, ctx.p, ctx.dtype, ctx.state = scaling, p, dtype, state
        return out

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, ...]:
        x, weight_a, weight_b, h, mask = ctx.saved_tensors
        p, dtype, scale = ctx.p, ctx.dtype, 1.0 / (1.0 - ctx.p) if ctx.p > 0.0 else 1.0
        need_x, need_a, need_b = ctx.needs_input_grad[:3]
        g = grads[0].to(dtype) * ctx.scaling
        b = low_precision(weight_b, dtype)
        grad_b = None
        if need_b:
            grad_b = (g.reshape(-1, g.shape[-1]).t() @ h.reshape(-1, h.shape[-1])).to(
                weight_b.dtype
            )
        if not (need_x or need_a):
            return None, None, grad_b, None, None, None, None
        g_h = g @ b
        xc = x.to(dtype)
        if p > 0.0 and mask is None:
            gen = _generator(x.device)
            assert gen is not None and ctx.state is not None
            mask = _dropout_with_state(xc, p, ctx.state, gen)
        grad_x = grad_a = None
        if need_a:
            dropped = torch.ops.aten.native_dropout_backward(xc, mask, scale) if p > 0.0 else xc
            grad_a = (g_h.reshape(-1, g_h.shape[-1]).t() @ dropped.reshape(-1, x.shape[-1])).to(
                weight_a.dtype
            )
        if need_x:
            gx = g_h @ low_precision(weight_a, dtype)
            if p > 0.0:
                gx = torch.ops.aten.native_dropout_backward(gx, mask, scale)
            grad_x = gx.to(x.dtype)
        return grad_x, grad_a, grad_b, None, None, None, None


_STEPS = [0]  # optimizer steps taken while a weight_copies context is open
_OPEN = [0]  # open weight_copies contexts: the copies are cached only inside one


@contextmanager
def weight_copies() -> Iterator[None]:
    """Inside, ``low_precision`` keeps each adapter weight's low-precision copy for the rest
    of the optimizer step (a torch optimizer-step hook counts the steps); on exit the copies
    are no longer reused. The caller drops them from its parameters with ``drop_copies``."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    def stepped(*_: Any) -> None:
        _STEPS[0] += 1

    hook = register_optimizer_step_post_hook(stepped)
    _OPEN[0] += 1
    try:
        yield
    finally:
        hook.remove()
        _OPEN[0] -= 1


def drop_copies(params: Iterator[Tensor]) -> None:
    """Forget the low-precision copies ``low_precision`` attached to these parameters."""
    for param in params:
        if hasattr(param, "_harness_low"):
            del param._harness_low


def low_precision(weight: Tensor, dtype: torch.dtype, scale: float = 1.0) -> Tensor:
    """``weight * scale`` in ``dtype``, made once per optimizer step and reused.

    Each adapted layer runs forward once, again in checkpointing's recompute, and backward,
    on every micro-step; casting the fp32 adapter weights each time was two to five small
    kernels per layer call, a third of all launches of a host-bound step
    (bench/training/gpu_train.py ``--anatomy``). The copy is keyed on the optimizer-step count
    (fused AdamW updates weights without bumping their version counter), the version counter
    (``copy_``, as in ``load_state_dict``) and the storage. Outside a ``weight_copies``
    context (direct calls, gradcheck's in-place perturbations) nothing is cached.
    """
    if weight.dtype == dtype and scale == 1.0:
        return weight
    key = (_STEPS[0], weight._version, weight.data_ptr(), dtype, scale)
    hit = getattr(weight, "_harness_low", None) if _OPEN[0] else None
    if hit is not None and hit[0] == key:
        low: Tensor = hit[1]
        return low
    with torch.no_grad():
        low = (weight * scale if scale != 1.0 else weight).to(dtype)
    if _OPEN[0]:
        weight._harness_low = (key, low)  # type: ignore[attr-defined]
    return low


class LoraLinear(torch.autograd.Function):
    """A frozen plain linear layer and its LoRA delta as one node: ``x W.T + b + s (d(x) A.T) B.T``.

    For a 16-bit base (LoRA, not QLoRA) the delta's own kernels were a large share of a
    training step on an H200 (bench/training/gpu_train.py ``--anatomy``, 1.1B llama,
    16 x 1024): the add into the base output, the scaling multiply and the dropout ran as
    full-width elementwise kernels, a quarter of the step's 211 ms of GPU work, and peft's
    dropped copies and masks were 18 of the 34 GB peak. Here the delta is added inside the base
    output's GEMM epilogue (``addmm_`` into the base output, with ``s`` folded into the bf16
    copy of ``B``), the LoRA part of the input gradient is accumulated into the base part's
    GEMM the same way, and what is kept is ``x`` (shared by q, k and v) plus the dropout mask
    as bool: one byte per element instead of peft's three. Same machine: 71.8k instead of
    65.5k tokens/s, 28.9 instead of 34.3 GB. The result equals peft's up to rounding: the
    delta is rounded once, inside the GEMM, instead of after each of the matmul, the multiply
    and the add.

    ``triton_dropout`` draws the dropout mask inside Triton kernels instead of keeping it
    (``harness/accel/ops/lora_dropout.py``; lean mode).
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: Tensor,
        weight: Tensor,
        bias: Tensor | None,
        weight_a: Tensor,
        weight_b: Tensor,
        scaling: float,
        p: float,
        dtype: torch.dtype,
        triton_dropout: bool = False,
    ) -> Tensor:
        out, h, mask, seed = lora_linear_forward(
            x.to(dtype), weight, bias, weight_a, weight_b, scaling, p, dtype, triton_dropout
        )
        ctx.save_for_backward(x, weight, weight_a, weight_b, h, mask)
        ctx.scaling, ctx.p, ctx.dtype, ctx.seed = scaling, p, dtype, seed
        return out

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, weight_a, weight_b, h, mask = ctx.saved_tensors
        needs: tuple[bool, ...] = ctx.needs_input_grad
        grad_x, grad_a, grad_b = lora_linear_backward(
            grads[0],
            x.to(ctx.dtype),
            weight,
            weight_a,
            weight_b,
            h,
            mask,
            ctx,
            needs[0],
            needs[3],
            needs[4],
        )
        if grad_x is not None:
            grad_x = grad_x.view(x.shape).to(x.dtype)
        return grad_x, None, None, grad_a, grad_b, None, None, None, None


def lora_linear_forward(
    xc: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    weight_a: Tensor,
    weight_b: Tensor,
    scaling: float,
    p: float,
    dtype: torch.dtype,
    triton_dropout: bool,
) -> tuple[Tensor, Tensor, Tensor | None, int | None]:
    """``LoraLinear``'s forward on ``xc`` (already in ``dtype``): the output, the r-wide
    intermediate, and what backward needs to redraw or reuse the dropout mask."""
    mask: Tensor | None = None
    seed: int | None = None
    if p > 0.0 and triton_dropout:
        # the mask is drawn inside the kernels (harness/accel/ops/lora_dropout.py)
        from harness.accel.ops.lora_dropout import dropout_project

        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())  # CPU generator: no sync
        h = dropout_project(xc, low_precision(weight_a, dtype), seed, p).view(*xc.shape[:-1], -1)
    else:
        dropped = xc
        if p > 0.0:
            dropped, mask = torch.native_dropout(xc, p, True)
        h = F.linear(dropped, low_precision(weight_a, dtype))
    out = F.linear(xc, weight.to(dtype), None if bias is None else bias.to(dtype))
    flat = out.view(-1, out.shape[-1])
    flat.addmm_(h.reshape(-1, h.shape[-1]), low_precision(weight_b, dtype, scaling).t())
    return out, h, mask, seed


def lora_linear_backward(
    grad: Tensor,
    xc: Tensor,
    weight: Tensor,
    weight_a: Tensor,
    weight_b: Tensor,
    h: Tensor,
    mask: Tensor | None,
    ctx: Any,
    need_x: bool,
    need_a: bool,
    need_b: bool,
) -> tuple[Tensor | None, Tensor | None, Tensor | None]:
    """Gradients of ``LoraLinear`` (input N x K flat, A, B). ``xc`` is the input in the
    compute dtype; it is used for A's gradient first and let go before the input gradient
    is made, so a caller that recomputed it holds only one of the two at a time."""
    p, dtype, s, seed = ctx.p, ctx.dtype, ctx.scaling, ctx.seed
    g = grad.to(dtype)
    gf = g.reshape(-1, g.shape[-1])
    hf = h.reshape(-1, h.shape[-1])
    grad_a = grad_b = grad_x = None
    if need_b:
        grad_b = torch.mm(gf.t(), hf).to(weight_b.dtype).mul_(s)
    g_h = torch.mm(gf, low_precision(weight_b, dtype, s))  # N x r
    scale = 1.0 / (1.0 - p) if p > 0.0 else 1.0
    if seed is not None:
        from harness.accel.ops.lora_dropout import dropout_grad_a, dropout_grad_x
    k = xc.shape[-1]
    if need_a:
        xf = xc.reshape(-1, k)
        if seed is not None:
            grad_a = dropout_grad_a(xf, g_h, seed, p).to(weight_a.dtype)
        else:
            if mask is not None:
                xf = torch.ops.aten.native_dropout_backward(xf, mask.reshape(xf.shape), scale)
            grad_a = torch.mm(g_h.t(), xf).to(weight_a.dtype)
        del xf
    del xc
    if need_x:
        if seed is not None:
            gx = dropout_grad_x(g_h, low_precision(weight_a, dtype), seed, p, k)
        else:
            gx = torch.mm(g_h, low_precision(weight_a, dtype))
            if mask is not None:
                gx = torch.ops.aten.native_dropout_backward(gx, mask.reshape(gx.shape), scale)
        gx.addmm_(gf, weight.to(dtype))
        grad_x = gx
    return grad_x, grad_a, grad_b


def lora_delta(
    x: Tensor,
    weight_a: Tensor,
    weight_b: Tensor,
    scaling: float,
    p: float = 0.0,
    mask: Tensor | None = None,
    dtype: torch.dtype | None = None,
) -> Tensor:
    """The LoRA delta of one adapter; ``dtype`` defaults to ``weight_a``'s."""
    out: Tensor = LoraDelta.apply(
        x, weight_a, weight_b, float(scaling), float(p), mask, dtype or weight_a.dtype
    )
    return out
