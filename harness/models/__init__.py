"""Loading bases and adapters, the builtin default base, and content fingerprints."""

from harness.models._builtin import BUILTIN_DIRNAME, GGUF_NAME, builtin_base_dir
from harness.models._cache import cache_root
from harness.models._fingerprint import fingerprint_files, fingerprint_value, variant_fingerprint
from harness.models._load import (
    LoadedBase,
    attach_adapter,
    load_base,
    read_adapter_config,
    resolve_base_dir,
    torch_dtype,
)
from harness.models._quant import bnb_config, load_quantized_base
from harness.models._validate import (
    check_adapter_integrity,
    check_safetensors,
    confine,
    read_safetensors_header,
    validate_adapter,
)

__all__ = [
    "BUILTIN_DIRNAME",
    "GGUF_NAME",
    "LoadedBase",
    "attach_adapter",
    "bnb_config",
    "builtin_base_dir",
    "cache_root",
    "check_adapter_integrity",
    "check_safetensors",
    "confine",
    "fingerprint_files",
    "fingerprint_value",
    "load_base",
    "load_quantized_base",
    "read_adapter_config",
    "read_safetensors_header",
    "resolve_base_dir",
    "torch_dtype",
    "validate_adapter",
    "variant_fingerprint",
]
