"""Errors a user can act on: every one names the file, the field and the fix."""

from __future__ import annotations

from pathlib import Path


class ConfigError(Exception):
    """Bad user input (config, suite, recipe or data) that the run cannot start with.

    Carrying the file, field and fix separately lets the CLI print them consistently and lets
    tests assert on them without parsing prose.
    """

    def __init__(self, file: str | Path | None, field: str | None, problem: str, fix: str) -> None:
        self.file = str(file) if file is not None else None
        self.field = field
        self.problem = problem
        self.fix = fix
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<no file>"
        if self.field:
            where += f": field '{self.field}'"
        return f"{where}: {self.problem}\n  fix: {self.fix}"


def from_validation_error(file: str | Path, exc: object) -> ConfigError:
    """Turn a pydantic ValidationError into one ConfigError naming every bad field.

    pydantic's own message is precise but hides the file; users edit files, not models.
    """
    errors = exc.errors() if hasattr(exc, "errors") else []
    fields: list[str] = []
    problems: list[str] = []
    fixes: list[str] = []
    for err in errors:
        loc = ".".join(str(p) for p in err.get("loc", ()))
        fields.append(loc or "<root>")
        etype = err.get("type", "")
        msg = err.get("msg", "invalid value")
        if etype == "extra_forbidden":
            problems.append(f"'{loc}' is not a known field")
            fixes.append(f"remove '{loc}' or check its spelling")
        elif etype == "missing":
            problems.append(f"'{loc}' is required")
            fixes.append(f"add '{loc}'")
        else:
            got = err.get("input")
            problems.append(f"'{loc}': {msg} (got {got!r})")
            fixes.append(f"set '{loc}' to a valid value")
    return ConfigError(
        file,
        ", ".join(fields) if fields else None,
        "; ".join(problems) or str(exc),
        "; ".join(dict.fromkeys(fixes)) or "correct the file",
    )
