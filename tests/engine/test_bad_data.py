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


# -- generation, rolling and BBH-style JSON suites --------------------------------------------


def _suite_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> Path:
    from tests.engine.test_output_types import write_bbh_style, write_generation, write_rolling

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    writers = {
        "gen": write_generation,
        "rolling": write_rolling,
        "bbh": lambda root: write_bbh_style(root)[0],
        "bbh_mc": lambda root: write_bbh_style(root)[1],
    }
    return writers[name](tmp_path)


@pytest.mark.parametrize(("kind", "field"), [("gen", "target"), ("rolling", "text")])
def test_generation_and_rolling_rows_missing_a_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str, field: str
) -> None:
    path = _suite_dir(tmp_path, monkeypatch, kind)
    data = path.parent / "test.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    rows[2][field] = ""
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(path))
    assert e.value.file.endswith("test.jsonl:3") and e.value.field == field


@pytest.mark.parametrize("kind", ["gen", "rolling"])
def test_generation_and_rolling_non_utf8_and_empty(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    path = _suite_dir(tmp_path, monkeypatch, kind)
    data = path.parent / "test.jsonl"
    good = data.read_bytes()
    data.write_bytes(good.replace(b"\n", b"\xff\n", 2).replace(b"\xff\n", b"\n", 1))
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(path))
    assert e.value.file.endswith("test.jsonl:2") and "UTF-8" in e.value.problem
    data.write_text("")
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(path))
    assert "no rows" in e.value.problem


def test_bbh_json_record_missing_a_field_names_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _suite_dir(tmp_path, monkeypatch, "bbh")
    data = path.parent / "shelf.json"
    doc = json.loads(data.read_text())
    del doc["examples"][4]["target"]
    data.write_text(json.dumps(doc, indent=1))
    starts = [i for i, text in enumerate(data.read_text().splitlines(), start=1) if text == "  {"]
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(path))
    assert e.value.field == "target" and "record 5" in e.value.problem
    assert e.value.file.endswith(f"shelf.json:{starts[4]}")  # the line where record 5 starts


def test_bbh_json_non_utf8_empty_and_wrong_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _suite_dir(tmp_path, monkeypatch, "bbh")
    data = path.parent / "shelf.json"
    text = data.read_text()
    lines = text.encode().split(b"\n")
    k = [i for i, line in enumerate(lines) if b'"input"' in line][1]
    lines[k] = lines[k].replace(b"shelf", b"sh\xe9lf", 1)
    data.write_bytes(b"\n".join(lines))
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(path))
    assert e.value.file.endswith(f"shelf.json:{k + 1}") and "UTF-8" in e.value.problem
    data.write_text(json.dumps({"examples": []}))
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(path))
    assert "no rows" in e.value.problem and e.value.field == "examples"
    data.write_text(json.dumps({"items": [{"input": "x", "target": "(A)"}]}))
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(path))
    assert e.value.field == "examples" and "no top-level field" in e.value.problem


def test_bbh_target_outside_the_choices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _suite_dir(tmp_path, monkeypatch, "bbh_mc")
    data = path.parent / "shelf.json"
    doc = json.loads(data.read_text())
    doc["examples"][2]["target"] = "(D)"
    data.write_text(json.dumps(doc, indent=1))
    with pytest.raises(ConfigError) as e:
        build_task(load_suite(path))
    assert "row 3" in (e.value.field or "") and "'(D)'" in e.value.problem
