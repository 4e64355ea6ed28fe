"""LoRA vs QLoRA on CPU, side by side in one process: training seconds per step (QLoRA with
both NF4 executions) and scoring seconds (bf16 base against the NF4 base, both executions).

    python bench/training/qlora_cpu.py [--steps 6] [--limit 200] [--json out.json]
    python bench/training/qlora_cpu.py --tiny     (smoke: a tiny random llama, 2 steps, 8 items)

The default experiment's recipes (training/lora.yaml, training/qlora.yaml) on its base
(SmolLM2-135M-Instruct) and its training rows, cut to ``--steps`` optimizer steps; the NF4
executions are ``bitsandbytes-4bit`` (the real ``Linear4bit`` layers, dequantizing on every
forward and backward) and ``nf4-dequantized-once`` (harness.models._nf4_cpu: the same NF4
values, dequantized once). A step's time is the median over steps 2..N (the first pays
one-off costs). Scoring times one pass over the first ``--limit`` items of each default suite.
Times on a shared machine are inflated by whatever else runs: the load is printed with them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BNB, DEQ = "bitsandbytes-4bit", "nf4-dequantized-once"


def _step_timer() -> Any:
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        """Wall time of each optimizer step (from its begin to its end)."""

        def __init__(self) -> None:
            self.times: list[float] = []
            self._t = 0.0

        def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self._t = time.perf_counter()

        def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.times.append(time.perf_counter() - self._t)

    return StepTimer()


def _train(base_dir: Path, recipe: Any, rows: list[dict[str, str]], execution: str | None) -> dict:
    from harness.training import train_lora

    if execution is not None:
        os.environ["HARNESS_NF4_EXECUTION"] = "bitsandbytes" if execution == BNB else "dequantized"
    timer = _step_timer()
    out = Path(tempfile.mkdtemp(prefix="qlora-cpu-bench-")) / "adapter"
    result = train_lora(base_dir, "bench", recipe, rows, out, callbacks=[timer])
    steady = timer.times[1:] or timer.times
    return {
        "method": recipe.method,
        "execution": result.execution,
        "steps": result.steps,
        "first_step_s": round(timer.times[0], 2),
        "median_step_s": round(statistics.median(steady), 2),
        "train_seconds": result.train_seconds,
        "final_loss": result.final_loss,
        "peak_memory_mb": result.peak_memory_mb,
    }


def _score(model: Any, tokenizer: Any, suites: list[Any], limit: int, batch: int) -> float:
    from lm_eval.evaluator import evaluate

    from harness.engine import HarnessLM, build_task

    lm = HarnessLM(model, tokenizer, batch_size=batch, show_progress=False, device=None)
    t0 = time.perf_counter()
    for suite in suites:
        task = build_task(suite)
        n = min(limit, len(task.eval_docs))
        evaluate(
            lm=lm,
            task_dict={suite.name: task},
            samples={suite.name: list(range(n))},
            bootstrap_iters=0,
            verbosity="ERROR",
        )
    return round(time.perf_counter() - t0, 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6, help="optimizer steps per training run")
    ap.add_argument("--limit", type=int, default=200, help="items per suite when scoring")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--tiny", action="store_true", help="smoke: a tiny random llama")
    args = ap.parse_args()

    import torch

    from harness.config import BaseSpec, load_experiment
    from harness.engine import training_examples
    from harness.models import load_base, load_quantized_base
    from harness.models._nf4_cpu import dequantize_4bit_layers
    from harness.training import recipe_examples

    exp = load_experiment(ROOT / "experiment.yaml")
    lora, qlora = exp.recipes["lora"], exp.recipes["qlora"]
    if args.tiny:
        from tests.conftest import make_tiny_model

        base_dir = make_tiny_model(Path(tempfile.mkdtemp(prefix="qlora-cpu-tiny-")), hidden=64)
        spec = BaseSpec(model=str(base_dir), dtype="bfloat16")
        args.steps, args.limit, args.batch_size = 2, 8, 8
    else:
        spec = exp.base
    base = load_base(spec)
    rows, _ = recipe_examples(lora, base.tokenizer, training_examples)
    q_rows, _ = recipe_examples(qlora, base.tokenizer, training_examples)
    assert rows == q_rows, "the two recipes must train on the same rows"

    def cut(r: Any) -> Any:
        return r.model_copy(update={"train": r.train.model_copy(update={"max_steps": args.steps})})

    load = os.getloadavg()
    fig: dict[str, Any] = {
        "base": spec.model,
        "cpus": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "loadavg_before": [round(x, 2) for x in load],
        "training": [
            _train(base.path, cut(lora), rows, None),
            _train(base.path, cut(qlora), rows, BNB),
            _train(base.path, cut(qlora), rows, DEQ),
        ],
    }
    suites, lim, bs = exp.suites, args.limit, args.batch_size
    scoring = {
        "items_per_suite": lim,
        "bf16_s": _score(base.model, base.tokenizer, suites, lim, bs),
    }
    nf4 = load_quantized_base(spec, "nf4", base.tokenizer).model
    scoring[BNB + "_s"] = _score(nf4, base.tokenizer, suites, lim, bs)
    dequantize_4bit_layers(nf4)
    scoring[DEQ + "_s"] = _score(nf4, base.tokenizer, suites, lim, bs)
    fig["scoring"] = scoring
    fig["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps(fig, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2) + "\n", encoding="utf-8")
    print("qlora_cpu: done")


if __name__ == "__main__":
    main()
