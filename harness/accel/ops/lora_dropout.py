# mypy: ignore-errors
# (Triton kernels: their parameters are typed by Triton's own annotations, not Python's.)
"""LoRA dropout fused into the adapter's own matmuls: no mask stored, no dropped copy.

On an H200 the dropout around the LoRA ``A`` projection was the largest cost of a
checkpointed LoRA step besides the GEMMs (1.1B llama, 8 x 2048: 44 ms of dropout kernels in
forward and 31 ms of masking in backward, of 579 ms GPU work; bench/training/gpu_train.py
``--anatomy``). Each costs a full read and write of the layer input. Here the mask is
drawn inside the kernels from a counter-based generator (Philox), so the ``A`` projection
reads ``x`` once and writes only the r-wide result, and backward draws the same mask again
from the same seed instead of loading one:

* ``dropout_project(x, a, seed, p)`` -> ``h = (dropout(x) @ a.T)`` (N x r),
* ``dropout_grad_a(x, g_h, seed, p)`` -> ``g_h.T @ dropout(x)`` (r x K), float32,
* ``dropout_grad_x(g_h, a, seed, p)`` -> ``dropout'(g_h @ a)`` (N x K), the LoRA part of the
  input gradient.

Drawing is what these kernels spend their arithmetic on: one Philox-4x32 call is ten rounds
of 32-bit multiplies for 128 random bits. The first version drew one call per element
(``tl.rand``), four times per layer and step (forward, checkpointing's recompute, both
backward kernels), and measured 14% slower than torch's dropout on an H200 (43.2k against
50.3k tokens/s, checkpointed 8 x 2048). Here one call serves eight consecutive elements of
a row, 16 bits each (bench/training/lora_dropout.py, one H200, 16,384 x 2048 / x 5632
inputs: the forward kernel 0.88x / 1.27x the speed of torch's dropout-then-matmul, the
backward kernels 0.64-0.66x / 0.87-1.12x; within a checkpointed step, where no mask is
kept or reloaded, 51.7k against 50.8k tokens/s at 3.77 instead of 4.11 GB). An element is
dropped when its 16 bits fall below ``round(p * 65536)``, so the drop probability is ``p``
rounded to a multiple of 1/65536 (0.05 -> 0.0500031) and the kept values are scaled by that
rounded probability's ``1 / (1 - p)``, keeping the expectation exact.

The masks are independent between adapters (one seed each), as peft's, but drawn from
Triton's generator instead of torch's: a run is the same training process, not the same
random numbers. The seed comes from torch's CPU generator, so gradient checkpointing, which
restores that generator before a recompute, replays it. ``r`` must be a power of two of at
least 16 (``tl.dot``'s smallest tile). Tile sizes are autotuned per input width on a GPU
(``triton.autotune``; a single tile under Triton's CPU interpreter). Used by
``fused_lora(..., lean=True)``: on CUDA with gradient checkpointing (``SpeedPlan.lean``).
"""

from __future__ import annotations

import os

import torch
import triton
import triton.language as tl
from torch import Tensor

BITS = 16  # random bits per element: eight elements per Philox call
LEVELS = 1 << BITS
ROWS_ALIGN = 128  # grad_a's row ranges are multiples of every tile's row count


def _configs(shapes: list[tuple[int, int, int]]) -> list[triton.Config]:
    """(rows, columns, warps) tiles to try; the interpreter gets the first only (its
    autotuner cannot time kernels, and one tile is what the tests need)."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        shapes = shapes[:1]
    return [triton.Config({"BN": bn, "BK": bk}, num_warps=w) for bn, bk, w in shapes]


_TILES = [(64, 64, 4), (32, 128, 4), (64, 128, 4), (128, 64, 8), (128, 128, 8), (64, 256, 8)]


@triton.jit
def _keep(rows, col0, k, seed, threshold, BK: tl.constexpr):
    """The keep-mask of the rows x BK tile whose first column is ``col0`` (a multiple of 8).

    Element (row, col) takes 16 bits of the Philox call numbered ``row * ceil(k / 8) +
    col // 8``: word ``(col % 8) // 2``, low half for even columns. Every kernel draws a
    tile's mask through this one function, so forward and backward agree."""
    groups = col0 // 8 + tl.arange(0, BK // 8)
    counter = rows[:, None] * tl.cdiv(k, 8) + groups[None, :]
    r0, r1, r2, r3 = tl.randint4x(seed, counter)
    m = 0xFFFF
    lo = tl.interleave(tl.interleave(r0 & m, r2 & m), tl.interleave(r1 & m, r3 & m))
    hi = tl.interleave(tl.interleave(r0 >> 16, r2 >> 16), tl.interleave(r1 >> 16, r3 >> 16))
    return tl.interleave(lo, hi) >= threshold


