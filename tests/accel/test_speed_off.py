"""The off switch: ``train.speed: off`` and ``HARNESS_SPEED=off`` give plain trl/peft training,
enter none of the speed code, and leave existing adapter cache keys alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.accel import SPEED_ENV, SpeedPlan, plan_speed, speed_mode
from harness.config import ConfigError, Recipe, load_recipe

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "suites" / "ticket_routing" / "ticket_routing.yaml"
TOPICS = ["refund", "parcel", "login", "invoice", "delivery", "password"] * 2
ROWS = [
    {"prompt": f"Ticket: case {i} about {w}\nQueue:", "completion": f" Q{i % 3}"}
    for i, w in enumerate(TOPICS)
]


def _recipe(speed: str = "auto", **train: Any) -> Recipe:
    settings = dict(
        max_steps=3, batch_size=2, grad_accum=2, learning_rate=1e-2, warmup_ratio=0.0,
        logging_steps=1, max_seq_len=64, dtype="float32", seed=0, speed=speed,
    )  # fmt: skip
    settings.update(train)
    return Recipe.model_validate(
        {
            "name": "off",
            "data": {"path": "rows.jsonl", "val_fraction": 0.0},
            "lora": {"r": 4, "alpha": 8, "dropout": 0.1, "target_modules": "all-linear"},
            "train": settings,
        }
    )


# --- the setting ---------------------------------------------------------------------------


def _write(tmp_path: Path, train: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(f"name: r\ndata:\n  suite: {SUITE}\ntrain:\n{train}", encoding="utf-8")
    return path


def test_recipe_field_defaults_to_auto_and_takes_off(tmp_path: Path) -> None:
    assert load_recipe(_write(tmp_path, "  seed: 0\n")).train.speed == "auto"
    assert load_recipe(_write(tmp_path, "  speed: off\n")).train.speed == "off"
    with pytest.raises(ConfigError) as e:
        load_recipe(_write(tmp_path, "  speed: fast\n"))
    assert e.value.field == "train.speed"


@pytest.mark.parametrize(
    ("env", "setting", "mode"),
    [(None, "auto", "auto"), (None, "off", "off"), ("off", "auto", "off"), ("0", "auto", "off"),
     ("auto", "off", "off"), ("auto", "auto", "auto"), ("", "auto", "auto")],
)  # fmt: skip
def test_the_environment_turns_it_off_never_on(
    monkeypatch: pytest.MonkeyPatch, env: str | None, setting: str, mode: str
) -> None:
    if env is None:
        monkeypatch.delenv(SPEED_ENV, raising=False)
    else:
        monkeypatch.setenv(SPEED_ENV, env)
    assert speed_mode(setting) == mode
    plan = plan_speed(setting, cuda=True, gradient_checkpointing=True)
    assert plan.enabled == (mode == "auto")


def test_an_unknown_environment_value_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SPEED_ENV, "fastest")
    with pytest.raises(ConfigError) as e:
        speed_mode("auto")
    assert e.value.field == SPEED_ENV and "off" in e.value.fix


def test_off_plans_nothing_even_on_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SPEED_ENV, raising=False)
    plan = plan_speed(
        "off", cuda=True, gradient_checkpointing=True, checkpoint_fraction=0.5,
        offload_checkpoints=True, bf16=True,
    )  # fmt: skip
    assert plan == SpeedPlan()
    assert plan.sft_kwargs() == {} and plan.callbacks() == []
    on = plan_speed(
        "auto", cuda=True, gradient_checkpointing=True, checkpoint_fraction=0.5,
        offload_checkpoints=True, bf16=True,
    )  # fmt: skip
    assert on.fused and on.lean and on.offload and on.defer and on.liger and on.trim
    assert on.sft_kwargs()["gradient_checkpointing_kwargs"] == {"use_reentrant": True}


# --- the cache key ---------------------------------------------------------------------------

# Keys computed by the code before train.speed existed (commit b805b56) for these recipes:
# the default (auto) must not change any existing adapter's key. Session 8 took the data
# paths out of the key (KEYS); the key with them (BEFORE) is still looked up.
KEY_ROWS = [{"prompt": "Ticket: my parcel is late\nQueue:", "completion": " Q23"}]
BEFORE = {
    "lora-defaults": "9f40a73f032e4d601aea19f96374db79",
    "qlora-alpaca": "12041e25da6f55f1f672a04da8836e39",
}
KEYS = {
    "lora-defaults": "eae6e9603ad3759b32a6f519871ebdfb",
    "qlora-alpaca": "2c83b8843b2c6030a7ecb010c6eed47c",
}


def _key_recipes(**train: Any) -> dict[str, tuple[str, Recipe]]:
    return {
        "lora-defaults": (
            "fp",
            Recipe.model_validate(
                {"name": "r", "data": {"suite": "suites/t.yaml"}, "train": {**train}}
            ),
        ),
        "qlora-alpaca": (
            "base-fp-2",
            Recipe.model_validate(
                {
                    "name": "q",
                    "method": "qlora",
                    "data": {"path": "d.jsonl", "format": "alpaca"},
                    "lora": {"r": 8, "alpha": 16},
                    "train": {
                        "gradient_checkpointing": True,
                        "checkpoint_fraction": 0.5,
                        "max_steps": 10,
                        **train,
                    },
                }
            ),
        ),
    }


def _keys(fp: str, recipe: Recipe) -> tuple[str, str]:
    from harness.training import adapter_cache_key
    from harness.training._sft import _cache_key

    return (
        adapter_cache_key(fp, recipe, KEY_ROWS),
        _cache_key(fp, recipe, KEY_ROWS, with_data_paths=True),
    )


def test_the_default_leaves_existing_cache_keys_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (fp, recipe) in _key_recipes().items():
        assert recipe.train.speed == "auto"
        assert _keys(fp, recipe) == (KEYS[name], BEFORE[name]), name
    for name, (fp, recipe) in _key_recipes(speed="auto").items():  # written out: the same
        assert _keys(fp, recipe) == (KEYS[name], BEFORE[name]), name
    monkeypatch.setenv(SPEED_ENV, "off")  # the process's switch is not the recipe's
    for name, (fp, recipe) in _key_recipes().items():
        assert _keys(fp, recipe) == (KEYS[name], BEFORE[name]), name


def test_speed_off_in_the_recipe_is_another_adapter() -> None:
    for name, (fp, recipe) in _key_recipes(speed="off").items():
        now, before = _keys(fp, recipe)
        assert now != KEYS[name] and before != BEFORE[name], name


# --- training --------------------------------------------------------------------------------


def _plain_trl_peft(base: Path, out: Path) -> Any:
    """The same run with plain trl SFTTrainer + peft and the same arguments train_lora passes
    (its non-speed ones), no harness code involved."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(str(base))
    model = AutoModelForCausalLM.from_pretrained(str(base), dtype=torch.float32)
    fields = SFTConfig.__dataclass_fields__
    ckpt = (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else "gradient_checkpointing"
    )
    warmup = {"warmup_ratio": 0.0} if "warmup_ratio" in fields else {"warmup_steps": 0.0}
    args = SFTConfig(
        output_dir=str(out), per_device_train_batch_size=2, gradient_accumulation_steps=2,
        num_train_epochs=1.0, max_steps=3, learning_rate=1e-2, lr_scheduler_type="cosine",
        weight_decay=0.0, max_grad_norm=1.0, max_length=64, seed=0, data_seed=0,
        logging_steps=1, logging_first_step=True, logging_nan_inf_filter=False,
        include_num_input_tokens_seen="non_padding", report_to=[], use_cpu=True,
        optim="adamw_torch", bf16=False, dataloader_num_workers=0, completion_only_loss=True,
        packing=False, eval_strategy="no", save_strategy="no", **{ckpt: False}, **warmup,
    )  # fmt: skip
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(ROWS),
        processing_class=tok,
        peft_config=LoraConfig(
            r=4, lora_alpha=8, lora_dropout=0.1, target_modules="all-linear", task_type="CAUSAL_LM"
        ),
    )
    trainer.train()
    return trainer


