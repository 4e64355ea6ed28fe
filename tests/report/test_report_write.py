from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

import pytest

from harness.report import ReportFiles, json_safe, update_latest_link, write_report_files


def _no_nan(value: object) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(_no_nan(v) for v in value.values())
    if isinstance(value, list):
        return all(_no_nan(v) for v in value)
    return True


def test_write_report_files(tmp_path: Path, nogo_summary: dict[str, Any]) -> None:
    files = write_report_files(nogo_summary, tmp_path / "run1")
    assert isinstance(files, ReportFiles)
    for path in files.all():
        assert path.is_file() and path.stat().st_size > 0
    assert {p.name for p in (tmp_path / "run1").iterdir()} == {
        "summary.json",
        "report.md",
        "report.html",
        "junit.xml",
        "job_summary.md",
    }
    raw = files.summary_json.read_text(encoding="utf-8")
    assert "NaN" not in raw and "Infinity" not in raw
    loaded = json.loads(raw)
    assert _no_nan(loaded)
    assert loaded["checks"][3]["delta"] is None
    assert loaded["checks"][3]["ci"] == [None, None]
    assert loaded["suites"][0]["scores"]["qlora"] is None
    expected = json_safe(nogo_summary)
    assert loaded == expected
    # Round trip: rendering again from the loaded JSON writes identical files.
    again = write_report_files(loaded, tmp_path / "run1b")
    for a, b in zip(files.all(), again.all(), strict=True):
        assert a.read_text(encoding="utf-8") == b.read_text(encoding="utf-8")
    assert files.report_md.read_text(encoding="utf-8").startswith("# ❌ NO-GO")


def test_input_not_mutated(tmp_path: Path, nogo_summary: dict[str, Any]) -> None:
    write_report_files(nogo_summary, tmp_path)
    assert math.isnan(nogo_summary["checks"][3]["delta"])


def test_no_temp_files_left(tmp_path: Path, go_summary: dict[str, Any]) -> None:
    write_report_files(go_summary, tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_json_safe_rejects_unknown_types() -> None:
    assert json_safe({"a": (1, float("inf")), "p": Path("x")}) == {"a": [1, None], "p": "x"}
    with pytest.raises(TypeError):
        json_safe({"a": object()})


def test_latest_symlink_points_at_newest(tmp_path: Path, go_summary: dict[str, Any]) -> None:
    reports = tmp_path / "reports"
    first, second = reports / "20261129-121500-aa", reports / "20261129-131500-bb"
    write_report_files(go_summary, first)
    link = update_latest_link(reports, first)
    assert link == reports / "latest"
    write_report_files(go_summary, second)
    link = update_latest_link(reports, second)
    assert link.is_symlink()
    assert os.readlink(link) == second.name  # relative
    assert link.resolve() == second.resolve()
    assert (link / "summary.json").is_file()
    assert not [p for p in reports.iterdir() if p.name.startswith(".")]


def test_latest_falls_back_to_txt(
    tmp_path: Path, go_summary: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    reports = tmp_path / "reports"
    run = reports / "run-a"
    write_report_files(go_summary, run)

    def no_symlinks(*args: object, **kwargs: object) -> None:
        raise OSError("symlinks not supported")

    monkeypatch.setattr(os, "symlink", no_symlinks)
    path = update_latest_link(reports, run)
    assert path == reports / "latest.txt"
    assert path.read_text(encoding="utf-8").strip() == "run-a"
    monkeypatch.undo()
    assert update_latest_link(reports, run).is_symlink()
    assert not (reports / "latest.txt").exists()
