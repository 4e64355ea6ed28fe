"""Path handling that turns odd user paths (NUL bytes, over-long names) into ConfigErrors."""

from __future__ import annotations

from pathlib import Path

from harness.config._errors import ConfigError, shown


def resolve_user_path(raw: object, root: Path, file: Path, field: str) -> Path:
    """Resolve ``raw`` against ``root``; refuse values that are not usable paths."""
    if not isinstance(raw, (str, Path)) or not str(raw):
        raise ConfigError(file, field, f"expected a path, got {shown(raw)}", "write a file path")
    try:
        p = Path(raw)
        p = p if p.is_absolute() else root / p
        p = p.resolve()
        p.exists()  # surfaces ENAMETOOLONG and embedded NUL bytes here, not later
    except (OSError, ValueError) as exc:
        raise ConfigError(
            file,
            field,
            f"unusable path {str(raw)[:80]!r}: {exc}",
            "write a normal relative or absolute file path",
        ) from exc
    return p
