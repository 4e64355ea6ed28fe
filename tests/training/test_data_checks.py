"""Training data checks: every error names the file, the row and the field, and says the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import ConfigError, load_recipe
from harness.training import (
    check_training_data,
    find_contamination,
    load_training_file,
    personal_data,
    split_train_val,
)
from harness.training._format import ALPACA_NO_INPUT, alpaca_example


def _jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _alpaca(i: int) -> dict[str, str]:
    return {"instruction": f"Route ticket number {i}", "input": "", "output": f"Q{i % 3}"}


def test_empty_field_names_file_line_and_field(tmp_path: Path) -> None:
    rows: list[object] = [_alpaca(0), _alpaca(1), {"instruction": "x", "output": "  "}]
    f = _jsonl(tmp_path / "train.jsonl", rows)
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "alpaca", None)
    assert e.value.file == str(f)
    assert e.value.field == "line 3.output"
    assert "empty" in e.value.problem and "fill the field" in e.value.fix


def test_missing_field_and_many_problems_listed_in_one_error(tmp_path: Path) -> None:
    rows: list[object] = [{"prompt": "a"}, {"prompt": "b", "completion": 3}, {"completion": "c"}]
    f = _jsonl(tmp_path / "pc.jsonl", rows)
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "prompt_completion", None)
    assert e.value.field == "line 1.completion"
    assert "3 rows" in e.value.problem
    assert "line 2.completion" in e.value.problem and "line 3.prompt" in e.value.problem


def test_row_in_another_format_is_inconsistent(tmp_path: Path) -> None:
    chat = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}
    f = _jsonl(tmp_path / "mixed.jsonl", [_alpaca(0), chat])
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "alpaca", None)
    assert e.value.field == "line 2.messages"
    assert "chat format" in e.value.problem and "data.format" in e.value.fix


def test_blank_lines_keep_line_numbers_and_bad_json_is_named(tmp_path: Path) -> None:
    f = tmp_path / "bad.jsonl"
    f.write_text(json.dumps(_alpaca(0)) + "\n\n{not json}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "alpaca", None)
    assert e.value.field == "line 3" and "JSON" in e.value.problem


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe@example.com for help", "e-mail address"),
        ("call +44 20 7946 0958 today", "phone number"),
        ("my number is (555) 123-4567", "phone number"),
    ],
)
def test_personal_data_is_refused_masked(tmp_path: Path, text: str, kind: str) -> None:
    rows = [_alpaca(0), {"instruction": "Route this ticket", "output": text}]
    f = _jsonl(tmp_path / "pii.jsonl", rows)
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "alpaca", None)
    assert e.value.field == "line 2.output"
    assert kind in e.value.problem and "remove or mask" in e.value.fix
    assert "jane.doe" not in str(e.value) and "7946" not in str(e.value)  # masked, not echoed


@pytest.mark.parametrize(
    "text", ["order 2024-01-15", "customer C-41198", "host 192.168.100.200", "ticket 12345678"]
)
def test_dates_ids_and_addresses_are_not_phone_numbers(text: str) -> None:
    assert personal_data(text) == []


def test_chat_personal_data_names_the_message(tmp_path: Path) -> None:
    row = {
        "messages": [
            {"role": "user", "content": "Who do I write to?"},
            {"role": "assistant", "content": "Write to help@shop.example.org"},
        ]
    }
    f = _jsonl(tmp_path / "chat.jsonl", [row])
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "chat", None)
    assert e.value.field == "line 1.messages.1.content"


SUITE_ITEMS = [
    "Question: Which planet in our solar system has the most moons orbiting it?\nAnswer:",
    "Question: Which metal is liquid at room temperature and used in old thermometers?\nAnswer:",
    "Question: What is 2 plus 2?\nAnswer:",
]


def test_contamination_names_row_and_suite(tmp_path: Path) -> None:
    rows = [
        _alpaca(0),
        {
            "instruction": "which METAL is liquid at room temperature, and used in old "
            "thermometers",
            "output": "Mercury",
        },
    ]
    f = _jsonl(tmp_path / "leak.jsonl", rows)
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "alpaca", None, {"trivia": SUITE_ITEMS})
    assert e.value.field == "line 2"
    assert "'trivia'" in e.value.problem and "contamination" in e.value.problem
    assert "remove these rows" in e.value.fix


def test_shared_template_and_short_items_are_not_contamination() -> None:
    # The suite's own template words appear in every row written in its format; short items
    # ("2 plus 2") are too generic to call a copy.
    texts = ["Question: What is 2 plus 2?\nAnswer: 4", "Question: Name a colour.\nAnswer: red"]
    assert find_contamination(texts, {"trivia": SUITE_ITEMS}) == []


def test_long_items_match_by_13_gram() -> None:
    long_item = " ".join(f"w{i}" for i in range(40))
    other = " ".join(f"v{i}" for i in range(40))
    texts = ["prefix " + " ".join(f"w{i}" for i in range(10, 23)) + " suffix", "unrelated"]
    assert find_contamination(texts, {"long": [long_item, other]}) == [(0, "long", 0)]


def test_own_suite_overlap_is_reported_not_refused() -> None:
    rows = [{"prompt": SUITE_ITEMS[0], "completion": " Saturn"}, {"prompt": "x", "completion": "y"}]
    report = check_training_data(
        rows, "s.yaml", "prompt_completion", {"trivia": SUITE_ITEMS}, own_suite="trivia"
    )
    assert report.own_suite_overlap == 1 and "own suite" in report.warnings[0]


def test_duplicates_are_counted_with_their_rows() -> None:
    rows = [
        {"prompt": "Hello there", "completion": "A"},
        {"prompt": "hello, THERE!", "completion": "a"},
        {"prompt": "other", "completion": "B"},
        {"prompt": "Hello there", "completion": "A"},
    ]
    report = check_training_data(rows, "d.jsonl", "prompt_completion")
    assert report.duplicates == 2
    assert report.duplicate_rows == ["row 1 repeats row 0", "row 3 repeats row 0"]
    assert "2 duplicate rows" in report.warnings[0]


def test_split_is_seeded_deterministic_and_keeps_copies_together() -> None:
    rows = [{"prompt": f"p{i % 25}", "completion": "c"} for i in range(50)]
    a = split_train_val(rows, 0.2, seed=0)
    assert a == split_train_val(rows, 0.2, seed=0)
    assert a != split_train_val(rows, 0.2, seed=1)
    train, val = a
    assert sorted(train + val) == list(range(50)) and len(val) == 10
    val_prompts = {rows[i]["prompt"] for i in val}
    assert not val_prompts & {rows[i]["prompt"] for i in train}
    assert split_train_val(rows, 0.0, seed=0) == (list(range(50)), [])


def test_alpaca_rows_become_prompt_completion() -> None:
    ex = alpaca_example({"instruction": "Say hi", "output": "hi"})
    assert ex == {"prompt": ALPACA_NO_INPUT.format(instruction="Say hi"), "completion": "hi"}
    with_input = alpaca_example({"instruction": "Route", "input": "card charged", "output": "Q17"})
    assert "### Input:\ncard charged" in with_input["prompt"]
    assert with_input["prompt"].endswith("### Response:\n")


def test_chat_rows_use_the_tokenizer_template(tmp_path: Path, tiny_model_dir: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    row = {
        "messages": [
            {"role": "system", "content": "Route tickets."},
            {"role": "user", "content": "I was charged twice"},
            {"role": "assistant", "content": "Q17"},
        ]
    }
    f = _jsonl(tmp_path / "chat.jsonl", [row])
    (ex,), report = load_training_file(f, "chat", tok)
    assert ex["prompt"].startswith("<|im_start|>system\nRoute tickets.<|im_end|>")
    assert "I was charged twice" in ex["prompt"] and "Q17" not in ex["prompt"]
    assert ex["completion"].startswith("<|im_start|>assistant\nQ17")
    assert report.rows == 1 and report.format == "chat"
    tok.chat_template = None
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "chat", tok)
    assert e.value.field == "data.format" and "chat template" in e.value.problem


def test_chat_must_end_with_the_assistant(tmp_path: Path) -> None:
    row = {"messages": [{"role": "user", "content": "hi"}]}
    f = _jsonl(tmp_path / "chat.jsonl", [row])
    with pytest.raises(ConfigError) as e:
        load_training_file(f, "chat", None)
    assert e.value.field == "line 1.messages.0.role"


def _recipe(tmp_path: Path, data: str) -> Path:
    r = tmp_path / "r.yaml"
    r.write_text(f"name: r\ndata:\n{data}", encoding="utf-8")
    return r


def test_recipe_data_path_resolves_next_to_the_recipe(tmp_path: Path) -> None:
    _jsonl(tmp_path / "mine.jsonl", [_alpaca(0)])
    recipe = load_recipe(_recipe(tmp_path, "  path: mine.jsonl\n  format: alpaca\n"))
    assert recipe.data.path == (tmp_path / "mine.jsonl").resolve()
    assert recipe.data.val_fraction == 0.1 and recipe.train.eval_steps == 20
    assert recipe.monitor.overfit_patience == 3


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ("  path: nope.jsonl\n", "data.path"),
        ("  path: mine.jsonl\n  suite: s.yaml\n", "data"),
        ("  suite: s.yaml\n  format: chat\n", "data"),
        ("  path: mine.jsonl\n  val_fraction: 1.0\n", "data.val_fraction"),
    ],
)
def test_recipe_data_errors(tmp_path: Path, data: str, field: str) -> None:
    _jsonl(tmp_path / "mine.jsonl", [_alpaca(0)])
    with pytest.raises(ConfigError) as e:
        load_recipe(_recipe(tmp_path, data))
    assert e.value.field == field
