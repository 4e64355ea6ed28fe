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
import time
import warnings
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from harness.accel import SpeedPlan
from harness.config import (
    Recipe,
    RecipeWarning,
    TrainSettings,
    recipe_guide_notes,
    recipe_warnings,
)
from harness.models import fingerprint_value
from harness.models._quiet import quiet_library_deprecations
from harness.training._data_checks import DataReport, check_training_data, split_train_val
from harness.training._failed import TrainingFailed
from harness.training._memory import estimate_for_model
from harness.training._peft_config import build_peft_config
from harness.training._sft_setup import (
    build_trainer,
    is_main_rank,
    load_model,
    load_tokenizer,
    load_training_stack,
    sft_config,
    speed_plan,
    work_dir,
    world_size,
)

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
    """The adapter cache's key: the base, the recipe and the training rows.

    Where the data sits (``data.path`` / ``data.suite``, absolute once loaded) stays out: the
    rows themselves are in the key, and a checkout moved or cloned elsewhere, or a CI runner
    with another workspace sharing the cache, must reuse the adapter rather than retrain it.
    """
    return _cache_key(base_fp, recipe, examples, with_data_paths=False)


def cached_adapter_dir(
    root: Path, base_fp: str, recipe: Recipe, examples: list[dict[str, str]]
) -> Path:
    """The adapter directory under ``root`` (``cache_root()/adapters``) for these inputs.

    An adapter cached before session 8, under the key that still held the recipe's data path,
    is found and reused when nothing is cached under today's key.
    """
    current = root / adapter_cache_key(base_fp, recipe, examples)
    if load_cached(current) is None:
        earlier = root / _cache_key(base_fp, recipe, examples, with_data_paths=True)
        if load_cached(earlier) is not None:
            return earlier
    return current


