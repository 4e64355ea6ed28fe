"""Loading bases and adapters, the builtin default base, and content fingerprints."""

from harness.models._builtin import BUILTIN_DIRNAME, GGUF_NAME, builtin_base_dir
from harness.models._cache import cache_root
from harness.models._chat import chat_template_mismatch, trained_on_chat
from harness.models._fingerprint import fingerprint_files, fingerprint_value, variant_fingerprint
from harness.models._integrity import check_adapter_integrity
from harness.models._load import (
    LoadedBase,
    attach_adapter,
    load_base,
    read_adapter_config,
    resolve_base_dir,
    torch_dtype,
)
from harness.models._quant import bnb_config, load_quantized_base
from harness.models._quiet import quiet_hub_kernel_probe
from harness.models._validate import (
    check_safetensors,
    confine,
    read_safetensors_header,
    validate_adapter,
)
from harness.models._vocab import (
    AdapterVocab,
    adapter_tokenizer,
    adapter_vocab,
    embedding_rows,
    needs_own_base,
    prepare_base_for,
)

# Before anything here imports peft or bitsandbytes (see _quiet.py).
quiet_hub_kernel_probe()

__all__ = [
    "BUILTIN_DIRNAME",
    "GGUF_NAME",
    "AdapterVocab",
    "LoadedBase",
    "adapter_tokenizer",
    "adapter_vocab",
    "attach_adapter",
    "bnb_config",
    "builtin_base_dir",
    "cache_root",
    "chat_template_mismatch",
    "check_adapter_integrity",
    "check_safetensors",
    "confine",
    "embedding_rows",
    "fingerprint_files",
    "fingerprint_value",
    "load_base",
    "load_quantized_base",
    "needs_own_base",
    "prepare_base_for",
    "read_adapter_config",
    "read_safetensors_header",
    "resolve_base_dir",
    "torch_dtype",
    "trained_on_chat",
    "validate_adapter",
    "variant_fingerprint",
]
