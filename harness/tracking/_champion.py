"""The champion adapter, found in the MLflow model registry and fetched from its own artifacts.

A gate run registers each release candidate's adapter as a version of ``<experiment>-<candidate>``
and moves the alias ``champion`` to it on GO (``_registry.register_adapter``). The next run
compares its candidate with that version: :func:`find_champion` resolves a registered model and
an alias (or a version number) to a local adapter directory and the version's tags.

What a version's artifacts hold depends on how the gate logged the adapter
(``GateRunLog.log_variant``): the files themselves; or, for a run that reused a cached adapter,
nothing, the version then pointing at the earlier run that holds them (its source is that run;
older versions are followed through the run's ``harness.adapter_run_id`` tag); or, for an
adapter over ``HARNESS_MLFLOW_ADAPTER_MAX_MB``, its small JSON files and ``LOCATION.txt``, the
path of the weights on the machine that logged it. All three are resolved here.

Errors: a named model, alias or version that does not exist is a ``ConfigError`` (exit 2) that
lists what the registry has; a registry that cannot be reached raises
:class:`RegistryUnreachable` (not a ConfigError: the gate could not decide, exit 3), naming
the tracking URI.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from harness.config import ConfigError
from harness.tracking._mlflow import _store_init_lock, tracking_uri
from harness.tracking._registry import ADAPTER_ARTIFACT_PATH

T = TypeVar("T")

LOCATION_FILE = "LOCATION.txt"
WEIGHTS_FILE = "adapter_model.safetensors"
CONFIG_FILE = "adapter_config.json"
_LISTED = 20  # versions or models named in an error, at most


class RegistryUnreachable(RuntimeError):
    """The model registry (the MLflow tracking server or store) could not be reached."""


class _Missing(Exception):
    """The registry answered: no such model, alias or version."""


@dataclass(frozen=True)
class ChampionVersion:
    """One registered adapter version, fetched to a local directory."""

    model: str
    version: str
    alias: str | None  # the alias it was found by; None when named by number
    adapter_dir: Path
    tags: dict[str, str] = field(default_factory=dict)
    run_id: str | None = None
    source: str = ""
    tracking_uri: str = ""
    fetched_from: str = ""  # where the files came from, for the report
    base_model: str | None = None  # the base it was gated on (a directory or builtin:...)
    dtype: str | None = None

    @property
    def base_fingerprint(self) -> str | None:
        return self.tags.get("harness.base_fingerprint")

    @property
    def quantization(self) -> str | None:
        return self.tags.get("harness.quantization")

    def describe(self) -> str:
        by = f" (alias '{self.alias}')" if self.alias else ""
        return f"registered model '{self.model}' version {self.version}{by}"


def find_champion(
    model: str,
    *,
    alias: str | None,
    version: int | str | None,
    dest_root: Path,
    required: bool,
    file: Path | None = None,
    field_name: str = "champion",
    uri: str | None = None,
) -> ChampionVersion | None:
    """Resolve ``model`` at ``alias`` (or ``version``) and fetch its adapter under
    ``dest_root``.

    ``required=False`` (the automatic champion): a model or alias that does not exist yet is
    a first release and returns None. ``required=True`` (named in the experiment): it is a
    ConfigError listing what the registry has. Raises :class:`RegistryUnreachable` when the
    registry does not answer.
    """
    from mlflow.tracking import MlflowClient

    uri = uri or tracking_uri()
    with _store_init_lock(uri):  # a fresh sqlite store is created (migrated) by its first call
        client = MlflowClient(uri)
        try:
            _ask(uri, lambda: client.get_registered_model(model))
        except _Missing:
            if not required:
                return None
            raise ConfigError(
                file,
                f"{field_name}.model",
                f"the model registry at {uri} has no registered model '{model}' "
                f"({_models_listed(client, uri)})",
                "name one of them, or set champion: none to gate against the base alone",
            ) from None
    try:
        if alias is not None:
            mv = _ask(uri, lambda: client.get_model_version_by_alias(model, alias))
        else:
            mv = _ask(uri, lambda: client.get_model_version(model, str(version)))
    except _Missing:
        if not required:
            return None
        what = f"alias '{alias}'" if alias is not None else f"version {version}"
        raise ConfigError(
            file,
            f"{field_name}.{'alias' if alias is not None else 'version'}",
            f"registered model '{model}' (at {uri}) has no {what}; "
            f"{_versions_listed(client, uri, model)}",
            f"name one of them (champion: {{model: {model}, version: N}} or alias: NAME), "
            "or set champion: none to gate against the base alone",
        ) from None
    version_str = str(mv.version)
    tags = dict(mv.tags or {})
    run_tags, parent_params = _run_facts(client, uri, mv.run_id, tags)
    key = hashlib.blake2b(
        f"{uri}\n{model}\n{version_str}\n{mv.run_id}\n{mv.source}".encode(), digest_size=6
    ).hexdigest()
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "-", model).strip("-") or "model"
    target = dest_root / f"{safe}-v{version_str}-{key}"
    adapter_dir, fetched_from = _fetch(
        uri, f"models:/{model}/{version_str}", target, run_tags, file, field_name, model, mv
    )
    return ChampionVersion(
        model=model,
        version=version_str,
        alias=alias,
        adapter_dir=adapter_dir,
        tags=tags,
        run_id=mv.run_id,
        source=str(mv.source or ""),
        tracking_uri=uri,
        fetched_from=fetched_from,
        base_model=tags.get("harness.base_model") or parent_params.get("base"),
        dtype=tags.get("harness.dtype") or parent_params.get("dtype"),
    )


def _ask(uri: str, call: Callable[[], T]) -> T:
    """One registry call: _Missing when it answers "no such thing", RegistryUnreachable when
    it does not answer at all."""
    from mlflow.exceptions import MlflowException

    try:
        return call()
    except MlflowException as exc:
        # An unknown alias is INVALID_PARAMETER_VALUE, an unknown model or version
        # RESOURCE_DOES_NOT_EXIST; a server that cannot be reached is INTERNAL_ERROR (after
        # MLFLOW_HTTP_REQUEST_MAX_RETRIES retries).
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            raise _Missing(str(exc)) from exc
        raise _unreachable(uri, exc) from exc
    except (OSError, ConnectionError) as exc:
        raise _unreachable(uri, exc) from exc
    except Exception as exc:  # sqlalchemy, requests: the store did not answer
        if type(exc).__module__.split(".")[0] in ("sqlalchemy", "requests", "urllib3"):
            raise _unreachable(uri, exc) from exc
        raise


def _unreachable(uri: str, exc: BaseException) -> RegistryUnreachable:
    detail = " ".join(str(exc).split())[:400]
    return RegistryUnreachable(
        f"the MLflow model registry at {uri} could not be reached to find the champion "
        f"({type(exc).__name__}: {detail}); start the tracking server, or point "
        "MLFLOW_TRACKING_URI at a reachable one, or set champion: none to gate against the "
        "base alone"
    )


def _models_listed(client: Any, uri: str) -> str:
    try:
        models = _ask(uri, lambda: client.search_registered_models(max_results=_LISTED + 1))
    except _Missing:
        models = []
    names = sorted(m.name for m in models)
    if not names:
        return "it has no registered models yet"
    more = ", ..." if len(names) > _LISTED else ""
    return "it has " + ", ".join(names[:_LISTED]) + more


def _versions_listed(client: Any, uri: str, model: str) -> str:
    try:
        rm = _ask(uri, lambda: client.get_registered_model(model))
        aliases = dict(getattr(rm, "aliases", None) or {})
    except _Missing:
        aliases = {}
    versions: list[Any] = []
    if "'" not in model:
        try:
            versions = _ask(
                uri,
                lambda: client.search_model_versions(f"name='{model}'", max_results=200),
            )
        except _Missing:
            versions = []
    versions = sorted(versions, key=lambda v: int(v.version))[-_LISTED:]
    listed = ", ".join(
        f"{v.version} ({v.tags.get('harness.verdict', 'no verdict')})" for v in versions
    )
    parts = [f"versions {listed}" if listed else "no versions"]
    parts.append(
        "aliases " + ", ".join(f"{a} -> {v}" for a, v in sorted(aliases.items()))
        if aliases
        else "no aliases"
    )
    return "it has " + "; ".join(parts)


def _run_facts(
    client: Any, uri: str, run_id: str | None, tags: dict[str, str]
) -> tuple[dict[str, str], dict[str, str]]:
    """The version's run's tags and, when the version lacks base/dtype tags (versions
    registered before they were added), its gate run's params."""
    if not run_id:
        return {}, {}
    try:
        run = _ask(uri, lambda: client.get_run(run_id))
    except _Missing:
        return {}, {}
    run_tags = dict(run.data.tags)
    if "harness.base_model" in tags and "harness.dtype" in tags:
        return run_tags, {}
    parent_id = run_tags.get("mlflow.parentRunId")
    if not parent_id:
        return run_tags, {}
    try:
        parent = _ask(uri, lambda: client.get_run(parent_id))
    except _Missing:
        return run_tags, {}
    return run_tags, dict(parent.data.params)


