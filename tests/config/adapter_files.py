"""Adapter directories written by hand (no torch): for the model-free checks of load_experiment."""

from __future__ import annotations

import json
import struct
from collections.abc import Iterable
from pathlib import Path
from typing import Any

LLAMA_PROJ = {
    "q_proj": "self_attn",
    "k_proj": "self_attn",
    "v_proj": "self_attn",
    "o_proj": "self_attn",
    "gate_proj": "mlp",
    "up_proj": "mlp",
    "down_proj": "mlp",
}


def write_safetensors(path: Path, tensors: dict[str, list[int]]) -> Path:
    """A valid safetensors file of zero-filled F32 tensors with the given shapes."""
    header: dict[str, Any] = {}
    offset = 0
    for name, shape in tensors.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"\0" * offset)
    return path


def lora_tensor_names(layers: int, targets: Iterable[str]) -> list[str]:
    return [
        f"base_model.model.model.layers.{i}.{LLAMA_PROJ[t]}.{t}.{part}.weight"
        for i in range(layers)
        for t in targets
        for part in ("lora_A", "lora_B")
    ]


def write_stand_in_lora(
    target: Path,
    *,
    layers: int = 2,
    targets: tuple[str, ...] = tuple(LLAMA_PROJ),
    tensors_for: tuple[str, ...] | None = None,
    **config: Any,
) -> Path:
    """A LoRA adapter dir for a llama of ``layers`` layers: config targets ``targets``, the file
    holds tensors (shape [1, 1]) for ``tensors_for`` (default: the same modules)."""
    target.mkdir(parents=True, exist_ok=True)
    cfg = {
        "peft_type": "LORA",
        "r": 1,
        "lora_alpha": 2,
        "target_modules": list(targets),
        "base_model_name_or_path": None,
        "task_type": "CAUSAL_LM",
        **config,
    }
    (target / "adapter_config.json").write_text(json.dumps(cfg), encoding="utf-8")
    names = lora_tensor_names(layers, tensors_for if tensors_for is not None else targets)
    write_safetensors(target / "adapter_model.safetensors", {n: [1, 1] for n in names})
    return target
