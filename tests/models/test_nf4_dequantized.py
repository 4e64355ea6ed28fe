"""The NF4 base dequantized once (CPU) against bitsandbytes' real ``Linear4bit`` path.

Both run from the same 4-bit storage: the dequantized path must give the same logits and,
after several QLoRA steps, the same adapter weights, within bf16 rounding.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("bitsandbytes")

from harness.models._nf4_cpu import dequantize_4bit_layers  # noqa: E402


def _load_nf4(model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    from harness.models._quant import bnb_config

    model = AutoModelForCausalLM.from_pretrained(
        str(model_dir), quantization_config=bnb_config("nf4"), dtype=torch.bfloat16
    )
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("nf4") / "base", hidden=64)


def test_replaces_every_4bit_layer_with_the_same_rounded_weights(tiny_dir: Path) -> None:
    import bitsandbytes as bnb
    import bitsandbytes.functional as bnbf

    real, fast = _load_nf4(tiny_dir), _load_nf4(tiny_dir)
    layer = real.model.layers[0].self_attn.q_proj
    want = bnbf.dequantize_4bit(layer.weight.data, layer.weight.quant_state).to(torch.bfloat16)
    n4 = sum(isinstance(m, bnb.nn.Linear4bit) for m in real.modules())
    assert dequantize_4bit_layers(fast) == n4 > 0
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in fast.modules())
    assert torch.equal(fast.model.layers[0].self_attn.q_proj.weight, want)


def test_logits_match_the_real_4bit_layers(tiny_dir: Path) -> None:
    real, fast = _load_nf4(tiny_dir), _load_nf4(tiny_dir)
    dequantize_4bit_layers(fast)
    ids = torch.randint(0, 400, (3, 12), generator=torch.Generator().manual_seed(0))
    real.train()  # bitsandbytes' gemm_4bit path: dequantize, then F.linear
    fast.train()
    with torch.no_grad():
        a, b = real(ids).logits.float(), fast(ids).logits.float()
    assert torch.equal(a, b)
    real.eval()  # on AVX512-BF16 CPUs: bitsandbytes' packed bf16 gemv kernel instead
    fast.eval()
    with torch.no_grad():
        a, b = real(ids).logits.float(), fast(ids).logits.float()
    assert torch.allclose(a, b, atol=0.05, rtol=0.02), (a - b).abs().max()
    assert torch.equal(a.argmax(-1), b.argmax(-1))


def _train_lora(model: Any, steps: int) -> dict[str, Any]:
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    peft_model = get_peft_model(
        model,
        LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"]),
    )
    opt = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad], lr=1e-2)
    gen = torch.Generator().manual_seed(1)
    peft_model.train()
    for _ in range(steps):
        ids = torch.randint(0, 400, (2, 10), generator=gen)
        loss = peft_model(input_ids=ids, labels=ids).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    return {k: v.detach().float().clone() for k, v in peft_model.named_parameters() if "lora_" in k}


def test_adapter_weights_after_training_match_the_real_4bit_path(tiny_dir: Path) -> None:
    from peft import prepare_model_for_kbit_training

    real = prepare_model_for_kbit_training(_load_nf4(tiny_dir), use_gradient_checkpointing=False)
    fast = prepare_model_for_kbit_training(_load_nf4(tiny_dir), use_gradient_checkpointing=False)
    # After prepare_model_for_kbit_training, which would cast the dequantized weights to fp32.
    dequantize_4bit_layers(fast)
    a = _train_lora(real, steps=6)
    b = _train_lora(fast, steps=6)
    assert a.keys() == b.keys() and a
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-3, rtol=1e-2), (k, (a[k] - b[k]).abs().max())
