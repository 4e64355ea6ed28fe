"""One recipe -> one peft config: the only place that maps recipe blocks onto peft's classes.

Keeping the mapping here (rather than inside the trainer) lets tests and the docs check each
method's adapter without training, and keeps ``_sft`` about running the trainer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import ConfigError, Recipe

if TYPE_CHECKING:
    from peft import PeftConfig

#: Adapters that prepend virtual tokens instead of changing weights: they cannot be merged into
#: the base, and they lengthen every sequence by ``num_virtual_tokens``.
PROMPT_LEARNING_METHODS = frozenset({"prefix", "prompt"})


def build_peft_config(recipe: Recipe, base_dir: Path | None = None) -> PeftConfig:
    """The peft config for ``recipe``'s method, from its settings block.

    ``base_dir`` (the base model directory) is needed only for prompt tuning initialised from
    text: peft tokenises ``prompt.init_text`` with the base's tokenizer.
    """
    from peft import (
        IA3Config,
        LoraConfig,
        PrefixTuningConfig,
        PromptTuningConfig,
        PromptTuningInit,
    )

    method = recipe.method
    if method in ("lora", "qlora"):
        lo = recipe.lora
        return LoraConfig(
            r=lo.r,
            lora_alpha=lo.alpha,
            lora_dropout=lo.dropout,
            target_modules=lo.target_modules,
            task_type="CAUSAL_LM",
        )
    if method == "ia3":
        ia = recipe.ia3
        return IA3Config(
            target_modules=list(ia.target_modules),
            feedforward_modules=list(ia.feedforward_modules),
            task_type="CAUSAL_LM",
        )
    if method == "prefix":
        return PrefixTuningConfig(
            num_virtual_tokens=recipe.prefix.num_virtual_tokens, task_type="CAUSAL_LM"
        )
    if method == "prompt":
        pr = recipe.prompt
        if pr.init == "text":
            if base_dir is None:
                raise ConfigError(
                    recipe.source,
                    "prompt.init_text",
                    "prompt tuning from text needs the base model's tokenizer",
                    "pass base_dir to build_peft_config",
                )
            return PromptTuningConfig(
                num_virtual_tokens=pr.num_virtual_tokens,
                prompt_tuning_init=PromptTuningInit.TEXT,
                prompt_tuning_init_text=pr.init_text,
                tokenizer_name_or_path=str(base_dir),
                task_type="CAUSAL_LM",
            )
        return PromptTuningConfig(
            num_virtual_tokens=pr.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.RANDOM,
            task_type="CAUSAL_LM",
        )
    raise ConfigError(  # unreachable while Recipe.method and this mapping agree
        recipe.source,
        "method",
        f"no peft mapping for method {method!r}",
        "use lora, qlora, ia3, prefix or prompt",
    )


def resolve_optim(recipe: Recipe, cuda: bool) -> str:
    """The transformers ``optim`` name for this run.

    ``auto`` picks paged 8-bit AdamW for QLoRA on CUDA (the QLoRA paper's choice: optimizer
    state pages to CPU memory on spikes instead of running out) and ``adamw_torch`` otherwise:
    paging needs CUDA unified memory, and on a CPU bitsandbytes falls back to plain 8-bit
    state, which saves nothing worth its quantisation noise for small adapters. An explicit
    choice is passed through unchanged (bitsandbytes >= 0.45 runs its 8-bit optimizers on CPU).
    """
    optim = recipe.train.optim
    if optim == "auto":
        return "paged_adamw_8bit" if recipe.method == "qlora" and cuda else "adamw_torch"
    return optim
