"""Quantised bases through bitsandbytes: the NF4 base QLoRA trains and serves on, and int8.

bitsandbytes runs its 4-bit and 8-bit layers on CPU too (slower than bf16), so quantisation
degradation can be measured on the machine CI runs on, not only on a GPU.
"""

from __future__ import annotations

from typing import Any

from harness.config import BaseSpec, ConfigError
from harness.models._fingerprint import fingerprint_files
from harness.models._load import LoadedBase, resolve_base_dir, torch_dtype


def bnb_config(
    quantization: str,
    compute_dtype: str = "bfloat16",
    double_quant: bool = True,
    quant_storage: str | None = None,
) -> Any:
    """A transformers ``BitsAndBytesConfig`` for 'nf4', 'fp4' or 'int8'.

    ``quant_storage`` packs the 4-bit weights into tensors of that float dtype instead of
    uint8: FSDP shards only parameters of one float dtype, so QLoRA under FSDP needs it equal
    to the compute dtype (bitsandbytes' FSDP-QLoRA guide).
    """
    from transformers import BitsAndBytesConfig

    if quantization in ("nf4", "fp4"):
        extra: dict[str, Any] = {}
        if quant_storage is not None:
            extra["bnb_4bit_quant_storage"] = torch_dtype(quant_storage)
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=quantization,
            bnb_4bit_use_double_quant=double_quant,
            bnb_4bit_compute_dtype=torch_dtype(compute_dtype),
            **extra,
        )
    if quantization == "int8":
        return BitsAndBytesConfig(load_in_8bit=True)
    raise ConfigError(
        None, "quantization", f"unknown quantization '{quantization}'", "use none, nf4 or int8"
    )


def load_quantized_base(
    spec: BaseSpec, quantization: str, tokenizer: Any = None, fingerprint: str | None = None
) -> LoadedBase:
    """Load the base quantised for scoring; its fingerprint is the unquantised weights' one
    (the variant fingerprint adds the quantisation)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_base_dir(spec)
    tok = tokenizer or AutoTokenizer.from_pretrained(
        str(path), trust_remote_code=spec.trust_remote_code
    )
    model = AutoModelForCausalLM.from_pretrained(
        str(path),
        quantization_config=bnb_config(quantization, spec.dtype),
        dtype=torch_dtype(spec.dtype),
        trust_remote_code=spec.trust_remote_code,
        use_safetensors=not spec.allow_pickle,
    )
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedBase(model, tok, path, fingerprint or fingerprint_files(path), spec.dtype)
