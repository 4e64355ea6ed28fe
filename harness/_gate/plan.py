"""The power plan of an experiment, before anything is scored (``harness plan``).

Glue: item counts per suite and capability from the suites' task documents (the same
selection a run scores: ``scoring.limit``, a registry entry's seeded ``limit``), the baseline's
stored scores where the result store has them (same key a run would use), and the discordance
of a previous candidate stored for the same suite and settings; the statistics are
:func:`harness.gates._plan.plan_power`.
"""

from __future__ import annotations

import math
import sqlite3
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import harness
from harness._gate.keys import result_key, store_path
from harness.config import Experiment, ItemResult, ScoringSettings, SuiteSpec
from harness.config._registry_suite import RegistrySuite
from harness.gates import PlannedSuite, PowerPlan, plan_power


@dataclass(frozen=True)
class ExperimentPlan:
    plan: PowerPlan
    notes: list[str]


def item_counts(suite: SuiteSpec, scoring: ScoringSettings) -> dict[str | None, int]:
    """Items per capability that a run with these scoring settings scores on ``suite``."""
    from harness.engine import build_task

    counts: dict[str | None, int] = {}
    if isinstance(suite, RegistrySuite):
        from harness.engine._registry_run import selection

        caps = dict(suite.subtasks)
        for task, _ in selection(suite, scoring):
            cap = caps.get(task)
            counts[cap] = counts.get(cap, 0) + 1
        return counts
    docs = build_task(suite).eval_docs
    n = len(docs) if scoring.limit is None else min(scoring.limit, len(docs))
    for i in range(n):
        doc = docs[i]
        cap = suite.capability
        if suite.capability_field and isinstance(doc, dict):
            cap = str(doc.get(suite.capability_field, cap))
        counts[cap] = counts.get(cap, 0) + 1
    return counts


@dataclass(frozen=True)
class _BaseKeys:
    """The base's variant fingerprint, and its quantized copies' (``gate.quantized_bases``, in
    either execution): those are the base again, not candidates, so their churn is no
    candidate's."""

    base: str
    quantized: frozenset[str]


def _base_fingerprint(exp: Experiment) -> _BaseKeys | None:
    """The base's variant fingerprints, without loading (or converting) any model."""
    from harness.models import cache_root, fingerprint_files, variant_fingerprint
    from harness.models._nf4_cpu import EXECUTIONS, fingerprinted_quantization

    if exp.base.model.startswith("builtin:"):
        from harness.models._builtin import BUILTIN_DIRNAME

        path = cache_root() / "models" / BUILTIN_DIRNAME
    else:
        path = Path(exp.base.model)
    try:
        files = fingerprint_files(path)
    except (FileNotFoundError, OSError):
        return None
    quantized = frozenset(
        variant_fingerprint(files, None, fingerprinted_quantization(q, e), exp.base.dtype)
        for q in exp.gate.quantized_bases
        for e in EXECUTIONS
    )
    return _BaseKeys(variant_fingerprint(files, None, "none", exp.base.dtype), quantized)


def _by_cap(items: Iterable[ItemResult], metric: str) -> dict[str | None, list[float]]:
    out: dict[str | None, list[float]] = {None: []}
    for it in items:
        v = it.scores.get(metric, math.nan)
        out[None].append(v)
        if it.capability:
            out.setdefault(it.capability, []).append(v)
    return out


def _others(store_file: Path, key: Any) -> list[str]:
    """Variants other than the base with a complete result set under the same suite,
    settings and scoring version (read-only: the plan never writes the store)."""
    con = sqlite3.connect(f"file:{store_file}?mode=ro", uri=True, timeout=10.0)
    try:
        rows = con.execute(
            "SELECT variant FROM result_sets WHERE suite=? AND settings=? AND "
            "scoring_version=? AND complete=1 AND variant<>?",
            (key.suite, key.settings, key.scoring_version, key.variant),
        ).fetchall()
    finally:
        con.close()
    return [str(r[0]) for r in rows]


@dataclass(frozen=True)
class _Stored:
    """What the result store says of one suite before the run (empty where it has nothing)."""

    baseline: dict[str | None, float]
    discordance: dict[str | None, float]
    """A stored candidate against the base, per capability (median over candidates)."""
    peer_discordance: dict[str | None, float]
    """Two stored candidates against each other (median over pairs): the planning figure for
    a successor against its champion."""


def _discordances(
    pairs: Iterable[tuple[list[ItemResult], dict[str, float]]], metric: str
) -> dict[str | None, float]:
    """Median mean squared per-item difference per capability (``None``: the suite) over
    ``pairs`` of (results, the other side's scores by item id)."""
    seen: dict[str | None, list[float]] = {}
    for items, other in pairs:
        sq: dict[str | None, list[float]] = {None: []}
        for it in items:
            d = (it.scores.get(metric, math.nan) - other[it.item_id]) ** 2
            if not math.isfinite(d):
                continue
            sq[None].append(d)
            if it.capability:
                sq.setdefault(it.capability, []).append(d)
        for c, v in sq.items():
            # Two identical result sets say nothing about churn: not counted.
            if v and sum(v) > 0:
                seen.setdefault(c, []).append(sum(v) / len(v))
    return {c: statistics.median(v) for c, v in seen.items()}


