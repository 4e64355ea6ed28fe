"""Adapters that ship their own tokenizer and resized embeddings (added special tokens).

Trainers that add tokens (a chat format's markers, tool tokens) resize the base's embeddings
and save them with the adapter: as ``modules_to_save`` copies of ``embed_tokens``/``lm_head``,
as peft's trainable-token deltas (``trainable_token_indices``) and, with peft's
``save_embedding_layers``, as the resized base rows themselves. Such a candidate is scored
with the adapter's tokenizer on a base resized to the adapter's rows; the baseline keeps the
base's own tokenizer and size. Resizing or overwriting rows changes the base for every adapter
sharing the load, so such an adapter gets a base load of its own (``needs_own_base``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.config._errors import shorten
from harness.config._preflight import (
    ADAPTER_WEIGHTS,
    read_adapter_json,
    read_safetensors_header,
)

__all__ = [
    "AdapterVocab",
    "adapter_tokenizer",
    "adapter_vocab",
    "embedding_rows",
    "needs_own_base",
    "prepare_base_for",
]

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model")
# Tensor-name parts of an adapter's own parameters (never the base's own weights).
_OWN_PARTS = frozenset(
    {
        "lora_A",
        "lora_B",
        "lora_embedding_A",
        "lora_embedding_B",
        "lora_magnitude_vector",
        "ia3_l",
        "modules_to_save",
        "trainable_tokens_delta",
    }
)
_PREFIX = "base_model.model."
_RESIZED_MARK = "_harness_own_base_for"


@dataclass(frozen=True)
class AdapterVocab:
    """What an adapter needs of the base's vocabulary, read from its files (no model).

    ``rows``: the embedding rows its tensors were saved with (None: no embedding-sized
    tensors); ``writes_base``: the file holds tensors peft loads into the base's own weights;
    ``tokenizer_len``: ``len()`` of the tokenizer saved beside it (None: none shipped).
    """

    rows: int | None
    writes_base: bool
    tokenizer_len: int | None


def adapter_tokenizer(adapter_dir: Path) -> Any | None:
    """The tokenizer saved in ``adapter_dir`` (None when it ships none), never remote code.

    A candidate with one is scored with it (its added tokens and chat template); the baseline
    keeps the base's. An unreadable tokenizer is a ConfigError, not a silent fallback to the
    base's, which would score token ids the adapter never saw.
    """
    present = [n for n in TOKENIZER_FILES if (adapter_dir / n).is_file()]
    if not present:
        return None
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(
            str(adapter_dir), trust_remote_code=False, local_files_only=True
        )
    except Exception as exc:  # tokenizers/transformers raise many types for a bad file
        raise ConfigError(
            adapter_dir / present[0],
            "tokenizer",
            f"the adapter's tokenizer cannot be loaded: {shorten(str(exc).strip() or repr(exc))}",
            "re-save it with tokenizer.save_pretrained(adapter_dir) (the tokenizer the adapter "
            "was trained with), or delete the tokenizer files to score with the base's tokenizer",
        ) from exc


def embedding_rows(model: Any) -> int:
    """Rows of the (unwrapped) model's input embedding: its usable vocabulary."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return int(inner.get_input_embeddings().weight.shape[0])


