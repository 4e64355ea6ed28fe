"""Host-side work of one training step: a deep, thin llama where compute is negligible.

    python bench/training/train_host.py [--steps 30] [--repeats 2]
    python bench/training/train_host.py --tiny     (smoke: 2 layers, one variant, seconds)

On an H200 a micro-step of the 1.1B llama cost ~250-300 ms whatever its size (docs/benchmarks.md):
host work (Python, autograd bookkeeping, kernel launches) bounds it, not the GPU. This
measures that work on any machine: a llama with the 1.1B model's depth (22 layers) and module
count (LoRA r 16 on all seven projections, 154 adapted layers) but hidden size 64, batch
1 x 64 tokens, accumulation 2, trl's SFTTrainer on the CPU, one torch thread. Each variant
runs in its own process; the median optimizer-step time of the timed steps is reported.

Variants (pieces of ``harness.accel.SpeedPlan``): plain (peft's forward, no checkpointing),
trim (the step trim), ckpt (non-reentrant checkpointing, the harness's CPU default),
ckpt-trim, ckpt-trim-reentrant, fused (the fused LoRA layers), ckpt-trim-fused.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
VARIANTS = [
    "plain",
    "trim",
    "fused",
    "ckpt",
    "ckpt-trim",
    "ckpt-trim-reentrant",
    "ckpt-trim-fused",
]


# The 1.1B llama's depth and adapted-layer count, with everything else tiny.
DEEP_THIN = dict(
    hidden_size=64,
    intermediate_size=128,
    num_hidden_layers=22,
    num_attention_heads=4,
    num_key_value_heads=2,
    vocab_size=512,
    max_position_embeddings=256,
)


def worker(variant: str, base: Path, steps: int, warmup: int) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoTokenizer, LlamaForCausalLM, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from harness.accel import SpeedPlan

    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(3, 512, (64,), generator=g).tolist() for _ in range(2 * (steps + warmup))]
    times: list[float] = []

    class Clock(TrainerCallback):
        def on_step_end(self, *a: Any, **k: Any) -> None:
            times.append(time.perf_counter())

    ckpt = variant.startswith("ckpt")
    plan = SpeedPlan(
        enabled=True,
        checkpointing=ckpt,
        reentrant="reentrant" in variant if ckpt else None,
        trim="trim" in variant,
        fused="fused" in variant,
    )
    args = SFTConfig(
        output_dir=tempfile.mkdtemp(prefix="train-host-"),
        per_device_train_batch_size=1,
        gradient_accumulation_steps=2,
        max_steps=steps + warmup,
        learning_rate=2e-4,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        max_length=64,
        packing=False,
        disable_tqdm=True,
        dataloader_num_workers=0,
        gradient_checkpointing=ckpt,
        **plan.sft_kwargs(),
    )
    trainer = SFTTrainer(
        model=LlamaForCausalLM.from_pretrained(str(base), dtype=torch.float32),
        args=args,
        train_dataset=Dataset.from_dict({"input_ids": rows}),
        processing_class=AutoTokenizer.from_pretrained(str(base)),
        peft_config=LoraConfig(r=16, lora_alpha=32, lora_dropout=0.05, target_modules="all-linear"),
        callbacks=[Clock()],
    )
    t0 = time.perf_counter()
    with plan.training(trainer):
        trainer.train()
    step = [b - a for a, b in zip([t0, *times[:-1]], times, strict=True)][warmup:]
    return {"variant": variant, "median_step_ms": round(1000 * statistics.median(step), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--variants", default=None, help=f"default {','.join(VARIANTS)}")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 30)")
    ap.add_argument("--warmup", type=int, default=None, help="default 5")
    ap.add_argument("--repeats", type=int, default=None, help="runs per variant, interleaved")
    ap.add_argument(
        "--tiny", action="store_true", help="smoke: 2 layers, ckpt-trim-fused only, 2 steps"
    )
    ap.add_argument("--worker", default=None)
    ap.add_argument("--base", type=Path, default=None)
    a = ap.parse_args()
    steps = a.steps or (2 if a.tiny else 30)
    warmup = a.warmup or (1 if a.tiny else 5)
    if a.worker:
        print("RESULT " + json.dumps(worker(a.worker, a.base, steps, warmup)), flush=True)
        return
    from gpu_train import make_base  # bench/training/ is on sys.path (this script's folder)

    variants = a.variants or ("ckpt-trim-fused" if a.tiny else ",".join(VARIANTS))
    repeats = a.repeats or (1 if a.tiny else 2)
    base = Path(tempfile.mkdtemp(prefix="train-host-base-"))
    make_base(
        base, tiny=True, config={**DEEP_THIN, "num_hidden_layers": 2} if a.tiny else DEEP_THIN
    )
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.setdefault("HF_HUB_OFFLINE", "1")
    found: dict[str, list[float]] = {}
    for _ in range(repeats):
        for v in variants.split(","):
            cmd = [sys.executable, __file__, "--worker", v, "--base", str(base)]
            cmd += ["--steps", str(steps), "--warmup", str(warmup)]
            out = subprocess.run(cmd, capture_output=True, text=True, env=env)
            line = next((x for x in out.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise SystemExit(f"{v} failed:\n{out.stderr[-2000:]}")
            found.setdefault(v, []).append(json.loads(line[7:])["median_step_ms"])
    print("| variant | median optimizer step, ms (each run) |")
    print("| --- | --- |")
    for v, ms in found.items():
        print(f"| {v} | {' / '.join(f'{x:.1f}' for x in ms)} |")


if __name__ == "__main__":
    main()