def _stored(exp: Experiment, suite: SuiteSpec, base_fp: _BaseKeys | None) -> _Stored:
    """Baseline means and observed discordances per capability (``None``: the suite; medians,
    so one odd experiment does not set them), from the result store."""
    from harness.store import ResultKey, ResultStore

    empty = _Stored({}, {}, {})
    path = store_path()
    if base_fp is None or not path.is_file():
        return empty
    store = ResultStore(path)
    key = result_key(exp.scoring, base_fp.base, suite.fingerprint)
    base = store.get(key)
    if not base:
        return empty
    metric = suite.metric
    by_cap = _by_cap(base, metric)
    baseline = {
        c: float(sum(v) / len(v)) for c, v in by_cap.items() if v and all(map(math.isfinite, v))
    }
    base_by_id = {it.item_id: it.scores.get(metric, math.nan) for it in base}
    others: list[list[ItemResult]] = []
    for variant in _others(path, key):
        if variant in base_fp.quantized:
            continue
        other = store.get(ResultKey(variant, key.suite, key.settings, harness.SCORING_VERSION))
        if other and {it.item_id for it in other} == base_by_id.keys():
            others.append(other)
    scores = [{it.item_id: it.scores.get(metric, math.nan) for it in o} for o in others]
    return _Stored(
        baseline,
        _discordances(((o, base_by_id) for o in others), metric),
        _discordances(
            ((others[i], scores[j]) for i in range(len(others)) for j in range(i)), metric
        ),
    )