def _cache_key(
    base_fp: str, recipe: Recipe, examples: list[dict[str, str]], *, with_data_paths: bool
) -> str:
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
    # outside_guide only explains the recipe's values: it changes no adapter.
    exclude: dict[str, Any] = {"source": True, "outside_guide": True, "train": train_out}
    if not with_data_paths:
        exclude["data"] = {"suite", "path"}
    return fingerprint_value(
        {
            "base": base_fp,
            "recipe": recipe.model_dump(mode="json", exclude=exclude),
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
        # peft (building the trainer) and trl (training) read an attribute transformers
        # 5.25 deprecates: library noise in every gate log, not the harness's.
        stack.enter_context(quiet_library_deprecations())
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
    """The steps of ``train_lora`` in order: rows, advice, speed plan, model, trainer, train,
    save. Each is one function (here and in ``_sft_setup``)."""
    source = str(recipe.source or recipe.name)
    report, train_rows, val_rows = _checked_rows(examples, recipe, source, data_report)
    advice = _warn_advice(recipe)
    load_training_stack()
    import torch

    from harness.training._monitor import TrainingMonitor

    t = recipe.train
    cuda = torch.cuda.is_available()
    speed = speed_plan(t, cuda)  # before any model loads: a bad HARNESS_SPEED fails fast
    torch.manual_seed(t.seed)
    tok = load_tokenizer(base_dir)
    model, execution = load_model(base_dir, recipe)
    stack.enter_context(speed.guard(model))
    peft_cfg = build_peft_config(recipe, base_dir)
    has_eval = bool(val_rows)
    monitor = TrainingMonitor(recipe.monitor, source, has_eval=has_eval)
    ours = [monitor, *_early_stopping(t, has_eval)]

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = work_dir(out_dir)
    try:
        args = sft_config(recipe, work, cuda, speed, has_eval)
        rows = (train_rows, val_rows)
        trainer = build_trainer(model, tok, args, peft_cfg, rows, ours, speed, callbacks)
        report = _count_kept(trainer, report, source, t, train_rows, val_rows)
        pm: Any = trainer.model
        trainable, total, memory_estimate = _sizes(pm, recipe, speed)
        run = _train(trainer, speed, monitor, t, has_eval)
        result = TrainResult(
            adapter_dir=str(out_dir),
            recipe=source,
            trainable_params=trainable,
            total_params=total,
            n_examples=len(train_rows),
            data_report=report.to_json(),
            execution=execution,
            memory_estimate_mb=memory_estimate,
            **run,
        )
        return _save_everywhere(
            trainer, pm, work, out_dir, result, base_fp, recipe, examples, advice, speed
        )
    finally:
        if is_main_rank():
            shutil.rmtree(work, ignore_errors=True)


def _checked_rows(
    examples: list[dict[str, str]],
    recipe: Recipe,
    source: str,
    data_report: DataReport | None,
) -> tuple[DataReport, list[dict[str, str]], list[dict[str, str]]]:
    """The rows' checks (or the pipeline's, when it ran them on the raw file) and the
    seeded train/validation split."""
    report = check_training_data(examples, source, "prompt_completion")
    if data_report is not None:
        report = data_report
    train_idx, val_idx = split_train_val(examples, recipe.data.val_fraction, recipe.train.seed)
    return report, [examples[i] for i in train_idx], [examples[i] for i in val_idx]


def _warn_advice(recipe: Recipe) -> list[str]:
    """Warn of each recipe setting outside the guide that the recipe does not explain; the
    advice, declared deviations included, is also saved with the adapter. ``stacklevel=4``
    names the caller of ``train_lora`` (this function, then ``_train_lora``, then
    ``train_lora``)."""
    advice = recipe_warnings(recipe)
    for w in advice:
        warnings.warn(f"recipe {recipe.source or recipe.name}: {w}", RecipeWarning, stacklevel=4)
    return advice + recipe_guide_notes(recipe)


def _early_stopping(t: TrainSettings, has_eval: bool) -> list[Any]:
    """transformers' early stopping on validation loss, when the recipe asks and there is
    validation data to judge by."""
    if not (has_eval and t.early_stopping_patience is not None):
        return []
    from transformers import EarlyStoppingCallback

    return [EarlyStoppingCallback(early_stopping_patience=t.early_stopping_patience)]


def _count_kept(
    trainer: Any,
    report: DataReport,
    source: str,
    t: TrainSettings,
    train_rows: list[dict[str, str]],
    val_rows: list[dict[str, str]],
) -> DataReport:
    """The report with the split's counts; fails when truncation left no row to learn from."""
    kept = len(trainer.train_dataset)
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
    return report.with_counts(
        train=len(train_rows), val=len(val_rows), dropped_by_truncation=len(train_rows) - kept
    )


def _sizes(pm: Any, recipe: Recipe, speed: SpeedPlan) -> tuple[int, int, dict[str, float]]:
    """Trainable and total weights of the peft model, and its memory estimate as trained."""
    t = recipe.train
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
    return int(trainable), int(total), memory_estimate


def _train(
    trainer: Any, speed: SpeedPlan, monitor: Any, t: TrainSettings, has_eval: bool
) -> dict[str, Any]:
    """Train under the speed plan; the run's own fields of ``TrainResult``."""
    from harness.training._monitor import peak_memory_mb

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
    return {
        "steps": int(out.global_step),
        "train_seconds": round(seconds, 2),
        "final_loss": round(final_loss, 5),
        "loss_curve": curve,
        "tokens_per_second": round(n_tokens / seconds, 1) if seconds else 0.0,
        "history": monitor.history,
        "val_loss_curve": val_curve,
        "val_loss": round(val_loss, 5) if val_loss is not None else None,
        "peak_memory_mb": round(peak_memory_mb(), 1),
        "best_step": _best_step(state.best_model_checkpoint) if t.save_best else None,
        "stopped_early": stopped,
        "stop_reason": reason,
    }


def _save_everywhere(
    trainer: Any,
    pm: Any,
    work: Path,
    out_dir: Path,
    result: TrainResult,
    base_fp: str,
    recipe: Recipe,
    examples: list[dict[str, str]],
    advice: list[str],
    speed: SpeedPlan,
) -> TrainResult:
    """Save the adapter from the main process; every process returns what it recorded."""
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
                "processes": world_size(),
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
