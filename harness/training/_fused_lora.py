"""The LoRA delta ``scaling * B(A(dropout(x)))`` as one autograd Function that keeps less.

peft computes ``lora_B(lora_A(dropout(x)))`` with ordinary modules, so autograd keeps, for
every adapted linear layer, a full copy of its input after dropout (for ``lora_A``'s weight
gradient) and the dropout mask. With adapters on q, k, v, o, gate, up and down that is about
40% of a llama layer's saved activations (bench/gpu_train.py, 1.1B llama on an H200), and the
dropout kernels were 8.7% of GPU time. ``LoraDelta`` keeps only the layer input ``x`` (q, k
and v share one, and the frozen path needs it anyway), the r-wide intermediate, and the state
of the random generator, and regenerates the same mask in backward. The arithmetic is peft's,
in the same dtypes, so a run computes the same function; only what is kept changes.

``LoraLinear`` goes one step further for a frozen 16-bit ``nn.Linear`` base (LoRA rather than
QLoRA): base and delta as one node, the delta added inside the base GEMM, the dropout mask
kept as bool (see its docstring for what it measured).

``fused_lora(model, enabled)`` swaps the forward of each plain peft LoRA linear layer (16-bit
bases through ``LoraLinear``, bitsandbytes 4-/8-bit bases through ``LoraDelta``) for one that
uses them, and puts peft's forward back on exit.
Layers it cannot reproduce exactly (DoRA and other variants, a LoRA bias, several active
adapters, merged weights, forwards already wrapped by hooks) stay on peft's path; calls with
extra arguments (``adapter_names`` routing) or with adapters disabled fall back per call.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import os
import types
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)


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
        h = F.linear(dropped, _low(weight_a, dtype))
        out = F.linear(h, _low(weight_b, dtype)) * scaling
        ctx.save_for_backward(x, weight_a, weight_b, h, mask)
        ctx.scaling, ctx.p, ctx.dtype, ctx.state = scaling, p, dtype, state
        return out

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, ...]:
        x, weight_a, weight_b, h, mask = ctx.saved_tensors
        p, dtype, scale = ctx.p, ctx.dtype, 1.0 / (1.0 - ctx.p) if ctx.p > 0.0 else 1.0
        need_x, need_a, need_b = ctx.needs_input_grad[:3]
        g = grads[0].to(dtype) * ctx.scaling
        b = _low(weight_b, dtype)
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
            gx = g_h @ _low(weight_a, dtype)
            if p > 0.0:
                gx = torch.ops.aten.native_dropout_backward(gx, mask, scale)
            grad_x = gx.to(x.dtype)
        return grad_x, grad_a, grad_b, None, None, None, None


_STEPS = [0]  # optimizer steps taken while a fused_lora context is open
_OPEN = [0]  # open fused_lora contexts: the copies are cached only inside one


def _low(weight: Tensor, dtype: torch.dtype, scale: float = 1.0) -> Tensor:
    """``weight * scale`` in ``dtype``, made once per optimizer step and reused.

    Each adapted layer runs forward once, again in checkpointing's recompute, and backward,
    on every micro-step; casting the fp32 adapter weights each time was two to five small
    kernels per layer call, a third of all launches of a host-bound step (bench/gpu_train.py
    ``BENCH_ANATOMY=1``). The copy is keyed on the optimizer-step count (fused AdamW updates
    weights without bumping their version counter), the version counter (``copy_``, as in
    ``load_state_dict``) and the storage. Outside a ``fused_lora`` context (direct calls,
    gradcheck's in-place perturbations) nothing is cached.
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
    training step on an H200 (bench/gpu_train.py ``BENCH_ANATOMY=1``, 1.1B llama, 16 x 1024):
    the add into the base output, the scaling multiply and the dropout ran as full-width
    elementwise kernels, a quarter of the step's 211 ms of GPU work, and peft's dropped copies
    and masks were 18 of the 34 GB peak. Here the delta is added inside the base output's GEMM
    epilogue (``addmm_`` into the base output, with ``s`` folded into the bf16 copy of
    ``B``), the LoRA part of the input gradient is accumulated into the base part's GEMM the
    same way, and what is kept is ``x`` (shared by q, k and v) plus the dropout mask as bool:
    one byte per element instead of peft's three. Same machine: 71.8k instead of 65.5k
    tokens/s, 28.9 instead of 34.3 GB. The result equals peft's up to rounding: the delta is
    rounded once, inside the GEMM, instead of after each of the matmul, the multiply and the
    add.
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
        out, h, mask, seed = _lora_linear(
            x.to(dtype), weight, bias, weight_a, weight_b, scaling, p, dtype, triton_dropout
        )
        ctx.save_for_backward(x, weight, weight_a, weight_b, h, mask)
        ctx.scaling, ctx.p, ctx.dtype, ctx.seed = scaling, p, dtype, seed
        return out

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, ...]:
        x, weight, weight_a, weight_b, h, mask = ctx.saved_tensors
        needs: tuple[bool, ...] = ctx.needs_input_grad
        grad_x, grad_a, grad_b = _lora_linear_backward(
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


def _lora_linear(
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
        # the mask is drawn inside the kernels (harness/training/_lora_triton.py)
        from harness.training._lora_triton import dropout_project

        seed = int(torch.randint(0, 2**31 - 1, (1,)).item())  # CPU generator: no sync
        h = dropout_project(xc, _low(weight_a, dtype), seed, p).view(*xc.shape[:-1], -1)
    else:
        dropped = xc
        if p > 0.0:
            dropped, mask = torch.native_dropout(xc, p, True)
        h = F.linear(dropped, _low(weight_a, dtype))
    out = F.linear(xc, weight.to(dtype), None if bias is None else bias.to(dtype))
    flat = out.view(-1, out.shape[-1])
    flat.addmm_(h.reshape(-1, h.shape[-1]), _low(weight_b, dtype, scaling).t())
    return out, h, mask, seed


def _lora_linear_backward(
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
    g_h = torch.mm(gf, _low(weight_b, dtype, s))  # N x r
    scale = 1.0 / (1.0 - p) if p > 0.0 else 1.0
    if seed is not None:
        from harness.training._lora_triton import dropout_grad_a, dropout_grad_x
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
            gx = dropout_grad_x(g_h, _low(weight_a, dtype), seed, p, k)
        else:
            gx = torch.mm(g_h, _low(weight_a, dtype))
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


def _compute_dtype(layer: Any, x: Tensor, weight_a: Tensor) -> torch.dtype:
    """The dtype peft's adapter matmuls run in: autocast's, else the adapter weights' dtype
    (peft casts the input to it) unless input casting is switched off."""
    device = x.device.type
    if torch.is_autocast_enabled(device):
        return torch.get_autocast_dtype(device)
    if getattr(layer, "cast_input_dtype_enabled", True):
        return weight_a.dtype
    return x.dtype


def _delta(layer: Any, x: Tensor) -> Tensor:
    name = layer.active_adapters[0]
    weight_a = layer.lora_A[name].weight
    weight_b = layer.lora_B[name].weight
    dropout = layer.lora_dropout[name]
    p = float(dropout.p) if isinstance(dropout, nn.Dropout) and dropout.training else 0.0
    dtype = _compute_dtype(layer, x, weight_a)
    return lora_delta(x, weight_a, weight_b, layer.scaling[name], p, None, dtype)


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
    return (result + _delta(layer, x)).to(result_dtype)


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
    dropout = layer.lora_dropout[name]
    p = float(dropout.p) if isinstance(dropout, nn.Dropout) and dropout.training else 0.0
    device = x.device.type
    dtype = (
        torch.get_autocast_dtype(device) if torch.is_autocast_enabled(device) else base.weight.dtype
    )
    triton_dropout = False
    if p > 0.0 and getattr(layer, "_harness_lean", False) and _triton_runs(x):
        from harness.training._lora_triton import supported

        triton_dropout = supported(x, weight_a.shape[0])
    weight_b = layer.lora_B[name].weight
    scaling = float(layer.scaling[name])
    return base.weight, base.bias, weight_a, weight_b, scaling, p, dtype, triton_dropout


def _bnb_forward(layer: Any, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
    """peft's bitsandbytes Linear4bit / Linear8bitLt forward for one vanilla adapter."""
    original = layer._peft_forward
    if not _usable(layer, args, kwargs):
        out: Tensor = original(x, *args, **kwargs)
        return out
    result: Tensor = layer.base_layer(x)
    delta = _delta(layer, x)
    if not torch.is_autocast_enabled():  # peft's test: CUDA autocast
        delta = delta.to(result.dtype)
    # peft clones the 4-bit output before its out-of-place add; the add below makes a new
    # tensor all the same, so the clone would only cost a copy.
    return result + delta


def _forwards() -> dict[type, Callable[..., Tensor]]:
    from peft.tuners.lora.layer import Linear

    out: dict[type, Callable[..., Tensor]] = {Linear: _linear_forward}
    try:
        from peft.tuners.lora import bnb
    except ImportError:  # bitsandbytes missing
        return out
    for name in ("Linear4bit", "Linear8bitLt"):
        cls = getattr(bnb, name, None)
        if cls is not None:
            out[cls] = _bnb_forward
    return out


def _why_not(layer: Any) -> str | None:
    """Why ``layer`` must stay on peft's path, or None if the fused forward reproduces it."""
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

    Disabled (``enabled=False``, e.g. training on CPU, whose evidence must stay bit-for-bit
    what peft computes) it changes nothing. On exit each swapped layer gets peft's forward
    back and the low-precision weight copies are dropped.

    ``lean`` trades a little time for memory, for memory-bound (checkpointed) runs: the
    dropout masks of 16-bit layers are drawn inside Triton kernels instead of kept
    (harness/training/_lora_triton.py; needs Triton and, outside its interpreter, CUDA), and
    each llama MLP whose down projection is fused keeps its gate and up projections but not
    their SwiGLU product (harness/training/_fused_mlp.py).
    """
    report = FusedReport()
    if not enabled:
        yield report
        return
    from peft.tuners.lora.layer import LoraLayer

    forwards = _forwards()
    swapped: list[nn.Module] = []
    mlps: list[nn.Module] = []
    hooks: list[Any] = []

    def stepped(*_: Any) -> None:
        _STEPS[0] += 1

    from torch.optim.optimizer import register_optimizer_step_post_hook

    hook = register_optimizer_step_post_hook(stepped)
    _OPEN[0] += 1
    try:
        for module in model.modules():
            fused = forwards.get(type(module))
            if fused is None:
                if isinstance(module, LoraLayer):
                    report.left[f"{type(module).__name__} layer"] += 1
                continue
            why = _why_not(module)
            if why is not None:
                report.left[why] += 1
                continue
            module._peft_forward = module.forward
            module.forward = types.MethodType(fused, module)
            module._harness_lean = lean
            swapped.append(module)
        report.fused = len(swapped)
        if lean:
            from harness.training._fused_mlp import fusable_mlp, reswap, swap_mlp

            ids = {id(m) for m in swapped}
            for parent in list(model.modules()):
                mlp = getattr(parent, "mlp", None)
                if isinstance(mlp, nn.Module) and fusable_mlp(mlp, ids):
                    swap_mlp(mlp)
                    mlps.append(mlp)
                    hooks.append(parent.register_forward_pre_hook(functools.partial(reswap, mlp)))
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
        hook.remove()
        _OPEN[0] -= 1
        for handle in hooks:
            handle.remove()
        if mlps:
            from harness.training._fused_mlp import restore_mlp

            for mlp in mlps:
                restore_mlp(mlp)
        for module in swapped:
            del module.forward
            del module._peft_forward
            del module._harness_lean
        for param in model.parameters():
            if hasattr(param, "_harness_low"):
                del param._harness_low
