"""Suites are data: an lm-eval task YAML plus harness metadata, with local data beside it.

This module reads only what the harness needs to plan and key results (name, kind, version,
data files, fingerprint). Building the lm-eval task itself happens in ``harness.engine`` so
that ``harness.config`` never imports lm-eval.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from harness.config._errors import ConfigError, shown
from harness.config._paths import resolve_user_path
from harness.config._yaml import ConfigLoader, directory_hint, parse_yaml

SuiteKind = Literal["task", "general"]
_LOCAL_BUILDERS = {"json", "csv", "parquet", "text", "arrow"}
# Metrics where a lower value is better, as lm-eval registers them (and the harness's own
# per-item TER). Config may not import lm-eval; tests/engine checks this against its registry.
LOWER_IS_BETTER = frozenset(
    {"perplexity", "word_perplexity", "byte_perplexity", "bits_per_byte", "ter", "harness_ter"}
)


class _TolerantLoader(ConfigLoader):
    """Our SafeLoader (aliases bounded, duplicate keys refused) that keeps lm-eval's
    ``!function`` tags as plain strings.

    Planning needs the metadata, not the functions; lm-eval resolves them later.
    """


def _function_tag(loader: yaml.SafeLoader, node: yaml.Node) -> str:
    return f"!function {loader.construct_scalar(node)}"  # type: ignore[arg-type]


_TolerantLoader.add_constructor("!function", _function_tag)


@dataclass(frozen=True)
class SuiteSpec:
    """A suite as the harness plans with it."""

    name: str
    path: Path
    kind: SuiteKind
    version: str
    output_type: str
    metric: str
    capability: str | None
    capability_field: str | None
    data_files: dict[str, list[Path]]
    fingerprint: str
    files: tuple[Path, ...] = field(default_factory=tuple)
    higher_is_better: bool = True

    @property
    def task_name(self) -> str:
        return self.name


def _load_with_includes(path: Path, seen: set[Path]) -> tuple[dict[str, Any], list[Path]]:
    if path in seen:
        raise ConfigError(path, "include", "include cycle", "remove the circular include")
    seen.add(path)
    if path.is_dir():
        raise ConfigError(
            path, None, "suite path is a directory, not a file", directory_hint(path, "suite")
        )
    if not path.is_file():
        raise ConfigError(
            path,
            None,
            "suite file does not exist",
            "check the suite path (relative to the experiment file)",
        )
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, "not valid UTF-8", "save the suite YAML as UTF-8") from exc
    cfg = parse_yaml(text, path, _TolerantLoader)
    if not isinstance(cfg, dict):
        raise ConfigError(
            path, None, "a suite YAML must be a mapping", "write an lm-eval task YAML"
        )
    files = [path]
    includes = cfg.pop("include", None)
    if includes is None:
        return cfg, files
    merged: dict[str, Any] = {}
    for inc in includes if isinstance(includes, list) else [includes]:
        if not isinstance(inc, str):
            raise ConfigError(
                path,
                "include",
                f"include must be a file name, got {shown(inc)}",
                "write 'include: base.yaml'",
            )
        inc_path = resolve_user_path(inc, path.parent, path, "include")
        inc_cfg, inc_files = _load_with_includes(inc_path, seen)
        inc_cfg.pop("task_list", None)
        merged.update(inc_cfg)
        files.extend(inc_files)
    merged.update(cfg)
    return merged, files


def _resolve_data_files(path: Path, cfg: dict[str, Any]) -> dict[str, list[Path]]:
    builder = cfg.get("dataset_path")
    if builder is not None and not isinstance(builder, str):
        raise ConfigError(
            path,
            "dataset_path",
            f"expected a string, got {shown(builder)}",
            "use 'dataset_path: json'",
        )
    kwargs = cfg.get("dataset_kwargs") or {}
    raw = kwargs.get("data_files") if isinstance(kwargs, dict) else None
    if builder not in _LOCAL_BUILDERS or raw is None:
        local_dir = path.parent / str(builder) if builder else None
        if local_dir is not None and local_dir.is_dir():
            if not local_dir.resolve().is_relative_to(path.parent.resolve()):
                raise ConfigError(
                    path,
                    "dataset_path",
                    f"data directory {shown(builder)} is outside the suite's directory",
                    "put the data inside the suite's directory",
                )
            return {"dir": [local_dir.resolve()]}
        raise ConfigError(
            path,
            "dataset_path",
            f"data must be local (dataset_path '{builder}' would be fetched from a hub)",
            "use 'dataset_path: json' with 'dataset_kwargs: {data_files: {test: data.jsonl}}'",
        )
    splits: dict[str, Any] = raw if isinstance(raw, dict) else {"train": raw}
    resolved: dict[str, list[Path]] = {}
    for split, entry in splits.items():
        items = entry if isinstance(entry, list) else [entry]
        paths = []
        for item in items:
            field = f"dataset_kwargs.data_files.{split}"
            p = resolve_user_path(
                item if isinstance(item, str) else str(item), path.parent, path, field
            )
            if not p.is_relative_to(path.parent.resolve()):
                # docs/suites.md: a suite is a folder; its data lives inside it, so a suite
                # (and its fingerprint) moves and is shared as one piece.
                kind = "absolute" if Path(str(item)).is_absolute() else "relative"
                raise ConfigError(
                    path,
                    field,
                    f"{kind} data path {shown(item)} resolves to {p}, outside the suite's "
                    f"directory {path.parent.resolve()}",
                    "copy the data file into the suite's directory and name it relative to "
                    "the suite YAML (e.g. 'test: test.jsonl')",
                )
            if not p.is_file():
                raise ConfigError(
                    path,
                    f"dataset_kwargs.data_files.{split}",
                    f"data file {p} does not exist",
                    "put the data file next to the YAML or fix its relative path",
                )
            paths.append(p)
        resolved[str(split)] = paths
    return resolved


def _fingerprint(files: list[Path], data_files: dict[str, list[Path]]) -> str:
    h = hashlib.blake2b(digest_size=16)
    extra = sorted(p for p in files[0].parent.glob("*.py"))
    for p in [*files, *extra, *(p for ps in data_files.values() for p in ps)]:
        if p.is_dir():
            continue
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _higher_is_better(
    path: Path, metric: str, meta: dict[str, Any], metrics: list[dict[str, Any]]
) -> bool:
    """Direction of the gated metric: metadata, else its metric_list entry, else lm-eval's.

    Gates test "improves" and "does not drop" in this direction, so perplexity-like metrics
    must say lower is better. ``metric`` may carry a filter name (``exact_match,strict``).
    """
    base = metric.split(",", 1)[0]
    value: Any = meta.get("higher_is_better")
    where = "metadata.higher_is_better"
    if value is None:
        for i, m in enumerate(metrics):
            if m["metric"] == base and "higher_is_better" in m:
                value, where = m["higher_is_better"], f"metric_list.{i}.higher_is_better"
                break
    if value is None:
        return base not in LOWER_IS_BETTER
    if not isinstance(value, bool):
        raise ConfigError(
            path, where, f"expected true or false, got {shown(value)}", "write true or false"
        )
    return value


def load_suite(path: Path) -> SuiteSpec:
    """Read a suite YAML and its harness metadata; refuse what cannot run offline."""
    path = path.resolve()
    cfg, files = _load_with_includes(path, set())
    meta = cfg.get("metadata") or {}
    if not isinstance(meta, dict):
        raise ConfigError(
            path,
            "metadata",
            "metadata must be a mapping",
            "write 'metadata: {version: 1.0, kind: task}'",
        )
    kind = meta.get("kind")
    if kind not in ("task", "general"):
        raise ConfigError(
            path,
            "metadata.kind",
            f"kind is {shown(kind)}",
            "set metadata.kind to 'task' (must improve) or 'general' (must not drop)",
        )
    if "version" not in meta:
        raise ConfigError(
            path,
            "metadata.version",
            "version is missing",
            "set metadata.version (bump it whenever items or prompts change)",
        )
    task = cfg.get("task")
    if not isinstance(task, str) or not task:
        raise ConfigError(path, "task", "task name is missing", "set 'task: my_suite_name'")
    output_type = str(cfg.get("output_type", "generate_until"))
    metrics = cfg.get("metric_list") or []
    if not isinstance(metrics, list) or not all(
        isinstance(m, dict) and isinstance(m.get("metric"), str) and m["metric"] for m in metrics
    ):
        raise ConfigError(
            path,
            "metric_list",
            "metric_list must be a list of {metric: name}",
            "write 'metric_list: [{metric: acc}]'",
        )
    metric = meta.get("primary_metric")
    if metric is None:
        if not metrics:
            raise ConfigError(
                path,
                "metric_list",
                "no metric to gate on",
                "add 'metric_list: [{metric: acc}]' or metadata.primary_metric",
            )
        metric = metrics[0]["metric"]
    elif not isinstance(metric, str) or not metric:
        raise ConfigError(
            path,
            "metadata.primary_metric",
            f"expected a metric name, got {shown(metric)}",
            "set metadata.primary_metric to one of metric_list's metrics",
        )
    data_files = _resolve_data_files(path, cfg)
    higher = _higher_is_better(path, str(metric), meta, metrics)
    name = str(meta.get("name") or task.removeprefix("harness_"))
    cap_field = meta.get("capability_field")
    return SuiteSpec(
        name=name,
        path=path,
        kind=kind,
        version=str(meta["version"]),
        output_type=output_type,
        metric=str(metric),
        capability=str(meta["capability"]) if meta.get("capability") else None,
        capability_field=str(cap_field) if cap_field else None,
        data_files=data_files,
        fingerprint=_fingerprint(files, data_files),
        files=tuple(files),
        higher_is_better=higher,
    )
