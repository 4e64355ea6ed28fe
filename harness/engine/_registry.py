"""Registered lm-eval tasks and groups as suites: planning, data from the HF cache, fingerprint.

lm-eval builds the tasks itself (``TaskManager`` and its factory, the task YAMLs unchanged:
prompts, filters, metrics, ``!function`` hooks, few-shot settings). The harness changes one
thing: where the data comes from. ``datasets.load_dataset("org/name", config)`` does not find a
dataset that sits only in the hub cache when offline (datasets 5.2), so each task's
``dataset_path`` is pointed at the snapshot directory that
``huggingface_hub.snapshot_download`` resolves, which loads the same files.

Planning happens in two steps so ``harness validate`` needs no data: a config-only build
(lm-eval's factory with ``ConfigurableTask`` swapped for a stand-in that keeps the config and
loads nothing) gives the group structure, leaf configs and metrics; the data step resolves
snapshots, builds the real tasks and fingerprints them. Written against lm-eval 0.4.13
(``lm_eval.tasks._factory.ConfigurableTask`` is the swapped name).
"""

from __future__ import annotations

import copy
import difflib
import functools
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.config._registry_suite import RegistryEntry, RegistrySuite
from harness.config._suite import LOWER_IS_BETTER
from harness.engine._registry_common import RegistryState, canonical, fingerprint_of, offline

_SWAP_LOCK = threading.Lock()
_PER_ITEM_AGGREGATIONS = {"mean"}
__all__ = ["RegistryState", "canonical", "fingerprint_of", "offline", "plan_registry_suite"]


@functools.cache
def task_manager() -> Any:
    """lm-eval's TaskManager, built once per process (its index scan takes seconds)."""
    from lm_eval.tasks import TaskManager

    return TaskManager()


@contextmanager
def _config_only() -> Iterator[None]:
    """lm-eval's factory builds ConfigurableTask stand-ins that keep the config, load nothing."""
    import lm_eval.tasks._factory as factory
    from lm_eval.api.task import ConfigurableTask
    from lm_eval.config.task import TaskConfig

    class _ConfigOnly(ConfigurableTask):
        def __init__(self, config: dict[str, Any] | None = None, **_: Any) -> None:
            self.raw_config = copy.deepcopy(config or {})
            self._config = TaskConfig(**copy.deepcopy(config or {}))

    with _SWAP_LOCK:
        real = factory.ConfigurableTask
        factory.ConfigurableTask = _ConfigOnly
        try:
            yield
        finally:
            factory.ConfigurableTask = real


def _unknown(entry: RegistryEntry, file: Path, where: str, names: list[str]) -> ConfigError:
    close = difflib.get_close_matches(entry.lm_eval, names, n=5, cutoff=0.6)
    hint = f"did you mean {', '.join(close)}?" if close else "no registered name is close"
    return ConfigError(
        file,
        f"{where}.lm_eval",
        f"'{entry.lm_eval}' is not a registered lm-eval task or group ({hint})",
        "name a registered task or group (`lm-eval ls tasks` lists them), or give a task YAML path",
    )


def _capabilities(group: Any, mode: str) -> dict[str, str | None]:
    """Leaf task -> capability: its top-level sub-group, or itself, per the entry's mode."""
    from lm_eval.api.group import Group

    out: dict[str, str | None] = {}
    children = list(group)
    has_subgroups = any(isinstance(c, Group) for c in children)
    for child in children:
        leaves = child.get_all_tasks() if isinstance(child, Group) else [child]
        for t in leaves:
            if mode == "none":
                out[t.task_name] = None
            elif mode == "groups" and has_subgroups and isinstance(child, Group):
                out[t.task_name] = str(child.name)
            else:
                out[t.task_name] = str(t.task_name)
    return out


