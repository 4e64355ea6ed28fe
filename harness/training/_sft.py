"""Train a LoRA adapter from a recipe with trl's SFTTrainer and peft.

Training examples arrive already formatted as prompt/completion pairs (the pipeline formats
them with the suite's own lm-eval prompt), so the loss is on the completion only and the
adapter learns exactly the format it will be scored on.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import time
import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.accel import SpeedPlan, plan_speed
from harness.config import Recipe, RecipeWarning, TrainSettings, recipe_warnings
from harness.models import fingerprint_value, torch_dtype
from harness.training._data_checks import DataReport, check_training_data, split_train_val
from harness.training._failed import TrainingFailed
from harness.training._memory import estimate_for_model
from harness.training._peft_config import build_peft_config, resolve_optim

ADAPTER_META = "harness_adapter.json"


@dataclass(frozen=True)
class TrainResult:
    """What a person wants to know about a training run, and what the report shows."""

    adapter_dir: str
    recipe: str
    steps: int
    train_seconds: float
    final_loss: float
    loss_curve: list[tuple[int, float]] = field(default_factory=list)
    trainable_params: int = 0
    total_params: int = 0
    tokens_per_second: float = 0.0
    n_examples: int = 0
    adapter_size_bytes: int = 0
    memory_estimate_mb: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    val_loss_curve: list[tuple[int, float]] = field(default_factory=list)
    val_loss: float | None = None
    peak_memory_mb: float = 0.0
    best_step: int | None = None
    stopped_early: bool = False
    stop_reason: str | None = None
    data_report: dict[str, Any] = field(default_factory=dict)
    # How a QLoRA run's 4-bit base ran (harness.models._nf4_cpu: bitsandbytes-4bit, or on CPU
    # nf4-dequantized-once); None for an unquantised base.
    execution: str | None = None
    cached: bool = False

    @property
    def trainable_pct(self) -> float:
        return 100.0 * self.trainable_params / self.total_params if self.total_params else 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["trainable_pct"] = self.trainable_pct
        return d


def adapter_cache_key(base_fp: str, recipe: Recipe, examples: list[dict[str, str]]) -> str:
    # checkpoint_fraction and offload_checkpoints change only what is recomputed or where it
    # is kept, not the result: they stay out of the key, so adapters cached before the fields
    # existed stay valid. speed stays out while it is the default (auto), so every existing
    # recipe keeps its key; `speed: off` is in it: on a GPU the speed code's adapter differs
    # from plain trl/peft's (other dropout draws, other rounding), so an adapter trained one
    # way is not reused for the other. (HARNESS_SPEED is the process's, not the recipe's: it
    # is not in the key.)
    train_out = {"checkpoint_fraction", "offload_checkpoints"}
    if recipe.train.speed == "auto":
        train_out.add("speed")
    return fingerprint_value(
        {
            "base": base_fp,
            "recipe": recipe.model_dump(mode="json", exclude={"source": True, "train": train_out}),
            "data": fingerprint_value(examples),
        }
    )


def load_cached(adapter_dir: Path) -> TrainResult | None:
    meta = adapter_dir / ADAPTER_META
    if not meta.is_file() or not (adapter_dir / "adapter_model.safetensors").is_file():
        return None
    data = json.loads(meta.read_text(encoding="utf-8"))["training"]
    data.pop("trainable_pct", None)
    known = {f.name for f in fields(TrainResult)}
    data = {k: v for k, v in data.items() if k in known}  # caches written by other versions
    data["loss_curve"] = [tuple(x) for x in data.get("loss_curve", [])]
    data["val_loss_curve"] = [tuple(x) for x in data.get("val_loss_curve", [])]
    data["cached"] = True
    return TrainResult(**data)


def _warmup_kwargs(config_cls: Any, ratio: float) -> dict[str, Any]:
    # transformers 5 folded warmup_ratio into warmup_steps (a float below 1 is a ratio).
    if "warmup_ratio" in getattr(config_cls, "__dataclass_fields__", {}):
        return {"warmup_ratio": ratio}
    return {"warmup_steps": ratio}


def fsdp_enabled() -> bool:
    """Whether this process was started by ``accelerate launch`` with an FSDP config (it
    exports ``ACCELERATE_USE_FSDP``; the Trainer reads the same variable)."""
    return os.environ.get("ACCELERATE_USE_FSDP", "false").strip().lower() in ("1", "true", "yes")


def _n_weights(param: Any) -> int:
    """Weights a parameter stands for: a 4-bit tensor packs two per stored element, so its
    ``numel`` would halve the base and inflate QLoRA's trainable percentage."""
    state = getattr(param, "quant_state", None)
    shape = getattr(state, "shape", None)
    if shape is not None:
        n = 1
        for d in shape:
            n *= int(d)
        return n
    return int(param.numel())


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


