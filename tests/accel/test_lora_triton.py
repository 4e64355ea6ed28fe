"""LoRA dropout drawn inside Triton kernels: the same dropout, no mask kept.

Runs where Triton is installed (the `gpu` extra brings it through liger-kernel): on CUDA the
real kernels, on CPU Triton's interpreter (``TRITON_INTERPRET=1``, set here before the
kernels are built). Skipped where Triton is missing, as in the CPU-only test environment.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import torch

if not torch.cuda.is_available():
    os.environ.setdefault("TRITON_INTERPRET", "1")
pytest.importorskip("triton")

from harness.accel import LoraLinear, fused_lora
from harness.accel.ops.lora_dropout import (
    drop_probability,
    dropout_grad_a,
    dropout_grad_x,
    dropout_project,
    supported,
)

# On a CUDA machine these are the real kernels: they run in `nox -s gpu`.
pytestmark = [pytest.mark.gpu] if torch.cuda.is_available() else []
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
DTYPE = torch.bfloat16 if DEVICE == "cuda" else torch.float32


def _near(got: torch.Tensor, ref: torch.Tensor) -> None:
    """Equal up to the dtype's rounding. In float32 (interpreter) elementwise, with the
    absolute slack scaled to the tensor: a gradient element that is a near-cancelling sum of
    large terms carries their rounding (seen: 0.004 on an element of 1.3 in a tensor whose
    entries run to thousands). In bf16 on CUDA by relative norm, since a sum rounded in
    another order can move a single large element by a few units of its last place (seen on
    an H200: 3 of 3,072 elements)."""
    if DEVICE == "cpu":
        scale = ref.abs().max().item()
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-4 * max(1.0, 1e-2 * scale))
        return
    err = (got.float() - ref.float()).norm() / ref.float().norm()
    assert err < 1e-2, err


def _mask(n: int, k: int, r: int, seed: int, p: float) -> torch.Tensor:
    """The kernels' mask for ``seed``, read back through the input-gradient kernel."""
    ones = torch.full((n, r), 1.0 / r, device=DEVICE, dtype=DTYPE)
    return (dropout_grad_x(ones, torch.ones(r, k, device=DEVICE, dtype=DTYPE), seed, p, k) != 0).to(
        DTYPE
    )


def _randn(*shape: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=g).to(DEVICE, DTYPE)


@pytest.mark.parametrize("shape", [(100, 80), (64, 64), (130, 200)])
def test_kernels_compute_the_dropout_formulas(shape: tuple[int, int]) -> None:
    n, k = shape
    r, p, seed = 16, 0.3, 1234
    x, a, g = _randn(n, k, seed=1), _randn(r, k, seed=2), _randn(n, r, seed=3)
    m = _mask(n, k, r, seed, p)
    assert set(torch.unique(m).tolist()) <= {0.0, 1.0}
    keep = 1 - drop_probability(p)
    xd = (x.float() * m.float() / keep).to(DTYPE)
    _near(dropout_project(x, a, seed, p), xd @ a.T)
    _near(dropout_grad_a(x, g, seed, p, parts=3), (g.T @ xd).float())
    ref_x = ((g.float() @ a.float()) * m.float() / keep).to(DTYPE)
    _near(dropout_grad_x(g, a, seed, p, k), ref_x)


def test_masks_are_bernoulli_and_follow_the_seed() -> None:
    n, k, r, p = 128, 256, 16, 0.25
    m = _mask(n, k, r, 7, p)
    assert abs(m.float().mean().item() - (1 - p)) < 0.02  # 32,768 draws: ~0.0024 sd
    assert torch.equal(m, _mask(n, k, r, 7, p))
    other = _mask(n, k, r, 8, p)
    # independent masks disagree where exactly one keeps: 2 p (1 - p) = 0.375
    assert abs((m != other).float().mean().item() - 2 * p * (1 - p)) < 0.02


def test_supported_shapes() -> None:
    x = torch.zeros(4, 8)
    assert supported(x, 16) and supported(x, 64)
    assert not supported(x, 8) and not supported(x, 24)


