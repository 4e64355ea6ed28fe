"""Scoring speed on CPU: lm-eval's HFLM against our HarnessLM on the same suite, same process.

    python bench/scoring/scoring_cpu.py [--limit 600] [--dtype float32] [--batch-size 32]
    python bench/scoring/scoring_cpu.py --tiny    (smoke: a tiny random llama, 8 items)

SmolLM2-135M-Instruct (the embedded default base), a multiple-choice suite (default
suites/general), both backends through lm-eval's own ``evaluate`` on the same task object, so
each timing includes request building and tokenisation. Reports seconds, speed-up, items whose
prediction (argmax over choices) differs, and the largest per-choice |loglikelihood| gap.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _run(lm: object, task: object, name: str, limit: int) -> tuple[float, float, list[list[float]]]:
    """Wall seconds, process CPU seconds and per-item choice loglikelihoods."""
    from lm_eval.evaluator import evaluate

    c0 = time.process_time()
    t0 = time.perf_counter()
    out = evaluate(
        lm=lm,
        task_dict={name: task},
        samples={name: list(range(limit))},
        bootstrap_iters=0,
        log_samples=True,
        verbosity="ERROR",
    )
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    samples = sorted(out["samples"][name], key=lambda s: s["doc_id"])
    return dt, cpu, [[float(r[0]) for r in s["filtered_resps"]] for s in samples]


def _tiny_base(dtype: str) -> Any:
    """The test suite's tiny random llama (2 layers, a byte-level BPE tokenizer), made here."""
    import tempfile
    from types import SimpleNamespace

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from tests.conftest import make_tiny_model

    path = make_tiny_model(Path(tempfile.mkdtemp(prefix="scoring-cpu-tiny-")))
    model = AutoModelForCausalLM.from_pretrained(str(path), dtype=getattr(torch, dtype)).eval()
    return SimpleNamespace(model=model, tokenizer=AutoTokenizer.from_pretrained(str(path)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suite", default=str(ROOT / "suites/general/general.yaml"))
    ap.add_argument("--limit", type=int, default=600, help="first N items of the suite")
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    ap.add_argument("--batch-size", type=int, default=32, help="HFLM batch; our row cap")
    ap.add_argument("--repeats", type=int, default=1, help="alternate runs, keep the fastest")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument(
        "--tiny", action="store_true", help="smoke: a tiny random llama instead, 8 items"
    )
    args = ap.parse_args()

    import torch
    from lm_eval.models.huggingface import HFLM

    from harness.config import BaseSpec, load_suite
    from harness.engine import HarnessLM, build_task
    from harness.models import load_base

    if args.tiny:
        args.limit, args.batch_size = min(args.limit, 8), 8
        base = _tiny_base(args.dtype)
    else:
        base = load_base(BaseSpec(model="builtin:smollm2-135m-instruct", dtype=args.dtype))
    suite = load_suite(Path(args.suite))
    task = build_task(suite)
    limit = min(args.limit, len(task.eval_docs))
    name = suite.name
    hflm = HFLM(pretrained=base.model, tokenizer=base.tokenizer, batch_size=args.batch_size)
    ours = HarnessLM(
        base.model, base.tokenizer, batch_size=args.batch_size, show_progress=False, device=None
    )
    # Warm-up on a few items so neither pays first-call costs (allocator, kernel selection).
    _run(hflm, task, name, 8)
    _run(ours, task, name, 8)
    t_ref, t_ours, c_ref, c_ours = (float("inf"),) * 4
    ref_ll: list[list[float]] = []
    our_ll: list[list[float]] = []
    for _ in range(args.repeats):
        dt, cpu, ref_ll = _run(hflm, task, name, limit)
        t_ref, c_ref = min(t_ref, dt), min(c_ref, cpu)
        dt, cpu, our_ll = _run(ours, task, name, limit)
        t_ours, c_ours = min(t_ours, dt), min(c_ours, cpu)

    def argmax(xs: list[float]) -> int:
        return max(range(len(xs)), key=lambda i: xs[i])

    differ = sum(argmax(a) != argmax(b) for a, b in zip(ref_ll, our_ll, strict=True))
    gap = max(
        abs(x - y) for a, b in zip(ref_ll, our_ll, strict=True) for x, y in zip(a, b, strict=True)
    )
    n_req = sum(len(a) for a in ref_ll)
    fig = {
        "suite": name,
        "items": limit,
        "requests": n_req,
        "dtype": args.dtype,
        "batch_size": args.batch_size,
        "hflm_s": round(t_ref, 2),
        "harness_s": round(t_ours, 2),
        "speedup": round(t_ref / t_ours, 2),
        "hflm_cpu_s": round(c_ref, 2),
        "harness_cpu_s": round(c_ours, 2),
        "cpu_time_ratio": round(c_ref / c_ours, 2),
        "predictions_differ": differ,
        "max_abs_loglik_diff": gap,
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "torch": torch.__version__,
    }
    print("| backend | wall s | process CPU s | items/s |")
    print("| --- | --- | --- | --- |")
    ref_name = f"lm-eval HFLM (batch {args.batch_size})"
    print(f"| {ref_name} | {t_ref:.2f} | {c_ref:.2f} | {limit / t_ref:.1f} |")
    print(f"| harness HarnessLM | {t_ours:.2f} | {c_ours:.2f} | {limit / t_ours:.1f} |")
    print(
        f"speed-up {t_ref / t_ours:.2f}x (CPU time {c_ref / c_ours:.2f}x); {limit} items, "
        f"{n_req} requests, {args.dtype}; "
        f"predictions differ: {differ}; max |loglik diff| {gap:.2e}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(fig, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