def _embedding_paths(model: Any) -> tuple[set[str], set[str]]:
    """Module paths of the input embedding and of the output head (peft wrappers seen through)."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    names = {"embed_tokens", "wte", "embed_in", "word_embeddings"}
    heads = {"lm_head", "embed_out", "output"}
    inp = inner.get_input_embeddings()
    out = inner.get_output_embeddings()
    for path, module in inner.named_modules():
        if module is inp:
            names.add(path.rsplit(".", 1)[-1])
        if out is not None and module is out:
            heads.add(path.rsplit(".", 1)[-1])
    return names, heads


def adapter_vocab(
    adapter_dir: Path,
    embed_leaves: set[str] | frozenset[str] = frozenset({"embed_tokens"}),
    head_leaves: set[str] | frozenset[str] = frozenset({"lm_head"}),
    tokenizer: Any | None = None,
) -> AdapterVocab:
    """Rows the adapter's embedding-sized tensors hold, from the safetensors header alone."""
    weights = adapter_dir / ADAPTER_WEIGHTS
    header = read_safetensors_header(weights, "adapter") if weights.is_file() else {}
    rows: set[int] = set()
    writes_base = False
    for key, info in header.items():
        if key == "__metadata__" or not isinstance(info, dict):
            continue
        parts = key.removeprefix(_PREFIX).split(".")
        if _writes_base(parts, embed_leaves | head_leaves):
            writes_base = True
        shape = info.get("shape") or []
        if len(shape) != 2 or "trainable_tokens_delta" in parts:
            continue
        if embed_leaves.intersection(parts) and "lora_embedding_B" not in parts:
            # an embedding's own rows, or LoRA on it: lora_embedding_A is [r, vocab]
            rows.add(shape[1] if "lora_embedding_A" in parts else shape[0])
        elif head_leaves.intersection(parts) and "lora_A" not in parts:
            rows.add(shape[0])  # the head's weight, its copies, or its lora_B [vocab, r]
    if len(rows) > 1:
        raise ConfigError(
            weights,
            "adapter",
            f"the adapter's embedding tensors disagree on the vocabulary size: {sorted(rows)}",
            "re-save the adapter from the model it was trained as (after resize_token_embeddings "
            "both the input embedding and the output head have one size)",
        )
    tok = tokenizer if tokenizer is not None else adapter_tokenizer(adapter_dir)
    return AdapterVocab(
        next(iter(rows)) if rows else None, writes_base, len(tok) if tok is not None else None
    )


def _writes_base(parts: list[str], leaves: set[str] | frozenset[str]) -> bool:
    """A tensor peft loads into the base's own weights: saved embedding layers
    (``model.embed_tokens.weight``), a wrapper's ``original_module`` or ``base_layer``."""
    if _OWN_PARTS.intersection(parts):
        return False
    if {"original_module", "base_layer"}.intersection(parts):
        return True
    return len(parts) >= 2 and parts[-2] in leaves and parts[-1] in ("weight", "bias")


def _vocab_for(adapter_dir: Path, model: Any, tokenizer: Any | None = None) -> AdapterVocab:
    embeds, heads = _embedding_paths(model)
    return adapter_vocab(adapter_dir, embeds, heads, tokenizer)


def _target_rows(adapter_dir: Path, vocab: AdapterVocab, base_rows: int) -> int:
    """The rows the base must have for this adapter; ConfigError when its tokenizer does not
    fit the rows its tensors were saved with (token ids past the last row cannot be scored)."""
    target = vocab.rows if vocab.rows is not None else base_rows
    if vocab.rows is None and vocab.tokenizer_len is not None and vocab.tokenizer_len > base_rows:
        target = vocab.tokenizer_len  # added tokens without saved rows: new rows, initialised
    tok_len = vocab.tokenizer_len if vocab.tokenizer_len is not None else base_rows
    if tok_len > target:
        where = "its tokenizer" if vocab.tokenizer_len is not None else "the base's tokenizer"
        raise ConfigError(
            adapter_dir / ADAPTER_WEIGHTS,
            "adapter",
            f"the adapter's embedding tensors have {target} rows but {where} has {tok_len} "
            "tokens: ids past the last row could not be scored",
            "save the tokenizer the adapter was trained with beside it (tokenizer."
            "save_pretrained(adapter_dir)), and the resized embeddings (modules_to_save: "
            "[embed_tokens, lm_head] or save_embedding_layers=True)",
        )
    return target


def needs_own_base(adapter_dir: Path, base_model: Any) -> bool:
    """Whether attaching this adapter changes the base itself: it needs the base resized to
    another vocabulary, or its file holds tensors peft writes into the base's own weights
    (saved embedding layers). Such an adapter must get a base load no other candidate shares
    (the pipeline's model pool asks this before choosing a shared load)."""
    vocab = _vocab_for(adapter_dir, base_model)
    rows = embedding_rows(base_model)
    return vocab.writes_base or _target_rows(adapter_dir, vocab, rows) != rows