def _metric_of(
    entry: RegistryEntry, configs: dict[str, dict[str, Any]], file: Path, where: str
) -> tuple[str, bool]:
    """The gated metric, checked to exist per item in every leaf; and its direction."""
    from lm_eval.api.metrics import mean
    from lm_eval.api.registry import DEFAULT_METRIC_REGISTRY, get_metric_aggregation

    from harness.engine._metrics import _PER_ITEM, HARNESS_METRICS

    metric = entry.metric
    higher: bool | None = None
    for task, cfg in configs.items():
        mlist = cfg.get("metric_list") or [
            {"metric": m} for m in DEFAULT_METRIC_REGISTRY.get(cfg.get("output_type", ""), [])
        ]
        names = [str(m.get("metric")) for m in mlist]
        metric = metric or (names[0] if names else None)
        base = (metric or "").split(",", 1)[0]
        if base not in names:
            raise ConfigError(
                file,
                f"{where}.metric",
                f"task {task} has no metric {base!r} (its metrics: {names})",
                f"set metric to one of {names}",
            )
        spec = mlist[names.index(base)]
        agg = spec.get("aggregation")
        per_item = (
            base in _PER_ITEM
            or base in HARNESS_METRICS
            or (agg in _PER_ITEM_AGGREGATIONS if isinstance(agg, str) else False)
            or (agg is None and _safe_agg(get_metric_aggregation, base) is mean)
        )
        if not per_item:
            raise ConfigError(
                file,
                f"{where}.metric",
                f"task {task}'s metric {base!r} has no per-item value (lm-eval aggregates it "
                f"over the corpus with {agg or 'its own aggregation'}), so items cannot be paired",
                f"gate on a per-item metric of {names} with 'metric:', or choose another task",
            )
        if higher is None and "higher_is_better" in spec:
            higher = bool(spec["higher_is_better"])
    assert metric is not None
    return metric, higher if higher is not None else metric.split(",")[0] not in LOWER_IS_BETTER


def _safe_agg(fn: Any, name: str) -> Any:
    try:
        return fn(name)
    except Exception:  # unknown metric names raise various errors inside lm-eval
        return None


def plan_registry_suite(
    entry: RegistryEntry,
    file: Path,
    where: str,
    prompt: dict[str, Any],
    *,
    check_data: bool = True,
) -> RegistrySuite:
    """Resolve an entry through lm-eval's registry; with ``check_data``, its data as well."""
    import lm_eval
    from lm_eval.api.group import Group

    tm = task_manager()
    index = tm.task_index
    if entry.lm_eval not in index:
        raise _unknown(entry, file, where, list(tm.all_tasks))
    try:
        with _config_only():
            loaded = tm.load([entry.lm_eval])
    except ConfigError:
        raise
    except Exception as exc:  # lm-eval raises many types for a task it cannot build
        raise ConfigError(
            file,
            f"{where}.lm_eval",
            f"lm-eval could not build '{entry.lm_eval}' ({type(exc).__name__}: {exc})",
            "name a YAML-defined task or group (Python-class tasks are not supported)",
        ) from exc
    leaves = list(loaded["tasks"].values())
    bad = [t.task_name for t in leaves if not hasattr(t, "raw_config")]
    if bad or not leaves:
        raise ConfigError(
            file,
            f"{where}.lm_eval",
            f"'{entry.lm_eval}' has Python-class tasks {bad}" if bad else "no tasks",
            "name a group or task defined by lm-eval YAMLs",
        )
    configs = {t.task_name: t.raw_config for t in leaves}
    group = loaded.get("groups", {}).get(entry.lm_eval)
    if group is None and len(leaves) > 1:  # a tag: tasks without a group of their own
        group = Group(name=entry.lm_eval)
        for t in leaves:
            group.add(t)
    caps = _capabilities(group, entry.capabilities) if group is not None else {}
    metric, higher = _metric_of(entry, configs, file, where)
    out_types = sorted({str(c.get("output_type", "generate_until")) for c in configs.values()})
    yaml_path = index[entry.lm_eval].yaml_path
    meta = configs[leaves[0].task_name].get("metadata") or {}
    version = group.version if group is not None else meta.get("version", "N/A")
    state = RegistryState(configs=configs, group=group, prompt=prompt)
    suite = RegistrySuite(
        name=entry.name or entry.lm_eval,
        path=Path(yaml_path) if yaml_path else file,
        kind=entry.kind,
        version=f"{entry.lm_eval} v{version}; lm-eval {lm_eval.__version__}",
        output_type=out_types[0] if len(out_types) == 1 else "mixed",
        metric=metric,
        capability=None,
        capability_field=None,
        data_files={},
        fingerprint="unresolved: validated without data",
        files=(),
        higher_is_better=higher,
        entry=entry,
        source=file,
        where=where,
        subtasks=tuple((t, caps.get(t)) for t in configs),
        data_checked=False,
        state=state,
    )
    if not check_data:
        return suite
    from harness.engine._registry_data import resolve_data

    return resolve_data(suite)
