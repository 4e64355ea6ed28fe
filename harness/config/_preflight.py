"""Checks of the files an experiment names that need no model: run by ``load_experiment``.

So ``harness validate`` and the first milliseconds of ``harness evaluate`` (and of
``pytest experiment.yaml``) find what once surfaced only after the base had loaded:

- a given adapter's ``adapter_config.json`` (UTF-8 JSON object) and its
  ``adapter_model.safetensors`` (present, not empty, header and offsets consistent with the
  file size: an 8-byte little-endian header length, a JSON header, every tensor's
  ``data_offsets`` inside the data section). No tensor data is read and torch is not imported;
- when the base's ``config.json`` can be read without weights and names a llama-style
  architecture, the base's module names are derived from it, and a recipe's or an adapter's
  ``target_modules`` must match some of them; a given LoRA/IA3 adapter's tensors must sit on
  modules its config targets and every targeted module must have its tensors;
- ``reports_dir`` must not name an existing file.

The same checks against the loaded base (exact, with peft's own targeting) run again in
``harness.models`` when an adapter is attached.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.config._errors import ConfigError, shorten, shown

_MAX_HEADER = 100 * 1024 * 1024  # safetensors' own limit on the JSON header
_DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E5M2": 1,
    "F8_E4M3": 1,
    "F8_E8M0": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}
ADAPTER_WEIGHTS = "adapter_model.safetensors"
_RETRAIN = "load the base this adapter was trained on, or train an adapter for this base"


def _corrupt(path: Path, field: str | None, problem: str) -> ConfigError:
    return ConfigError(
        path,
        field,
        f"corrupt or truncated safetensors file: {problem}",
        "re-download or re-save the weights (an interrupted copy or download leaves such "
        "files); the file was left untouched",
    )


def read_safetensors_header(path: Path, field: str | None = None) -> dict[str, Any]:
    """Read and check a safetensors header without loading any tensor data.

    Returns the header mapping (tensor name -> {dtype, shape, data_offsets}, plus an optional
    ``__metadata__``). Raises ``ConfigError`` if the file is truncated or its header is corrupt.
    """
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise _corrupt(path, field, f"only {size} bytes, shorter than the 8-byte prefix")
            (n,) = struct.unpack("<Q", prefix)
            if n == 0 or n > _MAX_HEADER:
                raise _corrupt(path, field, f"header length {n} is implausible")
            if n + 8 > size:
                raise _corrupt(
                    path, field, f"header claims {n} bytes but the file has only {size - 8}"
                )
            raw = fh.read(n)
    except OSError as exc:
        raise ConfigError(
            path, field, f"cannot read weights: {exc}", "check the file's permissions"
        ) from exc
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise _corrupt(path, field, f"header is not UTF-8 JSON ({shorten(str(exc))})") from exc
    if not isinstance(header, dict):
        raise _corrupt(path, field, "header is not a JSON object")
    data_size = size - 8 - n
    max_end = 0
    for name, info in header.items():
        label = shorten(name, 120)
        if name == "__metadata__":
            if not isinstance(info, dict):
                raise _corrupt(path, field, "__metadata__ is not an object")
            continue
        if not isinstance(info, dict):
            raise _corrupt(path, field, f"entry for tensor '{label}' is not an object")
        shape = info.get("shape")
        offsets = info.get("data_offsets")
        dtype = info.get("dtype")
        if not isinstance(shape, list) or not all(
            isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape
        ):
            raise _corrupt(path, field, f"tensor '{label}' has an invalid shape {shown(shape)}")
        if (
            not isinstance(offsets, list)
            or len(offsets) != 2
            or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            or not 0 <= offsets[0] <= offsets[1] <= data_size
        ):
            raise _corrupt(
                path,
                field,
                f"tensor '{label}' has data_offsets {shown(offsets)} outside the data section "
                f"of {data_size} bytes",
            )
        if not isinstance(dtype, str):
            raise _corrupt(path, field, f"tensor '{label}' has no dtype")
        width = _DTYPE_BYTES.get(dtype)
        if width is not None and offsets[1] - offsets[0] != math.prod(shape) * width:
            raise _corrupt(
                path,
                field,
                f"tensor '{label}' ({shorten(dtype, 20)} {shown(shape)}) spans "
                f"{offsets[1] - offsets[0]} bytes",
            )
        max_end = max(max_end, offsets[1])
    if max_end != data_size:
        raise _corrupt(
            path,
            field,
            f"data section is {data_size} bytes but the tensors end at byte {max_end}",
        )
    return header


def read_adapter_json(adapter_dir: Path) -> tuple[Path, dict[str, Any]]:
    """Parse ``adapter_config.json`` (UTF-8 JSON object) or raise a ConfigError naming it."""
    cfg_path = adapter_dir / "adapter_config.json"
    if not cfg_path.is_file():
        raise ConfigError(
            adapter_dir,
            "adapter",
            "adapter_config.json is missing",
            "point at a directory saved by peft's save_pretrained",
        )
    try:
        cfg = json.loads(cfg_path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(
            cfg_path,
            None,
            f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
            "re-save the adapter with peft's save_pretrained (it writes UTF-8 JSON)",
        ) from exc
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(
            cfg_path, None, f"not valid JSON: {shorten(str(exc))}", "re-save the adapter with peft"
        ) from exc
    except OSError as exc:
        raise ConfigError(cfg_path, None, f"cannot read: {exc}", "check permissions") from exc
    if not isinstance(cfg, dict):
        raise ConfigError(
            cfg_path, None, "adapter config is not a JSON object", "re-save the adapter with peft"
        )
    return cfg_path, cfg


def read_adapter_weights(adapter_dir: Path) -> tuple[Path, dict[str, Any]]:
    """``adapter_model.safetensors``: present, not empty, header and offsets intact."""
    weights = adapter_dir / ADAPTER_WEIGHTS
    if not weights.is_file():
        extra = (
            " (only pickle weights, adapter_model.bin, are there)"
            if (adapter_dir / "adapter_model.bin").is_file()
            else ""
        )
        raise ConfigError(
            adapter_dir,
            "adapter",
            f"{ADAPTER_WEIGHTS} is missing{extra}",
            "save the adapter with peft's save_pretrained(safe_serialization=True)",
        )
    return weights, read_safetensors_header(weights, "adapter")


# --- module names of a base, from its config.json ----------------------------------------------

# Architectures whose module tree is llama's (transformers' *ForCausalLM of these types).
_LLAMA_STYLE = frozenset({"llama", "mistral", "qwen2"})
# The embedded default (SmolLM2-135M-Instruct) is a llama of 30 layers; its config.json exists
# only after the first conversion, so its shape is written down here.
BUILTIN_LAYOUT = {"model_type": "llama", "num_hidden_layers": 30}
_ATTN = ("q_proj", "k_proj", "v_proj", "o_proj")
_MLP = ("gate_proj", "up_proj", "down_proj")
LINEAR_LEAVES = frozenset({*_ATTN, *_MLP, "lm_head"})
EMBEDDING_LEAVES = frozenset({"embed_tokens"})


def read_base_layout(base_dir: Path) -> dict[str, Any] | None:
    """The base's config.json when it reads as a JSON object, else None (checked at load)."""
    try:
        cfg = json.loads((base_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return cfg if isinstance(cfg, dict) else None


def llama_module_names(layout: dict[str, Any] | None) -> list[str] | None:
    """Every module name of a llama-style causal LM described by ``layout``; None if unknown."""
    if layout is None or layout.get("model_type") not in _LLAMA_STYLE:
        return None
    n = layout.get("num_hidden_layers")
    if not isinstance(n, int) or isinstance(n, bool) or not 0 < n <= 1000:
        return None
    names = ["model", "model.embed_tokens", "model.layers", "model.norm", "model.rotary_emb"]
    for i in range(n):
        layer = f"model.layers.{i}"
        names += [layer, f"{layer}.self_attn", f"{layer}.mlp", f"{layer}.mlp.act_fn"]
        names += [f"{layer}.input_layernorm", f"{layer}.post_attention_layernorm"]
        names += [f"{layer}.self_attn.{p}" for p in _ATTN]
        names += [f"{layer}.mlp.{p}" for p in _MLP]
    names.append("lm_head")
    return names


def _matches(target: str, name: str) -> bool:
    return name == target or name.endswith("." + target)


def _listed(items: Iterable[object], limit: int = 4) -> str:
    items = sorted(str(i) for i in items)
    head = ", ".join(f"'{shorten(i, 100)}'" for i in items[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check_targets_exist(
    targets: Any, names: list[str], file: Path, field: str, fix: str = _RETRAIN
) -> None:
    """Every ``target_modules`` entry must match a module (peft's suffix rule; a string is a
    regex matched whole; ``all-linear`` and null pass)."""
    if targets is None or targets == "all-linear":
        return
    if isinstance(targets, str):
        try:
            hit = any(re.fullmatch(targets, n) for n in names)
        except re.error as exc:
            raise ConfigError(
                file, field, f"target_modules regex {shown(targets)} is invalid: {exc}", fix
            ) from exc
        if not hit:
            raise ConfigError(
                file, field, f"the regex {shown(targets)} matches no module of the base", fix
            )
        return
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        raise ConfigError(
            file,
            field,
            f"target_modules is {shown(targets)}, not a list of module names, a regex string, "
            "'all-linear' or null",
            "write target_modules as a list of module names, e.g. [q_proj, v_proj]",
        )
    unmatched = [
        t for t in targets if isinstance(t, str) and not any(_matches(t, n) for n in names)
    ]
    if unmatched:
        matched = [t for t in targets if t not in unmatched]
        partly = f" (only {_listed(matched)} match)" if matched else ""
        raise ConfigError(
            file,
            field,
            f"target modules {_listed(unmatched)} match no module of the base{partly}",
            fix,
        )


# --- types of the LoRA options that decide which tensors load where -----------------------------


def _index(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _strings(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(t, str) for t in v)


def _token_ids(v: Any) -> bool:
    return isinstance(v, list) and all(map(_index, v))


def _mapping_of(v: Any, ok: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(k, str) and ok(x) for k, x in v.items())


# A wrong type here fails deep inside peft (TypeError, AttributeError) or, for an index past the
# model, loads part of the adapter; checked before any model loads.
LORA_FIELD_TYPES: dict[str, tuple[str, Any]] = {
    "rank_pattern": (
        "a mapping of module name patterns to positive integer ranks",
        lambda v: v is None or _mapping_of(v, lambda r: _index(r) and r > 0),
    ),
    "alpha_pattern": (
        "a mapping of module name patterns to numbers",
        lambda v: v is None or _mapping_of(v, _number),
    ),
    "layers_to_transform": (
        "a layer index, a list of layer indices or null",
        lambda v: v is None or _index(v) or (isinstance(v, list) and all(map(_index, v))),
    ),
    "layers_pattern": (
        "a module name, a list of module names or null",
        lambda v: v is None or isinstance(v, str) or _strings(v),
    ),
    "modules_to_save": ("a list of module names or null", lambda v: v is None or _strings(v)),
    "trainable_token_indices": (
        "a list of token ids, a mapping of embedding module names to such lists, or null",
        lambda v: (
            v is None or _token_ids(v) or (isinstance(v, dict) and all(map(_token_ids, v.values())))
        ),
    ),
}


def check_lora_fields(cfg_path: Path, cfg: dict[str, Any]) -> None:
    """rank/alpha patterns, layers_to_transform, modules_to_save, trainable_token_indices
    of a LoRA config have the types peft expects (DoRA, rsLoRA and these options are accepted)."""
    if cfg.get("peft_type") != "LORA":
        return
    for key, (want, ok) in LORA_FIELD_TYPES.items():
        if key in cfg and not ok(cfg[key]):
            raise ConfigError(
                cfg_path,
                key,
                f"{key} is {shown(cfg[key])}; peft expects {want}",
                "restore adapter_config.json as peft's save_pretrained wrote it",
            )


# Adapter tensor names as peft saves them (the adapter name is removed on save).
_TENSOR = re.compile(
    r"base_model\.model\.(?P<module>.+)\."
    r"(?P<part>lora_A|lora_B|lora_embedding_A|lora_embedding_B|ia3_l)(?:\.weight)?"
)
_PARTS: dict[str, dict[str, tuple[str, ...]]] = {
    "LORA": {"linear": ("lora_A", "lora_B"), "embedding": ("lora_embedding_A", "lora_embedding_B")},
    "IA3": {"linear": ("ia3_l",)},
}


def check_adapter_tensors(
    cfg_path: Path, cfg: dict[str, Any], weights: Path, header: dict[str, Any], names: list[str]
) -> None:
    """A given LoRA/IA3 adapter's tensors against its config and the base's module names.

    Every adapter tensor must sit on a module the base has and the config targets (otherwise
    peft drops it silently and another model is scored), and every module the config targets
    must have all its tensors (otherwise peft leaves it at its initial value). Configs that
    narrow targets further (layers_to_transform, exclude_modules, rank patterns) are left to
    the exact check at attach time.
    """
    check_lora_fields(cfg_path, cfg)
    peft_type = cfg.get("peft_type")
    parts = _PARTS.get(peft_type) if isinstance(peft_type, str) else None
    if parts is None or any(
        cfg.get(k) for k in ("layers_to_transform", "layers_pattern", "exclude_modules")
    ):
        return
    targets = cfg.get("target_modules")
    nameset = set(names)
    leaf = {n: n.rsplit(".", 1)[-1] for n in names}
    targetable = [n for n in names if leaf[n] in LINEAR_LEAVES or leaf[n] in EMBEDDING_LEAVES]
    if targets == "all-linear":
        targeted = {n for n in targetable if leaf[n] in LINEAR_LEAVES and leaf[n] != "lm_head"}
    elif isinstance(targets, str):
        try:
            targeted = {n for n in targetable if re.fullmatch(targets, n)}
        except re.error:
            return
    elif isinstance(targets, list) and all(isinstance(t, str) for t in targets):
        targeted = {n for n in targetable if any(_matches(t, n) for t in targets)}
    else:
        return
    held: dict[str, set[str]] = {}
    for key in header:
        m = _TENSOR.fullmatch(key)
        if m:
            held.setdefault(m.group("module"), set()).add(m.group("part"))
    absent = sorted(set(held) - nameset)
    if absent:
        raise ConfigError(
            weights,
            "adapter",
            f"adapter tensors target modules the base lacks: {_listed(absent)}",
            _RETRAIN,
        )
    untargeted = sorted(set(held) - targeted)
    if untargeted:
        raise ConfigError(
            cfg_path,
            "target_modules",
            f"{ADAPTER_WEIGHTS} holds tensors for {len(untargeted)} modules that target_modules "
            f"{shown(targets)} does not cover, e.g. {_listed(untargeted)}: peft would drop "
            "them and score another model than the one trained",
            "restore target_modules to the list the adapter was trained with (every module "
            "that has tensors in the file)",
        )
    missing: list[str] = []
    for n in sorted(targeted):
        kind = "embedding" if leaf[n] in EMBEDDING_LEAVES else "linear"
        want = parts.get(kind)
        if want is None:
            continue
        lacking = [p for p in want if p not in held.get(n, set())]
        if lacking:
            missing.append(f"{n} ({'/'.join(lacking)})")
    if missing:
        raise ConfigError(
            weights,
            "adapter",
            f"{len(missing)} modules that target_modules {shown(targets)} names have no "
            f"tensors in the file, e.g. {_listed(missing)}: peft would leave them at their "
            "initial values",
            "re-save the complete adapter, or narrow target_modules to the modules the file "
            "holds tensors for",
        )


def same_base(recorded: Any, base_dir: Path | None, base_name: str) -> bool:
    """Whether ``base_model_name_or_path`` names the experiment's base (path or last part)."""
    if not isinstance(recorded, str) or not recorded.strip():
        return True
    try:
        if base_dir is not None and Path(recorded).resolve() == base_dir.resolve():
            return True
    except (OSError, ValueError, RuntimeError):
        pass
    last = recorded.rstrip("/").rsplit("/", 1)[-1].lower()
    return last == base_name.removeprefix("builtin:").rstrip("/").rsplit("/", 1)[-1].lower()


def check_reports_dir(reports_dir: Path, file: Path) -> None:
    """``reports_dir`` (or a parent of it) must not be an existing non-directory."""
    p = reports_dir
    while True:
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                what = "names an existing file" if p == reports_dir else f"lies under file {p}"
                raise ConfigError(
                    file,
                    "reports_dir",
                    f"reports_dir {reports_dir} {what}; the run could not write its report "
                    "there after all the scoring",
                    "point reports_dir at a directory (it is created if missing), or move "
                    "the file away",
                )
            return
        if p.parent == p:
            return
        p = p.parent