@triton.jit
def _dropped(x_ptr, rows, col0, n, k, stride_x, seed, threshold, scale, BK: tl.constexpr):
    """The dropped input tile: x * mask / (1 - p), in x's dtype, zero outside the matrix."""
    cols = col0 + tl.arange(0, BK)
    inside = (rows[:, None] < n) & (cols[None, :] < k)
    x = tl.load(x_ptr + rows[:, None] * stride_x + cols[None, :], mask=inside, other=0.0)
    keep = _keep(rows, col0, k, seed, threshold, BK)
    return tl.where(keep & inside, x.to(tl.float32) * scale, 0.0).to(x.dtype)


@triton.autotune(configs=_configs(_TILES), key=["k"])
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
    threshold,
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
        xd = _dropped(x_ptr, rows, k0, n, k, stride_x, seed, threshold, scale, BK)
        a = tl.load(
            a_ptr + rr[None, :] * stride_a + cols[:, None], mask=cols[:, None] < k, other=0.0
        )
        acc += tl.dot(xd, a.to(xd.dtype))
    tl.store(
        h_ptr + rows[:, None] * stride_h + rr[None, :],
        acc.to(h_ptr.dtype.element_ty),
        mask=rows[:, None] < n,
    )


@triton.autotune(configs=_configs(_TILES[:1] + _TILES[2:5]), key=["k"])
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
    threshold,
    scale,
    R: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    col0 = tl.program_id(0) * BK
    cols = col0 + tl.arange(0, BK)
    part = tl.program_id(1)
    rr = tl.arange(0, R)
    acc = tl.zeros((R, BK), dtype=tl.float32)
    start = part * rows_per_prog
    for n0 in range(start, start + rows_per_prog, BN):
        rows = n0 + tl.arange(0, BN)
        xd = _dropped(x_ptr, rows, col0, n, k, stride_x, seed, threshold, scale, BK)
        g = tl.load(
            g_ptr + rows[:, None] * stride_g + rr[None, :], mask=rows[:, None] < n, other=0.0
        )
        acc += tl.dot(tl.trans(g.to(xd.dtype)), xd)
    tl.store(out_ptr + part * R * k + rr[:, None] * k + cols[None, :], acc, mask=cols[None, :] < k)


@triton.autotune(configs=_configs(_TILES[:1] + _TILES[2:5]), key=["k"])
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
    threshold,
    scale,
    R: tl.constexpr,
    BN: tl.constexpr,
    BK: tl.constexpr,
):
    rows = tl.program_id(0) * BN + tl.arange(0, BN)
    col0 = tl.program_id(1) * BK
    cols = col0 + tl.arange(0, BK)
    rr = tl.arange(0, R)
    g = tl.load(g_ptr + rows[:, None] * stride_g + rr[None, :], mask=rows[:, None] < n, other=0.0)
    a = tl.load(a_ptr + rr[:, None] * stride_a + cols[None, :], mask=cols[None, :] < k, other=0.0)
    d = tl.dot(g, a.to(g.dtype))
    inside = (rows[:, None] < n) & (cols[None, :] < k)
    keep = _keep(rows, col0, k, seed, threshold, BK)
    out = tl.where(keep, d * scale, 0.0)
    tl.store(
        out_ptr + rows[:, None] * stride_o + cols[None, :],
        out.to(out_ptr.dtype.element_ty),
        mask=inside,
    )


def drop_probability(p: float) -> float:
    """The probability the kernels actually drop with: ``p`` rounded to 1/65536."""
    return round(p * LEVELS) / LEVELS


