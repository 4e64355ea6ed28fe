"""The check-kind registry: every kind of gate check is declared once, as a :class:`CheckKind`.

A kind says what it is called, which policy field holds its margin, in which direction its
margin applies, what it is computed from (its *scope*), the function that decides it, the rule
a failure message quotes, the remedy the verdict suggests, where the reports show it and where
its failures rank among the verdict's reasons. The built-in kinds are declared in
:mod:`harness.gates._kinds`; a new kind is one more :func:`register_check_kind` call plus its
decision function, and nothing else in the harness names it.

Scopes (what a decision function is called for, in this order within a gate run):

- ``variant``: every scored variant (the baseline too), reading that variant's results alone
  (e.g. a sanity check on its outputs);
- ``candidate``: every candidate, against the baseline (``not_a_noop``);
- ``candidate_suite``: every candidate on every suite, against the baseline (``improves``,
  ``no_forgetting``);
- ``pair``: every (variant, reference) pair on every suite: a quantised variant against its
  unquantised twin (``quantization_gap``);
- ``merged``: every merged candidate on every suite, against the same adapter unmerged
  (``merge_equivalence``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from harness.config import GatePolicy, ItemResult, SuiteSpec
from harness.gates._check import Check
from harness.stats import Direction

Scope = Literal["variant", "candidate", "candidate_suite", "pair", "merged"]
SCOPES: tuple[Scope, ...] = ("variant", "candidate", "candidate_suite", "pair", "merged")

ReportRole = Literal["delta", "forgetting", "quantization_gap", "champion"]
"""Where the reports show a kind's checks (they learn it from summary.json's ``check_kinds``):
``delta``: its delta is the variant's change vs the baseline on its suite or capability (the
comparison's cells, with the threshold line); ``forgetting``: a failure is forgetting (the
comparison's Forgetting row); ``quantization_gap``: a gap vs a reference (its own row and chart);
``champion``: its delta is the candidate's change vs the champion it must not be worse than
(the reports' champion section: base -> champion -> candidate).
"""

VariantResults = Mapping[str, list[ItemResult]]  # suite -> per-item results


@dataclass(frozen=True)
class Evidence:
    """Everything the checks of one gate run are computed from."""

    policy: GatePolicy
    suites: Sequence[SuiteSpec]
    results: Mapping[str, VariantResults]  # variant -> suite -> items, the baseline included
    candidates: Sequence[str]  # the variants that get candidate checks, in run order
    pairs: Sequence[tuple[str, str]] = ()  # (variant, reference): quantised vs unquantised twin
    merged: Mapping[str, VariantResults] = field(default_factory=dict)  # candidate -> merged
    baseline: str = "base"
    # Comparison arms: their checks are computed and reported but do not decide the verdict.
    comparison: frozenset[str] = frozenset()
    # Release candidate -> the champion variant it must not be worse than (in ``results``).
    champions: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Subject:
    """What one call of a decision function is about (see the scopes above)."""

    variant: str
    reference: str | None = None  # the variant compared against (None: the variant alone)
    suite: SuiteSpec | None = None  # None for per-variant scopes


Decide = Callable[["CheckKind", Subject, Evidence], Iterable[Check]]


@dataclass(frozen=True)
class CheckKind:
    """One kind of gate check, declared once (see the module docstring)."""

    name: str
    scope: Scope
    decide: Decide
    description: str
    # The GatePolicy field holding the margin (a suite's own ``gate.suites.<suite>`` value
    # overrides it); ``capability_margin_field`` for per-capability checks, where they differ.
    margin_field: str | None = None
    capability_margin_field: str | None = None
    # "gain": the CI's lower bound must clear +margin; "no_drop": it must clear -margin;
    # None: the kind is not decided by a confidence bound (agreement, any change, ...).
    direction: Direction | None = None
    # The failure rule a failed check's message quotes; ``{margin}`` is the check's margin.
    rule: str = "margin {margin:.4f}"
    # The verdict's advice when checks of this kind fail; ``{where}`` lists their suites or
    # capabilities. None: the failed checks' own reasons say it all.
    remedy: str | None = None
    # Lower first: the order kinds are decided in within a scope and the order the verdict
    # lists failures in (a sanity kind decided first ranks its failures first).
    priority: int = 0
    shown_as: tuple[ReportRole, ...] = ()

    def margin(self, policy: GatePolicy, suite: str, *, capability: bool = False) -> float:
        """This kind's margin for ``suite`` (0.0 for a kind without one)."""
        name = (self.capability_margin_field if capability else None) or self.margin_field
        return 0.0 if name is None else policy.margin(cast(Any, name), suite)

    def threshold(self, margin: float) -> float | None:
        """Where the lower confidence bound of the delta must land (None: no bound rule)."""
        if self.direction is None:
            return None
        return margin if self.direction == "gain" else -margin

    def failure_rule(self, margin: float) -> str:
        return self.rule.format(margin=margin)

    def display(self) -> dict[str, object]:
        """What summary.json's ``check_kinds`` says about this kind, for the reports."""
        return {"direction": self.direction, "shown_as": list(self.shown_as)}


_KINDS: dict[str, CheckKind] = {}


def register_check_kind(kind: CheckKind, *, replace: bool = False) -> CheckKind:
    """Add ``kind`` to the registry (``replace=True`` to redefine one); returns it."""
    if kind.scope not in SCOPES:
        raise ValueError(f"check kind {kind.name!r}: scope must be one of {SCOPES}")
    if "::" in kind.name or not kind.name:
        raise ValueError(f"check kind name {kind.name!r} must be non-empty, without '::'")
    for margin in (kind.margin_field, kind.capability_margin_field):
        if margin is not None and margin not in GatePolicy.model_fields:
            raise ValueError(f"check kind {kind.name!r}: {margin!r} is not a GatePolicy field")
    if kind.name in _KINDS and not replace:
        raise ValueError(f"check kind {kind.name!r} is already registered")
    _KINDS[kind.name] = kind
    return kind


def unregister_check_kind(name: str) -> None:
    """Remove a kind (for tests that register a kind of their own)."""
    _KINDS.pop(name, None)


def check_kind(name: str) -> CheckKind:
    try:
        return _KINDS[name]
    except KeyError:
        known = ", ".join(_KINDS)
        raise KeyError(f"no check kind {name!r} is registered (known: {known})") from None


def find_check_kind(name: str) -> CheckKind | None:
    return _KINDS.get(name)


def check_kinds(scope: Scope | None = None) -> tuple[CheckKind, ...]:
    """Registered kinds in decision order: by priority, then in the order registered."""
    order = {name: i for i, name in enumerate(_KINDS)}
    kinds = sorted(_KINDS.values(), key=lambda k: (k.priority, order[k.name]))
    return tuple(k for k in kinds if scope is None or k.scope == scope)


def priority_of(kind: str) -> int:
    found = _KINDS.get(kind)
    return found.priority if found is not None else 0
