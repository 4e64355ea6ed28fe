"""One gate check's result: the unit every check kind produces and summary.json records."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """One gate assertion with its evidence; serialised as-is into summary.json."""

    name: str
    kind: str
    variant: str
    suite: str
    capability: str | None
    metric: str
    baseline: float
    candidate: float
    delta: float
    ci: tuple[float, float]
    margin: float
    passed: bool
    reason: str
    n: int
    mde: float | None
    p_value: float | None = None
    p_adjusted: float | None = None
    mcnemar: dict[str, float] | None = None
    # False for a comparison arm's check: scored and reported, but not part of the verdict.
    decides: bool = True

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = list(self.ci)
        return d


def check_name(variant: str, where: str, kind: str) -> str:
    """``<variant>::<where>::<kind>``: where is a suite, ``suite/capability`` or ``all``."""
    return f"{variant}::{where}::{kind}"