def _rng(seed: int, p: float) -> tuple[int, int, float]:
    """The kernels' dropout arguments: seed, the 16-bit threshold below which an element is
    dropped, and the scale of what is kept (exact for the rounded probability)."""
    threshold = round(p * LEVELS)
    return seed, threshold, LEVELS / (LEVELS - threshold)


def supported(x: Tensor, r: int) -> bool:
    """Whether these kernels take this call: a power-of-two rank of at least 16, and element
    offsets that fit the kernels' 32-bit index arithmetic."""
    return r >= 16 and (r & (r - 1)) == 0 and x.numel() < 2**31


def _flat(t: Tensor) -> Tensor:
    return t.reshape(-1, t.shape[-1]).contiguous()


def dropout_project(x: Tensor, a: Tensor, seed: int, p: float) -> Tensor:
    """``dropout(x) @ a.T`` with the mask drawn from ``seed``; N x r in x's dtype."""
    xf = _flat(x)
    n, k = xf.shape
    r = a.shape[0]
    h = torch.empty(n, r, device=x.device, dtype=x.dtype)

    def grid(meta: dict[str, int]) -> tuple[int]:
        return (triton.cdiv(n, meta["BN"]),)

    _project_kernel[grid](xf, a.contiguous(), h, n, k, xf.stride(0), k, r, *_rng(seed, p), R=r)
    return h


def _row_parts(n: int, k: int, device: torch.device, parts: int) -> tuple[int, int]:
    """grad_a splits the rows into ``parts`` ranges summed afterwards (a deterministic
    split-K): enough programs to fill a GPU, ~4 per multiprocessor at 64-column tiles.
    Returns (parts, rows per part), the rows a multiple of every tile's row count."""
    if parts <= 0 and device.type == "cuda":
        sms = torch.cuda.get_device_properties(device).multi_processor_count
        parts = max(1, (4 * sms) // triton.cdiv(k, 64))
    elif parts <= 0:
        parts = 4
    rows = triton.cdiv(triton.cdiv(n, parts), ROWS_ALIGN) * ROWS_ALIGN
    return triton.cdiv(n, rows), rows


def dropout_grad_a(x: Tensor, g_h: Tensor, seed: int, p: float, parts: int = 0) -> Tensor:
    """``g_h.T @ dropout(x)`` (r x K, float32): the gradient of ``A``, the mask redrawn."""
    xf, gf = _flat(x), _flat(g_h)
    n, k = xf.shape
    r = gf.shape[1]
    parts, rows = _row_parts(n, k, x.device, parts)
    out = torch.empty(parts, r, k, device=x.device, dtype=torch.float32)

    def grid(meta: dict[str, int]) -> tuple[int, int]:
        return (triton.cdiv(k, meta["BK"]), parts)

    strides = (xf.stride(0), gf.stride(0), rows)
    _grad_a_kernel[grid](xf, gf, out, n, k, *strides, *_rng(seed, p), R=r)
    return out.sum(0)


def dropout_grad_x(g_h: Tensor, a: Tensor, seed: int, p: float, k: int) -> Tensor:
    """``dropout'(g_h @ a)``: the input gradient through the LoRA path (N x K, g_h's dtype)."""
    gf = _flat(g_h)
    n, r = gf.shape
    out = torch.empty(n, k, device=g_h.device, dtype=g_h.dtype)

    def grid(meta: dict[str, int]) -> tuple[int, int]:
        return (triton.cdiv(n, meta["BN"]), triton.cdiv(k, meta["BK"]))

    _grad_x_kernel[grid](gf, a.contiguous(), out, n, k, gf.stride(0), k, k, *_rng(seed, p), R=r)
    return out


def tuned() -> dict[str, str]:
    """The tile each kernel's autotuner chose, per input width (for benchmark records)."""
    out: dict[str, str] = {}
    for name, kernel in (
        ("project", _project_kernel),
        ("grad_a", _grad_a_kernel),
        ("grad_x", _grad_x_kernel),
    ):
        for key, cfg in getattr(kernel, "cache", {}).items():
            out[f"{name}{key}"] = str(cfg)
    return out
