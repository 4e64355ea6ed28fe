"""Errors a user can act on: every one names the file, the field and the fix."""

from __future__ import annotations

import reprlib
from pathlib import Path

# A value echoed back in a message is the user's own input: it may be megabytes (or, through
# YAML aliases, a structure that expands to gigabytes when printed). Show at most this much.
MAX_SHOWN = 200
# Whole problem/fix texts are capped too, as a last guard for messages built elsewhere.
MAX_MESSAGE = 4000
_MAX_ERRORS = 10  # validation errors listed one by one; the rest are counted


def _make_repr() -> reprlib.Repr:
    r = reprlib.Repr()
    r.maxlevel = 3
    r.maxlist = r.maxtuple = r.maxset = r.maxfrozenset = r.maxdeque = r.maxarray = 6
    r.maxdict = 6
    r.maxstring = MAX_SHOWN
    r.maxother = MAX_SHOWN
    r.maxlong = 60
    return r


_REPR = _make_repr()


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit} more characters)"


def shown(value: object, limit: int = MAX_SHOWN) -> str:
    """A bounded ``repr`` of a user value for a message: nested and long values are elided
    while the repr is built (never built whole, then cut), so a value that aliases expand to
    gigabytes costs microseconds here."""
    try:
        text = _REPR.repr(value)
    except Exception:  # a repr that raises must not hide the real error
        text = f"<{type(value).__name__}>"
    return shorten(text, limit)


class ConfigError(Exception):
    """Bad user input (config, suite, recipe or data) that the run cannot start with.

    Carrying the file, field and fix separately lets the CLI print them consistently and lets
    tests assert on them without parsing prose.
    """

    def __init__(self, file: str | Path | None, field: str | None, problem: str, fix: str) -> None:
        self.file = shorten(str(file), 1000) if file is not None else None
        self.field = shorten(field, 1000) if field is not None else None
        self.problem = shorten(problem, MAX_MESSAGE)
        self.fix = shorten(fix, MAX_MESSAGE)
        super().__init__(self.render())

    def render(self) -> str:
        where = self.file or "<no file>"
        if self.field:
            where += f": field '{self.field}'"
        return f"{where}: {self.problem}\n  fix: {self.fix}"


def from_validation_error(file: str | Path, exc: object) -> ConfigError:
    """Turn a pydantic ValidationError into one ConfigError naming every bad field.

    pydantic's own message is precise but hides the file; users edit files, not models.
    Echoed input values and field names (user keys) are shortened with ``shown``/``shorten``.
    """
    errors = exc.errors() if hasattr(exc, "errors") else []
    fields: list[str] = []
    problems: list[str] = []
    fixes: list[str] = []
    for err in errors[:_MAX_ERRORS]:
        loc = shorten(".".join(str(p) for p in err.get("loc", ())), 120)
        fields.append(loc or "<root>")
        etype = err.get("type", "")
        msg = shorten(str(err.get("msg", "invalid value")))
        if etype == "extra_forbidden":
            problems.append(f"'{loc}' is not a known field")
            fixes.append(f"remove '{loc}' or check its spelling")
        elif etype == "missing":
            problems.append(f"'{loc}' is required")
            fixes.append(f"add '{loc}'")
        else:
            problems.append(f"'{loc}': {msg} (got {shown(err.get('input'))})")
            fixes.append(f"set '{loc}' to a valid value")
    if len(errors) > _MAX_ERRORS:
        problems.append(f"and {len(errors) - _MAX_ERRORS} more errors")
    return ConfigError(
        file,
        ", ".join(fields) if fields else None,
        "; ".join(problems) or shorten(str(exc)),
        "; ".join(dict.fromkeys(fixes)) or "correct the file",
    )
