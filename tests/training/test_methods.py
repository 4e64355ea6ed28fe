"""Every recipe method trains through trl on the tiny model, saves, loads and scores; the peft
mapping, optimizer choice and memory estimate behind it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from harness.config import ConfigError, Recipe, RecipeWarning, ScoringSettings, load_suite
from harness.engine import (
    HarnessLM,
    run_suite,
    training_examples,
)
from harness.models import attach_adapter
from harness.training import ADAPTER_META, load_cached, train_lora
from harness.training._memory import MB, estimate_memory
from harness.training._peft_config import build_peft_config, resolve_optim
from tests.conftest import write_tiny_suites

BLOCKS: dict[str, dict[str, Any]] = {
    "lora": {"lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}},
    "qlora": {"lora": {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}},
    "ia3": {},
    "prefix": {"prefix": {"num_virtual_tokens": 4}},
    "prompt": {"prompt": {"num_virtual_tokens": 4, "init": "text", "init_text": "Ticket: Queue:"}},
}


def _recipe(method: str, suite: Path, **train: Any) -> Recipe:
    t = {"learning_rate": 5e-2, "batch_size": 8, "max_steps": 3, "max_seq_len": 64}
    t["dtype"] = "float32"
    return Recipe.model_validate(
        {
            "name": f"tiny-{method}",
            "method": method,
            "data": {"suite": str(suite)},
            "train": {**t, **train},
            **BLOCKS[method],
        }
    )


@pytest.fixture(scope="module")
def suites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return write_tiny_suites(tmp_path_factory.mktemp("suites"))


def _train(method: str, model_dir: Path, suites: dict[str, Path], out: Path) -> Any:
    recipe = _recipe(method, suites["task"])
    examples = training_examples(load_suite(suites["task"]))
    with pytest.warns(RecipeWarning):  # 5e-2 and an effective batch of 8 are outside the guide
        return recipe, train_lora(model_dir, "fp", recipe, examples, out)


def _fresh(model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()


def _check_saved(result: Any, out: Path, method: str) -> None:
    assert result.steps == 3 and all(math.isfinite(loss) for _, loss in result.loss_curve)
    assert math.isfinite(result.final_loss) and 0 < result.trainable_pct < 100
    saved = sum(f.stat().st_size for f in out.iterdir() if f.name != ADAPTER_META)
    assert result.adapter_size_bytes == saved > 0
    est = result.memory_estimate_mb
    assert set(est) == {"full", "lora", "qlora"} and est["full"] > est["lora"] > est["qlora"] > 0
    meta = json.loads((out / ADAPTER_META).read_text())
    assert meta["base_fingerprint"] == "fp" and meta["data_fingerprint"]
    assert meta["recipe"]["method"] == method and meta["versions"]["peft"]
    assert meta["recipe_warnings"] and meta["training"]["memory_estimate_mb"] == est
    cached = load_cached(out)
    assert cached is not None and cached.adapter_size_bytes == result.adapter_size_bytes


@pytest.mark.parametrize("method", ["lora", "ia3"])
def test_weight_adapters_train_attach_and_score(
    method: str, tiny_model_dir: Path, suites: dict[str, Path], isolated_env: Path
) -> None:
    from transformers import AutoTokenizer

    out = isolated_env / method
    _, result = _train(method, tiny_model_dir, suites, out)
    _check_saved(result, out, method)
    model = attach_adapter(_fresh(tiny_model_dir), out, method, base_fingerprint="fp")
    model.set_adapter(method)
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    lm = HarnessLM(model, tok, batch_size=8, show_progress=False)
    items = run_suite(lm, load_suite(suites["task"]), ScoringSettings())
    assert len(items) == 30 and all("acc" in it.scores for it in items)


@pytest.mark.parametrize("method", ["prefix", "prompt"])
def test_prompt_learning_adapters_train_attach_and_score_through_peft_forward(
    method: str, tiny_model_dir: Path, suites: dict[str, Path], isolated_env: Path
) -> None:
    from transformers import AutoTokenizer

    out = isolated_env / method
    _, result = _train(method, tiny_model_dir, suites, out)
    _check_saved(result, out, method)
    ids = torch.tensor([[1, 5, 9, 13, 17, 21]])
    base = _fresh(tiny_model_dir)
    with torch.no_grad():
        plain = base(input_ids=ids).logits[0, -2]
        base_lp = float(torch.log_softmax(plain, -1)[21])
        tuned = attach_adapter(base, out, method, base_fingerprint="fp").eval()
        # peft's own forward applies the virtual tokens: the adapter changes the output ...
        adapted = tuned(input_ids=ids).logits[0, -2]
        tuned_lp = float(torch.log_softmax(adapted, -1)[21])
    assert not torch.allclose(plain, adapted)
    # ... and the gate's scorer goes through that forward (the trie scorer would not see them).
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    lm = HarnessLM(tuned, tok, batch_size=8, show_progress=False)
    (scored,) = lm._loglikelihood_tokens([(None, [1, 5, 9, 13, 17], [21])])
    assert scored[0] == pytest.approx(tuned_lp, abs=1e-4)
    assert scored[0] != pytest.approx(base_lp, abs=1e-4)
    items = run_suite(lm, load_suite(suites["task"]), ScoringSettings())
    assert len(items) == 30 and all("acc" in it.scores for it in items)


def test_qlora_trains_on_a_4bit_base(
    tiny_model_dir_64: Path, suites: dict[str, Path], isolated_env: Path
) -> None:
    out = isolated_env / "qlora"
    recipe, result = _train("qlora", tiny_model_dir_64, suites, out)
    _check_saved(result, out, "qlora")
    assert recipe.base_quantization == "nf4"


def test_adapters_of_two_types_on_one_base_load_are_refused_with_the_reason(
    tiny_model_dir: Path, suites: dict[str, Path], isolated_env: Path
) -> None:
    _train("lora", tiny_model_dir, suites, isolated_env / "lora")
    _train("ia3", tiny_model_dir, suites, isolated_env / "ia3")
    model = attach_adapter(_fresh(tiny_model_dir), isolated_env / "lora", "a")
    with pytest.raises(ConfigError, match="one adapter type per model"):
        attach_adapter(model, isolated_env / "ia3", "b")


def test_peft_config_per_method(tiny_model_dir: Path, suites: dict[str, Path]) -> None:
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, PromptTuningConfig

    want = {
        "lora": LoraConfig,
        "qlora": LoraConfig,
        "ia3": IA3Config,
        "prefix": PrefixTuningConfig,
        "prompt": PromptTuningConfig,
    }
    for method, cls in want.items():
        cfg = build_peft_config(_recipe(method, suites["task"]), tiny_model_dir)
        assert isinstance(cfg, cls) and cfg.task_type == "CAUSAL_LM"
    lora = build_peft_config(_recipe("lora", suites["task"]))
    assert (lora.r, lora.lora_alpha, set(lora.target_modules)) == (4, 8, {"q_proj", "v_proj"})
    ia3 = build_peft_config(_recipe("ia3", suites["task"]))
    assert set(ia3.feedforward_modules) == {"down_proj"}
    with pytest.raises(ConfigError, match="tokenizer"):
        build_peft_config(_recipe("prompt", suites["task"]))  # init from text needs the base


def test_optimizer_choice(suites: dict[str, Path]) -> None:
    q, lo = _recipe("qlora", suites["task"]), _recipe("lora", suites["task"])
    assert resolve_optim(q, cuda=True) == "paged_adamw_8bit"
    assert resolve_optim(q, cuda=False) == "adamw_torch"
    assert resolve_optim(lo, cuda=True) == "adamw_torch"
    assert resolve_optim(_recipe("lora", suites["task"], optim="adamw_8bit"), cuda=False) == (
        "adamw_8bit"
    )


def test_memory_estimate_follows_the_documented_formula() -> None:
    n, a = 7_000_000_000, 40_000_000  # a 7B base with a rank-16 all-linear LoRA (~0.6 %)
    est = estimate_memory(n, "lora", trainable_params=a)  # no activations
    assert est["full"] == pytest.approx(16 * n / MB, rel=1e-6)
    assert est["lora"] == pytest.approx((2 * n + 16 * a) / MB, abs=0.06)
    assert est["qlora"] == pytest.approx(((0.5 + 1 / 64 + 4 / 16384) * n + 16 * a) / MB, abs=0.06)
    # The guide's table: ~112 GB full, ~14-15 GB LoRA, ~4-5 GB QLoRA for 7B (weights + states).
    assert 100_000 < est["full"] < 120_000 and 13_000 < est["lora"] < 16_000
    assert 3_500 < est["qlora"] < 5_000
    no_dq = estimate_memory(n, "qlora", trainable_params=a, double_quant=False)
    assert no_dq["qlora"] > est["qlora"]
    acts = estimate_memory(
        n,
        "lora",
        trainable_params=a,
        hidden_size=4096,
        n_layers=32,
        n_heads=32,
        batch_size=1,
        seq_len=512,
    )
    ckpt = estimate_memory(
        n,
        "lora",
        trainable_params=a,
        hidden_size=4096,
        n_layers=32,
        n_heads=32,
        batch_size=1,
        seq_len=512,
        gradient_checkpointing=True,
    )
    assert acts["lora"] > ckpt["lora"] > est["lora"]


def test_partial_checkpointing_estimate_lies_between_none_and_all() -> None:
    from harness.training._memory import activation_bytes

    shape = dict(hidden_size=2048, n_layers=22, n_heads=32, batch_size=8, seq_len=2048)
    none = activation_bytes(**shape)
    every = activation_bytes(**shape, gradient_checkpointing=True)
    half = activation_bytes(**shape, gradient_checkpointing=True, checkpoint_fraction=0.5)
    assert activation_bytes(**shape, gradient_checkpointing=True, checkpoint_fraction=1.0) == every
    assert every < half < none
    # 11 layers keep their input only, 11 keep everything: the midpoint
    assert half == pytest.approx((every + none) / 2)
    # offloaded inputs wait in host memory: nothing of the checkpointed layers on the device
    assert activation_bytes(**shape, gradient_checkpointing=True, offload=True) == 0.0
    half_off = activation_bytes(
        **shape, gradient_checkpointing=True, checkpoint_fraction=0.5, offload=True
    )
    assert half_off == pytest.approx(none / 2)


def test_old_cached_results_without_the_new_fields_still_load(tmp_path: Path) -> None:
    (tmp_path / "adapter_model.safetensors").write_bytes(b"x")
    old = {
        "adapter_dir": "a",
        "recipe": "r",
        "steps": 3,
        "train_seconds": 1.0,
        "final_loss": 1.0,
        "loss_curve": [[1, 2.0]],
        "trainable_pct": 1.0,
    }
    (tmp_path / ADAPTER_META).write_text(json.dumps({"training": old}))
    cached = load_cached(tmp_path)
    assert cached is not None and cached.adapter_size_bytes == 0
    assert cached.memory_estimate_mb == {}
