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


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        lineno = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1)
        raise ConfigError(
            f"{path}:{lineno}",
            None,
            f"not valid UTF-8 (byte {col} of the line)",
            "re-encode the data file as UTF-8",
        ) from exc


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


def _element_offsets(text: str, field: str | None) -> list[int]:
    """Character offset of every record in a JSON document, so errors can name a line.

    The document is already known to be valid JSON; this walks its top level with the
    standard decoder (``raw_decode``) to find where the record list (the top-level array, or
    the array under ``field``) and each of its elements start.
    """
    dec = json.JSONDecoder()
    i = _skip_ws(text, 0)
    if field is not None:
        i += 1  # '{'
        while True:
            i = _skip_ws(text, i)
            key, i = dec.raw_decode(text, i)
            i = _skip_ws(text, i) + 1  # ':'
            i = _skip_ws(text, i)
            if key == field:
                break
            _, i = dec.raw_decode(text, i)
            i = _skip_ws(text, i) + 1  # ',' (the field exists, so '}' is never reached)
    offsets: list[int] = []
    i += 1  # '['
    while True:
        i = _skip_ws(text, i)
        if text[i] == "]":
            return offsets
        offsets.append(i)
        _, i = dec.raw_decode(text, i)
        i = _skip_ws(text, i)
        if text[i] == ",":
            i += 1


def check_json(path: Path, required: set[str] | None = None, field: str | None = None) -> int:
    """Refuse a non-UTF-8, malformed, empty or incomplete JSON record file (e.g. BBH's).

    The records are the top-level array, or the array under ``field`` (lm-eval's
    ``dataset_kwargs.field``, e.g. ``examples``). Errors name the record's line.
    """
    raw = path.read_bytes()
    text = _decode(path, raw)
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{path}:{exc.lineno}",
            None,
            f"invalid JSON: {exc.msg}",
            "fix the JSON syntax (or write JSON Lines: one object per line, as .jsonl)",
        ) from exc
    if field is not None:
        if not isinstance(doc, dict) or field not in doc:
            raise ConfigError(
                path,
                field,
                f"the file has no top-level field {field!r} (dataset_kwargs.field)",
                "point dataset_kwargs.field at the list of records, or remove it",
            )
        records = doc[field]
    else:
        records = doc
    if not isinstance(records, list):
        raise ConfigError(
            path,
            field,
            "the records must be a JSON list of objects",
            "write [{...}, {...}] or set dataset_kwargs.field to the key of that list",
        )
    if not records:
        raise ConfigError(path, field, "the data file has no rows", "add items to the data file")
    offsets = _element_offsets(text, field)
    for k, obj in enumerate(records):
        lineno = text.count("\n", 0, offsets[k]) + 1
        where = f"{path}:{lineno}"
        if not isinstance(obj, dict):
            raise ConfigError(where, None, f"record {k + 1} is not a JSON object", "write objects")
        missing = sorted(f for f in (required or set()) if obj.get(f) in (None, ""))
        if missing:
            raise ConfigError(
                where,
                missing[0],
                f"record {k + 1} is missing {', '.join(repr(m) for m in missing)}, which "
                "the suite's prompt or target uses",
                "fill the field in every record or drop the record",
            )
    return len(records)


def check_suite_data(suite: SuiteSpec, cfg: dict[str, Any] | None = None) -> None:
    """Check every local JSON / JSON Lines data file of a suite before lm-eval reads it."""
    required = required_fields(cfg) if cfg else set()
    kwargs = (cfg or {}).get("dataset_kwargs") or {}
    field = kwargs.get("field") if isinstance(kwargs, dict) else None
    for paths in suite.data_files.values():
        for p in paths:
            if p.suffix == ".jsonl":
                check_jsonl(p, required)
            elif p.suffix == ".json":
                check_json(p, required, str(field) if field is not None else None)


def check_targets(task: Any, suite: SuiteSpec) -> None:
    """Every target must index (or name) one of its item's choices, where there are choices.

    Multiple choice always has choices; a generation suite has them when it sets
    ``doc_to_choice`` (lm-eval then compares the output with ``choices[target]``).
    """
    has_choices = suite.output_type == "multiple_choice" or (
        suite.output_type == "generate_until" and task.config.doc_to_choice is not None
    )
    if not has_choices:
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
