"""Recipe methods and their settings blocks; the guide's ranges and the warnings outside them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.config import (
    ConfigError,
    Recipe,
    load_recipe,
    recipe_guide_notes,
    recipe_warnings,
)

SUITE = Path(__file__).resolve().parents[2] / "suites" / "ticket_routing" / "ticket_routing.yaml"

# Inside every guide range: no warning expected.
GOOD_TRAIN = {
    "learning_rate": 2e-4,
    "epochs": 2,
    "batch_size": 4,
    "grad_accum": 4,
    "warmup_ratio": 0.05,
    "weight_decay": 0.0,
    "max_grad_norm": 1.0,
    "lr_scheduler": "cosine",
}


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(f"name: r\ndata:\n  suite: {SUITE}\n{body}", encoding="utf-8")
    return path


def _recipe(**fields: Any) -> Recipe:
    train = {**GOOD_TRAIN, **fields.pop("train", {})}
    return Recipe.model_validate(
        {"name": "r", "data": {"suite": str(SUITE)}, "train": train, **fields}
    )


@pytest.mark.parametrize(
    ("method", "block"),
    [
        ("ia3", "lora"),
        ("lora", "ia3"),
        ("lora", "quantization"),
        ("prompt", "prefix"),
        ("prefix", "prompt"),
        ("qlora", "prompt"),
    ],
)
def test_a_block_for_another_method_is_refused_naming_both(
    tmp_path: Path, method: str, block: str
) -> None:
    body = {
        "lora": "  r: 8\n",
        "ia3": "  target_modules: [v_proj]\n  feedforward_modules: []\n",
        "quantization": "  quant_type: nf4\n",
        "prefix": "  num_virtual_tokens: 8\n",
        "prompt": "  num_virtual_tokens: 8\n",
    }[block]
    with pytest.raises(ConfigError) as e:
        load_recipe(_write(tmp_path, f"method: {method}\n{block}:\n{body}"))
    assert e.value.field == block
    assert f"'{block}' block" in e.value.problem and f"'{method}'" in e.value.problem


def test_unused_default_blocks_are_ignored_and_left_out_of_the_dump(tmp_path: Path) -> None:
    recipe = load_recipe(_write(tmp_path, "method: prompt\nprompt:\n  num_virtual_tokens: 12\n"))
    dumped = recipe.model_dump(mode="json", exclude={"source"})
    assert "prompt" in dumped
    assert not {"lora", "ia3", "prefix", "quantization"} & dumped.keys()
    assert recipe.train.optim == "auto"


def test_prompt_init_text_must_match_init(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="init_text"):
        load_recipe(_write(tmp_path, "method: prompt\nprompt:\n  init: text\n"))
    with pytest.raises(ConfigError, match="only used with init: text"):
        load_recipe(_write(tmp_path, "method: prompt\nprompt:\n  init_text: hello\n"))


def test_ia3_feedforward_modules_must_be_targets(tmp_path: Path) -> None:
    body = "method: ia3\nia3:\n  target_modules: [k_proj]\n  feedforward_modules: [down_proj]\n"
    with pytest.raises(ConfigError, match="down_proj"):
        load_recipe(_write(tmp_path, body))


def test_unknown_method_and_optimizer_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as e:
        load_recipe(_write(tmp_path, "method: dora\n"))
    assert e.value.field == "method"
    with pytest.raises(ConfigError) as e:
        load_recipe(_write(tmp_path, "train:\n  optim: sgd\n"))
    assert e.value.field == "train.optim"


@pytest.mark.parametrize("method", ["lora", "qlora", "ia3", "prefix", "prompt"])
def test_values_inside_the_guide_do_not_warn(method: str) -> None:
    lr = {"lora": 2e-4, "qlora": 2e-4, "ia3": 3e-3, "prefix": 1e-2, "prompt": 3e-2}[method]
    recipe = _recipe(method=method, train={"learning_rate": lr})
    assert recipe_warnings(recipe) == []


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"lora": {"r": 16, "alpha": 16}}, "lora.alpha", ["2 x lora.r", "32"]),
        ({"lora": {"r": 4, "alpha": 8}}, "lora.r", ["8..64"]),
        ({"lora": {"dropout": 0.3}}, "lora.dropout", ["0.3", "0..0.1"]),
        ({"lora": {"target_modules": ["q_proj", "v_proj"]}}, "lora.target_modules", ["MLP"]),
        ({"train": {"learning_rate": 5e-3}}, "train.learning_rate", ["0.005", "5e-05..0.001"]),
        ({"train": {"batch_size": 2, "grad_accum": 2}}, "train.batch_size", ["(2 x 2) = 4"]),
        ({"train": {"epochs": 10}}, "train.epochs", ["10", "1..5"]),
        ({"train": {"warmup_ratio": 0.0}}, "train.warmup_ratio", ["0.03..0.1"]),
        ({"train": {"weight_decay": 0.5}}, "train.weight_decay", ["0..0.1"]),
        ({"train": {"max_grad_norm": 5.0}}, "train.max_grad_norm", ["0.3..1"]),
        ({"train": {"lr_scheduler": "linear"}}, "train.lr_scheduler", ["cosine"]),
        ({"method": "ia3", "train": {"learning_rate": 2e-4}}, "train.learning_rate", ["IA3"]),
        (
            {
                "method": "prefix",
                "train": {"learning_rate": 1e-2},
                "prefix": {"num_virtual_tokens": 2},
            },
            "prefix.num_virtual_tokens",
            ["8..100"],
        ),
    ],
)
def test_values_outside_the_guide_warn_with_field_value_range_and_reason(
    fields: dict[str, Any], field: str, words: list[str]
) -> None:
    warnings = recipe_warnings(_recipe(**fields))
    assert len(warnings) == 1, warnings
    (w,) = warnings
    assert w.startswith(field)
    assert all(word in w for word in words), w
    assert ": " in w  # the reason follows the range


def test_epochs_are_not_checked_when_max_steps_caps_the_run() -> None:
    assert recipe_warnings(_recipe(train={"epochs": 50, "max_steps": 10})) == []


def test_lora_settings_are_not_checked_for_other_methods() -> None:
    # Rank/alpha mean nothing to IA3: the (default) lora block is never looked at.
    assert recipe_warnings(_recipe(method="ia3", train={"learning_rate": 3e-3})) == []


def test_a_deviation_the_recipe_explains_is_a_note_not_a_warning() -> None:
    small = {"batch_size": 4, "grad_accum": 1}
    assert recipe_warnings(_recipe(train=small))  # undeclared: a warning
    declared = _recipe(train=small, outside_guide={"train.effective_batch": "a CPU demo"})
    assert recipe_warnings(declared) == []
    (note,) = recipe_guide_notes(declared)
    assert note.startswith("train.batch_size x train.grad_accum (4 x 1) = 4")
    assert note.endswith("(on purpose: a CPU demo)")
    # An entry the recipe no longer needs is said, so it does not outlive its reason.
    stale = _recipe(outside_guide={"train.effective_batch": "a CPU demo"})
    assert recipe_guide_notes(stale) == []
    (w,) = recipe_warnings(stale)
    assert "outside_guide names train.effective_batch" in w and "remove the entry" in w


def test_outside_guide_changes_no_adapter_and_no_dump_without_it() -> None:
    from harness.training import adapter_cache_key

    rows = [{"prompt": "p", "completion": " c"}]
    plain = _recipe(train={"grad_accum": 1})
    declared = _recipe(train={"grad_accum": 1}, outside_guide={"train.effective_batch": "why"})
    assert adapter_cache_key("fp", plain, rows) == adapter_cache_key("fp", declared, rows)
    assert "outside_guide" not in plain.model_dump(mode="json")
    dumped = declared.model_dump(mode="json")
    assert dumped["outside_guide"] == {"train.effective_batch": "why"}
    assert Recipe.model_validate(dumped) == declared


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("train.batch: small", ["outside_guide", "'train.batch'", "train.effective_batch"]),
        ("train.lr_scheduler: ''", ["outside_guide.train.lr_scheduler", "reason"]),
    ],
)
def test_outside_guide_entries_are_checked(tmp_path: Path, entry: str, words: list[str]) -> None:
    path = _write(tmp_path, f"outside_guide:\n  {entry}\n")
    with pytest.raises(ConfigError) as err:
        load_recipe(path)
    text = str(err.value)
    assert str(path) in text and all(w in text for w in words), text


def test_cli_validate_prints_recipe_warnings_and_exits_0(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app
    from tests.conftest import write_tiny_experiment

    model = tmp_path / "model"
    model.mkdir()  # validate loads no model: a directory is enough
    exp = write_tiny_experiment(tmp_path / "p", model)
    result = CliRunner().invoke(app, ["validate", str(exp)])
    assert result.exit_code == 0, result.output
    assert "warning recipe lora" in result.output
    assert "train.learning_rate = 0.005" in result.output
    assert "lora.target_modules" in result.output


def test_cli_validate_reports_a_bad_data_row_without_loading_a_model(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from harness.cli import app
    from tests.conftest import write_tiny_experiment

    model = tmp_path / "model"
    model.mkdir()
    exp = write_tiny_experiment(tmp_path / "p", model)
    ok = CliRunner().invoke(app, ["validate", str(exp)])
    assert ok.exit_code == 0, ok.output
    assert "evaluation items" in ok.output
    test_file = tmp_path / "p" / "suites" / "tickets" / "test.jsonl"
    lines = test_file.read_text(encoding="utf-8").splitlines()
    lines[3] = '{"id": "test-3", "label": 0}'  # the prompt field 'ticket' is missing
    test_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = CliRunner().invoke(app, ["validate", str(exp)])
    assert bad.exit_code == 2, bad.output
    assert "test.jsonl" in bad.output and "ticket" in bad.output
