"""Run one suite through lm-eval's task machinery and keep every item's result."""

from __future__ import annotations

import math
import os
from typing import Any

from harness.config import ConfigError, ItemResult, ScoringSettings, SuiteSpec
from harness.engine._data import check_suite_data


def _offline() -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")


def build_task(suite: SuiteSpec) -> Any:
    """Build an lm-eval ``ConfigurableTask`` from the suite YAML with its local data."""
    _offline()
    check_suite_data(suite)
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.tasks._yaml_loader import load_yaml

    cfg = load_yaml(suite.path, resolve_func=True)
    cfg.pop("group", None)
    cfg.pop("tag", None)
    if "dir" not in suite.data_files:
        kwargs = dict(cfg.get("dataset_kwargs") or {})
        kwargs["data_files"] = {k: [str(p) for p in v] for k, v in suite.data_files.items()}
        cfg["dataset_kwargs"] = kwargs
    else:
        cfg["dataset_path"] = str(suite.data_files["dir"][0])
    try:
        return ConfigurableTask(config=cfg)
    except Exception as exc:  # lm-eval raises many types for a bad task config
        raise ConfigError(
            suite.path,
            None,
            f"lm-eval could not build this task: {exc}",
            "check the task YAML against lm-eval's task guide",
        ) from exc


def _prediction(sample: dict[str, Any], output_type: str) -> tuple[Any, dict[str, Any]]:
    resps = sample.get("filtered_resps")
    if output_type == "multiple_choice" and isinstance(resps, list):
        lls = [float(r[0]) if isinstance(r, (list, tuple)) else float(r) for r in resps]
        pred = max(range(len(lls)), key=lambda i: lls[i]) if lls else None
        return pred, {"loglikelihoods": lls}
    if output_type == "generate_until" and isinstance(resps, list) and resps:
        return resps[0], {}
    return None, {}


def run_suite(lm: Any, suite: SuiteSpec, settings: ScoringSettings) -> list[ItemResult]:
    """Score every item of a suite with ``lm`` and return per-item results in item order."""
    from lm_eval.evaluator import evaluate

    task = build_task(suite)
    docs = task.eval_docs
    if len(docs) == 0:
        raise ConfigError(
            suite.path,
            "test_split",
            "the evaluation split has no items",
            "add items or point test_split at a non-empty split",
        )
    out = evaluate(
        lm=lm,
        task_dict={suite.name: task},
        limit=settings.limit,
        bootstrap_iters=0,
        log_samples=True,
        apply_chat_template=settings.apply_chat_template,
        verbosity="ERROR",
    )
    if out is None:
        raise RuntimeError(f"lm-eval returned no results for suite {suite.name}")
    samples = out["samples"][suite.name]
    metric_names = [m["metric"] for m in task.config.metric_list] if task.config.metric_list else []
    results: list[ItemResult] = []
    for s in sorted(samples, key=lambda s: int(s["doc_id"])):
        doc = s["doc"]
        item_id = str(doc.get("id", s["doc_id"])) if isinstance(doc, dict) else str(s["doc_id"])
        scores: dict[str, float] = {}
        for name in metric_names or [suite.metric]:
            if name in s:
                v = s[name]
                val = float(v[0] if isinstance(v, (list, tuple)) else v)
                scores[name] = val if math.isfinite(val) else float("nan")
        cap = suite.capability
        if suite.capability_field and isinstance(doc, dict):
            cap = str(doc.get(suite.capability_field, cap))
        pred, extra = _prediction(s, suite.output_type)
        results.append(ItemResult(item_id, scores, cap, pred, s.get("target"), extra))
    ids = [r.item_id for r in results]
    if len(set(ids)) != len(ids):
        raise ConfigError(
            suite.path,
            "id",
            "item ids repeat in the data",
            "give every row a unique 'id' (or remove the field)",
        )
    return results