def _has_adapter(d: Path) -> bool:
    return (d / CONFIG_FILE).is_file() and (d / WEIGHTS_FILE).is_file()


def _download(uri: str, artifact_uri: str, target: Path) -> Path:
    """``artifact_uri`` into ``target`` (kept when a complete copy is already there)."""
    import mlflow

    if (target / CONFIG_FILE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        local = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=artifact_uri, dst_path=str(tmp), tracking_uri=uri
            )
        )
        if local != tmp:  # a single path inside the destination
            for p in local.iterdir():
                shutil.move(str(p), tmp / p.name)
        try:
            tmp.rename(target)
        except OSError:  # another gate run fetched it first: theirs is the same version
            shutil.rmtree(tmp, ignore_errors=True)
    except Exception as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        from mlflow.exceptions import MlflowException

        if isinstance(exc, MlflowException) and exc.error_code in (
            "RESOURCE_DOES_NOT_EXIST",
            "INVALID_PARAMETER_VALUE",
        ):
            raise _Missing(str(exc)) from exc
        raise _unreachable(uri, exc) from exc
    return target


def _fetch(
    uri: str,
    artifact_uri: str,
    target: Path,
    run_tags: dict[str, str],
    file: Path | None,
    field_name: str,
    model: str,
    mv: Any,
) -> tuple[Path, str]:
    """The version's adapter as a local directory, and where its files came from."""
    what = f"registered model '{model}' version {mv.version}"
    try:
        local = _download(uri, artifact_uri, target)
    except _Missing:
        local = target
    if _has_adapter(local):
        return local, f"the registry's artifacts ({artifact_uri})"
    # A version registered from a run that reused an earlier run's adapter files.
    earlier = run_tags.get("harness.adapter_run_id")
    if earlier:
        copy = target.with_name(target.name + "-files")
        try:
            found = _download(uri, f"runs:/{earlier}/{ADAPTER_ARTIFACT_PATH}", copy)
        except _Missing:
            found = copy
        if _has_adapter(found):
            return found, f"run {earlier}'s artifacts (the identical adapter it logged)"
    # An adapter too large to copy: its weights stayed where the gate run read them.
    location = None
    if (local / LOCATION_FILE).is_file():
        location = (local / LOCATION_FILE).read_text(encoding="utf-8").splitlines()[0].strip()
    location = location or run_tags.get("harness.adapter_location")
    if location and _has_adapter(Path(location)):
        return Path(location), f"{location} (the registry records its location only)"
    if location:
        raise ConfigError(
            file,
            field_name,
            f"{what} holds only the location of its weights, {location}, which is not on "
            "this machine (the adapter was over HARNESS_MLFLOW_ADAPTER_MAX_MB when logged)",
            "copy the adapter there, or name a copy of it (champion: {adapter: DIR}), or set "
            "champion: none to gate against the base alone",
        )
    raise ConfigError(
        file,
        field_name,
        f"{what} has no adapter files in its artifacts ({mv.source})",
        "name another version (champion: {model: NAME, version: N}), or set champion: none "
        "to gate against the base alone",
    )
