# mypy: ignore-errors
# (Triton kernels: their parameters are typed by Triton's own annotations, not Python's.)
"""LoRA dropout fused into the adapter's own matmuls: no mask stored, no dropped copy.

On an H200 the dropout around the LoRA ``A`` projection was the largest cost of a
checkpointed LoRA step besides the GEMMs (1.1B llama, 8 x 2048: 44 ms of dropout kernels in
forward and 31 ms of masking in backward, of 579 ms GPU work; bench/gpu_train.py
``BENCH_ANATOMY=1``). Each costs a full read and write of the layer input. Here the mask is
drawn inside the kernels from a counter-based generator (Philox: ``tl.rand(seed, offset)``),
so the ``A`` projection reads ``x`` once and writes only the r-wide result, and backward
draws the same mask again from the same seed instead of loading one:

* ``dropout_project(x, a, seed, p)`` -> ``h = (dropout(x) @ a.T)`` (N x r),
* ``dropout_grad_a(x, g_h, seed, p)`` -> ``g_h.T @ dropout(x)`` (r x K), float32,
* ``dropout_grad_x(g_h, a, seed, p)`` -> ``dropout'(g_h @ a)`` (N x K), the LoRA part of the
  input gradient.

The masks are Bernoulli(1 - p) per element and independent between adapters (one seed
each), as peft's, but drawn from Triton's generator instead of torch's: a run is the same
training process, not the same random numbers. The seed comes from torch's CPU generator, so
gradient checkpointing, which restores that generator before a recompute, replays it.
``r`` must be a power of two of at least 16 (``tl.dot``'s smallest tile).

Measured once on an H200 (bench/gpu_train.py ``BENCH_TRITON_DROPOUT=1``, ``ours-lora-5g-m8``,
one machine, 4 timed steps): 43,240 tokens/s at 3.66 GB against 50,284 at 4.28 GB with
torch's dropout — leaner, but slower as written (fixed 64 x 64 tiles, default warps, no
autotuning; the r-wide ``tl.dot`` uses little of the tensor cores). Hence opt-in
(``fused_lora(..., triton_dropout=True)``), not a default.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

BLOCK_N = 64
BLOCK_K = 64


@triton.jit
def _keep(rows, cols, k, seed, p):
    """The mask of element (row, col) of a K-wide input: one counter per element, so forward
    and both backward kernels draw the same mask from the same seed."""
    return tl.rand(seed, rows[:, None] * k + cols[None, :]) >= p


@triton.jit
def _dropped(x_ptr, rows, cols, n, k, stride_x, seed, p, scale):
    """The dropped input tile: x * mask / (1 - p), in x's dtype, zero outside the matrix."""
    inside = (rows[:, None] < n) & (cols[None, :] < k)
    x = tl.load(x_ptr + rows[:, None] * stride_x + cols[None, :], mask=inside, other=0.0)
    keep = _keep(rows, cols, k, seed, p)
    return tl.where(keep & inside, x.to(tl.float32) * scale, 0.0).to(x.dtype)


