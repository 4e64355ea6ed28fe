"""The pipeline's training-data step: a recipe's own JSONL file, checked against the
experiment's evaluation suites before anything trains."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import ConfigError, load_experiment
from harness.engine import training_examples
from harness.pipeline import _EvalItems
from harness.training import recipe_examples
from tests.conftest import write_tiny_experiment

TRIVIA = [
    "Which planet in our solar system has the largest number of known moons today?",
    "Which metal stays liquid at room temperature and was used in old thermometers?",
]


def _experiment(root: Path, model: Path, rows: list[dict[str, str]]) -> Path:
    exp = write_tiny_experiment(root, model)
    trivia = root / "suites" / "trivia"
    trivia.mkdir()
    items = [{"question": q, "choices": ["a", "b"], "answer": 0} for q in TRIVIA]
    (trivia / "test.jsonl").write_text("".join(json.dumps(r) + "\n" for r in items))
    (trivia / "trivia.yaml").write_text(
        "task: tiny_trivia\ndataset_path: json\n"
        "dataset_kwargs:\n  data_files:\n    test: test.jsonl\n"
        "test_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "Question: {{question}}\\nAnswer:"\n'
        'doc_to_choice: "{{choices}}"\ndoc_to_target: answer\n'
        "metric_list:\n  - metric: acc\n"
        "metadata:\n  version: 1.0\n  kind: general\n  name: trivia\n",
        encoding="utf-8",
    )
    text = exp.read_text().replace(
        "  - suites/general/general.yaml\n",
        "  - suites/general/general.yaml\n  - suites/trivia/trivia.yaml\n",
    )
    exp.write_text(text)
    data = root / "training" / "mine.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    (root / "training" / "lora.yaml").write_text(
        "name: mine\ndata:\n  path: mine.jsonl\n  format: alpaca\n"
        "train:\n  max_steps: 2\n  max_seq_len: 64\n  dtype: float32\n"
    )
    return exp


def _data(exp_path: Path) -> tuple[list[dict[str, str]], object]:
    from transformers import AutoTokenizer

    exp = load_experiment(exp_path)
    tok = AutoTokenizer.from_pretrained(exp.base.model)
    return recipe_examples(
        exp.recipes["lora"], tok, training_examples, _EvalItems(exp.suites).get()
    )


def test_recipe_file_is_read_checked_and_formatted(
    tmp_path: Path, tiny_model_dir: Path, isolated_env: Path
) -> None:
    rows = [{"instruction": "Route: my parcel is late", "output": "Q23"}] * 2 + [
        {"instruction": "Route: I cannot log in", "input": "web", "output": "Q38"}
    ]
    examples, report = _data(_experiment(tmp_path / "p", tiny_model_dir, rows))
    assert [e["completion"] for e in examples] == ["Q23", "Q23", "Q38"]
    assert examples[2]["prompt"].endswith("### Input:\nweb\n\n### Response:\n")
    assert report.rows == 3 and report.duplicates == 1  # type: ignore[attr-defined]


def test_training_on_an_evaluation_item_is_refused(
    tmp_path: Path, tiny_model_dir: Path, isolated_env: Path
) -> None:
    rows = [
        {"instruction": "Route: my parcel is late", "output": "Q23"},
        {"instruction": TRIVIA[1].upper(), "output": "mercury"},
    ]
    with pytest.raises(ConfigError) as e:
        _data(_experiment(tmp_path / "p", tiny_model_dir, rows))
    assert e.value.file is not None and e.value.file.endswith("mine.jsonl")
    assert e.value.field == "line 2" and "'trivia'" in e.value.problem
