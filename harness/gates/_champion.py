"""``not_worse_than_champion``: a release candidate against the adapter it would replace.

Beating the base is not enough for a new release: the candidate must not be worse than the
current champion on the same items. Per suite (and per capability of a general suite), the
paired delta candidate - champion must have its lower confidence bound above

- ``-gate.champion_margin`` on a task suite (non-inferiority), or ``+gate.champion_min_gain``
  when the policy asks a new release to be better;
- ``-gate.forgetting_margin`` on a general suite overall, ``-gate.capability_margin`` per
  capability (a suite's own ``gate.suites.<suite>`` values first),

with the paired bootstrap and Holm correction of every other check. Which champion a candidate
is compared with comes from the evidence (``Evidence.champions``); a candidate without one (a
first release, ``champion: none``, a comparison arm) gets no check of this kind.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from harness.config import ItemResult
from harness.gates._check import Check
from harness.gates._checks import by_capability, paired_check
from harness.gates._registry import CheckKind, Evidence, Subject


def not_worse_than_champion(kind: CheckKind, s: Subject, ev: Evidence) -> Iterable[Check]:
    """The candidate ``s.variant`` vs its champion on ``s.suite`` (and its capabilities)."""
    champion = ev.champions.get(s.variant)
    suite = s.suite
    if champion is None or suite is None or champion not in ev.results:
        return
    policy = ev.policy
    ref, cand = ev.results[champion][suite.name], ev.results[s.variant][suite.name]

    def check(
        base: list[ItemResult], new: list[ItemResult], margin: float, cap: str | None = None
    ) -> Check:
        return paired_check(
            kind=kind,
            variant=s.variant,
            suite=suite,
            capability=cap,
            base=base,
            cand=new,
            policy=policy,
            margin=margin,
            reference=champion,
        )

    if suite.kind == "task":
        gain = policy.champion_gain(suite.name)
        if gain is None:
            yield check(ref, cand, policy.margin("champion_margin", suite.name))
        else:
            # A required gain: the same kind, decided as a gain (lower bound > +gain).
            yield paired_check(
                kind=replace(kind, direction="gain"),
                variant=s.variant,
                suite=suite,
                capability=None,
                base=ref,
                cand=cand,
                policy=policy,
                margin=gain,
                reference=champion,
            )
        return
    yield check(ref, cand, policy.margin("forgetting_margin", suite.name))
    ref_caps, cand_caps = by_capability(ref), by_capability(cand)
    if len(ref_caps) > 1:
        margin = policy.margin("capability_margin", suite.name)
        for cap in sorted(ref_caps):
            yield check(ref_caps[cap], cand_caps.get(cap, []), margin, cap)
