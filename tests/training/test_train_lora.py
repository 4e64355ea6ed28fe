from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import ConfigError, load_recipe, load_suite
from harness.engine import training_examples
from harness.training import ADAPTER_META, load_cached, train_lora
from tests.conftest import write_tiny_experiment


def test_tiny_lora_trains_and_saves_provenance(tiny_model_dir: Path, isolated_env: Path) -> None:
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir, max_steps=3)
    recipe = load_recipe(exp.parent / "training" / "lora.yaml")
    examples = training_examples(load_suite(recipe.data.suite))
    assert examples[0]["completion"].strip() in {"Q17", "Q23", "Q38"}
    out = isolated_env / "adapter"
    result = train_lora(tiny_model_dir, "fp", recipe, examples, out)
    assert result.steps == 3 and result.trainable_params > 0
    assert 0 < result.trainable_pct < 100
    assert result.loss_curve and all(loss == loss for _, loss in result.loss_curve)
    meta = json.loads((out / ADAPTER_META).read_text())
    assert meta["base_fingerprint"] == "fp" and meta["versions"]["peft"]
    cached = load_cached(out)
    assert cached is not None and cached.cached and cached.steps == 3


def test_training_shows_no_deprecation_from_inside_trl(
    tiny_model_dir: Path, isolated_env: Path
) -> None:
    """transformers 5.25 deprecates ``is_gradient_checkpointing``, which trl 1.16 reads while
    training: the one warning every default gate run printed per adapter after session 8's
    recipe notes (nothing its reader can change)."""
    import warnings

    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir, max_steps=1)
    recipe = load_recipe(exp.parent / "training" / "lora.yaml")
    examples = training_examples(load_suite(recipe.data.suite))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        train_lora(tiny_model_dir, "fp", recipe, examples, isolated_env / "adapter")
    assert not [w for w in seen if "is_gradient_checkpointing" in str(w.message)]


def test_empty_completion_is_refused_with_the_row(tiny_model_dir: Path, isolated_env: Path) -> None:
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir)
    recipe = load_recipe(exp.parent / "training" / "lora.yaml")
    with pytest.raises(ConfigError) as e:
        train_lora(
            tiny_model_dir, "fp", recipe, [{"prompt": "x", "completion": " "}], isolated_env / "a"
        )
    assert e.value.field == "row 0.completion"


def test_weights_of_a_4bit_base_are_counted_unpacked(tiny_model_dir_64: Path) -> None:
    # bitsandbytes packs two 4-bit weights per stored element; the trainable percentage of a
    # QLoRA adapter must be over the base's real weight count, as for LoRA.
    import torch
    from transformers import AutoModelForCausalLM

    from harness.models._quant import bnb_config
    from harness.training._sft import _n_weights

    plain = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir_64), dtype=torch.float32)
    q = AutoModelForCausalLM.from_pretrained(
        str(tiny_model_dir_64), quantization_config=bnb_config("nf4", "float32")
    )
    assert sum(_n_weights(p) for p in q.parameters()) == sum(p.numel() for p in plain.parameters())
    assert sum(p.numel() for p in q.parameters()) < sum(p.numel() for p in plain.parameters())


def test_fsdp_launch_stores_4bit_weights_in_the_compute_dtype(
    tiny_model_dir_64: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FSDP shards parameters of one float dtype only: QLoRA under accelerate's FSDP needs the
    # packed 4-bit weights stored as the compute dtype, and adapters must still learn on them.
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from harness.models._quant import bnb_config
    from harness.training._sft_setup import fsdp_enabled

    assert not fsdp_enabled()
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert fsdp_enabled()
    assert bnb_config("nf4", "bfloat16").bnb_4bit_quant_storage == torch.uint8
    cfg = bnb_config("nf4", "bfloat16", quant_storage="bfloat16")
    model = AutoModelForCausalLM.from_pretrained(
        str(tiny_model_dir_64), quantization_config=cfg, dtype=torch.bfloat16
    )
    packed = model.model.layers[0].mlp.down_proj.weight
    assert packed.dtype == torch.bfloat16
    lora = get_peft_model(model, LoraConfig(r=4, target_modules="all-linear"))
    ids = torch.randint(3, 100, (2, 12))
    lora(input_ids=ids, labels=ids).loss.backward()
    grads = [p.grad for n, p in lora.named_parameters() if "lora_A" in n or "lora_B" in n]
    assert grads and all(g is not None and torch.isfinite(g).all() for g in grads)
