"""The per-item result: the shared unit that engine produces, store keeps and gates compare.

It lives in ``harness.config`` because every layer needs it and config is the one layer all of
them may import.
"""

from __future__ import annotations

import math
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
    # What of the model's output was NaN or infinite (e.g. "log-likelihood", "generation
    # logits"); None: all finite. Such an item has no prediction and NaN scores.
    nonfinite: str | None = None

    def to_json(self) -> dict[str, Any]:
        d = {
            "item_id": self.item_id,
            "scores": self.scores,
            "capability": self.capability,
            "prediction": self.prediction,
            "target": self.target,
            "extra": self.extra,
        }
        # Additive: absent means finite, so results stored before the field existed (and
        # every finite item) keep their bytes and their store keys.
        if self.nonfinite is not None:
            d["nonfinite"] = self.nonfinite
        return d

    def nonfinite_output(self) -> str | None:
        """What of this item's output is non-finite, or None.

        The recorded flag first; otherwise what the stored numbers show (a result stored
        before the flag existed still has its NaN log-likelihoods and scores).
        """
        if self.nonfinite is not None:
            return self.nonfinite
        lls = self.extra.get("loglikelihoods")
        if isinstance(lls, list) and not all(_finite(x) for x in lls):
            return "log-likelihood"
        bad = sorted(k for k, v in self.scores.items() if not _finite(v))
        return f"score {bad[0]}" if bad else None

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ItemResult:
        return cls(
            item_id=str(d["item_id"]),
            scores={k: float(v) for k, v in d["scores"].items()},
            capability=d.get("capability"),
            prediction=d.get("prediction"),
            target=d.get("target"),
            extra=d.get("extra") or {},
            nonfinite=d.get("nonfinite"),
        )


def _finite(x: Any) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return True  # not a number: nothing numeric to be non-finite