def _node(x: torch.Tensor, w: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    out: torch.Tensor = LoraLinear.apply(x, w, None, a, b, 2.0, 0.3, DTYPE, True)
    return out


@pytest.mark.parametrize("reentrant", [False, True])
def test_node_gradients_follow_the_drawn_mask_and_replay_under_checkpointing(
    reentrant: bool,
) -> None:
    from torch.utils.checkpoint import checkpoint

    n, k, o, r = 48, 64, 32, 16
    w = _randn(o, k, seed=4)
    leaves = [_randn(n, k, seed=5), _randn(r, k, seed=6), _randn(o, r, seed=7)]
    leaves = [t.float().requires_grad_() if DEVICE == "cpu" else t.requires_grad_() for t in leaves]

    def run(fn: Any) -> list[torch.Tensor]:
        for t in leaves:
            t.grad = None
        torch.manual_seed(11)  # the CPU generator gives the kernel seed
        out = fn(*leaves)
        out.float().square().sum().backward()
        return [out.detach(), *(t.grad for t in leaves if t.grad is not None)]

    def ckpt(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = checkpoint(_node, x, w, a, b, use_reentrant=reentrant)
        return out

    plain = run(lambda x, a, b: _node(x, w, a, b))
    assert len(plain) == 4
    for got, ref in zip(run(ckpt), plain, strict=True):
        torch.testing.assert_close(got, ref, atol=0, rtol=0)
    # the drawn mask, read back with the seed the node drew: the formula's gradients
    torch.manual_seed(11)
    seed = int(torch.randint(0, 2**31 - 1, (1,)).item())
    x, a, b = (t.detach().requires_grad_() for t in leaves)
    m = _mask(n, k, r, seed, 0.3)
    out = x @ w.T + 2.0 * ((x * m / (1 - drop_probability(0.3))) @ a.T) @ b.T
    out.float().square().sum().backward()
    for got, ref in zip(plain, [out.detach(), x.grad, a.grad, b.grad], strict=True):
        _near(got, ref)


def test_fused_lora_uses_the_kernels_for_rank_16_and_trains() -> None:
    from peft import LoraConfig, get_peft_model
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 32)).to(DEVICE)
    model = get_peft_model(
        net, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.1, target_modules=["0", "2"])
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:
            nn.init.normal_(param, std=0.1)
    x = torch.randn(32, 64, device=DEVICE)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    calls: list[int] = []
    import harness.accel.ops.lora_dropout as kernels

    real = kernels.dropout_project

    def counted(*args: Any) -> torch.Tensor:
        calls.append(1)
        return real(*args)

    kernels.dropout_project = counted
    try:
        losses = []
        with fused_lora(model, True, lean=True) as report:
            assert report.fused == 2
            for _ in range(20):
                loss = (model(x) - 1.0).square().mean()
                loss.backward()
                opt.step()
                opt.zero_grad()
                losses.append(loss.item())
            model.eval()
            with torch.no_grad():  # no dropout in eval: the same output as peft's forward
                fused_eval = model(x)
        with torch.no_grad():
            peft_eval = model(x)
    finally:
        kernels.dropout_project = real
    assert len(calls) == 2 * 20  # two adapted layers, every training step
    assert losses[-1] < 0.5 * losses[0], losses
    torch.testing.assert_close(fused_eval, peft_eval, atol=1e-5, rtol=1e-4)


def test_drop_probability_is_p_rounded_to_16_bits_and_the_scale_keeps_the_expectation() -> None:
    from harness.accel.ops.lora_dropout import _rng

    assert drop_probability(0.25) == 0.25
    assert abs(drop_probability(0.05) - 0.05) < 1 / 65536
    _, threshold, scale = _rng(3, 0.05)
    assert threshold == 3277
    assert scale * (1 - drop_probability(0.05)) == pytest.approx(1.0, abs=1e-12)


def test_neighbouring_elements_draw_independent_bits() -> None:
    """Eight elements share one Philox call (16 bits each): neighbours within a call, and
    across calls, agree as often as independent fair coins would."""
    m = _mask(256, 256, 16, 5, 0.5)
    for shift in (1, 2, 4, 7, 8):
        agree = (m[:, shift:] == m[:, :-shift]).float().mean().item()
        assert abs(agree - 0.5) < 0.02, (shift, agree)  # ~65k pairs: sd ~0.002
    assert abs((m[1:] == m[:-1]).float().mean().item() - 0.5) < 0.02


def test_the_mask_does_not_depend_on_the_tile_shape() -> None:
    """Each kernel's autotuner may pick another tile: the mask is a function of the element
    only, so forward and backward agree whatever they picked."""
    import triton

    from harness.accel.ops.lora_dropout import _grad_x_kernel, _rng

    n, k, r = 96, 200, 16
    g = torch.full((n, r), 1.0 / r, device=DEVICE, dtype=DTYPE)
    a = torch.ones(r, k, device=DEVICE, dtype=DTYPE)
    masks = []
    for bn, bk in ((64, 64), (32, 128), (128, 256)):
        out = torch.empty(n, k, device=DEVICE, dtype=DTYPE)
        grid = (triton.cdiv(n, bn), triton.cdiv(k, bk))
        _grad_x_kernel.fn[grid](g, a, out, n, k, r, k, k, *_rng(9, 0.4), R=r, BN=bn, BK=bk)
        masks.append(out != 0)
    assert torch.equal(masks[0], masks[1]) and torch.equal(masks[0], masks[2])
    assert 0.5 < masks[0].float().mean().item() < 0.7
