"""Hostile but fair inputs through ``harness validate`` (issue #18): each is refused with exit 2
naming file, field and fix, in well under a second of our own time, and the console never
rewrites the user's text (no markup, no emoji codes). No model is loaded: the base is a
directory holding only a llama-style config.json."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from tests.config.adapter_files import write_safetensors, write_stand_in_lora
from tests.conftest import write_tiny_experiment


@pytest.fixture
def exp(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text(
        json.dumps({"model_type": "llama", "num_hidden_layers": 2}), encoding="utf-8"
    )
    return write_tiny_experiment(tmp_path / "p", model)


def _validate(path: Path) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    result = CliRunner().invoke(app, ["validate", str(path)])
    return result.exit_code, result.output, time.perf_counter() - t0


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _with_adapter(exp: Path, adapter: Path) -> None:
    _edit(exp, "candidates:\n", f"candidates:\n  - name: given\n    adapter: {adapter}\n")


def test_valid_experiment_passes(exp: Path) -> None:
    code, out, _ = _validate(exp)
    assert code == 0, out


def test_nested_alias_bomb_is_refused_fast_with_a_short_message(exp: Path) -> None:
    """b805b56: nine nested anchors ran past 120 s and 3.6 GB; five gave a 5.2 MB message."""
    lines = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 10)]
    text = exp.read_text(encoding="utf-8")
    exp.write_text(
        "\n".join(lines) + "\n" + text.replace("gate:\n", "gate:\n  alpha: *x9\n", 1),
        encoding="utf-8",
    )
    code, out, seconds = _validate(exp)
    assert code == 2, out
    assert "aliases expand" in out and "gate.alpha" in out and "experiment.yaml" in out
    assert len(out) < 2000 and seconds < 10


def test_five_level_alias_value_is_not_echoed_whole(exp: Path) -> None:
    lines = ["x0: &x0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"x{i}: &x{i} [{', '.join([f'*x{i - 1}'] * 9)}]" for i in range(1, 5)]
    text = exp.read_text(encoding="utf-8")
    exp.write_text(
        "\n".join(lines) + "\n" + text.replace("gate:\n", "gate:\n  alpha: *x4\n", 1),
        encoding="utf-8",
    )
    code, out, _ = _validate(exp)
    assert code == 2 and len(out) < 2000, out[:3000]


def test_long_value_in_a_pydantic_error_is_shortened(exp: Path) -> None:
    _edit(exp, "gate:\n", f"gate:\n  alpha: [{', '.join(['lol'] * 20000)}]\n")
    code, out, _ = _validate(exp)
    assert code == 2 and "gate.alpha" in out and len(out) < 2000, out[:3000]


def test_duplicate_top_level_key_is_refused_with_both_lines(exp: Path) -> None:
    text = exp.read_text(encoding="utf-8")
    exp.write_text(text + "gate:\n  min_gain: 0.5\n", encoding="utf-8")
    first = text.splitlines().index("gate:") + 1
    second = len(text.splitlines()) + 1
    code, out, _ = _validate(exp)
    assert code == 2, out
    assert "field 'gate'" in out and f"line {first}" in out and f"line {second}" in out


def test_duplicate_key_in_a_suite_is_refused(exp: Path) -> None:
    suite = exp.parent / "suites" / "general" / "general.yaml"
    suite.write_text(suite.read_text(encoding="utf-8") + "task: other\n", encoding="utf-8")
    code, out, _ = _validate(exp)
    assert code == 2 and "general.yaml" in out and "field 'task'" in out, out


def test_line_100_of_a_data_file_is_not_an_emoji(exp: Path) -> None:
    data = exp.parent / "suites" / "general" / "test.jsonl"
    rows = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines()]
    rows = [{**rows[i % len(rows)], "id": f"r{i}"} for i in range(120)]
    del rows[99]["question"]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    code, out, _ = _validate(exp)
    assert code == 2, out
    assert "test.jsonl:100" in out and "\N{HUNDRED POINTS SYMBOL}" not in out


def test_markup_in_user_text_is_printed_verbatim(exp: Path) -> None:
    _edit(exp, "suites:\n", "suites:\n  - suites/[bold]x[/bold]:smile:.yaml\n")
    code, out, _ = _validate(exp)
    assert code == 2 and "[bold]x[/bold]:smile:.yaml" in out, out


def test_suite_path_that_is_a_directory_points_at_the_yaml_inside(exp: Path) -> None:
    _edit(exp, "  - suites/tickets/tickets.yaml\n", "  - suites/tickets\n")
    code, out, _ = _validate(exp)
    assert code == 2 and "is a directory" in out and "tickets.yaml" in out, out
    assert "does not exist" not in out


def test_reports_dir_naming_a_file_is_refused_up_front(exp: Path) -> None:
    (exp.parent / "reports.txt").write_text("not a directory")
    exp.write_text(exp.read_text(encoding="utf-8") + "reports_dir: reports.txt\n")
    code, out, _ = _validate(exp)
    assert code == 2 and "field 'reports_dir'" in out and "existing file" in out, out


def test_recipe_targets_matching_no_module_of_the_base_exit_2(exp: Path) -> None:
    _edit(exp.parent / "training" / "lora.yaml", "[q_proj, v_proj]", "[query_key_value]")
    code, out, _ = _validate(exp)
    assert code == 2, out
    assert "lora.yaml" in out and "lora.target_modules" in out and "query_key_value" in out


def test_recipe_targets_are_not_checked_without_a_readable_base_config(exp: Path) -> None:
    (exp.parent.parent / "model" / "config.json").unlink()
    _edit(exp.parent / "training" / "lora.yaml", "[q_proj, v_proj]", "[query_key_value]")
    code, out, _ = _validate(exp)
    assert code == 0, out


# --- given adapters, checked without a model -----------------------------------------------


def test_intact_given_adapter_passes(exp: Path, tmp_path: Path) -> None:
    _with_adapter(exp, write_stand_in_lora(tmp_path / "ad"))
    code, out, _ = _validate(exp)
    assert code == 0, out
    assert "note" not in out


@pytest.mark.parametrize("damage", ["truncated", "empty", "missing", "offsets"])
def test_damaged_adapter_weights_exit_2(exp: Path, tmp_path: Path, damage: str) -> None:
    ad = write_stand_in_lora(tmp_path / "ad")
    w = ad / "adapter_model.safetensors"
    if damage == "truncated":
        w.write_bytes(w.read_bytes()[:-3])
    elif damage == "empty":
        w.write_bytes(b"")
    elif damage == "missing":
        w.unlink()
    else:
        names = {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": [1, 1]}
        write_safetensors(w, names)
        raw = w.read_bytes().replace(b"[0, 4]", b"[0, 400]")
        w.write_bytes(raw)
    _with_adapter(exp, ad)
    code, out, _ = _validate(exp)
    assert code == 2 and "adapter_model.safetensors" in out and "field 'adapter'" in out, out


def test_unreadable_adapter_config_exits_2(exp: Path, tmp_path: Path) -> None:
    ad = write_stand_in_lora(tmp_path / "ad")
    (ad / "adapter_config.json").write_text('{"peft_type": "LORA", ')
    _with_adapter(exp, ad)
    code, out, _ = _validate(exp)
    assert code == 2 and "adapter_config.json" in out and "not valid JSON" in out, out


def test_narrowed_target_modules_are_refused_before_any_model(exp: Path, tmp_path: Path) -> None:
    ad = write_stand_in_lora(
        tmp_path / "ad", targets=("q_proj", "v_proj"), tensors_for=("q_proj", "v_proj", "up_proj")
    )
    _with_adapter(exp, ad)
    code, out, _ = _validate(exp)
    assert code == 2 and "field 'target_modules'" in out and "up_proj" in out, out


def test_deleted_tensors_of_a_target_module_are_refused(exp: Path, tmp_path: Path) -> None:
    ad = write_stand_in_lora(tmp_path / "ad", targets=("q_proj", "v_proj"))
    names = {
        n: [1, 1]
        for n in json.loads((ad / "adapter_model.safetensors").read_bytes()[8:].split(b"\0")[0])
        if "layers.1.self_attn.v_proj.lora_B" not in n
    }
    write_safetensors(ad / "adapter_model.safetensors", names)
    _with_adapter(exp, ad)
    code, out, _ = _validate(exp)
    assert code == 2 and "layers.1.self_attn.v_proj (lora_B)" in out, out


def test_adapter_recorded_for_another_base_is_accepted_with_a_note(
    exp: Path, tmp_path: Path
) -> None:
    ad = write_stand_in_lora(tmp_path / "ad", base_model_name_or_path="meta-llama/Llama-2-7b-hf")
    _with_adapter(exp, ad)
    code, out, _ = _validate(exp)
    assert code == 0, out
    assert "note" in out and "meta-llama/Llama-2-7b-hf" in out
