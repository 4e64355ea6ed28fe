"""Content fingerprints: results are keyed by what the weights are, not where they live."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

# Files whose bytes change what a model computes. Tokenizer files are included because the
# same weights with another tokenizer or chat template score differently.
_MODEL_FILES = (
    "*.safetensors",
    "*.bin",
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "chat_template.jinja",
    "special_tokens_map.json",
    "adapter_config.json",
)
_CHUNK = 1 << 22


def fingerprint_files(root: Path) -> str:
    """Hash every file that determines a model's or adapter's outputs, in a stable order."""
    h = hashlib.blake2b(digest_size=16)
    files = sorted({p for pat in _MODEL_FILES for p in root.glob(pat) if p.is_file()})
    if not files:
        raise FileNotFoundError(f"no model or adapter files under {root}")
    for p in files:
        h.update(p.name.encode())
        h.update(p.stat().st_size.to_bytes(8, "little"))
        with p.open("rb") as fh:
            while chunk := fh.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()


def fingerprint_value(value: Any) -> str:
    """Hash a JSON-serialisable value (settings, keys) deterministically."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(blob.encode(), digest_size=16).hexdigest()


def variant_fingerprint(
    base_fp: str, adapter_fp: str | None, quantization: str, dtype: str, merged: bool = False
) -> str:
    """A variant is its base, its adapter and how it is run; any change is a new variant."""
    return fingerprint_value(
        {
            "base": base_fp,
            "adapter": adapter_fp,
            "quant": quantization,
            "dtype": dtype,
            "merged": merged,
        }
    )