@triton.jit
def _project_kernel(
    x_ptr,
    a_ptr,
    h_ptr,
    n,
    k,
    stride_x,
    stride_a,
    stride_h,
    seed,
    p,
    scale,
    R: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    rows = tl.program_id(0) * BN + tl.arange(0, BN)
    rr = tl.arange(0, R)
    acc = tl.zeros((BN, R), dtype=tl.float32)
    for k0 in range(0, k, BK):
        cols = k0 + tl.arange(0, BK)
        xd = _dropped(x_ptr, rows, cols, n, k, stride_x, seed, p, scale)
        a = tl.load(
            a_ptr + rr[None, :] * stride_a + cols[:, None], mask=cols[:, None] < k, other=0.0
        )
        acc += tl.dot(xd, a.to(xd.dtype))
    tl.store(
        h_ptr + rows[:, None] * stride_h + rr[None, :],
        acc.to(h_ptr.dtype.element_ty),
        mask=rows[:, None] < n,
    )


@triton.jit
def _grad_a_kernel(
    x_ptr,
    g_ptr,
    out_ptr,
    n,
    k,
    stride_x,
    stride_g,
    rows_per_prog,
    seed,
    p,
    scale,
    R: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    cols = tl.program_id(0) * BK + tl.arange(0, BK)
    part = tl.program_id(1)
    rr = tl.arange(0, R)
    acc = tl.zeros((R, BK), dtype=tl.float32)
    start = part * rows_per_prog
    for n0 in range(start, start + rows_per_prog, BN):
        rows = n0 + tl.arange(0, BN)
        xd = _dropped(x_ptr, rows, cols, n, k, stride_x, seed, p, scale)
        g = tl.load(
            g_ptr + rows[:, None] * stride_g + rr[None, :], mask=rows[:, None] < n, other=0.0
        )
        acc += tl.dot(tl.trans(g.to(xd.dtype)), xd)
    tl.store(out_ptr + part * R * k + rr[:, None] * k + cols[None, :], acc, mask=cols[None, :] < k)


@triton.jit
def _grad_x_kernel(
    g_ptr,
    a_ptr,
    out_ptr,
    n,
    k,
    stride_g,
    stride_a,
    stride_o,
    seed,
    p,
    scale,
    R: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    rows = tl.program_id(0) * BN + tl.arange(0, BN)
    cols = tl.program_id(1) * BK + tl.arange(0, BK)
    rr = tl.arange(0, R)
    g = tl.load(g_ptr + rows[:, None] * stride_g + rr[None, :], mask=rows[:, None] < n, other=0.0)
    a = tl.load(a_ptr + rr[:, None] * stride_a + cols[None, :], mask=cols[None, :] < k, other=0.0)
    d = tl.dot(g, a.to(g.dtype))
    inside = (rows[:, None] < n) & (cols[None, :] < k)
    keep = _keep(rows, cols, k, seed, p)
    out = tl.where(keep, d * scale, 0.0)
    tl.store(
        out_ptr + rows[:, None] * stride_o + cols[None, :],
        out.to(out_ptr.dtype.element_ty),
        mask=inside,
    )


def _rng(seed: int, p: float) -> tuple[int, float, float]:
    """The kernels' dropout arguments: seed, drop probability, scale of what is kept."""
    return seed, p, 1.0 / (1.0 - p)


TILES = {"BN": BLOCK_N, "BK": BLOCK_K}


def supported(x: Tensor, r: int) -> bool:
    """Whether these kernels take this call: a power-of-two rank of at least 16, and offsets
    of the whole input that fit the generator's 32-bit counter."""
    return r >= 16 and (r & (r - 1)) == 0 and x.numel() < 2**31


def _flat(t: Tensor) -> Tensor:
    return t.reshape(-1, t.shape[-1]).contiguous()


def dropout_project(x: Tensor, a: Tensor, seed: int, p: float) -> Tensor:
    """``dropout(x) @ a.T`` with the mask drawn from ``seed``; N x r in x's dtype."""
    xf = _flat(x)
    n, k = xf.shape
    r = a.shape[0]
    h = torch.empty(n, r, device=x.device, dtype=x.dtype)
    grid = (triton.cdiv(n, BLOCK_N),)
    _project_kernel[grid](
        xf, a.contiguous(), h, n, k, xf.stride(0), k, r, *_rng(seed, p), R=r, **TILES
    )
    return h


def dropout_grad_a(x: Tensor, g_h: Tensor, seed: int, p: float, parts: int = 0) -> Tensor:
    """``g_h.T @ dropout(x)`` (r x K, float32): the gradient of ``A``, the mask redrawn."""
    xf, gf = _flat(x), _flat(g_h)
    n, k = xf.shape
    r = gf.shape[1]
    col_blocks = triton.cdiv(k, BLOCK_K)
    if parts <= 0:  # enough programs to fill a GPU: ~4 per multiprocessor
        sms = torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 4
        parts = max(1, min(triton.cdiv(n, BLOCK_N), (4 * sms) // col_blocks))
    rows_per_prog = triton.cdiv(triton.cdiv(n, parts), BLOCK_N) * BLOCK_N
    parts = triton.cdiv(n, rows_per_prog)
    out = torch.empty(parts, r, k, device=x.device, dtype=torch.float32)
    grid = (col_blocks, parts)
    strides = (xf.stride(0), gf.stride(0), rows_per_prog)
    _grad_a_kernel[grid](xf, gf, out, n, k, *strides, *_rng(seed, p), R=r, **TILES)
    return out.sum(0)


def dropout_grad_x(g_h: Tensor, a: Tensor, seed: int, p: float, k: int) -> Tensor:
    """``dropout'(g_h @ a)``: the input gradient through the LoRA path (N x K, g_h's dtype)."""
    gf = _flat(g_h)
    n, r = gf.shape
    out = torch.empty(n, k, device=g_h.device, dtype=g_h.dtype)
    grid = (triton.cdiv(n, BLOCK_N), triton.cdiv(k, BLOCK_K))
    _grad_x_kernel[grid](
        gf, a.contiguous(), out, n, k, gf.stride(0), k, k, *_rng(seed, p), R=r, **TILES
    )
    return out
