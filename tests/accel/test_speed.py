"""The speed plan's pieces: partial checkpointing, the step trim, reentrant checkpointing,
what training leaves behind in the process, the Trainer settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.accel import checkpoint_some_layers, partial_checkpointing
from harness.config import ConfigError, Recipe, load_recipe

SUITE = Path(__file__).resolve().parents[2] / "suites" / "ticket_routing" / "ticket_routing.yaml"


def _llama(layers: int) -> Any:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    cfg = LlamaConfig(
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        vocab_size=64,
    )
    model = LlamaForCausalLM(cfg)
    model.train()
    model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
    return model


def _mlp_calls(model: Any) -> list[int]:
    """Forward + backward once; how often each decoder layer's MLP ran (2 = recomputed)."""
    import torch

    calls = [0] * len(model.model.layers)

    def counting(i: int, forward: Any) -> Any:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            calls[i] += 1
            return forward(*args, **kwargs)

        return wrapped

    # A wrapped forward, not a forward hook: module hooks do not fire in the recompute.
    for i, layer in enumerate(model.model.layers):
        layer.mlp.forward = counting(i, layer.mlp.forward)
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    model(input_ids=ids, labels=ids).loss.backward()
    return calls


@pytest.mark.parametrize(("fraction", "expected"), [(1.0, 5), (0.4, 2), (0.5, 2), (0.01, 1)])
def test_fraction_of_layers_recompute(fraction: float, expected: int) -> None:
    model = _llama(5)
    assert checkpoint_some_layers(model, fraction) == expected
    assert sum(layer.gradient_checkpointing for layer in model.model.layers) == expected
    calls = _mlp_calls(model)
    assert sorted(calls) == [1] * (5 - expected) + [2] * expected


def test_layers_are_spread_evenly() -> None:
    model = _llama(6)
    checkpoint_some_layers(model, 0.5)
    assert [layer.gradient_checkpointing for layer in model.model.layers] == [
        True,
        False,
        True,
        False,
        True,
        False,
    ]


def test_nothing_changes_without_checkpointing() -> None:
    model = _llama(4)
    model.activation_checkpointing_disable()
    assert checkpoint_some_layers(model, 0.5) == 0
    assert not any(layer.gradient_checkpointing for layer in model.model.layers)


def test_callback_applies_the_fraction_at_train_begin() -> None:
    model = _llama(4)
    cb = partial_checkpointing(0.25)
    cb.on_train_begin(None, None, None, model=model)
    assert cb.checkpointed == 1
    assert sorted(_mlp_calls(model)) == [1, 1, 1, 2]


