"""Scoring a registry suite: the seeded stratified sample, batches through lm-eval, the aggregate.

lm-eval draws few-shot examples from one random stream per task, one draw per document in
order; the prompts of document k therefore depend on the documents scored before it. To score
in committed batches (and resume after a crash) yet give every item the prompt one
uninterrupted ``simple_evaluate`` pass would give it, each task's stream is seeded once per run
and advanced past skipped documents by lm-eval's own sampler before each batch.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable, Collection
from typing import Any

from harness.config import ConfigError, ItemResult, ScoringSettings
from harness.config._registry_suite import RegistrySuite
from harness.engine._registry_common import RegistryState

Selection = list[tuple[str, int]]


def stratified_sample(sizes: dict[str, int], limit: int | None, seed: int) -> dict[str, list[int]]:
    """Seeded sample of ``limit`` items, each subtask's share proportional to its size.

    Shares are rounded by largest remainder, so they sum to ``limit``; each subtask's items are
    drawn with their own seeded generator, so adding a subtask does not move another's sample.
    """
    total = sum(sizes.values())
    if limit is None or limit >= total:
        return {t: list(range(n)) for t, n in sizes.items()}
    exact = {t: limit * n / total for t, n in sizes.items()}
    quota = {t: int(x) for t, x in exact.items()}
    # Equal remainders (equal-size subtasks) are broken in a seeded order, not by name: ten
    # items of mmlu's 57 subjects are ten random subjects, not the first ten (all STEM).
    order = random.Random(f"{seed}:order").sample(list(sizes), len(sizes))
    by_rest = sorted(order, key=lambda t: (quota[t] - exact[t], order.index(t)))
    for t in by_rest[: limit - sum(quota.values())]:
        quota[t] += 1
    return {
        t: sorted(random.Random(f"{seed}:{t}").sample(range(n), quota[t])) for t, n in sizes.items()
    }


def _state(suite: RegistrySuite) -> RegistryState:
    if not suite.data_checked or not isinstance(suite.state, RegistryState):
        raise ConfigError(
            suite.source,
            suite.where,
            f"suite '{suite.name}' was validated without its data and cannot be scored",
            "load the experiment with its data (the default) before scoring",
        )
    return suite.state


def selection(suite: RegistrySuite, settings: ScoringSettings) -> Selection:
    """The (task, document index) pairs a run scores, in scoring order."""
    state = _state(suite)
    assert suite.entry is not None
    limits = [x for x in (suite.entry.limit, settings.limit) if x is not None]
    picked = stratified_sample(
        state.sizes, min(limits) if limits else None, suite.entry.sample_seed
    )
    return [(t, i) for t in state.configs for i in picked[t]]


def item_id(suite: RegistrySuite, task: str, index: int) -> str:
    return str(index) if len(suite.subtasks) == 1 else f"{task}/{index}"


def _configure(suite: RegistrySuite, settings: ScoringSettings) -> None:
    """Few-shot count and seed as ``simple_evaluate`` sets them, from the task's own default."""
    assert suite.entry is not None
    for task in _state(suite).tasks.values():
        if not hasattr(task, "_harness_fewshot"):
            task._harness_fewshot = task.get_config("num_fewshot")
        own = task._harness_fewshot
        n = suite.entry.num_fewshot
        task.set_config(key="num_fewshot", value=(own or 0) if n is None or own == 0 else n)
        task.set_fewshot_seed(seed=settings.fewshot_seed)


def _advance(task: Any, docs: Any, chosen: list[int], drawn: int, to: int) -> None:
    """Consume the few-shot draws of ``chosen[drawn:to]`` exactly as fewshot_context would."""
    n = int(task.get_config("num_fewshot") or 0)
    if n <= 0 or not hasattr(task, "sampler"):
        return
    same = task.fewshot_cfg.split == task.config.test_split
    for p in range(drawn, to):
        doc = docs[chosen[p]]
        task.sampler.sample(n=n, eval_doc=doc if same else None)


def _calls(
    todo: Selection, pos: dict[tuple[str, int], int], size: int
) -> list[dict[str, list[int]]]:
    """Batches of at most ``size`` items; within a batch each task's items are consecutive."""
    calls: list[dict[str, list[int]]] = []
    cur: dict[str, list[int]] = {}
    count = 0
    for t, i in todo:
        gap = t in cur and pos[(t, i)] != pos[(t, cur[t][-1])] + 1
        if count >= size or gap:
            calls.append(cur)
            cur, count = {}, 0
        cur.setdefault(t, []).append(i)
        count += 1
    if cur:
        calls.append(cur)
    return calls


