"""The data step of a registry suite: snapshots from the HF cache, real tasks, fingerprint.

Every leaf task is built by lm-eval's ``ConfigurableTask`` from the config lm-eval's factory
produced; only ``dataset_path`` changes, from the hub id to the snapshot directory of that id
in the Hugging Face cache (which is what ``load_dataset`` would read after downloading).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.config._registry_suite import RegistrySuite
from harness.engine._registry_common import RegistryState, canonical, fingerprint_of, offline

_LOCAL_BUILDERS = {"json", "csv", "parquet", "text", "arrow", "pandas"}
# Built tasks by (task, snapshot dir, config): a process validates and then scores the same
# suites, and the pytest plugin loads the experiment more than once; lm-eval's build reads the
# data each time (seconds for mmlu's 57 subtasks).
_BUILT: dict[tuple[str, str, str], Any] = {}


def hub_cache() -> str:
    """The hub cache as the environment names it now (huggingface_hub reads it at import)."""
    from huggingface_hub import constants

    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return str(Path(os.environ["HF_HOME"]) / "hub")
    return str(constants.HF_HUB_CACHE)


def fetch_command(repo: str, revision: str | None = None) -> str:
    """The commands that fill the cache with ``repo`` on a connected machine."""
    rev = f" --revision {revision}" if revision else ""
    py_rev = f", revision='{revision}'" if revision else ""
    return (
        f'`hf download --repo-type dataset {repo}{rev}` (or `python -c "from huggingface_hub '
        f"import snapshot_download; snapshot_download('{repo}', repo_type='dataset'{py_rev})\"`)"
    )


def snapshot(repo: str, config: str | None, revision: str | None, suite: RegistrySuite) -> Path:
    """The snapshot directory of a dataset repo in the HF cache (downloaded first if online)."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError, OfflineModeIsEnabled

    local = offline()
    try:
        return Path(
            snapshot_download(
                repo,
                repo_type="dataset",
                revision=revision,
                cache_dir=hub_cache(),
                local_files_only=local,
            )
        )
    except (LocalEntryNotFoundError, OfflineModeIsEnabled, FileNotFoundError) as exc:
        state = "the hub is offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE)" if local else str(exc)
        raise ConfigError(
            suite.source,
            f"{suite.where}.lm_eval",
            f"dataset {repo} (config {config or 'default'}) of '{suite.name}' is not in the "
            f"Hugging Face cache ({hub_cache()}) and {state}",
            f"on a connected machine run {fetch_command(repo, revision)}, then copy that "
            "machine's HF_HUB_CACHE (~/.cache/huggingface/hub) here or point HF_HUB_CACHE at it",
        ) from exc


def split_digest(ds: Any) -> str:
    """Content hash of one split: its rows as one Arrow stream (schema and features included)."""
    import pyarrow as pa

    table = ds.with_format("arrow")[:].combine_chunks()
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def _is_hub_id(path: Any) -> bool:
    return isinstance(path, str) and path not in _LOCAL_BUILDERS and not Path(path).exists()


def _build(name: str, cfg: dict[str, Any], suite: RegistrySuite, snap: Path | None) -> Any:
    from lm_eval.api.task import ConfigurableTask

    cfg = dict(cfg)
    if snap is not None:
        cfg["dataset_path"] = str(snap)
        kwargs = dict(cfg.get("dataset_kwargs") or {})
        kwargs.pop("revision", None)
        cfg["dataset_kwargs"] = kwargs or None
    try:
        return ConfigurableTask(config=cfg)
    except Exception as exc:  # datasets and lm-eval raise many types for missing data
        ds = suite.state.configs[name].get("dataset_path")
        raise ConfigError(
            suite.source,
            f"{suite.where}.lm_eval",
            f"lm-eval could not build task {name} from dataset {ds} (config "
            f"{cfg.get('dataset_name') or 'default'}) in the cache: {type(exc).__name__}: {exc}",
            f"fetch the whole dataset again: {fetch_command(str(ds))}",
        ) from exc


def _splits(task: Any) -> dict[str, str]:
    """Digests of every split the task's config names (evaluation and few-shot sources)."""
    cfg = task.config
    names = [cfg.test_split, cfg.validation_split, cfg.training_split, cfg.fewshot_split]
    fs = getattr(task, "fewshot_cfg", None)
    names.append(getattr(fs, "split", None))
    dataset = getattr(task, "dataset", None) or {}
    return {s: split_digest(dataset[s]) for s in dict.fromkeys(names) if s and s in dataset}


def _version(suite: RegistrySuite, revisions: dict[str, str]) -> str:
    data = [f"{repo}@{rev[:12]}" for repo, rev in sorted(revisions.items())]
    if len(data) > 3:
        joined = hashlib.sha256(",".join(data).encode()).hexdigest()[:12]
        data = [f"{len(data)} datasets {joined}"]
    return "; ".join([suite.version, *data])


def resolve_data(suite: RegistrySuite) -> RegistrySuite:
    """Snapshot every dataset, build the real tasks, check the limit and fingerprint."""
    state = suite.state
    assert isinstance(state, RegistryState) and suite.entry is not None
    snaps: dict[tuple[str, str | None], Path] = {}
    revisions: dict[str, str] = {}
    data: list[dict[str, Any]] = []
    for name, cfg in state.configs.items():
        repo = cfg.get("dataset_path")
        revision = (cfg.get("dataset_kwargs") or {}).get("revision")
        snap = None
        if _is_hub_id(repo) and cfg.get("custom_dataset") is None:
            key = (str(repo), revision)
            if key not in snaps:
                snaps[key] = snapshot(str(repo), cfg.get("dataset_name"), revision, suite)
            snap = snaps[key]
            revisions[str(repo)] = snap.name
        memo = (name, str(snap or repo), json.dumps(canonical(cfg), sort_keys=True))
        if memo not in _BUILT:
            _BUILT[memo] = _build(name, cfg, suite, snap)
        task = _BUILT[memo]
        state.tasks[name] = task
        state.sizes[name] = len(task.eval_docs)
        data.append(
            {
                "task": name,
                "dataset": repo,
                "config": cfg.get("dataset_name"),
                "revision": snap.name if snap else None,
                "splits": _splits(task),
            }
        )
    total = sum(state.sizes.values())
    limit = suite.entry.limit
    if limit is not None and limit > total:
        raise ConfigError(
            suite.source,
            f"{suite.where}.limit",
            f"limit {limit} is larger than the {total} items of '{suite.entry.lm_eval}'",
            f"set limit to at most {total}, or remove it to score every item",
        )
    provenance = {
        "lm_eval_task": suite.entry.lm_eval,
        "datasets": [{"dataset": r, "revision": v} for r, v in sorted(revisions.items())],
        "items": total,
    }
    return dataclasses.replace(
        suite,
        version=_version(suite, revisions),
        fingerprint=fingerprint_of(suite, data),
        provenance=provenance,
        data_checked=True,
    )
