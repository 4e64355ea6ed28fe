"""YAML reading that reports the file on every failure."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from harness.config._errors import ConfigError


def read_yaml_mapping(path: Path, what: str) -> dict[str, Any]:
    """Read a YAML file that must hold a mapping, or raise a ConfigError naming it."""
    if not path.exists():
        raise ConfigError(
            path, None, f"{what} file does not exist", f"check the path to the {what}"
        )
    if not path.is_file():
        raise ConfigError(path, None, f"{what} path is not a file", f"point at a {what} YAML file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            path,
            None,
            f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
            "save the file as UTF-8",
        ) from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(path, None, f"invalid YAML{line}: {exc}", "fix the YAML syntax") from exc
    except (ValueError, RecursionError) as exc:
        # PyYAML builds dates and deep nesting itself: 2001-02-30 raises ValueError there.
        raise ConfigError(
            path,
            None,
            f"unreadable YAML value: {exc}",
            "quote dates and other special values; avoid deep nesting",
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(
            path,
            None,
            f"expected a mapping at the top level, got {type(data).__name__}",
            f"write the {what} as 'key: value' pairs",
        )
    return data
