"""Checks on a suite's local data before lm-eval sees it, so errors name the file and line.

lm-eval renders a missing field as an empty string and an out-of-range target as an
exception deep inside a metric; both would turn bad data into wrong scores or opaque crashes.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from harness.config import ConfigError, SuiteSpec

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _template_fields(value: Any) -> set[str]:
    """Row fields a doc_to_* entry reads: Jinja variables, or a bare column name."""
    if not isinstance(value, str) or value.startswith("!function"):
        return set()
    if "{{" in value or "{%" in value:
        from jinja2 import Environment, meta

        return set(meta.find_undeclared_variables(Environment().parse(value)))
    return {value} if _IDENT.match(value) else set()


def required_fields(cfg: dict[str, Any]) -> set[str]:
    fields: set[str] = set()
    for key in ("doc_to_text", "doc_to_target", "doc_to_choice"):
        fields |= _template_fields(cfg.get(key))
    return fields


def check_jsonl(path: Path, required: set[str] | None = None) -> int:
    """Refuse non-UTF-8, malformed, empty or incomplete JSONL; return the row count."""
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
        missing = sorted(f for f in (required or set()) if obj.get(f) in (None, ""))
        if missing:
            raise ConfigError(
                f"{path}:{lineno}",
                missing[0],
                f"row is missing {', '.join(repr(m) for m in missing)}, which "
                "the suite's prompt or target uses",
                "fill the field in every row or drop the row",
            )
        rows += 1
    if rows == 0:
        raise ConfigError(path, None, "the data file has no rows", "add items to the data file")
    return rows


def check_suite_data(suite: SuiteSpec, cfg: dict[str, Any] | None = None) -> None:
    required = required_fields(cfg) if cfg else set()
    for paths in suite.data_files.values():
        for p in paths:
            if p.suffix == ".jsonl":
                check_jsonl(p, required)


def check_targets(task: Any, suite: SuiteSpec) -> None:
    """Every multiple-choice target must index (or name) one of its item's choices."""
    if suite.output_type != "multiple_choice":
        return
    for i, doc in enumerate(task.eval_docs):
        choices = task.doc_to_choice(doc)
        target = task.doc_to_target(doc)
        ok = (0 <= target < len(choices)) if isinstance(target, int) else target in choices
        if not ok:
            where = f"row {i + 1}" + (
                f" (id {doc['id']})" if isinstance(doc, dict) and "id" in doc else ""
            )
            raise ConfigError(
                suite.path,
                f"doc_to_target, {where}",
                f"target {target!r} is not one of the {len(choices)} choices",
                "fix the row's answer index or its choices",
            )
