"""The setup steps of ``train_lora``: the launch, the model, the trainer's settings.

Kept apart from ``_sft`` (which runs the steps in order, trains and saves) so each step reads
on its own: load the tokenizer, load the base (plain, or 4-bit for QLoRA), build the
``SFTConfig`` and the ``SFTTrainer``. Behaviour is that of the single function they came from.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.accel import SpeedPlan, plan_speed
from harness.config import Recipe, TrainSettings
from harness.models import torch_dtype
from harness.training._peft_config import resolve_optim


def fsdp_enabled() -> bool:
    """Whether this process was started by ``accelerate launch`` with an FSDP config (it
    exports ``ACCELERATE_USE_FSDP``; the Trainer reads the same variable)."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").strip().lower() in ("1", "true", "yes")


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_rank() -> bool:
    # RANK is set by torchrun and accelerate launch; read before the Trainer (and its process
    # group) exists, so the environment is the only source.
    return int(os.environ.get("RANK", "0")) == 0


def work_dir(out_dir: Path) -> Path:
    """Scratch space beside the cache entry, so the final ``os.replace`` stays on one disk.

    One process gets a fresh private directory, so concurrent runs never share one. Several
    processes of one launch must share the path: the main process writes the checkpoints and
    every process reads the best one back from it (``load_best_model_at_end``); only the main
    process creates, writes and removes it.
    """
    if world_size() <= 1:
        return Path(tempfile.mkdtemp(prefix=".train-", dir=out_dir.parent))
    work = out_dir.parent / f".train-{out_dir.name}-multiprocess"
    if is_main_rank():
        shutil.rmtree(work, ignore_errors=True)  # left by a launch that was killed
        work.mkdir(exist_ok=True)
    return work


def speed_plan(t: TrainSettings, cuda: bool) -> SpeedPlan:
    """The recipe's speed plan on this device (``train.speed``, ``HARNESS_SPEED``)."""
    return plan_speed(
        t.speed,
        cuda=cuda,
        gradient_checkpointing=t.gradient_checkpointing,
        checkpoint_fraction=t.checkpoint_fraction,
        offload_checkpoints=t.offload_checkpoints,
        bf16=cuda and t.dtype == "bfloat16",
    )