def _resize(model: Any, rows: int) -> None:
    """Resize the input embedding (and a tied or untied head) to ``rows``; new rows are the
    mean of the old ones, deterministic, until the adapter's saved rows overwrite them."""
    import torch

    old = embedding_rows(model)
    model.resize_token_embeddings(rows, mean_resizing=False)
    if rows <= old:
        return
    with torch.no_grad():
        for module in (model.get_input_embeddings(), model.get_output_embeddings()):
            weight = getattr(module, "weight", None)
            if weight is None or weight.shape[0] != rows or not weight.is_floating_point():
                continue
            weight[old:] = weight[:old].float().mean(0, keepdim=True).to(weight.dtype)
        head = model.get_output_embeddings()
        bias = getattr(head, "bias", None)
        if bias is not None and bias.shape[0] == rows:
            bias[old:] = 0
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)


def _check_token_indices(adapter_dir: Path, rows: int) -> None:
    """``trainable_token_indices`` must name rows the (resized) embedding has: peft would
    index past its end in the first forward."""
    cfg_path, cfg = read_adapter_json(adapter_dir)
    spec = cfg.get("trainable_token_indices")
    lists = spec.values() if isinstance(spec, dict) else [spec] if spec else []
    ids = [i for ids in lists if isinstance(ids, list) for i in ids if isinstance(i, int)]
    if ids and max(ids) >= rows:
        raise ConfigError(
            cfg_path,
            "trainable_token_indices",
            f"token id {max(ids)} is past the embedding's {rows} rows (ids 0..{rows - 1})",
            "restore trainable_token_indices as saved, and save the tokenizer with its added "
            "tokens and the resized embeddings beside the adapter",
        )


def _same_tokenizer(tok: Any, base_tokenizer: Any | None) -> bool:
    """Whether the adapter merely ships a copy of the base's tokenizer (trl saves one with
    every checkpoint): same vocabulary, special tokens and chat template. Nothing to report."""
    if base_tokenizer is None or len(tok) != len(base_tokenizer):
        return False
    return bool(
        tok.get_vocab() == base_tokenizer.get_vocab()
        and tok.all_special_tokens == base_tokenizer.all_special_tokens
        and getattr(tok, "chat_template", None) == getattr(base_tokenizer, "chat_template", None)
    )


def prepare_base_for(
    adapter_dir: Path, model: Any, base_tokenizer: Any | None = None, name: str | None = None
) -> str | None:
    """Resize ``model`` (a bare base, not yet a PeftModel) to what the adapter needs; returns a
    note for the report when the candidate is scored with the adapter's tokenizer or on a
    resized base, else None.

    A PeftModel already holding other adapters is refused (ConfigError) when the adapter needs
    its own base: resizing or overwriting its rows would change every candidate on it.
    """
    from peft import PeftModel

    tok = adapter_tokenizer(adapter_dir)
    vocab = _vocab_for(adapter_dir, model, tok)
    rows = embedding_rows(model)
    target = _target_rows(adapter_dir, vocab, rows)
    if isinstance(model, PeftModel) and (vocab.writes_base or target != rows):
        raise ConfigError(
            adapter_dir,
            "adapter",
            "this adapter resizes the base's embeddings or overwrites base weights (saved "
            f"embedding layers), but the base load already holds adapters "
            f"{sorted(model.peft_config)}: it would change them too",
            "attach it to a fresh load of the base (harness.models.needs_own_base tells which "
            "adapters need one)",
        )
    owner = _own_base_owner(model)
    if owner is not None:
        raise ConfigError(
            adapter_dir,
            "adapter",
            f"this base load was resized or rewritten for adapter '{owner}' and cannot serve "
            "another (its embeddings are no longer the base's)",
            "attach it to a fresh load of the base (harness.models.needs_own_base)",
        )
    _check_token_indices(adapter_dir, target)
    notes: list[str] = []
    if tok is not None and not _same_tokenizer(tok, base_tokenizer):
        base_len = len(base_tokenizer) if base_tokenizer is not None else rows
        added = len(tok) - base_len
        more = f", {added:+d} over the base's {base_len}" if added else ""
        notes.append(f"scored with the adapter's tokenizer ({len(tok)} tokens{more})")
    if target != rows:
        _resize(model, target)
        notes.append(f"base embeddings resized from {rows} to {target} rows")
    if vocab.writes_base or target != rows:
        setattr(model, _RESIZED_MARK, name or adapter_dir.name)
    return "; ".join(notes) or None


def _own_base_owner(model: Any) -> str | None:
    """The adapter this (bare or peft) base load was resized or rewritten for, if any."""
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    owner = getattr(inner, _RESIZED_MARK, None)
    return str(owner) if owner is not None else None