def plan_experiment(exp: Experiment, *, draws: int = 20_000) -> ExperimentPlan:
    """The power plan of ``exp`` (item counts from the suites' data; the store, if any)."""
    from datasets.utils import (
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    # Counting items reads each suite's split through datasets in well under a second: its
    # "Generating test split" bars would only clutter the plan's table.
    was_disabled = are_progress_bars_disabled()
    disable_progress_bars()
    try:
        return _plan_experiment(exp, draws)
    finally:
        if not was_disabled:
            enable_progress_bars()


def _plan_experiment(exp: Experiment, draws: int) -> ExperimentPlan:
    notes: list[str] = []
    base_fp = _base_fingerprint(exp)
    if base_fp is None:
        notes.append("base model files not found here: no stored baseline looked up")
    planned: list[PlannedSuite] = []
    for suite in exp.suites:
        stored = _stored(exp, suite, base_fp)
        baseline, discordance = stored.baseline, stored.discordance
        if not suite.higher_is_better or any(not 0 <= b <= 1 for b in baseline.values()):
            notes.append(
                f"{suite.name}: metric {suite.metric} is not a 0-1 score; the plan's "
                "pass/fail model is a rough guide for it"
            )
        if discordance:
            notes.append(
                f"{suite.name}: discordance observed on stored candidates (median "
                f"{discordance.get(None, float('nan')):.3f} overall), used instead of "
                f"gate.plan_discordance {exp.gate.plan_discordance:g}"
            )
        planned.append(
            PlannedSuite(
                suite.name,
                suite.kind,
                item_counts(suite, exp.scoring),
                baseline=baseline,
                discordance=discordance,
                peer_discordance=stored.peer_discordance,
            )
        )
    champions = _champion_candidates(exp, notes)
    release, pairs = _deciding(exp, notes)
    plan = plan_power(
        planned,
        exp.gate,
        candidates=release,
        champions=champions,
        pairs=pairs,
        draws=draws,
    )
    return ExperimentPlan(plan, notes)


def _deciding(exp: Experiment, notes: list[str]) -> tuple[int, int]:
    """(release candidates, deciding quantization-gap subjects): the run's deciding Holm
    family, as ``harness.gates.evaluate`` forms it. Comparison arms are corrected among
    themselves and decide nothing, so the plan leaves them out and says so."""
    from harness.config import decides_release

    arms = exp.comparison_variants()
    release = [c for c in exp.candidates if decides_release(c)]
    pairs = sum(1 for q in exp.gate.quantized_bases if f"base-{q}" not in arms)
    pairs += sum(1 for c in release if c.compare_to is not None)
    if arms:
        notes.append(
            f"comparison arms ({', '.join(sorted(arms))}) are Holm-corrected among themselves "
            "and do not decide the verdict: the figures above are the deciding checks'"
        )
    return max(1, len(release)), pairs


_UNKNOWN = (
    "the champion's score is unknown before the run (planned at 0.5); its discordance with a "
    "candidate is the one observed between two stored candidates where the store has them, "
    "else the base's"
)


def _champion_candidates(exp: Experiment, notes: list[str]) -> int:
    """Release candidates that get checks against a champion: none with ``champion: none``;
    in the automatic mode those whose registered model has the alias already (asked of the
    registry, nothing fetched); a named champion: all of them."""
    from harness.config import decides_release

    spec = exp.champion
    release = [c.name for c in exp.candidates if decides_release(c)]
    if spec is None or not release:
        return 0
    if not spec.auto:
        notes.append(
            f"not_worse_than_champion planned for {len(release)} release candidate(s) "
            f"against {spec.describe()}; {_UNKNOWN}"
        )
        return len(release)
    from harness.tracking import CHAMPION_ALIAS, RegistryUnreachable, registered_model_name
    from harness.tracking._champion_probe import champion_alias_exists

    have: list[str] = []
    for cand in release:
        model = registered_model_name(exp.name, cand)
        try:
            if champion_alias_exists(model, CHAMPION_ALIAS):
                have.append(f"{cand} ({model}@{CHAMPION_ALIAS})")
        except RegistryUnreachable as exc:
            notes.append(f"champion checks not planned: {exc}")
            return 0
    if have:
        notes.append(
            f"not_worse_than_champion planned against the registered champion of "
            f"{', '.join(have)}; {_UNKNOWN}"
        )
    return len(have)


def plan_lines(result: ExperimentPlan) -> tuple[list[list[str]], list[str]]:
    """The plan as table rows (header first) and the lines said below it."""
    plan = result.plan
    head = [
        "suite / capability",
        "check",
        "items",
        "baseline",
        "margin",
        "detectable",
        "harmless fails (worst)",
        "flag",
    ]
    rows = [head]
    flags: list[str] = []
    for r in plan.rows:
        if r.direction == "no_drop":
            det = f"drop {r.detectable:.3f}"
            harmless = f"{r.null_failure:.1%} ({r.null_failure_worst:.1%})"
        else:
            det, harmless = f"gain {r.detectable:.3f}", "-"
        if r.flags:
            advice = "; ".join(r.flags)
            if r.items_needed is not None and r.margin_needed is not None:
                advice += (
                    f": give it >= {r.items_needed} items or a margin >= {r.margin_needed:.3f}"
                    " (enough even at Holm's worst case)"
                )
            against = " vs the champion" if r.kind == "not_worse_than_champion" else ""
            flags.append(f"FLAG {r.where}{against}: {advice}")
        rows.append(
            [
                r.where,
                r.kind,
                str(r.items),
                "-" if r.baseline is None else f"{r.baseline:.3f}",
                f"{r.margin:.3f}",
                det,
                harmless,
                "FLAG" if r.flags else "ok",
            ]
        )
    sources = sorted({r.discordance_source for r in plan.rows})
    lines = [
        f"Holm across {plan.checks} checks at alpha {plan.alpha:g}; a harmless candidate gets "
        f"NO-GO from the no-drop checks {plan.gate_null_failure:.1%} of the time.",
        f"detectable: the true drop (gain for improves) caught {plan.power:.0%} of the time at "
        "the unadjusted alpha (Holm only adds failures: the worst case for detection).",
        "harmless fails: chance a candidate with no true change fails the check, with Holm "
        "across the run (worst: ranked first by Holm, alpha / m).",
        "assumptions: paired pass/fail items; discordance (share of items whose correctness a "
        f"candidate changes) {' / '.join(sources)}, "
        f"{min(r.discordance for r in plan.rows):.3f}-{max(r.discordance for r in plan.rows):.3f}"
        "; baseline score from the store where shown, else 0.5 (the cautious spread).",
        *result.notes,
        *flags,
    ]
    return rows, lines


def plan_table(title: str, rows: list[list[str]], width: int) -> Any:
    """The plan's rows (header first, as :func:`plan_lines` gives them) as a rich table that
    fits ``width`` columns.

    Where every cell fits on one line it does; below that (an 80-column terminal or CI log)
    the check's kind goes under its subject in the first column and only the first column
    and the headers wrap, so no figure (``drop 0.085``, ``2.0% (27.6%)``) is ever split.
    """
    from rich.table import Table
    from rich.text import Text

    head, body = rows[0], rows[1:]
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    table = Table(title=title, title_justify="left")
    if sum(w + 3 for w in widths) + 1 <= width:
        for col in head:
            table.add_column(col, no_wrap=True)
        for row in body:
            table.add_row(*(Text(cell) for cell in row))
        return table
    # Compact: subject, kind and flag stacked in the first column (the only one that folds),
    # short headers that wrap at spaces, no outer edge.
    table = Table(title=title, title_justify="left", show_edge=False)
    table.add_column("check", overflow="fold")
    short = {"items": "n", "baseline": "base", "detectable": "detects"}
    for i, col in enumerate(head[2:-1], start=2):
        fit = max((len(r[i]) for r in body), default=1)
        table.add_column(short.get(col, col).replace(" fails", ""), min_width=fit)
    for row in body:
        first = f"{row[0]}\n{row[1]}" + ("\nFLAG" if row[-1] == "FLAG" else "")
        table.add_row(Text(first), *(Text(cell) for cell in row[2:-1]))
    return table
