"""Run one suite through lm-eval's task machinery and keep every item's result."""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from typing import Any

from harness.config import ConfigError, ItemResult, ScoringSettings, SuiteSpec
from harness.config._registry_suite import RegistrySuite
from harness.engine._data import check_suite_data, check_targets
from harness.engine._samples import _item_id, _items_from_samples


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def build_task(suite: SuiteSpec) -> Any:
    """Build an lm-eval ``ConfigurableTask`` from the suite YAML with its local data.

    A registry suite gives a task-like view of its scored items (``eval_docs``,
    ``doc_to_text``) across its subtasks.
    """
    if isinstance(suite, RegistrySuite):
        from harness.engine._registry_run import TaskView

        return TaskView(suite)
    _offline()
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    from harness.engine._metrics import register_metrics

    register_metrics()
    cfg = load_yaml(suite.path, resolve_func=True)
    check_suite_data(suite, cfg)
    cfg.pop("group", None)
    cfg.pop("tag", None)
    if "dir" not in suite.data_files:
        kwargs = dict(cfg.get("dataset_kwargs") or {})
        kwargs["data_files"] = {k: [str(p) for p in v] for k, v in suite.data_files.items()}
        cfg["dataset_kwargs"] = kwargs
    else:
        cfg["dataset_path"] = str(suite.data_files["dir"][0])
    try:
        task = ConfigurableTask(config=cfg)
    except Exception as exc:  # lm-eval raises many types for a bad task config
        raise ConfigError(
            suite.path,
            None,
            f"lm-eval could not build this task ({type(exc).__name__}: {exc}); lm-eval "
            "renders the first data row while building, so a bad first row shows up here",
            "check the task YAML against lm-eval's task guide and the first data row",
        ) from exc
    check_targets(task, suite)
    return task


def suite_item_ids(task: Any, suite: SuiteSpec, settings: ScoringSettings) -> list[str]:
    """The ids of the items a run scores, in order; refuses empty splits and repeated ids."""
    docs = task.eval_docs
    if len(docs) == 0:
        raise ConfigError(
            suite.path,
            "test_split",
            "the evaluation split has no items",
            "add items or point test_split at a non-empty split",
        )
    n = len(docs) if settings.limit is None else min(settings.limit, len(docs))
    ids = [_item_id(docs[i], i) for i in range(n)]
    if len(set(ids)) != len(ids):
        dupes = sorted({i for i in ids if ids.count(i) > 1})[:5]
        raise ConfigError(
            suite.path,
            "id",
            f"item ids repeat in the data: {dupes}",
            "give every row a unique 'id' (or remove the field)",
        )
    return ids


def run_suite(
    lm: Any,
    suite: SuiteSpec,
    settings: ScoringSettings,
    *,
    skip: Collection[str] = (),
    on_batch: Callable[[list[ItemResult]], None] | None = None,
    batch_items: int = 128,
) -> list[ItemResult]:
    """Score the items of a suite not in ``skip``, handing each finished batch to ``on_batch``.

    Batches let the caller commit as it goes: a run killed mid-suite loses at most one batch
    and, restarted with ``skip`` = the committed ids, scores exactly the rest.
    """
    from harness.engine._templates import compiled_templates

    with compiled_templates():
        if isinstance(suite, RegistrySuite):  # lm-eval's registry: its own runner and sample
            from harness.engine._registry_run import run_registry_suite

            return run_registry_suite(
                lm, suite, settings, skip=skip, on_batch=on_batch, batch_items=batch_items
            )
        return _run_own_suite(lm, suite, settings, skip, on_batch, batch_items)


def _run_own_suite(
    lm: Any,
    suite: SuiteSpec,
    settings: ScoringSettings,
    skip: Collection[str],
    on_batch: Callable[[list[ItemResult]], None] | None,
    batch_items: int,
) -> list[ItemResult]:
    """A task-YAML suite, batch by batch through lm-eval's ``evaluate``."""
    from lm_eval.evaluator import evaluate

    task = build_task(suite)
    ids = suite_item_ids(task, suite, settings)
    todo = [i for i, item_id in enumerate(ids) if item_id not in skip]
    metric_names = [m["metric"] for m in task.config.metric_list or []]
    results: list[ItemResult] = []
    for start in range(0, len(todo), batch_items):
        chunk = todo[start : start + batch_items]
        out = evaluate(
            lm=lm,
            task_dict={suite.name: task},
            samples={suite.name: chunk},
            bootstrap_iters=0,
            log_samples=True,
            apply_chat_template=settings.apply_chat_template,
            verbosity="ERROR",
        )
        if out is None:
            raise RuntimeError(f"lm-eval returned no results for suite {suite.name}")
        items = _items_from_samples(
            out["samples"][suite.name],
            suite,
            metric_names,
            getattr(lm, "nonfinite_contexts", ()),
            positions=chunk,
        )
        if len(items) != len(chunk):
            raise RuntimeError(f"lm-eval scored {len(items)} of {len(chunk)} items")
        if on_batch is not None:
            on_batch(items)
        results.extend(items)
    return results
