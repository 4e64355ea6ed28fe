"""Loading bases and adapters, safely by default."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.config import BaseSpec, ConfigError
from harness.config._errors import shorten
from harness.models._builtin import builtin_base_dir
from harness.models._fingerprint import fingerprint_files
from harness.models._integrity import check_adapter_integrity
from harness.models._quiet import quiet_library_deprecations
from harness.models._validate import (
    check_safetensors,
    read_adapter_json,
    validate_adapter,
)
from harness.models._vocab import prepare_base_for

if TYPE_CHECKING:
    import torch
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class LoadedBase:
    """A base model in memory with what identifies it."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    path: Path
    fingerprint: str
    dtype: str


def torch_dtype(name: str) -> torch.dtype:
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[name]


def resolve_base_dir(spec: BaseSpec) -> Path:
    return builtin_base_dir() if spec.model.startswith("builtin:") else Path(spec.model)


def _check_weights(path: Path, allow_pickle: bool) -> None:
    if any(path.glob("*.safetensors")):
        return
    if any(path.glob("*.bin")) or any(path.glob("*.pt")):
        if allow_pickle:
            return
        raise ConfigError(
            path,
            "base.allow_pickle",
            "only pickle weights (*.bin) found; pickle can run arbitrary code",
            "convert the weights to safetensors, or set base.allow_pickle: true "
            "if you trust the source",
        )
    raise ConfigError(
        path,
        "base.model",
        "no weight files found",
        "point at a directory containing model.safetensors and config.json",
    )


def load_base(
    spec: BaseSpec, dtype: str | None = None, fingerprint: str | None = None
) -> LoadedBase:
    """Load the base model and tokenizer for scoring or training (eval mode, no grads)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_base_dir(spec)
    _check_weights(path, spec.allow_pickle)
    for weights in sorted(path.glob("*.safetensors")):
        check_safetensors(weights, "base.model")
    dt = dtype or spec.dtype
    tokenizer = AutoTokenizer.from_pretrained(str(path), trust_remote_code=spec.trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        str(path),
        dtype=torch_dtype(dt),
        trust_remote_code=spec.trust_remote_code,
        use_safetensors=not spec.allow_pickle,
    )
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    # Hashing the weights reads every byte; a second load of the same base reuses it.
    return LoadedBase(model, tokenizer, path, fingerprint or fingerprint_files(path), dt)


def read_adapter_config(adapter_dir: Path) -> dict[str, Any]:
    """Parse adapter_config.json and require safetensors adapter weights beside it."""
    _, cfg = read_adapter_json(adapter_dir)
    if not any(adapter_dir.glob("adapter_model.safetensors")):
        raise ConfigError(
            adapter_dir,
            "adapter",
            "adapter_model.safetensors is missing",
            "save the adapter with safe_serialization=True",
        )
    return cfg


def _check_scorable_type(adapter_dir: Path, model: Any, cfg: dict[str, Any]) -> None:
    """Refuse a second adapter type on one load, with the reason.

    peft keeps one adapter type per model; without this check a LoRA joining IA3 adapters
    fails deep inside peft and would be reported as "does not fit this base". Prompt-learning
    adapters (prefix, prompt tuning) are accepted: the engine scores them through
    ``PeftModel.forward`` (``harness.engine.is_prompt_learning``), where their virtual tokens are.
    """
    from peft import PeftModel, PeftType

    peft_type = PeftType(cfg["peft_type"])
    if isinstance(model, PeftModel):
        held = {PeftType(c.peft_type).value for c in model.peft_config.values()}
        if held and held != {peft_type.value}:
            raise ConfigError(
                adapter_dir,
                "adapter",
                f"a {peft_type.value} adapter cannot join {sorted(held)} adapters already "
                "attached to this base load (peft keeps one adapter type per model)",
                "load a fresh copy of the base for this adapter, or gate adapters of "
                "different types in separate experiments",
            )


_PREFIX_WARNING = r"Adapter name '.*' should not be contained in the prefix"


def attach_adapter(
    model: Any,
    adapter_dir: Path,
    name: str,
    *,
    base_fingerprint: str | None = None,
    base_tokenizer: Any | None = None,
    notes: list[str] | None = None,
) -> Any:
    """Attach an adapter under ``name``; a PeftModel keeps several adapters on one base load.

    An adapter with its own tokenizer or resized embeddings gets the base resized to its rows
    first (``prepare_base_for``; only on a load no other adapter holds: ask
    ``needs_own_base``), and what the report should say about it (the adapter's tokenizer,
    the resize) is appended to ``notes``. On a ConfigError the base load may already be
    resized: drop it.

    The adapter is validated first (``validate_adapter``: intact safetensors, a config the
    installed peft can read, targets and shapes that fit ``model``, and, when
    ``base_fingerprint`` is given, the base recorded in ``harness_adapter.json``), and after
    peft attached it, every tensor of the file must have been loaded into an adapted module and
    every adapted module must have received its tensors (``check_adapter_integrity``).
    """
    from peft import PeftModel

    read_adapter_config(adapter_dir)
    note = prepare_base_for(adapter_dir, model, base_tokenizer, name)
    cfg = validate_adapter(adapter_dir, model, base_fingerprint)
    _check_scorable_type(adapter_dir, model, cfg)
    try:
        with quiet_library_deprecations():
            # peft warns for every adapter name inside its prefix (the default's candidate is
            # "lora", inside "lora_") that the weights "may" be reinitialized on load. Measured
            # with peft 0.21.2: every tensor arrives with its value (tests/models/
            # test_adapters_as_shipped.py), and check_adapter_integrity below fails any load
            # that misses a tensor, so the warning would only alarm a release gate's reader.
            warnings.filterwarnings("ignore", message=_PREFIX_WARNING)
            if isinstance(model, PeftModel):
                model.load_adapter(str(adapter_dir), adapter_name=name, is_trainable=False)
                peft_model = model
            else:
                peft_model = PeftModel.from_pretrained(
                    model, str(adapter_dir), adapter_name=name, is_trainable=False
                )
    except (RuntimeError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise ConfigError(
            adapter_dir,
            "adapter",
            f"adapter does not fit this base: {_load_detail(exc)}",
            "compare adapter_config.json (r, target_modules, peft_type) with the tensors in "
            "adapter_model.safetensors; if they agree, the adapter was made for another base",
        ) from exc
    check_adapter_integrity(peft_model, adapter_dir, name)
    if note and notes is not None:
        notes.append(note)
    return peft_model


def _load_detail(exc: BaseException) -> str:
    """torch's own detail of a failed load: the 'size mismatch for ...' lines, not the
    'Error(s) in loading state_dict' header alone."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    sizes = [ln for ln in lines if ln.startswith("size mismatch")]
    shown = sizes[:3] + ([f"and {len(sizes) - 3} more size mismatches"] if len(sizes) > 3 else [])
    return shorten("; ".join(shown or lines[:3]) or type(exc).__name__, 900)