def _speed_plan(t: TrainSettings, cuda: bool) -> SpeedPlan:
    """The recipe's speed plan on this device (``train.speed``, ``HARNESS_SPEED``)."""
    return plan_speed(
        t.speed,
        cuda=cuda,
        gradient_checkpointing=t.gradient_checkpointing,
        checkpoint_fraction=t.checkpoint_fraction,
        offload_checkpoints=t.offload_checkpoints,
        bf16=cuda and t.dtype == "bfloat16",
    )


def _best_step(checkpoint: str | None) -> int | None:
    if not checkpoint:
        return None
    tail = Path(checkpoint).name.rpartition("-")[2]
    return int(tail) if tail.isdigit() else None


def _versions() -> dict[str, str]:
    import peft
    import torch
    import transformers
    import trl

    return {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "trl": trl.__version__,
        "python": platform.python_version(),
    }


def train_lora(
    base_dir: Path,
    base_fp: str,
    recipe: Recipe,
    examples: list[dict[str, str]],
    out_dir: Path,
    *,
    data_report: DataReport | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Check the rows, split off validation, train under the monitor, save atomically.

    ``data_report`` carries the checks the pipeline already ran on the raw file (personal
    data, contamination); the prompt/completion rows are checked here either way. Extra
    ``callbacks`` (transformers TrainerCallbacks) let callers and tests watch the real run.
    Raises ConfigError for bad rows and TrainingFailed when a detector stops the run.
    """
    # The speed plan's TF32 and liger's patches of transformers' modeling module are for the
    # whole process; ``stack`` puts both back when training ends (SpeedPlan.guard).
    with ExitStack() as stack:
        return _train_lora(
            base_dir, base_fp, recipe, examples, out_dir, data_report, callbacks, stack
        )


def _train_lora(
    base_dir: Path,
    base_fp: str,
    recipe: Recipe,
    examples: list[dict[str, str]],
    out_dir: Path,
    data_report: DataReport | None,
    callbacks: Sequence[Any],
    stack: ExitStack,
) -> TrainResult:
    source = str(recipe.source or recipe.name)
    report = check_training_data(examples, source, "prompt_completion")
    if data_report is not None:
        report = data_report
    train_idx, val_idx = split_train_val(examples, recipe.data.val_fraction, recipe.train.seed)
    train_rows = [examples[i] for i in train_idx]
    val_rows = [examples[i] for i in val_idx]
    advice = recipe_warnings(recipe)
    for w in advice:
        warnings.warn(f"recipe {recipe.source or recipe.name}: {w}", RecipeWarning, stacklevel=3)
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, EarlyStoppingCallback
    from trl import SFTConfig, SFTTrainer

    from harness.training._monitor import TrainingMonitor, peak_memory_mb

    t = recipe.train
    cuda = torch.cuda.is_available()
    speed = _speed_plan(t, cuda)  # before any model loads: a bad HARNESS_SPEED fails fast
    torch.manual_seed(t.seed)
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    execution: str | None = None
    if recipe.method == "qlora":
        from peft import prepare_model_for_kbit_training

        from harness.models._quant import bnb_config

        q = recipe.quantization
        if torch.cuda.is_available() and _world_size() > 1:
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
                model, use_gradient_checkpointing=t.gradient_checkpointing
            )
        # On CPU the NF4 values are dequantized once (the arithmetic of bitsandbytes' CPU
        # path, without its per-call dequantization); after the fp32 casts, before peft.
        from harness.models._nf4_cpu import EXECUTION_DEQUANTIZED, cpu_execution
        from harness.models._nf4_cpu import dequantize_4bit_layers as _dequantize

        execution = cpu_execution(next(model.parameters()).device.type)
        if execution == EXECUTION_DEQUANTIZED:
            _dequantize(model)
    else:
        model = AutoModelForCausalLM.from_pretrained(
            str(base_dir), dtype=torch_dtype(t.dtype), use_safetensors=True
        )
    stack.enter_context(speed.guard(model))
    peft_cfg = build_peft_config(recipe, base_dir)
    has_eval = bool(val_rows)
    monitor = TrainingMonitor(recipe.monitor, source, has_eval=has_eval)
    stoppers: list[Any] = []
    if has_eval and t.early_stopping_patience is not None:
        stoppers.append(EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience))

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = _work_dir(out_dir)
    try:
        # bf16 autocast follows the recipe's dtype on CUDA, speed or not; the optimiser stays
        # the recipe's choice (paged 8-bit AdamW for QLoRA on CUDA by default).
        bf16 = cuda and t.dtype == "bfloat16"
        args = SFTConfig(
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
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(train_rows),
            eval_dataset=Dataset.from_list(val_rows) if has_eval else None,
            processing_class=tok,
            peft_config=peft_cfg,
            callbacks=[monitor, *stoppers, *speed.callbacks(), *callbacks],
        )
        kept = len(trainer.train_dataset)  # type: ignore[arg-type]
        if kept == 0:
            raise TrainingFailed(
                source,
                "train.max_seq_len",
                0,
                f"every label is masked: no completion token of any of the {len(train_rows)} "
                f"training rows survives truncation to max_seq_len {t.max_seq_len}, so there "
                "is nothing to learn",
                "raise train.max_seq_len above the prompt length, or shorten the prompts",
            )
        report = report.with_counts(
            train=len(train_rows), val=len(val_rows), dropped_by_truncation=len(train_rows) - kept
        )
        pm: Any = trainer.model
        trainable = sum(p.numel() for p in pm.parameters() if p.requires_grad)
        total = sum(_n_weights(p) for p in pm.parameters())
        memory_estimate = estimate_for_model(
            pm,
            recipe.method,
            trainable_params=int(trainable),
            batch_size=t.batch_size,
            seq_len=t.max_seq_len,
            gradient_checkpointing=t.gradient_checkpointing,
            checkpoint_fraction=speed.checkpoint_fraction,  # as trained
            offload=speed.offload,
            double_quant=recipe.quantization.double_quant,
        )
        start = time.perf_counter()
        # The plan's patches and kernels (harness.accel; on CPU only the step trim, with speed
        # off nothing), undone when train() returns.
        with speed.training(trainer):
            out = trainer.train()
        seconds = time.perf_counter() - start
        n_tokens = int(trainer.state.num_input_tokens_seen or 0)
        curve = [(int(h["step"]), float(h["loss"])) for h in monitor.history]
        final_loss = curve[-1][1] if curve else float(out.training_loss)
        val_curve = list(monitor.val_curve)  # before the final evaluation logs one more
        # With the best checkpoint restored, this is the saved adapter's validation loss.
        val_loss = float(trainer.evaluate()["eval_loss"]) if has_eval else None
        state = trainer.state
        stopped = monitor.stop_reason is not None or int(out.global_step) < int(state.max_steps)
        reason = monitor.stop_reason or (
            f"early stopping: validation loss did not improve for {t.early_stopping_patience} "
            "evaluations"
            if stopped
            else None
        )
        result = TrainResult(
            adapter_dir=str(out_dir),
            recipe=source,
            steps=int(out.global_step),
            train_seconds=round(seconds, 2),
            final_loss=round(final_loss, 5),
            loss_curve=curve,
            trainable_params=int(trainable),
            total_params=int(total),
            tokens_per_second=round(n_tokens / seconds, 1) if seconds else 0.0,
            n_examples=len(train_rows),
            history=monitor.history,
            val_loss_curve=val_curve,
            val_loss=round(val_loss, 5) if val_loss is not None else None,
            peak_memory_mb=round(peak_memory_mb(), 1),
            best_step=_best_step(state.best_model_checkpoint) if t.save_best else None,
            stopped_early=stopped,
            stop_reason=reason,
            data_report=report.to_json(),
            execution=execution,
        )
        result = replace(result, memory_estimate_mb=memory_estimate)
        # Under FSDP the adapter is sharded: every process takes part in gathering it.
        state_dict = _full_state_dict(trainer)
        main = trainer.is_world_process_zero()
        if main:
            staged = work / "adapter"
            result = _save_adapter(
                pm, state_dict, staged, out_dir, result, base_fp, recipe, examples, advice, speed
            )
        # Under accelerate launch / torchrun only the main process writes the cache entry; the
        # others wait for it and return what it recorded, so every process agrees.
        trainer.accelerator.wait_for_everyone()
        if not main:
            saved = load_cached(out_dir)
            if saved is None:
                raise RuntimeError(f"the main process did not save the adapter to {out_dir}")
            result = replace(saved, cached=False)
        return result
    finally:
        if _is_main_rank():
            shutil.rmtree(work, ignore_errors=True)


def _world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def _is_main_rank() -> bool:
    # RANK is set by torchrun and accelerate launch; read before the Trainer (and its process
    # group) exists, so the environment is the only source.
    return int(os.environ.get("RANK", "0")) == 0


def _work_dir(out_dir: Path) -> Path:
    """Scratch space beside the cache entry, so the final ``os.replace`` stays on one disk.

    One process gets a fresh private directory, so concurrent runs never share one. Several
    processes of one launch must share the path: the main process writes the checkpoints and
    every process reads the best one back from it (``load_best_model_at_end``); only the main
    process creates, writes and removes it.
    """
    if _world_size() <= 1:
        return Path(tempfile.mkdtemp(prefix=".train-", dir=out_dir.parent))
    work = out_dir.parent / f".train-{out_dir.name}-multiprocess"
    if _is_main_rank():
        shutil.rmtree(work, ignore_errors=True)  # left by a launch that was killed
        work.mkdir(exist_ok=True)
    return work


def _full_state_dict(trainer: Any) -> dict[str, Any] | None:
    """The whole model's weights gathered from FSDP shards (main process), else None.

    A collective: every process must call it. With DDP or one process the model's own
    parameters are whole, so peft reads them directly.
    """
    if not getattr(trainer, "is_fsdp_enabled", False):
        return None
    state: dict[str, Any] = trainer.accelerator.get_state_dict(trainer.model_wrapped)
    return state


def _save_adapter(
    pm: Any,
    state_dict: dict[str, Any] | None,
    staged: Path,
    out_dir: Path,
    result: TrainResult,
    base_fp: str,
    recipe: Recipe,
    examples: list[dict[str, str]],
    advice: list[str],
    speed: SpeedPlan,
) -> TrainResult:
    """Write adapter and provenance into ``staged``, then swap it into ``out_dir`` at once."""
    shutil.rmtree(staged, ignore_errors=True)
    extra = {} if state_dict is None else {"state_dict": state_dict}
    pm.save_pretrained(str(staged), safe_serialization=True, **extra)
    result = replace(
        result,
        adapter_size_bytes=sum(f.stat().st_size for f in staged.rglob("*") if f.is_file()),
    )
    (staged / ADAPTER_META).write_text(
        json.dumps(
            {
                "base_fingerprint": base_fp,
                "recipe": recipe.model_dump(mode="json", exclude={"source"}),
                "data_fingerprint": fingerprint_value(examples),
                "versions": _versions(),
                "recipe_warnings": advice,
                # whether the speed code ran (auto) or not (off: train.speed or HARNESS_SPEED)
                "speed": "auto" if speed.enabled else "off",
                # Effective batch = batch_size x grad_accum x processes; the cache key leaves
                # the launch out, so a gate run reuses an adapter trained on several GPUs.
                "processes": _world_size(),
                "training": result.to_json(),
            },
            indent=2,
            default=str,
        ),
        encoding="utf-8",
    )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    os.replace(staged, out_dir)
    return result