def load_tokenizer(base_dir: Path) -> Any:
    """The base's tokenizer; one without a pad token pads with end-of-sequence."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base_dir))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


def load_model(base_dir: Path, recipe: Recipe) -> tuple[Any, str | None]:
    """The base model to train on, and how a 4-bit base executes (None when unquantised)."""
    if recipe.method == "qlora":
        return _load_qlora(base_dir, recipe)
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(
        str(base_dir), dtype=torch_dtype(recipe.train.dtype), use_safetensors=True
    )
    return model, None


def _load_qlora(base_dir: Path, recipe: Recipe) -> tuple[Any, str]:
    """The 4-bit (bitsandbytes) base, prepared for k-bit training on CPU, where the NF4
    values are also dequantized once."""
    import torch
    from peft import prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM

    from harness.models._quant import bnb_config

    q = recipe.quantization
    if torch.cuda.is_available() and world_size() > 1:
        # bitsandbytes puts the 4-bit base on the current CUDA device, which is cuda:0 in
        # every process until the Trainer sets it: under DDP each needs its own GPU.
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    # Under FSDP the packed 4-bit weights must be of the compute dtype to be sharded.
    storage = q.compute_dtype if fsdp_enabled() else None
    model = AutoModelForCausalLM.from_pretrained(
        str(base_dir),
        quantization_config=bnb_config(
            q.quant_type, q.compute_dtype, q.double_quant, quant_storage=storage
        ),
        dtype=torch_dtype(q.compute_dtype),
        use_safetensors=True,
    )
    if not torch.cuda.is_available():
        # On CPU (no autocast): casts norms and embeddings to fp32 and makes the inputs
        # require grad, so gradients reach every adapter layer through the frozen 4-bit
        # layers. On CUDA, bf16 autocast and trl (which makes the embedding output require
        # grad under checkpointing) do both without the fp32 copies of embeddings and head
        # (bench/training/gpu_train.py: ours-qlora-*; tests/training/test_train_gpu.py).
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=recipe.train.gradient_checkpointing
        )
    # On CPU the NF4 values are dequantized once (the arithmetic of bitsandbytes' CPU
    # path, without its per-call dequantization); after the fp32 casts, before peft.
    from harness.models._nf4_cpu import EXECUTION_DEQUANTIZED, cpu_execution
    from harness.models._nf4_cpu import dequantize_4bit_layers as _dequantize

    execution = cpu_execution(next(model.parameters()).device.type)
    if execution == EXECUTION_DEQUANTIZED:
        _dequantize(model)
    return model, execution


def _warmup_kwargs(config_cls: Any, ratio: float) -> dict[str, Any]:
    # transformers 5 folded warmup_ratio into warmup_steps (a float below 1 is a ratio).
    if "warmup_ratio" in getattr(config_cls, "__dataclass_fields__", {}):
        return {"warmup_ratio": ratio}
    return {"warmup_steps": ratio}


def _checkpointing_kwargs(config_cls: Any, on: bool) -> dict[str, Any]:
    # transformers 5.2x renamed gradient_checkpointing to activation_checkpointing (the old
    # name warns). trl turns it on by default; small models train faster without it.
    fields = getattr(config_cls, "__dataclass_fields__", {})
    name = (
        "activation_checkpointing"
        if "activation_checkpointing" in fields
        else ("gradient_checkpointing")
    )
    return {name: on}


def _eval_kwargs(t: TrainSettings, has_eval: bool) -> dict[str, Any]:
    """Evaluation, checkpoints and best-checkpoint selection, all on validation loss.

    Checkpoints are saved exactly when validation loss is measured, so the best one can be
    restored at the end; without validation rows there is nothing to select on.
    """
    if not has_eval:
        return {"eval_strategy": "no", "save_strategy": "no"}
    return {
        "eval_strategy": "steps",
        "eval_steps": t.eval_steps,
        "per_device_eval_batch_size": t.batch_size,
        "save_strategy": "steps" if t.save_best else "no",
        "save_steps": t.eval_steps,
        "save_total_limit": 1,
        "save_only_model": True,
        "load_best_model_at_end": t.save_best,
        "metric_for_best_model": "eval_loss",
        "greater_is_better": False,
    }


def sft_config(recipe: Recipe, work: Path, cuda: bool, speed: SpeedPlan, has_eval: bool) -> Any:
    """trl's ``SFTConfig`` for the recipe: its own settings, the speed plan's, and the
    harness's fixed choices (completion-only loss, NaN losses logged as they are)."""
    from trl import SFTConfig

    t = recipe.train
    # bf16 autocast follows the recipe's dtype on CUDA, speed or not; the optimiser stays
    # the recipe's choice (paged 8-bit AdamW for QLoRA on CUDA by default).
    bf16 = cuda and t.dtype == "bfloat16"
    return SFTConfig(
        output_dir=str(work / "trainer"),
        per_device_train_batch_size=t.batch_size,
        gradient_accumulation_steps=t.grad_accum,
        num_train_epochs=t.epochs,
        max_steps=t.max_steps or -1,
        learning_rate=t.learning_rate,
        lr_scheduler_type=t.lr_scheduler,
        weight_decay=t.weight_decay,
        max_grad_norm=t.max_grad_norm,
        max_length=t.max_seq_len,
        seed=t.seed,
        data_seed=t.seed,
        logging_steps=t.logging_steps,
        logging_first_step=True,
        # transformers would otherwise replace a NaN loss by the window's mean: the
        # monitor must see it to stop the run.
        logging_nan_inf_filter=False,
        include_num_input_tokens_seen="non_padding",
        report_to=[],
        use_cpu=not cuda,
        optim=resolve_optim(recipe, cuda),
        bf16=bf16,
        **speed.sft_kwargs(),  # none with speed off
        dataloader_num_workers=0,
        completion_only_loss=True,
        packing=False,
        disable_tqdm=False,
        **_warmup_kwargs(SFTConfig, t.warmup_ratio),
        **_checkpointing_kwargs(SFTConfig, t.gradient_checkpointing),
        **_eval_kwargs(t, has_eval),
    )


def build_trainer(
    model: Any,
    tok: Any,
    args: Any,
    peft_cfg: Any,
    rows: tuple[list[dict[str, str]], list[dict[str, str]]],
    ours: Sequence[Any],
    speed: SpeedPlan,
    callbacks: Sequence[Any],
) -> Any:
    """The ``SFTTrainer`` over the train and validation rows; trl wraps the model in peft.

    ``ours`` (the monitor, early stopping) come first, then the speed plan's callbacks, then
    the caller's, so the caller's see the run as the harness's own callbacks left it.
    """
    from datasets import Dataset
    from trl import SFTTrainer

    train_rows, val_rows = rows
    return SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(train_rows),
        eval_dataset=Dataset.from_list(val_rows) if val_rows else None,
        processing_class=tok,
        peft_config=peft_cfg,
        callbacks=[*ours, *speed.callbacks(), *callbacks],
    )


def load_training_stack() -> None:
    """Import datasets, transformers and trl where ``train_lora`` always has: after the
    recipe's warnings, before the seed and the model, so what their imports print (such as
    bitsandbytes' kernel notes) comes at the same point of a run."""
    from datasets import Dataset  # noqa: F401
    from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback  # noqa: F401
    from trl import SFTConfig, SFTTrainer  # noqa: F401
