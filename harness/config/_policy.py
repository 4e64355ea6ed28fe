"""The gate policy: margins, alpha and required gains, with defaults users can defend.

Defaults are sized for the built-in general suite (1,500 items, 250 per capability) and the
churn a LoRA adapter causes there (about a quarter of items change correctness): with them a
harmless adapter is failed at most alpha of the time and a capability drop of about 10 points
is caught 80% of the time (bench/validity/planted_effect.py, docs/benchmarks.md). Smaller
suites need wider margins; each check reports the effect it can detect.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MarginName = Literal[
    "min_gain", "forgetting_margin", "capability_margin", "quantization_margin", "champion_margin"
]
"""The margins a suite may override (``gate.suites.<suite>``)."""
PolicyMargin = MarginName | Literal["merge_tolerance"]
"""Every policy field a check kind may take its margin from (harness.gates' kind registry)."""


class SuiteMargins(BaseModel):
    """One suite's own margins, in its metric's units (BLEU and chrF run 0-100, bits per byte
    has no upper end), overriding the policy's for that suite only."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_gain: float | None = None
    forgetting_margin: float | None = None
    capability_margin: float | None = None
    quantization_margin: float | None = None
    champion_margin: float | None = None
    champion_min_gain: float | None = None

    @field_validator(
        "min_gain",
        "forgetting_margin",
        "capability_margin",
        "quantization_margin",
        "champion_margin",
        "champion_min_gain",
    )
    @classmethod
    def _finite_non_negative(cls, v: float | None) -> float | None:
        if v is not None and (math.isnan(v) or math.isinf(v) or v < 0):
            raise ValueError("must be a finite number >= 0, in the suite's metric units")
        return v


class GatePolicy(BaseModel):
    """Thresholds for every check of a gate run."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(0.05, description="One-sided error rate of each check.")
    min_gain: float = Field(
        0.02, description="Task suites: the lower confidence bound of the gain must exceed this."
    )
    forgetting_margin: float = Field(
        0.05, description="General suites overall: allowed drop of the lower bound."
    )
    capability_margin: float = Field(
        0.12, description="General suites per capability: allowed drop of the lower bound."
    )
    quantization_margin: float = Field(
        0.03, description="quantization_gap: allowed drop of a quantised variant vs its twin."
    )
    champion_margin: float = Field(
        0.12,
        description="not_worse_than_champion on task suites: allowed drop of the lower bound of "
        "candidate - champion (general suites use forgetting_margin and capability_margin). "
        "Sized for the built-in 300-item task suite, where two retrains of one recipe disagree "
        "on about half the items (docs/gates.md): a larger task suite can take a smaller one.",
    )
    champion_min_gain: float | None = Field(
        None,
        description="not_worse_than_champion on task suites: when set, the lower bound of "
        "candidate - champion must exceed this gain instead (a new release must be better).",
    )
    quantized_bases: list[Literal["nf4", "int8"]] = Field(
        default_factory=list,
        description="Also score the base quantised this way and check it against the base.",
    )
    merge_check: bool = Field(
        False,
        description="merge_equivalence: also score each LoRA candidate merged into the "
        "base (one more scoring pass per candidate) and compare predictions.",
    )
    merge_tolerance: float = Field(
        0.01, description="merge_equivalence: largest share of items whose prediction may differ."
    )
    require_change: bool = Field(
        True, description="not_a_noop: fail a candidate whose outputs equal the base's."
    )
    suites: dict[str, SuiteMargins] = Field(
        default_factory=dict,
        description="Per-suite margins by suite name, in that suite's metric units "
        "(e.g. BLEU points); a suite not listed uses the margins above.",
    )
    bootstrap_resamples: int = Field(10_000, ge=1_000, le=1_000_000)
    seed: int = 0
    require_power: bool = Field(
        False,
        description="harness plan / evaluate: exit 2 when the power plan flags a check (it "
        "would fail a harmless adapter more often than alpha, or misses a drop of its margin).",
    )
    plan_discordance: float = Field(
        0.25,
        gt=0.0,
        le=1.0,
        description="Power plan: assumed share of items whose correctness a candidate changes "
        "(0.25 for LoRA on the default suites); a stored previous candidate's share is used "
        "instead where there is one.",
    )
    plan_power: float = Field(
        0.8, gt=0.0, lt=1.0, description="Power plan: chance a detectable drop is caught."
    )

    def champion_gain(self, suite: str) -> float | None:
        """The gain a task suite must show over the champion (its own
        ``gate.suites.<suite>.champion_min_gain``, else the policy's); None: non-inferiority
        within ``champion_margin`` is enough."""
        own = self.suites.get(suite)
        value = own.champion_min_gain if own is not None else None
        return self.champion_min_gain if value is None else value

    def margin(self, name: PolicyMargin, suite: str) -> float:
        """The margin ``name`` for ``suite``: its own override, else the policy's."""
        own = self.suites.get(suite)
        value = getattr(own, name, None) if own is not None else None
        return float(getattr(self, name) if value is None else value)

    @field_validator("alpha")
    @classmethod
    def _alpha_open_unit(cls, v: float) -> float:
        if math.isnan(v) or not 0.0 < v < 1.0:
            raise ValueError("alpha must be strictly between 0 and 1, e.g. 0.05")
        return v

    @field_validator(
        "min_gain",
        "forgetting_margin",
        "capability_margin",
        "quantization_margin",
        "merge_tolerance",
        "champion_margin",
    )
    @classmethod
    def _margin_in_unit(cls, v: float) -> float:
        if math.isnan(v) or math.isinf(v):
            raise ValueError("must be a finite number")
        if not 0.0 <= v <= 1.0:
            raise ValueError(
                "must be between 0 and 1 (metrics are fractions, not percent); for a suite "
                "in other units (BLEU 0-100, bits per byte) set gate.suites.<suite>.<margin>"
            )
        return v

    @field_validator("champion_min_gain")
    @classmethod
    def _gain_in_unit(cls, v: float | None) -> float | None:
        return None if v is None else cls._margin_in_unit(v)
