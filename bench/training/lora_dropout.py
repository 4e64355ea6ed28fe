"""LoRA dropout per adapted layer on one GPU: torch's dropout kernels against the Triton ones.

For each input width of a 1.1B llama's adapted layers (2048: q, k, v, o, gate, up; 5632:
down) and a micro-batch of N tokens, r = 16, p = 0.05, bf16, the three pieces of LoRA work
that touch the dropout, as ``LoraLinear`` runs them:

  forward   torch: native_dropout(x) then dropped @ A.T     triton: dropout_project
  grad A    torch: native_dropout_backward(x, mask) then g_h.T @ dropped
                                                            triton: dropout_grad_a
  grad x    torch: g_h @ A then native_dropout_backward     triton: dropout_grad_x

Timed with CUDA events: the median of 50 calls after 10 warm-up calls (which include the
autotuner's tuning). Run on a GPU:  python bench/training/lora_dropout.py [--tokens 16384]
Smoke: ``--tiny`` (1,024 tokens, 5 timed calls); without CUDA and Triton it says it skipped
and exits 0.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
from collections.abc import Callable

import torch

REPS = 50  # timed calls per measurement (--tiny: 5)


def _time(fn: Callable[[], object]) -> float:
    for _ in range(10):
        fn()
    times = []
    for _ in range(REPS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end))
    return statistics.median(times)


def _width(k: int, n: int, r: int, p: float) -> list[dict[str, object]]:
    """Both paths for one input width; the lambdas read this call's tensors."""
    from harness.accel import dropout_grad_a, dropout_grad_x, dropout_project

    dev, dt = "cuda", torch.bfloat16
    x = torch.randn(n, k, device=dev, dtype=dt)
    wa = torch.randn(r, k, device=dev, dtype=dt) / k**0.5
    gh = torch.randn(n, r, device=dev, dtype=dt)
    _, mask = torch.native_dropout(x, p, True)
    s = 1 / (1 - p)
    back = torch.ops.aten.native_dropout_backward
    torch_ms = {
        "forward": _time(lambda: torch.native_dropout(x, p, True)[0] @ wa.T),
        "grad_a": _time(lambda: gh.T @ back(x, mask, s)),
        "grad_x": _time(lambda: back(gh @ wa, mask, s)),
    }
    triton_ms = {
        "forward": _time(lambda: dropout_project(x, wa, 1, p)),
        "grad_a": _time(lambda: dropout_grad_a(x, gh, 1, p)),
        "grad_x": _time(lambda: dropout_grad_x(gh, wa, 1, p, k)),
    }
    return [
        {"k": k, "part": part, "torch_ms": round(ms, 4), "triton_ms": round(triton_ms[part], 4)}
        for part, ms in torch_ms.items()
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--tokens", type=int, default=None, help="default 16384 (tiny 1024)")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--tiny", action="store_true", help="smoke: few tokens and calls")
    a = ap.parse_args()
    if not torch.cuda.is_available() or importlib.util.find_spec("triton") is None:
        print("lora_dropout: skipped (needs a CUDA device and Triton: the gpu extra)")
        return
    from harness.accel import lora_dropout_tiles as tuned

    global REPS
    REPS = 5 if a.tiny else 50
    p, r, n = 0.05, a.rank, a.tokens or (1024 if a.tiny else 16384)
    rows = [row for k in (2048, 5632) for row in _width(k, n, r, p)]
    print(f"{torch.cuda.get_device_name(0)}, N={n}, r={r}, p={p}, bf16")
    print("width  part      torch ms  triton ms  ratio")
    for row in rows:
        t, tr = float(row["torch_ms"]), float(row["triton_ms"])  # type: ignore[arg-type]
        print(f"{row['k']:>5}  {row['part']:<8} {t:>9.3f} {tr:>10.3f}  {t / tr:5.2f}x")
    print("tiles:", json.dumps(tuned()))
    out = os.environ.get("OUT")
    if out:
        with open(os.path.join(out, "lora_dropout.json"), "w") as f:
            json.dump({"rows": rows, "tiles": tuned(), "tokens": n}, f, indent=1)


if __name__ == "__main__":
    main()
