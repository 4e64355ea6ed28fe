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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness.config import ConfigError, Recipe
from harness.models import fingerprint_value, torch_dtype

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
    cached: bool = False

    @property
    def trainable_pct(self) -> float:
        return 100.0 * self.trainable_params / self.total_params if self.total_params else 0.0

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["trainable_pct"] = self.trainable_pct
        return d


def _check_examples(examples: list[dict[str, str]], source: str) -> None:
    if not examples:
        raise ConfigError(source, "data", "no training examples", "add rows to the training split")
    for i, ex in enumerate(examples):
        for key in ("prompt", "completion"):
            if not isinstance(ex.get(key), str) or not ex[key].strip():
                raise ConfigError(
                    source,
                    f"row {i}.{key}",
                    f"'{key}' is empty or missing",
                    "fill the field or drop the row",
                )


def adapter_cache_key(base_fp: str, recipe: Recipe, examples: list[dict[str, str]]) -> str:
    return fingerprint_value(
        {
            "base": base_fp,
            "recipe": recipe.model_dump(mode="json", exclude={"source"}),
            "data": fingerprint_value(examples),
        }
    )


def load_cached(adapter_dir: Path) -> TrainResult | None:
    meta = adapter_dir / ADAPTER_META
    if not meta.is_file() or not (adapter_dir / "adapter_model.safetensors").is_file():
        return None
    data = json.loads(meta.read_text(encoding="utf-8"))["training"]
    data.pop("trainable_pct", None)
    data["loss_curve"] = [tuple(x) for x in data.get("loss_curve", [])]
    data["cached"] = True
    return TrainResult(**data)


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
) -> TrainResult:
    """Train, then save the adapter atomically with its provenance next to it."""
    _check_examples(examples, str(recipe.source or recipe.name))
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    t = recipe.train
    torch.manual_seed(t.seed)
    tok = AutoTokenizer.from_pretrained(str(base_dir))
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    if recipe.method == "qlora":
        from peft import prepare_model_for_kbit_training

        from harness.models._quant import bnb_config

        q = recipe.quantization
        model = AutoModelForCausalLM.from_pretrained(
            str(base_dir),
            quantization_config=bnb_config(q.quant_type, q.compute_dtype, q.double_quant),
            dtype=torch_dtype(q.compute_dtype),
            use_safetensors=True,
        )
        # Casts norms to fp32 and makes the inputs require grad, so gradients reach every
        # adapter layer through the frozen 4-bit layers (with or without checkpointing).
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=t.gradient_checkpointing
        )
    else:
        model = AutoModelForCausalLM.from_pretrained(
            str(base_dir), dtype=torch_dtype(t.dtype), use_safetensors=True
        )
    peft_cfg = LoraConfig(
        r=recipe.lora.r,
        lora_alpha=recipe.lora.alpha,
        lora_dropout=recipe.lora.dropout,
        target_modules=recipe.lora.target_modules,
        task_type="CAUSAL_LM",
    )
    curve: list[tuple[int, float]] = []

    class _Curve(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "loss" in logs:
                curve.append((int(state.global_step), float(logs["loss"])))

    out_dir.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".train-", dir=out_dir.parent))
    try:
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
            logging_steps=5,
            logging_first_step=True,
            save_strategy="no",
            report_to=[],
            use_cpu=not torch.cuda.is_available(),
            bf16=False,
            dataloader_num_workers=0,
            completion_only_loss=True,
            packing=False,
            disable_tqdm=False,
            **_warmup_kwargs(SFTConfig, t.warmup_ratio),
            **_checkpointing_kwargs(SFTConfig, t.gradient_checkpointing),
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(examples),
            processing_class=tok,
            peft_config=peft_cfg,
            callbacks=[_Curve()],
        )
        pm: Any = trainer.model
        trainable = sum(p.numel() for p in pm.parameters() if p.requires_grad)
        total = sum(p.numel() for p in pm.parameters())
        start = time.perf_counter()
        out = trainer.train()
        seconds = time.perf_counter() - start
        n_tokens = sum(len(tok(e["prompt"] + e["completion"])["input_ids"]) for e in examples)
        epochs_done = float(out.metrics.get("epoch", t.epochs) or t.epochs)
        final_loss = curve[-1][1] if curve else float(out.training_loss)
        if final_loss != final_loss or final_loss in (float("inf"), float("-inf")):
            raise RuntimeError(
                f"training diverged: final loss {final_loss}; lower the learning rate in the recipe"
            )
        result = TrainResult(
            adapter_dir=str(out_dir),
            recipe=str(recipe.source or recipe.name),
            steps=int(out.global_step),
            train_seconds=round(seconds, 2),
            final_loss=round(final_loss, 5),
            loss_curve=curve,
            trainable_params=int(trainable),
            total_params=int(total),
            tokens_per_second=round(n_tokens * epochs_done / seconds, 1) if seconds else 0.0,
            n_examples=len(examples),
        )
        staged = work / "adapter"
        pm.save_pretrained(str(staged), safe_serialization=True)
        (staged / ADAPTER_META).write_text(
            json.dumps(
                {
                    "base_fingerprint": base_fp,
                    "recipe": recipe.model_dump(mode="json", exclude={"source"}),
                    "data_fingerprint": fingerprint_value(examples),
                    "versions": _versions(),
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
    finally:
        shutil.rmtree(work, ignore_errors=True)
