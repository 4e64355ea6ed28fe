"""Bad suite data is refused with the file, the line and the field, before any scoring."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.config import ConfigError, load_suite
from harness.engine import build_task
from tests.conftest import write_tiny_suites


@pytest.fixture
def general(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    return write_tiny_suites(tmp_path)["general"]


def _rewrite(path: Path, fn) -> None:
    data = path.parent / "test.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    data.write_text("".join(json.dumps(r) + "\n" for r in fn(rows)))


def test_missing_field_names_line_and_field(general: Path) -> None:
    _rewrite(
        general,
        lambda rows: [rows[0], {k: v for k, v in rows[1].items() if k != "question"}, *rows[2:]],
    )
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(general))
    assert e.value.file.endswith("test.jsonl:2") and e.value.field == "question"


def test_target_outside_choices(general: Path) -> None:
    _rewrite(general, lambda rows: [*rows[:3], {**rows[3], "answer": 7}, *rows[4:]])
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(general))
    assert "row 4 (id g-3)" in (e.value.field or "") and "choices" in e.value.problem


def test_non_utf8_names_the_line(general: Path) -> None:
    data = general.parent / "test.jsonl"
    lines = data.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"id": "x", "question": "caf\xe9"}\n'
    data.write_bytes(b"".join(lines))
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(general))
    assert e.value.file.endswith("test.jsonl:3") and "UTF-8" in e.value.problem


def test_empty_data_file(general: Path) -> None:
    (general.parent / "test.jsonl").write_text("\n")
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(general))
    assert "no rows" in e.value.problem


def test_malformed_json_line(general: Path) -> None:
    data = general.parent / "test.jsonl"
    data.write_text(data.read_text() + "{not json\n")
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(general))
    assert "invalid JSON" in e.value.problem
