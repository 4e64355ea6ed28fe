"""Checks on a suite's local data before lm-eval sees it, so errors name the file and line."""

from __future__ import annotations

import json
from pathlib import Path

from harness.config import ConfigError, SuiteSpec


def check_jsonl(path: Path) -> int:
    """Refuse non-UTF-8, malformed or empty JSONL with the file and line; return the row count."""
    raw = path.read_bytes()
    rows = 0
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{path}:{lineno}",
                None,
                f"not valid UTF-8 (byte {exc.start} of the line)",
                "re-encode the data file as UTF-8",
            ) from exc
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"{path}:{lineno}",
                None,
                f"invalid JSON: {exc.msg}",
                "write one JSON object per line",
            ) from exc
        if not isinstance(obj, dict):
            raise ConfigError(
                f"{path}:{lineno}",
                None,
                "a row must be a JSON object",
                "write one JSON object per line",
            )
        rows += 1
    if rows == 0:
        raise ConfigError(path, None, "the data file has no rows", "add items to the data file")
    return rows


def check_suite_data(suite: SuiteSpec) -> None:
    for paths in suite.data_files.values():
        for p in paths:
            if p.suffix in (".jsonl", ".json") and p.suffix == ".jsonl":
                check_jsonl(p)