def _write(tmp_path: Path, train: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(f"name: r\ndata:\n  suite: {SUITE}\ntrain:\n{train}", encoding="utf-8")
    return path


@pytest.mark.parametrize("bad", ["0", "-0.5", "1.5"])
def test_recipe_rejects_fraction_outside_0_1(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_recipe(_write(tmp_path, f"  checkpoint_fraction: {bad}\n"))
    assert e.value.field == "train.checkpoint_fraction"


def test_recipe_accepts_a_fraction_and_defaults_to_all(tmp_path: Path) -> None:
    recipe = load_recipe(_write(tmp_path, "  checkpoint_fraction: 0.4\n"))
    assert recipe.train.checkpoint_fraction == 0.4
    assert load_recipe(_write(tmp_path, "  seed: 0\n")).train.checkpoint_fraction == 1.0


def test_fraction_leaves_the_adapter_cache_key_alone() -> None:
    # It changes only what is recomputed; adapters cached before the field existed stay valid.
    from harness.training import adapter_cache_key

    base = Recipe.model_validate({"name": "r", "data": {"suite": str(SUITE)}})
    part = Recipe.model_validate(
        {"name": "r", "data": {"suite": str(SUITE)}, "train": {"checkpoint_fraction": 0.3}}
    )
    rows = [{"prompt": "a", "completion": "b"}]
    assert adapter_cache_key("fp", base, rows) == adapter_cache_key("fp", part, rows)
    dumped = base.model_dump(
        mode="json", exclude={"source": True, "train": {"checkpoint_fraction"}}
    )
    assert "checkpoint_fraction" not in dumped["train"]
    assert "checkpoint_fraction" in base.model_dump(mode="json")["train"]


def test_fused_lora_on_cuda_only() -> None:
    from harness.accel import plan_speed

    # measured on an H200: faster and leaner over 4-bit and bf16 layers; never on CPU, where
    # the default evidence is trained through peft's own forward
    assert plan_speed(cuda=True).fused
    assert not plan_speed(cuda=False).fused
    # lean mode follows checkpointing on CUDA (memory-bound recipes)
    assert plan_speed(cuda=True, gradient_checkpointing=True).lean
    assert not plan_speed(cuda=True).lean
    assert not plan_speed(cuda=False, gradient_checkpointing=True).lean


def test_offload_needs_checkpointing_and_stays_out_of_the_cache_key(tmp_path: Path) -> None:
    from harness.training import adapter_cache_key

    with pytest.raises(ConfigError) as e:
        load_recipe(_write(tmp_path, "  offload_checkpoints: true\n"))
    assert e.value.field.startswith("train")
    assert "gradient_checkpointing" in str(e.value)
    on = load_recipe(
        _write(tmp_path, "  gradient_checkpointing: true\n  offload_checkpoints: true\n")
    )
    off = load_recipe(_write(tmp_path, "  gradient_checkpointing: true\n"))
    assert on.train.offload_checkpoints and not off.train.offload_checkpoints
    rows = [{"prompt": "a", "completion": "b"}]
    assert adapter_cache_key("fp", on, rows) == adapter_cache_key("fp", off, rows)


def _sft_run(tiny_sft: Any, tmp: Path, trim: bool) -> tuple[list[float], Any, Any]:
    """A few seeded SFTTrainer steps with dropout; losses, LoRA weights and the trainer."""
    from contextlib import ExitStack

    from harness.accel import trim_step_overhead

    rows = [{"prompt": f"ticket {i}:", "completion": f" Q{i % 3}"} for i in range(16)]
    trainer = tiny_sft(tmp, rows, max_steps=4, logging_steps=1)
    with ExitStack() as stack:
        if trim:
            assert stack.enter_context(trim_step_overhead(trainer))
            assert "train" in vars(trainer.model)
        trainer.train()
    assert "train" not in vars(trainer.model)  # put back
    assert "floating_point_ops" not in vars(trainer)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    weights = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora" in n}
    return losses, weights, trainer


def test_trimmed_steps_train_exactly_as_the_trainer_does(tiny_sft: Any, tmp_path: Path) -> None:
    import torch

    losses, weights, plain = _sft_run(tiny_sft, tmp_path / "a", trim=False)
    t_losses, t_weights, trimmed = _sft_run(tiny_sft, tmp_path / "b", trim=True)
    assert len(losses) == 4 and t_losses == losses  # dropout 0.3 is live: same masks too
    assert all(torch.equal(weights[n], t_weights[n]) for n in weights)
    assert trimmed.state.total_flos == plain.state.total_flos > 0


def test_trimmed_train_and_eval_still_switch_every_module(tiny_sft: Any, tmp_path: Path) -> None:
    from harness.accel import trim_step_overhead

    rows = [{"prompt": f"ticket {i}:", "completion": f" Q{i % 3}"} for i in range(16)]
    trainer = tiny_sft(tmp_path, rows, max_steps=2, logging_steps=1)
    with trim_step_overhead(trainer):
        trainer.train()
        _switches_every_module(trainer.model)
    _switches_every_module(trainer.model)


def _switches_every_module(model: Any) -> None:
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())
    model.train()  # the repeated call the Trainer makes each micro-step: a no-op
    assert all(m.training for m in model.modules())
    model.eval()
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize("fused", [False, True], ids=["peft", "fused"])
def test_reentrant_checkpointing_gives_the_same_gradients(fused: bool) -> None:
    # Same losses and LoRA gradients whichever checkpointing kind recomputes the layers, with
    # live dropout (the recompute must replay the same masks), through peft's forward or ours.
    import torch
    from peft import LoraConfig, get_peft_model

    from harness.accel import fused_lora

    def run(reentrant: bool) -> tuple[float, dict[str, Any], list[int]]:
        model = _llama(3)  # checkpointing on, non-reentrant
        if reentrant:
            model.activation_checkpointing_enable(
                activation_checkpointing_kwargs={"use_reentrant": True}
            )
            model.enable_input_require_grads()
        cfg = LoraConfig(
            r=4, lora_dropout=0.3, target_modules="all-linear", init_lora_weights=False
        )
        model = get_peft_model(model, cfg)
        model.train()
        calls = [0] * 3
        for i, layer in enumerate(model.base_model.model.model.layers):
            forward = layer.mlp.forward

            def counting(*a: Any, _i: int = i, _f: Any = forward, **k: Any) -> Any:
                calls[_i] += 1
                return _f(*a, **k)

            layer.mlp.forward = counting
        torch.manual_seed(1)
        ids = torch.randint(0, 64, (2, 9))
        with fused_lora(model, fused):
            loss = model(input_ids=ids, labels=ids).loss
            loss.backward()
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        return float(loss.detach()), grads, calls

    loss_a, grads_a, calls_a = run(False)
    loss_b, grads_b, calls_b = run(True)
    assert calls_a == calls_b == [2, 2, 2]  # every layer recomputed, both ways
    assert loss_a == pytest.approx(loss_b, abs=1e-6)
    assert grads_a.keys() == grads_b.keys() and len(grads_a) == 3 * 7 * 2
    for name, g in grads_a.items():
        assert torch.allclose(g, grads_b[name], atol=1e-6), name
        assert g.abs().sum() > 0, name


def test_training_leaves_float32_matmul_precision_as_it_found_it() -> None:
    # TrainingArguments(tf32=True) flips the process to TF32; train_lora puts it back so a
    # float32 scoring run after training in the same process computes what it would alone.
    import torch
    from transformers.utils.import_utils import enable_tf32

    from harness.accel import keep_fp32_precision

    backends: Any = torch.backends
    before = backends.fp32_precision
    with keep_fp32_precision():
        enable_tf32(True)
        assert backends.fp32_precision == "tf32"
    assert backends.fp32_precision == before


def test_modeling_module_patches_are_undone_when_training_ends(tiny_model_dir: Path) -> None:
    # What liger-kernel's apply_liger_kernel_to_llama does to the module for the whole
    # process (rope function, norm and MLP classes; the causal LM's forward without a model
    # instance), done by hand here since liger needs CUDA. After the context a newly built
    # llama uses transformers' own classes and functions again.
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.models.llama import modeling_llama

    from harness.accel import keep_modeling_globals

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    before = {
        k: getattr(modeling_llama, k) for k in ("apply_rotary_pos_emb", "LlamaRMSNorm", "LlamaMLP")
    }
    forward = modeling_llama.LlamaForCausalLM.forward

    class Patched(torch.nn.Module):
        pass

    with keep_modeling_globals(model):
        modeling_llama.apply_rotary_pos_emb = lambda *a, **k: None
        modeling_llama.LlamaRMSNorm = Patched
        modeling_llama.LlamaMLP = Patched
        modeling_llama.LlamaForCausalLM.forward = lambda self, *a, **k: None
        modeling_llama.added_by_patch = True
    for k, v in before.items():
        assert getattr(modeling_llama, k) is v
    assert modeling_llama.LlamaForCausalLM.forward is forward
    assert not hasattr(modeling_llama, "added_by_patch")
    fresh = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir))
    assert not any(isinstance(m, Patched) for m in fresh.modules())
    ids = torch.tensor([[5, 9, 13]])
    torch.testing.assert_close(fresh(input_ids=ids).logits, model(input_ids=ids).logits)


def test_cuda_settings_copy_batches_without_waiting() -> None:
    from transformers import TrainingArguments

    from harness.accel import plan_speed

    kw = plan_speed(cuda=True).sft_kwargs()
    assert kw["accelerator_config"] == {"non_blocking": True} and kw["dataloader_pin_memory"]
    assert "accelerator_config" not in plan_speed(cuda=False).sft_kwargs()
    args = TrainingArguments(
        output_dir="unused", use_cpu=True, accelerator_config=kw["accelerator_config"]
    )
    assert args.accelerator_config.non_blocking
