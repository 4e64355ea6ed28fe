"""The per-item result: the shared unit that engine produces, store keeps and gates compare.

It lives in ``harness.config`` because every layer needs it and config is the one layer all of
them may import.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ItemResult:
    """One item's scores for one variant on one suite."""

    item_id: str
    scores: dict[str, float]
    capability: str | None = None
    prediction: Any = None
    target: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "item_id": self.item_id,
            "scores": self.scores,
            "capability": self.capability,
            "prediction": self.prediction,
            "target": self.target,
            "extra": self.extra,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ItemResult:
        return cls(
            item_id=str(d["item_id"]),
            scores={k: float(v) for k, v in d["scores"].items()},
            capability=d.get("capability"),
            prediction=d.get("prediction"),
            target=d.get("target"),
            extra=d.get("extra") or {},
        )