def run_registry_suite(
    lm: Any,
    suite: RegistrySuite,
    settings: ScoringSettings,
    *,
    skip: Collection[str] = (),
    on_batch: Callable[[list[ItemResult]], None] | None = None,
    batch_items: int = 128,
) -> list[ItemResult]:
    """Score the selected items not in ``skip`` through lm-eval, batch by batch."""
    from lm_eval.evaluator import evaluate

    from harness.engine._samples import _items_from_samples

    state = _state(suite)
    chosen = selection(suite, settings)
    per_task: dict[str, list[int]] = {}
    for t, i in chosen:
        per_task.setdefault(t, []).append(i)
    pos = {(t, i): p for t, idx in per_task.items() for p, i in enumerate(idx)}
    docs = {t: state.tasks[t].eval_docs for t in per_task}
    _configure(suite, settings)
    drawn = dict.fromkeys(per_task, 0)
    caps = dict(suite.subtasks)
    todo = [(t, i) for t, i in chosen if item_id(suite, t, i) not in skip]
    results: list[ItemResult] = []
    for call in _calls(todo, pos, batch_items):
        for t, idx in call.items():
            _advance(state.tasks[t], docs[t], per_task[t], drawn[t], pos[(t, idx[0])])
            drawn[t] = pos[(t, idx[-1])] + 1
        out = evaluate(
            lm=lm,
            task_dict={t: state.tasks[t] for t in call},
            samples=call,
            bootstrap_iters=0,
            log_samples=True,
            system_instruction=settings.system_instruction,
            apply_chat_template=settings.apply_chat_template,
            fewshot_as_multiturn=settings.apply_chat_template,
            verbosity="ERROR",
        )
        if out is None:
            raise RuntimeError(f"lm-eval returned no results for suite {suite.name}")
        batch: list[ItemResult] = []
        for t, idx in call.items():
            task = state.tasks[t]
            view = dataclasses.replace(
                suite, capability=caps.get(t), output_type=str(task.config.output_type)
            )
            metrics = [m["metric"] for m in task.config.metric_list or []]
            items = _items_from_samples(
                out["samples"][t], view, metrics, getattr(lm, "nonfinite_contexts", ())
            )
            if len(items) != len(idx):
                raise RuntimeError(f"lm-eval scored {len(items)} of {len(idx)} items of {t}")
            for it, i in zip(items, idx, strict=True):
                extra = {**it.extra, "task": t}
                batch.append(dataclasses.replace(it, item_id=item_id(suite, t, i), extra=extra))
        if on_batch is not None:
            on_batch(batch)
        results.extend(batch)
    return results


def _filters(cfg: dict[str, Any]) -> list[str]:
    return [str(f["name"]) for f in cfg.get("filter_list") or []] or ["none"]


def lm_eval_aggregate(suite: RegistrySuite, items: list[ItemResult]) -> dict[str, dict[str, Any]]:
    """lm-eval's own scores from per-item results: each task's means, each group's aggregate.

    Group aggregates come from lm-eval's ``Group.aggregate`` (its weighting: by size where
    the group says ``weight_by_size``), fed with per-task means of the items scored, exactly
    what ``simple_evaluate`` reports for the same items. Keys are lm-eval's (``acc,none``).
    """
    state = suite.state
    assert isinstance(state, RegistryState)
    by_task: dict[str, list[ItemResult]] = {}
    for it in items:
        t = str(it.extra.get("task") or next(iter(state.configs)))
        by_task.setdefault(t, []).append(it)
    task_metrics: dict[str, dict[str, Any]] = {}
    for t, its in by_task.items():
        cfg = state.configs[t]
        filters = _filters(cfg)
        row: dict[str, Any] = {"sample_len": len(its)}
        for name in [str(m["metric"]) for m in cfg.get("metric_list") or []] or [suite.metric]:
            for k, flt in enumerate(filters):
                keys = [f"{name},{flt}"] + ([name] if k == 0 else [])
                vals = [next((s.scores[q] for q in keys if q in s.scores), None) for s in its]
                nums = [v for v in vals if v is not None]
                if nums:
                    row[f"{name},{flt}"] = sum(nums) / len(nums)
        task_metrics[t] = row
    out = dict(task_metrics)
    if state.group is not None:
        for g in [state.group, *state.group.get_all_groups()]:
            agg = g.aggregate(task_metrics)
            if len(agg) > 2:  # more than alias and name: the group aggregates something
                out[str(g.name)] = {k: v for k, v in agg.items() if k not in ("alias", "name")}
    return out


class TaskView:
    """A registry suite's items as one task-like object: ``eval_docs`` and ``doc_to_text``.

    The pipeline reads evaluation prompts through ``build_task`` (to warn when training data
    contains them); a group has many tasks, so each document carries its task.
    """

    def __init__(self, suite: RegistrySuite) -> None:
        state = _state(suite)
        self._tasks = state.tasks
        docs = {t: task.eval_docs for t, task in state.tasks.items()}
        self.eval_docs = [(t, docs[t][i]) for t, i in selection(suite, ScoringSettings())]

    def doc_to_text(self, doc: tuple[str, Any]) -> Any:
        task, d = doc
        return self._tasks[task].doc_to_text(d)
