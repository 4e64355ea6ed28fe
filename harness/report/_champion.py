"""The champion comparison as the reports show it: base -> champion -> candidate, side by side.

Per release candidate (summary.json's ``champions``): what its champion is (or why it has
none: a first release), per suite and capability the three scores with the candidate's change
vs the base and vs the champion (the gate's paired interval, the bound it had to clear, the
result), and the answers that changed between the champion and the candidate. Read from the
summary alone: the checks are found by their kind's report role ``champion``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from harness.report._format import to_float
from harness.report._samples import SuiteSamplesView, build_samples
from harness.report._summary import ChampionRecord, GateSummary


@dataclass(frozen=True)
class ChampionRow:
    """One suite (``capability`` None) or capability: base, champion and candidate."""

    label: str
    suite: str
    capability: str | None
    metric: str
    base: float | None
    champion: float | None
    candidate: float | None
    vs_base: float | None  # candidate - base (scores' difference)
    delta: float | None  # candidate - champion (the check's paired delta)
    ci_low: float | None
    ci_high: float | None
    bound: float | None  # where the lower bound had to land
    passed: bool | None  # None: no check (e.g. no champion)


@dataclass(frozen=True)
class ChampionView:
    candidate: str
    variant: str | None
    source: str
    note: str
    model: str | None
    version: str | None
    alias: str | None
    fingerprint: str | None
    own_base: str | None
    rows: tuple[ChampionRow, ...]
    samples: tuple[SuiteSamplesView, ...]

    @property
    def first_release(self) -> bool:
        return self.variant is None

    @property
    def passed(self) -> bool | None:
        """All champion checks passed (None: there were none)."""
        results = [r.passed for r in self.rows if r.passed is not None]
        return all(results) if results else None

    @property
    def title(self) -> str:
        if self.model and self.version:
            alias = f" (alias {self.alias})" if self.alias else ""
            return f"{self.model} version {self.version}{alias}"
        return self.note


def _bound(policy: Mapping[str, Any], suite: str, kind: str, margin: float | None) -> float | None:
    """+margin where the policy asked a task suite for a gain over the champion, else
    -margin (see ``GatePolicy.champion_gain``)."""
    if margin is None:
        return None
    own = (policy.get("suites") or {}).get(suite) or {}
    gain = own.get("champion_min_gain") if isinstance(own, Mapping) else None
    if gain is None:
        gain = policy.get("champion_min_gain")
    return margin if kind == "task" and gain is not None else -margin


def build_champions(s: GateSummary, order: Sequence[str]) -> tuple[ChampionView, ...]:
    """The summary's ``champions`` with their rows and samples (see the module)."""
    base = s.baseline
    views = []
    for rec in s.champions:
        views.append(_view(s, rec, base, order))
    return tuple(views)


def _view(
    s: GateSummary, rec: ChampionRecord, base: str | None, order: Sequence[str]
) -> ChampionView:
    checks = {
        (c.suite, c.capability): c
        for c in s.checks
        if c.variant == rec.candidate and "champion" in s.kind_info(c.kind).shown_as
    }
    rows = []
    if rec.variant is not None:
        for suite in s.suites:
            groups: list[tuple[str | None, Mapping[str, Any]]] = [(None, suite.scores)]
            groups += sorted(suite.capabilities.items())
            for cap, scores in groups:
                check = checks.get((suite.name, cap))
                b = to_float(scores.get(base)) if base else None
                ch = to_float(scores.get(rec.variant))
                cand = to_float(scores.get(rec.candidate))
                margin = to_float(check.margin) if check is not None else None
                rows.append(
                    ChampionRow(
                        label=suite.name + (f" / {cap}" if cap else ""),
                        suite=suite.name,
                        capability=cap,
                        metric=suite.metric,
                        base=b,
                        champion=ch,
                        candidate=cand,
                        vs_base=cand - b if cand is not None and b is not None else None,
                        delta=to_float(check.delta) if check is not None else None,
                        ci_low=to_float(check.ci[0]) if check is not None else None,
                        ci_high=to_float(check.ci[1]) if check is not None else None,
                        bound=_bound(s.policy, suite.name, suite.kind, margin),
                        passed=check.passed if check is not None else None,
                    )
                )
    return ChampionView(
        candidate=rec.candidate,
        variant=rec.variant,
        source=rec.source,
        note=rec.note,
        model=rec.model,
        version=rec.version,
        alias=rec.alias,
        fingerprint=rec.fingerprint,
        own_base=rec.own_base,
        rows=tuple(rows),
        samples=build_samples(
            rec.samples, list(dict.fromkeys([rec.variant or "", rec.candidate, *order]))
        ),
    )
