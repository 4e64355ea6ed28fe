"""Checks on weights and adapters before transformers or peft touch them.

Every check only reads: a refused file is left exactly as it was, so the user can inspect it.
Errors are ``ConfigError`` naming the file, the field and the fix, because a truncated download
or an adapter trained on another base is a user-input problem, not a crash.
"""

from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.config._errors import shorten
from harness.config._preflight import (
    LORA_FIELD_TYPES,
    _corrupt,
    read_adapter_json,
    read_safetensors_header,
)

__all__ = [
    "HARNESS_ADAPTER_FILE",
    "check_safetensors",
    "confine",
    "read_adapter_json",
    "read_safetensors_header",
    "validate_adapter",
]

HARNESS_ADAPTER_FILE = "harness_adapter.json"


def check_safetensors(path: Path, field: str | None = None) -> None:
    """Refuse a truncated or corrupt ``.safetensors`` file before transformers/peft read it.

    First a cheap header parse of our own (length prefix, UTF-8 JSON, offsets inside the data
    section, data section size equal to the last tensor's end), then ``safetensors.safe_open``
    as a second opinion. Reads only; never modifies the file.
    """
    read_safetensors_header(path, field)
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            list(f.keys())
    except Exception as exc:  # safetensors raises its own SafetensorError (and OSError)
        raise _corrupt(path, field, f"safetensors refuses it: {exc}") from exc


def confine(path: Path, root: Path, file: str | Path | None, field: str | None) -> Path:
    """Resolve ``path`` (relative to ``root`` if relative; symlinks followed) inside ``root``.

    Refuses, with a ConfigError naming ``file`` and ``field``, a path that escapes ``root``
    through ``..`` or a symlink pointing outside it. Returns the resolved path.
    """
    try:
        root_r = root.resolve()
        target = (path if path.is_absolute() else root / path).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise ConfigError(
            file, field, f"path {str(path)!r} cannot be resolved: {exc}", "use a plain file path"
        ) from exc
    if not target.is_relative_to(root_r):
        raise ConfigError(
            file,
            field,
            f"path {path} resolves to {target}, outside {root_r}",
            f"keep the file inside {root_r} (copy it in rather than using '..' or a symlink "
            "that points outside)",
        )
    return target


def _installed_peft_version() -> str:
    import peft

    return str(peft.__version__)


def _skew_error(cfg_path: Path, field: str, problem: str, adapter_version: Any) -> ConfigError:
    installed = _installed_peft_version()
    if adapter_version and str(adapter_version) == installed:
        # Saved by the very peft that is installed: not version skew, an edited config.
        return ConfigError(
            cfg_path,
            field,
            f"{problem}; the adapter was saved with peft {installed}, the installed version, "
            "so the config was edited after saving",
            "restore adapter_config.json as peft's save_pretrained wrote it (check peft_type "
            "and the field named here)",
        )
    saved = f"peft {adapter_version}" if adapter_version else "an unrecorded peft version"
    want = f"peft=={adapter_version}" if adapter_version else "the peft version that saved it"
    return ConfigError(
        cfg_path,
        field,
        f"{problem}; the adapter was saved with {saved} (its 'peft_version' field) but peft "
        f"{installed} is installed, which cannot read this config (peft version skew)",
        f"install {want}, or load the adapter where it was trained and re-save it with "
        f"peft {installed}",
    )


