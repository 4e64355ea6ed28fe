"""Back-of-envelope training memory: full fine-tuning vs LoRA vs QLoRA, as in the guide's table.

Shown beside the measured peak so a person can see what the adapter saved and whether a bigger
base fits. The estimate counts weights, gradients, optimizer state and activations; it leaves
out the CUDA context, allocator fragmentation and framework buffers (typically a few hundred MB
on a GPU), so treat it as a lower bound.

Per parameter of the base (``N``) and of the adapter (``A``, the trainable parameters):

* full fine-tuning, mixed-precision AdamW: 16 bytes x N
  (16-bit weights 2 + 16-bit gradients 2 + fp32 master copy 4 + fp32 Adam moments 8);
* LoRA (and IA3 / prefix / prompt tuning): 16-bit frozen base 2 bytes x N, plus 16 bytes x A for
  the adapter (it trains like the full model above, but only A parameters);
* QLoRA: NF4 base 0.5 bytes x N plus the quantisation constants (one fp32 absmax per 64-weight
  block = 0.0625 bytes; with double quantisation 8-bit absmax plus one fp32 per 256 blocks =
  ~0.0157 bytes, QLoRA paper section 3), plus 16 bytes x A.

Activations, the same for all three (back-propagation runs through the frozen base either way),
per transformer layer for a batch ``b`` of sequences of ``s`` tokens, hidden size ``h`` and
``a`` attention heads, in 16-bit (Korthikanti et al. 2022, no recomputation):
``s * b * h * (34 + 5 * a * s / h)`` bytes; with gradient checkpointing only each layer's input
is kept: ``2 * s * b * h`` bytes, and with ``train.offload_checkpoints`` those inputs wait in
host memory, so none of it counts on the device. (Like the rest, this leaves out the one layer
being recomputed at a time during backward.)
"""

from __future__ import annotations

MB = 1024 * 1024

FULL_BYTES_PER_PARAM = 16.0
ADAPTER_BYTES_PER_PARAM = 16.0
BASE16_BYTES_PER_PARAM = 2.0
NF4_BYTES_PER_PARAM = 0.5
ABSMAX_BYTES_PER_PARAM = 4 / 64
ABSMAX_DOUBLE_QUANT_BYTES_PER_PARAM = 1 / 64 + 4 / (64 * 256)


def activation_bytes(
    *,
    hidden_size: int,
    n_layers: int,
    n_heads: int,
    batch_size: int,
    seq_len: int,
    gradient_checkpointing: bool = False,
    checkpoint_fraction: float = 1.0,
    offload: bool = False,
) -> float:
    """Activation memory kept on the device for the backward pass (module docstring).

    With checkpointing, ``checkpoint_fraction`` of the layers (``round(fraction * layers)``,
    at least one, as ``checkpoint_some_layers`` picks them) keep only their input — in host
    memory with ``offload`` — and the others keep everything.
    """
    s, b, h = seq_len, batch_size, hidden_size
    per_layer_full = s * b * h * (34.0 + 5.0 * n_heads * s / h)
    if not gradient_checkpointing:
        return per_layer_full * n_layers
    kept = n_layers if checkpoint_fraction >= 1.0 else max(1, round(checkpoint_fraction * n_layers))
    inputs = 0.0 if offload else 2.0 * s * b * h * kept
    return inputs + per_layer_full * (n_layers - kept)


def estimate_memory(
    n_params: int,
    method: str,
    *,
    trainable_params: int,
    hidden_size: int = 0,
    n_layers: int = 0,
    n_heads: int = 1,
    batch_size: int = 1,
    seq_len: int = 256,
    gradient_checkpointing: bool = False,
    checkpoint_fraction: float = 1.0,
    offload: bool = False,
    double_quant: bool = True,
) -> dict[str, float]:
    """Estimated training memory in MB for full fine-tuning, LoRA and QLoRA of this base.

    ``n_params`` counts the base's parameters, ``trainable_params`` the adapter's; the LoRA and
    QLoRA figures are for this same adapter on a 16-bit and on an NF4 base. ``method`` is the
    recipe's method (QLoRA's figure applies to ``qlora``, LoRA's to every other adapter; kept
    for callers that want to pick). Architecture sizes of 0 leave activations out.
    """
    acts = (
        activation_bytes(
            hidden_size=hidden_size,
            n_layers=n_layers,
            n_heads=max(n_heads, 1),
            batch_size=batch_size,
            seq_len=seq_len,
            gradient_checkpointing=gradient_checkpointing,
            checkpoint_fraction=checkpoint_fraction,
            offload=offload,
        )
        if hidden_size and n_layers
        else 0.0
    )
    adapter = ADAPTER_BYTES_PER_PARAM * trainable_params
    absmax = ABSMAX_DOUBLE_QUANT_BYTES_PER_PARAM if double_quant else ABSMAX_BYTES_PER_PARAM
    full = FULL_BYTES_PER_PARAM * n_params + acts
    lora = BASE16_BYTES_PER_PARAM * n_params + adapter + acts
    qlora = (NF4_BYTES_PER_PARAM + absmax) * n_params + adapter + acts
    return {"full": round(full / MB, 1), "lora": round(lora / MB, 1), "qlora": round(qlora / MB, 1)}


def base_param_count(model: object) -> int:
    """Parameters of the frozen base, counting a packed 4-bit weight by its real shape.

    bitsandbytes stores two NF4 values per byte, so ``numel()`` of a 4-bit weight is half the
    number of weights it holds; its ``quant_state.shape`` is the unpacked shape.
    """
    import math

    total = 0
    for p in model.parameters():  # type: ignore[attr-defined]
        if p.requires_grad:
            continue
        shape = getattr(getattr(p, "quant_state", None), "shape", None)
        total += math.prod(shape) if shape is not None else p.numel()
    return int(total)


def estimate_for_model(
    model: object,
    method: str,
    *,
    trainable_params: int,
    batch_size: int,
    seq_len: int,
    gradient_checkpointing: bool,
    checkpoint_fraction: float = 1.0,
    offload: bool = False,
    double_quant: bool = True,
) -> dict[str, float]:
    """``estimate_memory`` with the architecture sizes read from ``model.config``."""
    cfg = getattr(model, "config", None)
    return estimate_memory(
        base_param_count(model),
        method,
        trainable_params=trainable_params,
        hidden_size=int(getattr(cfg, "hidden_size", 0) or 0),
        n_layers=int(getattr(cfg, "num_hidden_layers", 0) or 0),
        n_heads=int(getattr(cfg, "num_attention_heads", 1) or 1),
        batch_size=batch_size,
        seq_len=seq_len,
        gradient_checkpointing=gradient_checkpointing,
        checkpoint_fraction=checkpoint_fraction,
        offload=offload,
        double_quant=double_quant,
    )
