"""The fused LoRA delta computes what peft computes, keeps less, and is used on CUDA only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from peft import LoraConfig, get_peft_model
from peft.tuners.lora.layer import Linear as LoraLinear
from torch import nn

from harness.accel import LoraDelta, fused_lora, lora_delta
from harness.accel import LoraLinear as LoraLinearNode


class _Two(nn.Module):
    """Two linear layers with a non-linearity: adapters on both, gradients through both."""

    def __init__(self, dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        self.q = nn.Linear(16, 24, dtype=dtype)
        self.v = nn.Linear(24, 8, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.v(torch.relu(self.q(x)))


def _peft(p: float, dtype: torch.dtype = torch.float32, **kw: Any) -> Any:
    torch.manual_seed(0)
    model = get_peft_model(
        _Two(dtype), LoraConfig(r=4, lora_alpha=8, lora_dropout=p, target_modules=["q", "v"], **kw)
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero; a zero delta would test nothing
            nn.init.normal_(param)
    return model


def _run(model: Any, fused: bool, seed: int = 1) -> tuple[torch.Tensor, ...]:
    x = torch.randn(2, 3, 5, 16, generator=torch.Generator().manual_seed(7)).requires_grad_()
    model.zero_grad()
    with fused_lora(model, fused) as report:
        torch.manual_seed(seed)
        y = model(x)
        y.square().sum().backward()
    assert report.fused == (2 if fused else 0)
    grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
    assert len(grads) == 4  # A and B of both layers
    assert x.grad is not None
    return (y.detach(), x.grad, *grads)


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_fused_forward_and_gradients_equal_peft(p: float) -> None:
    # p > 0: the same seed gives native_dropout the same mask peft's nn.Dropout draws.
    model = _peft(p)
    for ref, got in zip(_run(model, False), _run(model, True), strict=True):
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)


def test_eval_mode_has_no_dropout() -> None:
    model = _peft(0.5).eval()
    a, b = _run(model, True, seed=1), _run(model, True, seed=2)
    torch.testing.assert_close(a[0], b[0], atol=0, rtol=0)
    torch.testing.assert_close(a[0], _run(model, False)[0], atol=1e-6, rtol=0)


def test_bf16_autocast_is_as_close_to_exact_as_peft() -> None:
    # The CUDA path: bf16 base, fp32 adapter weights, autocast, peft's input casts switched
    # off; here on CPU autocast. The plain-linear node adds the delta inside the GEMM (one
    # rounding instead of three), so it is not bit-equal to peft: it must be as close as
    # peft, within rounding, to the same network computed in float64. Gradients come back
    # in fp32.
    import copy

    from peft.helpers import disable_input_dtype_casting

    model = _peft(0.0, torch.bfloat16)
    exact = copy.deepcopy(model).double()
    x0 = torch.randn(64, 16, generator=torch.Generator().manual_seed(3)).bfloat16()

    def run(fused: bool) -> list[torch.Tensor]:
        x = x0.clone().requires_grad_()
        model.zero_grad()
        with (
            disable_input_dtype_casting(model),
            fused_lora(model, fused),
            torch.autocast("cpu", dtype=torch.bfloat16),
        ):
            y = model(x)
            y.float().square().sum().backward()
        assert x.grad is not None
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        assert all(g.dtype == torch.float32 for g in grads)
        return [y, x.grad, *grads]

    x64 = x0.double().requires_grad_()
    y64 = exact(x64)
    y64.square().sum().backward()
    truth = [y64, x64.grad, *(p.grad for p in exact.parameters() if p.grad is not None)]
    ref, got = run(False), run(True)
    for r, g, t in zip(ref, got, truth, strict=True):
        assert g.dtype == r.dtype
        err_fused = (g.double() - t).norm() / t.norm()
        err_peft = (r.double() - t).norm() / t.norm()
        assert err_fused <= 1.5 * err_peft + 1e-3, (err_fused, err_peft)
        assert err_fused < 2e-2


def _reference(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor, s: float, p: float, mask: Any):
    dropped = x * mask / (1 - p) if mask is not None else x
    return F.linear(F.linear(dropped, a), b) * s


def _leaves(seed: int = 0, dtype: torch.dtype = torch.float32) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = [(2, 3, 6), (3, 6), (5, 3)]
    return [torch.randn(*s, generator=g, dtype=dtype).requires_grad_() for s in shapes]


def _grads(fn: Any, leaves: list[torch.Tensor]) -> list[torch.Tensor]:
    out = fn(*leaves)
    return [out.detach(), *torch.autograd.grad(out.square().sum(), leaves)]


def test_explicit_mask_matches_the_dropout_formula() -> None:
    p = 0.4
    leaves = _leaves()
    mask = torch.rand(2, 3, 6, generator=torch.Generator().manual_seed(1)) >= p
    ref = _grads(lambda x, a, b: _reference(x, a, b, 2.0, p, mask), leaves)
    got = _grads(lambda x, a, b: lora_delta(x, a, b, 2.0, p, mask), leaves)
    for r, g in zip(ref, got, strict=True):  # x*m/(1-p) against x*m*(1/(1-p)): last-bit rounding
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-5)


def test_backward_regenerates_the_forward_mask() -> None:
    # No mask kept: backward redraws it from the generator state saved in forward, so the
    # gradients are those of the mask native_dropout drew in forward, whatever ran between.
    p = 0.5
    leaves = _leaves()
    torch.manual_seed(5)
    _, drawn = torch.native_dropout(leaves[0].detach(), p, True)
    ref = _grads(lambda x, a, b: lora_delta(x, a, b, 2.0, p, drawn), leaves)
    torch.manual_seed(5)
    out = lora_delta(*leaves, 2.0, p)
    torch.rand(1000)  # the generator moves on before backward
    got = [out.detach(), *torch.autograd.grad(out.square().sum(), leaves)]
    for r, g in zip(ref, got, strict=True):
        torch.testing.assert_close(g, r, atol=1e-6, rtol=0)


def test_checkpoint_recompute_replays_the_same_mask() -> None:
    from torch.utils.checkpoint import checkpoint

    p = 0.5
    leaves = _leaves()

    def plain(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return lora_delta(x, a, b, 2.0, p)

    def ckpt(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = checkpoint(plain, x, a, b, use_reentrant=False)
        return out

    torch.manual_seed(9)
    ref = _grads(plain, leaves)
    torch.manual_seed(9)
    got = _grads(ckpt, leaves)
    for r, g in zip(ref, got, strict=True):
        torch.testing.assert_close(g, r, atol=1e-6, rtol=0)


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_gradcheck_float64(p: float) -> None:
    leaves = _leaves(dtype=torch.float64)
    mask = (torch.rand(2, 3, 6, generator=torch.Generator().manual_seed(2)) >= p) if p else None
    assert torch.autograd.gradcheck(
        lambda x, a, b: LoraDelta.apply(x, a, b, 1.5, p, mask, torch.float64), leaves
    )


def test_context_manager_restores_peft_forwards() -> None:
    model = _peft(0.1)
    layers = [m for m in model.modules() if isinstance(m, LoraLinear)]
    with fused_lora(model, True) as report:
        assert report.fused == 2 and not report.left
        assert all("forward" in vars(m) for m in layers)
    assert all("forward" not in vars(m) and "_peft_forward" not in vars(m) for m in layers)
    assert all(type(m).forward is LoraLinear.forward for m in layers)


def test_disabled_changes_nothing() -> None:
    model = _peft(0.1)
    with fused_lora(model, False) as report:
        assert report.fused == 0
        assert not any("forward" in vars(m) for m in model.modules())


def test_dora_layers_stay_on_peft_path() -> None:
    model = _peft(0.0, use_dora=True)
    with fused_lora(model, True) as report:
        assert report.fused == 0
        assert report.left == {"DoRA or another LoRA variant": 2}


def test_disabled_adapter_falls_back_per_call() -> None:
    model = _peft(0.0)
    x = torch.randn(3, 16)
    with torch.no_grad():
        with model.disable_adapter():
            base = model(x)
        with fused_lora(model, True), model.disable_adapter():
            got = model(x)
    torch.testing.assert_close(got, base, atol=0, rtol=0)


def test_bnb_4bit_layer_fused_equals_peft(tiny_model_dir_64: Path) -> None:
    from peft.tuners.lora.bnb import Linear4bit
    from transformers import AutoModelForCausalLM

    from harness.models._quant import bnb_config

    base = AutoModelForCausalLM.from_pretrained(
        str(tiny_model_dir_64), quantization_config=bnb_config("nf4", "float32")
    )
    torch.manual_seed(0)
    model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, lora_dropout=0.0, target_modules="all-linear")
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:
            nn.init.normal_(param, std=0.1)
    n_4bit = sum(isinstance(m, Linear4bit) for m in model.modules())
    assert n_4bit > 0
    ids = torch.tensor([[5, 9, 13, 40, 7, 3]])

    def run(fused: bool) -> list[torch.Tensor]:
        model.zero_grad()
        with fused_lora(model, fused) as report:
            logits = model(input_ids=ids).logits
            logits.square().mean().backward()
        assert report.fused == (n_4bit if fused else 0)
        return [logits.detach(), *(p.grad for p in model.parameters() if p.grad is not None)]

    ref, got = run(False), run(True)
    assert len(ref) == len(got) == 1 + 2 * n_4bit
    for r, g in zip(ref, got, strict=True):
        torch.testing.assert_close(g, r, atol=1e-6, rtol=1e-5)


def test_train_lora_on_cpu_keeps_peft_forward(tiny_model_dir: Path, isolated_env: Path) -> None:
    # The default evidence is trained on CPU: its adapters must stay bit-for-bit peft's.
    from transformers import TrainerCallback

    from harness.config import load_recipe, load_suite
    from harness.engine import training_examples
    from harness.training import train_lora
    from tests.conftest import write_tiny_experiment

    seen: list[int] = []

    class _Watch(TrainerCallback):
        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            lora = [m for m in kw["model"].modules() if isinstance(m, LoraLinear)]
            assert lora
            seen.append(sum("forward" in vars(m) for m in lora))

    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir, max_steps=2)
    recipe = load_recipe(exp.parent / "training" / "lora.yaml")
    examples = training_examples(load_suite(recipe.data.suite))
    train_lora(tiny_model_dir, "fp", recipe, examples, isolated_env / "a", callbacks=[_Watch()])
    assert seen and not any(seen)


def _linear_leaves(dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(4)
    shapes = [(2, 3, 6), (5, 6), (3, 6), (5, 3)]  # x, frozen W, A, B
    leaves = [torch.randn(*s, generator=g, dtype=dtype) for s in shapes]
    for i in (0, 2, 3):
        leaves[i].requires_grad_()
    return leaves


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_plain_linear_node_gradcheck_float64(p: float) -> None:
    x, w, a, b = _linear_leaves()
    bias = torch.randn(5, dtype=torch.float64)

    def fn(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(0)  # the same mask on every call gradcheck makes
        out: torch.Tensor = LoraLinearNode.apply(x, w, bias, a, b, 1.5, p, torch.float64)
        return out

    assert torch.autograd.gradcheck(fn, [x, a, b])


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_plain_linear_node_equals_the_formula(p: float) -> None:
    x, w, a, b = _linear_leaves(torch.float32)
    torch.manual_seed(6)
    _, mask = torch.native_dropout(x.detach(), p, True) if p else (None, None)

    def ref(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = F.linear(x, w) + _reference(x, a, b, 2.0, p, mask)
        return out

    def got(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        torch.manual_seed(6)
        out: torch.Tensor = LoraLinearNode.apply(x, w, None, a, b, 2.0, p, torch.float32)
        return out

    for r, g in zip(_grads(ref, [x, a, b]), _grads(got, [x, a, b]), strict=True):
        torch.testing.assert_close(g, r, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("reentrant", [False, True])
def test_plain_linear_node_under_checkpointing_replays_the_mask(reentrant: bool) -> None:
    from torch.utils.checkpoint import checkpoint

    x, w, a, b = _linear_leaves(torch.float32)

    def plain(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = LoraLinearNode.apply(x, w, None, a, b, 2.0, 0.5, torch.float32)
        return out

    def ckpt(x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = checkpoint(plain, x, a, b, use_reentrant=reentrant)
        return out

    def run(fn: Any) -> list[torch.Tensor]:  # .backward(): reentrant refuses autograd.grad
        for leaf in (x, a, b):
            leaf.grad = None
        torch.manual_seed(9)
        out = fn(x, a, b)
        out.square().sum().backward()
        return [out.detach(), *(leaf.grad for leaf in (x, a, b) if leaf.grad is not None)]

    ref, got = run(plain), run(ckpt)
    assert len(got) == 4
    for r, g in zip(ref, got, strict=True):
        torch.testing.assert_close(g, r, atol=0, rtol=0)


def test_plain_linear_node_keeps_the_input_and_a_bool_mask_only() -> None:
    # What backward keeps: x itself (shared with whatever else saved it), the frozen and
    # adapter weights, the r-wide intermediate and a one-byte mask; no dropped copy of x.
    x, w, a, b = _linear_leaves(torch.float32)
    x = torch.randn(64, 6).requires_grad_()
    saved: list[torch.Tensor] = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        LoraLinearNode.apply(x, w, None, a, b, 2.0, 0.1, torch.float32)
    big = [t for t in saved if t.numel() == x.numel()]
    assert len(big) == 2
    assert any(t is x for t in big)
    assert {t.dtype for t in big if t is not x} == {torch.bool}


@pytest.mark.parametrize("fused_adam", [False, True])
def test_low_precision_weight_copies_follow_every_optimizer_step(fused_adam: bool) -> None:
    # The bf16 copies of the adapter weights are made once per step and reused by forward,
    # recompute and backward; after each optimizer step (fused AdamW leaves the version
    # counter alone) and after load_state_dict the fused output must follow the new weights.
    model = _peft(0.0, torch.bfloat16)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=0.1, fused=fused_adam)
    x = torch.randn(8, 16, generator=torch.Generator().manual_seed(1)).bfloat16()

    def out(fused: bool) -> torch.Tensor:
        with fused_lora(model, fused), torch.autocast("cpu", dtype=torch.bfloat16):
            return model(x).float()

    with fused_lora(model, True), torch.autocast("cpu", dtype=torch.bfloat16):
        for _ in range(3):
            before = model(x).float()
            before.square().sum().backward()
            opt.step()
            opt.zero_grad()
            after = model(x).float()
            assert not torch.equal(before, after)
            with fused_lora(model, False):
                ref = model(x).float()
            torch.testing.assert_close(after, ref, atol=0.1, rtol=0.02)
        state = {k: v.clone() for k, v in model.state_dict().items()}
        for p in params:
            with torch.no_grad():
                p.add_(1.0)
        moved = model(x).float()
        model.load_state_dict(state)
        torch.testing.assert_close(model(x).float(), after, atol=0, rtol=0)
        assert not torch.equal(moved, after)
    assert not any(hasattr(p, "_harness_low") for p in model.parameters())


def _lean_llama(tiny_model_dir: Path, dropout: float) -> Any:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, lora_dropout=dropout, target_modules="all-linear")
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:  # non-zero B: every path carries gradient
            torch.nn.init.normal_(param, std=0.1)
    model.train()
    return model


def _step(model: Any, lean: bool, seed: int = 3) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """One forward/backward through fused_lora; the loss and every LoRA gradient."""
    ids = torch.tensor([[1, 5, 9, 2, 7, 3, 8, 4]])
    model.zero_grad()
    with fused_lora(model, True, lean=lean) as report:
        assert report.mlps == (len(model.base_model.model.model.layers) if lean else 0)
        torch.manual_seed(seed)
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_lean_mlp_computes_what_the_unfused_mlp_does(tiny_model_dir: Path, dropout: float) -> None:
    # Without Triton's interpreter on CPU the lean dropout stays torch's, drawn in the same
    # order: the same masks, so the same loss and gradients as the unfused MLP.
    model = _lean_llama(tiny_model_dir, dropout)
    loss, grads = _step(model, lean=False)
    lean_loss, lean_grads = _step(model, lean=True)
    torch.testing.assert_close(lean_loss, loss, rtol=1e-6, atol=1e-6)
    assert lean_grads.keys() == grads.keys() and len(grads) > 0
    for name, grad in grads.items():
        torch.testing.assert_close(lean_grads[name], grad, rtol=1e-5, atol=1e-6, msg=name)
    assert all(g.abs().sum() > 0 for n, g in lean_grads.items() if "mlp" in n)
    assert "forward" not in vars(model.base_model.model.model.layers[0].mlp)  # restored


def test_lean_mlp_keeps_no_swiglu_product(tiny_model_dir: Path) -> None:
    """What autograd keeps for one MLP: gate and up, not also their product."""
    model = _lean_llama(tiny_model_dir, 0.0)
    mlp = model.base_model.model.model.layers[0].mlp
    width = mlp.down_proj.in_features
    x = torch.randn(1, 8, mlp.gate_proj.in_features)

    def kept_wide(lean: bool) -> int:
        kept: list[torch.Tensor] = []

        def pack(t: torch.Tensor) -> torch.Tensor:
            kept.append(t)
            return t

        with fused_lora(model, True, lean=lean):
            with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
                out = mlp(x)  # what forward keeps for backward
            out.sum().backward()
        acts = {t.data_ptr() for t in kept if t.shape == (1, 8, width)}  # not weights
        return len(acts)

    # torch's SiLU and multiply keep gate, silu(gate) and up; the down layer its input
    assert kept_wide(lean=False) == 4
    assert kept_wide(lean=True) == 2  # gate and up


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_lean_mlp_on_cuda_matches_the_unfused_mlp(tiny_model_dir: Path) -> None:
    # On CUDA the lean MLP runs liger-kernel's SwiGLU kernels where liger is installed
    model = _lean_llama(tiny_model_dir, 0.0).cuda()
    ids = torch.tensor([[1, 5, 9, 2, 7, 3, 8, 4]], device="cuda")

    def step(lean: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        model.zero_grad()
        with fused_lora(model, True, lean=lean):
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
        return loss.detach(), grads

    loss, grads = step(False)
    lean_loss, lean_grads = step(True)
    torch.testing.assert_close(lean_loss, loss, rtol=1e-5, atol=1e-5)
    for name, grad in grads.items():
        torch.testing.assert_close(lean_grads[name], grad, rtol=1e-4, atol=1e-5, msg=name)


def test_lean_mlp_displaces_liger_forward_and_puts_it_back(tiny_model_dir: Path) -> None:
    """liger-kernel is applied to the instance before fused_lora is entered (SpeedPlan.training:
    apply_liger, then fused_lora), binding its own MLP forward to each instance: the lean
    forward takes over from it, uses it for calls it does not take, and gives it back on exit.
    A forward bound by anyone else is left alone (the MLP is not fused)."""
    import types

    from harness.accel.ops import swiglu_lora

    class LigerSwiGLUMLP:  # stands in for liger's class: its forward's qualified name
        def forward(self: Any, x: torch.Tensor) -> torch.Tensor:
            return type(self).forward(self, x)

    model = _lean_llama(tiny_model_dir, 0.0)
    mlps = [layer.mlp for layer in model.base_model.model.model.layers]
    for mlp in mlps:
        mlp.forward = types.MethodType(LigerSwiGLUMLP.forward, mlp)
    calls: list[int] = []
    real = swiglu_lora.SwiGLULoraDown.apply

    def counted(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    ids = torch.tensor([[1, 5, 9, 2]])
    with fused_lora(model, True, lean=True) as report:
        assert all(mlp.forward.__func__ is not LigerSwiGLUMLP.forward for mlp in mlps)
        swiglu_lora.SwiGLULoraDown.apply = counted  # type: ignore[method-assign]
        try:
            model(input_ids=ids, labels=ids).loss.backward()
        finally:
            swiglu_lora.SwiGLULoraDown.apply = real  # type: ignore[method-assign]
    assert report.mlps == len(mlps) and len(calls) == len(mlps)
    assert all(mlp.forward.__func__ is LigerSwiGLUMLP.forward for mlp in mlps)

    def wrapped(self: Any, x: torch.Tensor) -> torch.Tensor:  # someone else's wrapper
        return type(self).forward(self, x)

    for mlp in mlps:
        mlp.forward = types.MethodType(wrapped, mlp)
    with fused_lora(model, True, lean=True) as report:
        assert report.mlps == 0
    assert all(mlp.forward.__func__ is wrapped for mlp in mlps)


def test_lean_leaves_mlps_over_4bit_bases_alone(tiny_model_dir_64: Path) -> None:
    pytest.importorskip("bitsandbytes")
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    model = AutoModelForCausalLM.from_pretrained(
        str(tiny_model_dir_64),
        quantization_config=BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4"),
        dtype=torch.float32,
    )
    model = get_peft_model(model, LoraConfig(r=4, lora_dropout=0.1, target_modules="all-linear"))
    with fused_lora(model, True, lean=True) as report:
        assert report.fused > 0 and report.mlps == 0
