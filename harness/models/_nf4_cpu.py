"""A 4-bit base on the CPU, run from its NF4 values dequantized once instead of on every call.

bitsandbytes' CPU path for a 4-bit layer (0.50: the ``default`` ``gemm_4bit`` kernel, and the
backward of ``MatMul4Bit``) dequantizes the whole weight to the input's dtype and calls
``F.linear`` on every forward and backward. Doing that dequantization once per layer and
keeping the result gives the same arithmetic: the model still computes with the NF4-rounded
weights (so quantization degradation is measured for real), but a QLoRA step or an NF4
scoring pass no longer pays the dequantization each time. The weights come from bitsandbytes'
own ``dequantize_4bit`` on the layer's own quantized storage, never from the original
16-bit checkpoint.

On CUDA the real 4-bit layers stay: there memory is the point of QLoRA, and the kernels are fast.
This file imports torch and bitsandbytes only inside functions, as ``harness.models`` must
stay light to import.
"""

from __future__ import annotations

from typing import Any

#: How a 4-bit variant was executed, as reports and summary.json name it.
EXECUTION_BNB = "bitsandbytes-4bit"
EXECUTION_DEQUANTIZED = "nf4-dequantized-once"
EXECUTIONS = (EXECUTION_BNB, EXECUTION_DEQUANTIZED)


def fingerprinted_quantization(quant: str, execution: str | None) -> str:
    """The quantisation a variant fingerprint records: the dequantized CPU execution is kept
    apart from the real 4-bit layers (bitsandbytes' packed kernel rounds differently), so
    their scores are never taken for each other."""
    return f"{quant}+{execution}" if execution == EXECUTION_DEQUANTIZED else quant


def _dequantized_linear_class() -> Any:
    import torch
    from torch import nn

    class DequantizedLinear4bit(nn.Linear):
        """A frozen ``nn.Linear`` over NF4-rounded weights, cast like ``bnb.nn.Linear4bit``.

        It subclasses ``nn.Linear`` so peft wraps it with its plain LoRA layer; the input is
        cast to the compute dtype and the output back to the input's dtype, as
        ``Linear4bit.forward`` does.
        """

        compute_dtype: torch.dtype

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            inp_dtype = x.dtype
            out = nn.functional.linear(x.to(self.compute_dtype), self.weight, self.bias)
            return out.to(inp_dtype)

    return DequantizedLinear4bit


_CLASS: Any = None


def dequantized_linear_class() -> Any:
    """The module class that replaces ``Linear4bit`` (built once, as it needs torch)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _dequantized_linear_class()
    return _CLASS


def _replacement(layer: Any) -> Any:
    import bitsandbytes.functional as bnbf
    import torch

    compute_dtype = layer.compute_dtype or torch.float32
    weight = bnbf.dequantize_4bit(layer.weight.data, layer.weight.quant_state).to(compute_dtype)
    new = dequantized_linear_class()(
        layer.in_features, layer.out_features, bias=layer.bias is not None, device="meta"
    )
    new.weight = torch.nn.Parameter(weight, requires_grad=False)
    if layer.bias is not None:
        new.bias = torch.nn.Parameter(layer.bias.data.to(compute_dtype), requires_grad=False)
    new.compute_dtype = compute_dtype
    return new


def dequantize_4bit_layers(model: Any) -> int:
    """Replace every bitsandbytes ``Linear4bit`` of ``model`` in place; return how many.

    Call it after ``prepare_model_for_kbit_training`` (which casts the other 16-bit
    parameters to float32 and must not touch the dequantized weights) and before peft wraps
    the model. The model's ``is_loaded_in_4bit`` flags stay: the variant *is* NF4.
    """
    import bitsandbytes as bnb

    targets = [
        (name, module)
        for name, module in model.named_modules()
        if isinstance(module, bnb.nn.Linear4bit)
    ]
    for name, module in targets:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, _replacement(module))
    return len(targets)


def cpu_execution(device_type: str) -> str:
    """Which execution a 4-bit variant gets on ``device_type``: dequantized once on CPU.

    ``HARNESS_NF4_EXECUTION=bitsandbytes`` keeps the real 4-bit layers on CPU too (slower;
    the reference the dequantized path is tested against).
    """
    import os

    if device_type != "cpu":
        return EXECUTION_BNB
    choice = os.environ.get("HARNESS_NF4_EXECUTION", "dequantized").strip().lower()
    return EXECUTION_BNB if choice in ("bitsandbytes", "bnb") else EXECUTION_DEQUANTIZED