# Fields whose type we check ourselves: peft accepts almost any value and fails much later.
_FIELD_TYPES: dict[str, tuple[str, Any]] = {
    "r": ("a positive integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0),
    "lora_alpha": (
        "a number",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    ),
    "lora_dropout": (
        "a number",
        lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    ),
    "target_modules": (
        "a list of module names, a regex string or null",
        lambda v: (
            v is None
            or isinstance(v, str)
            or (isinstance(v, list) and all(isinstance(t, str) for t in v))
        ),
    ),
    "use_dora": ("true or false", lambda v: isinstance(v, bool)),
    "use_rslora": ("true or false", lambda v: isinstance(v, bool)),
    "fan_in_fan_out": ("true or false", lambda v: isinstance(v, bool)),
    **LORA_FIELD_TYPES,
}


# Tensor-name parts that say which adapter type saved a file.
_PART_TYPE = {
    "lora_A": "LORA",
    "lora_B": "LORA",
    "lora_embedding_A": "LORA",
    "lora_embedding_B": "LORA",
    "lora_magnitude_vector": "LORA",
    "ia3_l": "IA3",
}


def _tensor_types(header: dict[str, Any]) -> dict[str, str]:
    """Adapter type -> one example tensor name, from the tensor names of a LoRA/IA3 file."""
    found: dict[str, str] = {}
    for key in header:
        for part in key.split("."):
            kind = _PART_TYPE.get(part)
            if kind is not None:
                found.setdefault(kind, key)
    return found


def _check_type_matches_tensors(cfg_path: Path, peft_type: str, header: dict[str, Any]) -> None:
    held = _tensor_types(header)
    if peft_type in ("LORA", "IA3") and held and peft_type not in held:
        kind, example = next(iter(held.items()))
        raise ConfigError(
            cfg_path,
            "peft_type",
            f"the config's peft_type '{peft_type}' does not match the tensors in "
            f"adapter_model.safetensors, which are {kind} tensors (e.g. "
            f"'{shorten(example, 120)}')",
            f"set peft_type to '{kind}' (what the tensors were saved as), or use the "
            "adapter_config.json saved with these tensors",
        )


def _check_peft_config(
    cfg_path: Path, cfg: dict[str, Any], header: dict[str, Any] | None = None
) -> None:
    from peft import PeftConfig, PeftType
    from peft.mapping import PEFT_TYPE_TO_CONFIG_MAPPING

    adapter_version = cfg.get("peft_version")
    peft_type = cfg.get("peft_type")
    known = sorted(t.value for t in PeftType)
    if isinstance(peft_type, str) and peft_type in known and header is not None:
        _check_type_matches_tensors(cfg_path, peft_type, header)
    if not isinstance(peft_type, str) or peft_type not in known:
        raise ConfigError(
            cfg_path,
            "peft_type",
            f"unknown peft_type {shorten(repr(peft_type))} for the installed peft "
            f"{_installed_peft_version()} (saved with peft {adapter_version or 'unknown'})",
            f"use an adapter of a known type ({', '.join(known[:8])}, ...), or install the "
            "peft version that saved it",
        )
    config_cls = PEFT_TYPE_TO_CONFIG_MAPPING[PeftType(peft_type)]
    fields = {f.name for f in dataclasses.fields(config_cls)}
    # A newer peft writes every field; new features default to null/false/empty. peft ignores
    # unknown keys with a warning, which is harmless for defaults but silently scores another
    # model when a new feature is switched on, so refuse only those.
    active = sorted(k for k in cfg if k not in fields and cfg[k] not in (None, False, [], {}, ""))
    if active:
        raise _skew_error(
            cfg_path,
            active[0],
            f"adapter config sets {active} which the installed peft does not know",
            adapter_version,
        )
    for key, (want, ok) in _FIELD_TYPES.items():
        if key in cfg and key in fields and not ok(cfg[key]):
            raise _skew_error(
                cfg_path,
                key,
                f"'{key}' is {cfg[key]!r}, the installed peft expects {want}",
                adapter_version,
            )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            PeftConfig.from_pretrained(str(cfg_path.parent))
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise _skew_error(
            cfg_path,
            "adapter_config.json",
            f"peft cannot parse the adapter config: {str(exc).splitlines()[0][:300]}",
            adapter_version,
        ) from exc


def _module_names(base_model: Any) -> list[str]:
    return [name for name, _ in base_model.named_modules() if name]


def _check_targets(cfg_path: Path, cfg: dict[str, Any], names: list[str]) -> None:
    targets = cfg.get("target_modules")
    if targets is None or targets == "all-linear":
        return
    if isinstance(targets, str):
        if not any(re.fullmatch(targets, n) for n in names):
            raise ConfigError(
                cfg_path,
                "target_modules",
                f"the regex {targets!r} matches no module of the loaded base",
                "load the base this adapter was trained on, or train an adapter for this base",
            )
        return
    unmatched = [t for t in targets if not any(n == t or n.endswith("." + t) for n in names)]
    if unmatched:
        matched = [t for t in targets if t not in unmatched]
        partly = f" (only {matched} match)" if matched else ""
        raise ConfigError(
            cfg_path,
            "target_modules",
            f"target modules {unmatched} match no module of the loaded base{partly}",
            "load the base this adapter was trained on, or train an adapter for this base",
        )


def _check_fingerprint(adapter_dir: Path, base_fingerprint: str | None) -> None:
    meta_path = adapter_dir / HARNESS_ADAPTER_FILE
    if base_fingerprint is None or not meta_path.is_file():
        return
    try:
        meta = json.loads(meta_path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, OSError) as exc:
        raise ConfigError(
            meta_path,
            None,
            f"unreadable harness adapter record: {exc}",
            "retrain the adapter with the harness, or delete this file to skip the base check",
        ) from exc
    recorded = meta.get("base_fingerprint") if isinstance(meta, dict) else None
    if recorded is not None and recorded != base_fingerprint:
        raise ConfigError(
            meta_path,
            "base_fingerprint",
            f"adapter was trained on another base (fingerprint {recorded}, loaded base is "
            f"{base_fingerprint})",
            "load the base it was trained on, or retrain the adapter on this base",
        )


def _unwrap(base_model: Any) -> Any:
    get_base = getattr(base_model, "get_base_model", None)
    return get_base() if callable(get_base) else base_model


def _features(module: Any) -> tuple[int, int] | None:
    for m in (module, getattr(module, "base_layer", None)):
        i, o = getattr(m, "in_features", None), getattr(m, "out_features", None)
        if isinstance(i, int) and isinstance(o, int):
            return i, o
    return None


def _check_rank(cfg_path: Path, cfg: dict[str, Any], key: str, part: str, shape: list[Any]) -> None:
    """The config's ``r`` against a LoRA tensor's rank dimension (rank patterns excepted)."""
    r = cfg.get("r")
    if cfg.get("peft_type") != "LORA" or cfg.get("rank_pattern") or not isinstance(r, int):
        return
    rank = shape[0] if part == "lora_A" else shape[1]
    if rank != r:
        raise ConfigError(
            cfg_path,
            "r",
            f"the config's r is {r} but tensor '{shorten(key, 120)}' has shape {shape}, i.e. "
            f"rank {rank} (peft would build rank-{r} layers and fail to load these tensors)",
            f"set r to {rank} in adapter_config.json (the rank the tensors were saved with), "
            "or use the adapter_config.json saved with these tensors",
        )


def _check_shapes(adapter_dir: Path, base_model: Any, cfg: dict[str, Any] | None = None) -> None:
    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        return
    header = read_safetensors_header(weights, "adapter")
    modules = dict(_unwrap(base_model).named_modules())
    for key, info in header.items():
        m = re.fullmatch(r"base_model\.model\.(.+)\.(lora_A|lora_B)(?:\.[^.]+)?\.weight", key)
        if not m or not isinstance(info, dict):
            continue
        path, part = m.group(1), m.group(2)
        shape = info.get("shape") or []
        module = modules.get(path)
        if module is None:
            raise ConfigError(
                weights,
                "adapter",
                f"adapter tensor '{key}' targets module '{path}', which the loaded base lacks",
                "load the base this adapter was trained on, or train an adapter for this base",
            )
        feats = _features(module)
        if feats is None or len(shape) != 2:
            continue  # not a Linear (embedding, conv): peft checks those itself
        if cfg is not None:
            _check_rank(adapter_dir / "adapter_config.json", cfg, key, part, shape)
        in_f, out_f = feats
        bad = (part == "lora_A" and shape[1] != in_f) or (part == "lora_B" and shape[0] != out_f)
        if bad:
            want = f"[r, {in_f}]" if part == "lora_A" else f"[{out_f}, r]"
            raise ConfigError(
                weights,
                "adapter",
                f"adapter was made for another base: module '{path}' {part} has shape "
                f"{shape}, the loaded base's Linear({in_f} -> {out_f}) needs {want}",
                "load the base this adapter was trained on, or train an adapter for this base",
            )


def validate_adapter(
    adapter_dir: Path, base_model: Any, base_fingerprint: str | None = None
) -> dict[str, Any]:
    """Check an adapter directory against the loaded base before peft loads it.

    Checks, in order: every ``*.safetensors`` is intact (``check_safetensors``);
    ``adapter_config.json`` is UTF-8 JSON with a ``peft_type`` the installed peft knows and a
    config it can parse (otherwise the error explains peft version skew, naming the adapter's
    ``peft_version`` and the installed version); every ``target_modules`` entry matches a base
    module (peft's suffix rule, or ``re.fullmatch`` for a regex string; ``all-linear`` passes);
    if ``harness_adapter.json`` records a ``base_fingerprint`` and ``base_fingerprint`` is given,
    they agree; and each LoRA ``lora_A.weight`` [r, in] / ``lora_B.weight`` [out, r] (shapes from
    the safetensors header, no data read) fits the base Linear it targets.

    Shape checks cannot tell apart two bases with identical architecture (e.g. two fine-tunes
    of one model): an adapter for such a base is caught only by the fingerprint check, i.e. only
    when the adapter dir carries ``harness_adapter.json`` and the caller passes the loaded base's
    fingerprint.

    Reads only; never modifies the adapter. Returns the parsed adapter config.
    """
    for weights in sorted(adapter_dir.glob("*.safetensors")):
        check_safetensors(weights, "adapter")
    cfg_path, cfg = read_adapter_json(adapter_dir)
    weights = adapter_dir / "adapter_model.safetensors"
    header = read_safetensors_header(weights, "adapter") if weights.is_file() else None
    _check_peft_config(cfg_path, cfg, header)
    _check_targets(cfg_path, cfg, _module_names(_unwrap(base_model)))
    _check_fingerprint(adapter_dir, base_fingerprint)
    _check_shapes(adapter_dir, base_model, cfg)
    return cfg