def test_off_trains_exactly_as_plain_trl_and_peft(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch
    from peft import get_peft_model_state_dict
    from safetensors.torch import load_file

    from harness.training import ADAPTER_META, train_lora

    monkeypatch.delenv(SPEED_ENV, raising=False)
    result = train_lora(tiny_model_dir, "fp", _recipe("off"), ROWS, tmp_path / "adapter")
    plain = _plain_trl_peft(tiny_model_dir, tmp_path / "plain")
    plain_losses = [h["loss"] for h in plain.state.log_history if "loss" in h]
    assert len(plain_losses) == 3
    assert [loss for _, loss in result.loss_curve] == plain_losses  # exactly, not approx
    ours = load_file(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    theirs = get_peft_model_state_dict(plain.model)
    assert ours.keys() == theirs.keys() and len(ours) == 2 * 7 * 2
    for name, value in theirs.items():
        assert torch.equal(ours[name], value.detach().cpu()), name
    meta = json.loads((tmp_path / "adapter" / ADAPTER_META).read_text(encoding="utf-8"))
    assert meta["speed"] == "off" and meta["recipe"]["train"]["speed"] == "off"


OFF_SCRIPT = """
import os, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.conftest import make_tiny_model
from tests.accel.test_speed_off import ROWS, _recipe
from harness.training import train_lora

tmp = Path({tmp!r})
base = make_tiny_model(tmp / "base")
LIGHT = {{"harness.accel", "harness.accel._mode", "harness.accel._plan", "harness.accel.compat"}}

def speed_modules():
    return sorted(m for m in sys.modules if m.startswith("harness.accel") and m not in LIGHT)

# everything the speed code would use on a GPU is asked for; off, none of it may load
asks = dict(gradient_checkpointing=True, checkpoint_fraction=0.5, offload_checkpoints=True)
train_lora(base, "fp", _recipe("off", **asks), ROWS, tmp / "recipe-off")
print("RECIPE", speed_modules())
os.environ["HARNESS_SPEED"] = "off"
train_lora(base, "fp", _recipe("auto", **asks), ROWS, tmp / "env-off")
print("ENV", speed_modules())
del os.environ["HARNESS_SPEED"]
train_lora(base, "fp", _recipe("auto"), ROWS, tmp / "auto")
print("AUTO", speed_modules())
"""


def test_off_enters_none_of_the_speed_code(tmp_path: Path) -> None:
    # In a fresh process: training with speed off (by the recipe, then by HARNESS_SPEED)
    # imports no kernel, no patch module and no offload code at all, so none of it can run.
    # The auto run afterwards, on the same CPU, does (the step trim): the check can see them.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop(SPEED_ENV, None)
    proc = subprocess.run(
        [sys.executable, "-c", OFF_SCRIPT.format(root=str(ROOT), tmp=str(tmp_path))],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " [" in line)
    assert seen["RECIPE"] == "[]" and seen["ENV"] == "[]", seen
    assert "harness.accel.patches.trainer" in seen["AUTO"], seen
