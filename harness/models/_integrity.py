"""After peft attached an adapter: every tensor of its file was loaded, and every module
peft adapted received its tensors.

peft loads adapter weights with ``strict=False``, so a config edited after saving (narrowed
``target_modules``, ``layers_to_transform``, ``modules_to_save``, ``use_dora``) or a file with
tensors missing loads without a word and another model than the trained one is scored.
These checks compare the file's tensor names with what peft built and holds.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.config._errors import shorten
from harness.config._preflight import read_safetensors_header
from harness.models._validate import _PART_TYPE, _unwrap

__all__ = ["check_adapter_integrity"]


def _listed(items: list[str], limit: int = 4) -> str:
    head = ", ".join(f"'{shorten(i, 100)}'" for i in sorted(items)[:limit])
    return head + (f" and {len(items) - limit} more" if len(items) > limit else "")


def check_adapter_integrity(peft_model: Any, adapter_dir: Path, name: str) -> None:
    """After peft attached adapter ``name``: every LoRA/IA3 tensor of the file sits in a
    module that received the adapter, and every module that received it got its tensors.

    peft loads with ``strict=False``: tensors of modules the config does not target are
    dropped, and targeted modules without tensors keep their initial values (a no-op for
    LoRA's zero ``lora_B``), so either way another model than the trained one is scored.
    This compares the file's tensor names with the adapter layers peft actually built (its own
    targeting rules, so every option of the config is honoured). Raises ConfigError.
    """
    weights = adapter_dir / "adapter_model.safetensors"
    if not weights.is_file():
        return
    header = read_safetensors_header(weights, "adapter")
    prefix = "base_model.model."
    in_file: dict[str, set[str]] = {}
    for key in header:
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].split(".")
        for i, part in enumerate(parts):
            if part in _PART_TYPE:
                in_file.setdefault(".".join(parts[:i]), set()).add(part)
                break
    built: dict[str, set[str]] = {}
    for path, module in _unwrap(peft_model).named_modules():
        for layer_name in getattr(module, "adapter_layer_names", ()):
            holder = getattr(module, layer_name, None)
            if layer_name in _PART_TYPE and holder is not None and name in holder:
                built.setdefault(path, set()).add(layer_name)
    cfg_path = adapter_dir / "adapter_config.json"
    _check_other_tensors(peft_model, adapter_dir, name, header)
    dropped = sorted(set(in_file) - set(built))
    # e.g. DoRA magnitudes with use_dora switched off: the module is adapted, the part is not
    parts_dropped = sorted(
        f"{path} ({'/'.join(sorted(have - built[path]))})"
        for path, have in in_file.items()
        if path in built and have - built[path]
    )
    if parts_dropped and not dropped:
        raise ConfigError(
            cfg_path,
            "use_dora" if any("magnitude" in p for p in parts_dropped) else "adapter",
            f"adapter_model.safetensors holds tensors that peft did not load under this "
            f"config, e.g. {_listed(parts_dropped)}: another model than the trained one "
            "would be scored",
            "restore adapter_config.json as it was saved (for lora_magnitude_vector tensors: "
            "use_dora: true)",
        )
    if dropped:
        raise ConfigError(
            cfg_path,
            "target_modules",
            f"adapter_model.safetensors holds tensors for {len(dropped)} modules that peft "
            f"did not adapt under this config, e.g. {_listed(dropped)}: they would be dropped "
            "and another model than the trained one scored",
            "restore target_modules (and layers_to_transform/exclude_modules) to what the "
            "adapter was trained with: every module that has tensors in the file",
        )
    missing = sorted(
        f"{path} ({'/'.join(sorted(want - in_file.get(path, set())))})"
        for path, want in built.items()
        if want - in_file.get(path, set())
    )
    if missing:
        raise ConfigError(
            weights,
            "adapter",
            f"{len(missing)} modules the config targets received no tensors from the file, "
            f"e.g. {_listed(missing)}: they would keep their initial values",
            "re-save the complete adapter, or narrow target_modules to the modules the file "
            "holds tensors for",
        )


def _is_layer_tensor(key: str) -> bool:
    return any(part in _PART_TYPE for part in key.split("."))


def _check_other_tensors(
    peft_model: Any, adapter_dir: Path, name: str, header: dict[str, Any]
) -> None:
    """The file's other tensors (``modules_to_save`` copies, trainable-token deltas, saved
    embedding layers) against what peft holds for ``name`` after loading.

    peft's own ``get_peft_model_state_dict`` says which tensors the attached adapter consists
    of, with the names it saves them under: a file tensor it does not list was dropped (e.g.
    ``modules_to_save`` edited out of the config), one it lists that the file lacks kept its
    initial value (e.g. an ``embed_tokens`` copy never saved).
    """
    from peft import PeftModel
    from peft.utils import get_peft_model_state_dict

    if not isinstance(peft_model, PeftModel):
        return
    peft_type = str(getattr(peft_model.peft_config.get(name), "peft_type", ""))
    if not peft_type.endswith(("LORA", "IA3")):
        return
    in_file = {k for k in header if k != "__metadata__" and not _is_layer_tensor(k)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        known = set(
            get_peft_model_state_dict(peft_model, adapter_name=name, save_embedding_layers=True)
        )
    cfg_path = adapter_dir / "adapter_config.json"
    dropped = sorted(in_file - known)
    if dropped:
        raise ConfigError(
            cfg_path,
            "modules_to_save",
            f"adapter_model.safetensors holds {len(dropped)} tensors that peft did not load "
            f"under this config, e.g. {_listed(dropped)}: they would be dropped and another "
            "model than the trained one scored",
            "restore modules_to_save / trainable_token_indices in adapter_config.json to what "
            "the adapter was trained with",
        )
    # Only the adapter's own copies and deltas: saved base rows may be left out (save_embedding_
    # layers=False), the base's own values are then the right ones.
    # Trainable tokens of a tied head share the embedding's delta and are not saved.
    tied = tuple(
        f"{path}." for path, m in peft_model.named_modules() if getattr(m, "tied_adapter", None)
    )
    missing = sorted(
        k
        for k in known - in_file
        if not _is_layer_tensor(k)
        and ("modules_to_save" in k or "trainable_tokens" in k)
        and not k.startswith(tied or ("\0",))
    )
    if missing:
        raise ConfigError(
            adapter_dir / "adapter_model.safetensors",
            "adapter",
            f"{len(missing)} tensors the config asks for (modules_to_save, trainable tokens) "
            f"are not in the file, e.g. {_listed(missing)}: they would keep the base's values",
            "re-save the complete adapter, or remove those modules from modules_to_save / "
            "trainable_token_indices",
        )
