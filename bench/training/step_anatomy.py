"""Where one training step's time and memory go on a GPU: for bench/training/gpu_train.py's
profiles (``--anatomy``), or on its own over saved files:

    python bench/training/step_anatomy.py --trace trace.json [--steps 2]
    python bench/training/step_anatomy.py --snapshot snapshot.pickle [--baseline BYTES]
    python bench/training/step_anatomy.py --tiny      (smoke: a synthetic trace and snapshot)


``gpu_time(trace)``: GPU kernel time by kind (matrix products, attention, dropout, liger's
Triton kernels, elementwise, copies, optimizer), the GPU's idle time and the host code that
was running while the GPU waited — read from a torch.profiler chrome trace recorded with
``with_stack=True``. A step whose GPU idles is bound by host work (Python, kernel launches,
synchronisations); one that does not is bound by its kernels, and only fewer or cheaper
kernels make it faster.

``memory_at_peak(snapshot, baseline)``: the tensors alive at the step's peak, grouped by the
Python line that allocated them — read from ``torch.cuda.memory._snapshot()`` recorded with
``_record_memory_history``. Tells which saved activations (dropout copies, masks, MLP
intermediates, checkpointed inputs) make up a peak that must fit a memory budget.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import re
import tempfile
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

KINDS = [  # first match wins; kernel names differ between cuBLAS/CUTLASS versions
    ("gemm", r"gemm|cutlass|nvjet|xmma|cublas|sm90_"),
    ("attention", r"flash|fmha|attention|sdpa"),
    ("dropout", r"dropout"),
    ("liger/triton", r"triton|liger|_rms_norm|swiglu|rope|cross_entropy"),
    ("optimizer", r"multi_tensor|adam|foreach"),
    ("copy/cast", r"copy|memcpy|memset|cast|to_copy"),
    ("reduce", r"reduce"),
    ("elementwise", r"elementwise|vectorized|unrolled"),
]
GPU_CATS = {"kernel", "gpu_memcpy", "gpu_memset"}
KEEP = re.compile(
    r"trl/|peft/|harness/|liger_kernel/|accelerate/|transformers/(trainer|models)|"
    r"torch/utils/checkpoint|torch/optim|torch/autograd|torch/nn/utils"
)


def _kind(name: str) -> str:
    low = name.lower()
    for kind, pat in KINDS:
        if re.search(pat, low):
            return kind
    return "other"


def _merge(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def gpu_time(trace: Path, steps: int, min_gap_us: float = 20.0) -> dict[str, Any]:
    """Per-step GPU kernel time by kind, idle time, and the host frames the idle time fell in."""
    events = json.loads(trace.read_text())["traceEvents"]
    gpu = [e for e in events if e.get("cat") in GPU_CATS and e.get("ph") == "X"]
    if not gpu:
        return {"error": "no GPU events in the trace"}
    by_kind: Counter[str] = Counter()
    top: Counter[str] = Counter()
    for e in gpu:
        by_kind[_kind(e["name"])] += e["dur"]
        top[e["name"][:90]] += e["dur"]
    busy = _merge([(float(e["ts"]), float(e["ts"]) + float(e["dur"])) for e in gpu])
    start, end = busy[0][0], busy[-1][1]
    gaps = [(a[1], b[0]) for a, b in itertools.pairwise(busy) if b[0] - a[1] > min_gap_us]
    host = [
        e
        for e in events
        if e.get("ph") == "X" and e.get("cat") in {"python_function", "cpu_op", "cuda_runtime"}
    ]
    host.sort(key=lambda e: float(e["ts"]))
    idle_by: Counter[str] = Counter()
    active: list[dict[str, Any]] = []
    j = 0
    for a, b in gaps:  # a sweep: host events sorted by start, gaps by time
        # what the host was inside when the GPU started again (the launch that ended the gap)
        t = b - 1.0
        while j < len(host) and float(host[j]["ts"]) <= t:
            active.append(host[j])
            j += 1
        active = [e for e in active if float(e["ts"]) + float(e["dur"]) >= t]
        frames = [e["name"] for e in active if e.get("cat") == "python_function"]
        kept = [re.sub(r"^.*site-packages/", "", f) for f in frames if KEEP.search(f)]
        ops = [e["name"] for e in active if e.get("cat") != "python_function"]
        key = " > ".join(kept[-3:] + ops[-1:]) or "(no host frame)"
        idle_by[key[-240:]] += b - a
    runtime: Counter[str] = Counter()
    launches = 0
    for e in host:
        if e.get("cat") == "cuda_runtime":
            runtime[e["name"]] += float(e["dur"])
            launches += "Launch" in e["name"]
    per = 1000.0 * max(steps, 1)  # us -> ms per step
    return {
        "wall_ms_per_step": round((end - start) / per, 2),
        "gpu_busy_ms_per_step": round(sum(b - a for a, b in busy) / per, 2),
        "gpu_idle_ms_per_step": round(sum(b - a for a, b in gaps) / per, 2),
        "kernel_ms_per_step": {k: round(v / per, 2) for k, v in by_kind.most_common()},
        "launches_per_step": launches // max(steps, 1),
        "top_kernels_ms_per_step": {k: round(v / per, 2) for k, v in top.most_common(15)},
        "idle_ms_per_step_by_host_frame": {
            k: round(v / per, 2) for k, v in idle_by.most_common(15)
        },
        "runtime_ms_per_step": {k: round(v / per, 2) for k, v in runtime.most_common(8)},
    }


def _site(frames: list[dict[str, Any]]) -> str:
    """The allocating line: the innermost frame outside torch itself, plus the innermost name."""
    if not frames:
        return "(no Python frame: autograd backward or C++)"
    inner = frames[0].get("name", "?")
    for f in frames:
        name = str(f.get("filename", ""))
        if "/torch/" in name and "torch/utils/checkpoint" not in name:
            continue
        short = re.sub(r"^.*site-packages/", "", name)
        return f"{short}:{f.get('line')} {f.get('name')} [{inner}]"
    return f"(torch) [{inner}]"


def memory_at_peak(snapshot: dict[str, Any], baseline: int, top: int = 20) -> dict[str, Any]:
    """Replay the allocator's history: the peak, and what was alive then, by allocating line."""
    trace = snapshot["device_traces"][0]
    cur, peak, peak_i = baseline, baseline, -1
    for i, ev in enumerate(trace):
        if ev["action"] == "alloc":
            cur += ev["size"]
        elif ev["action"] == "free_completed":
            cur -= ev["size"]
        if cur > peak:
            peak, peak_i = cur, i
    live: dict[int, tuple[int, str]] = {}
    for ev in trace[: peak_i + 1]:
        if ev["action"] == "alloc":
            live[ev["addr"]] = (ev["size"], _site(ev.get("frames", [])))
        elif ev["action"] == "free_completed":
            live.pop(ev["addr"], None)
    by_site: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for size, site in live.values():
        by_site[site][0] += size
        by_site[site][1] += 1
    gb = 2**30
    ranked = sorted(by_site.items(), key=lambda kv: -kv[1][0])[:top]
    return {
        "peak_gb": round(peak / gb, 3),
        "before_step_gb": round(baseline / gb, 3),
        "alive_at_peak_from_step_gb": round(sum(s for s, _ in live.values()) / gb, 3),
        "by_site_gb": {k: [round(v[0] / gb, 3), v[1]] for k, v in ranked},
    }


def _synthetic(folder: Path) -> tuple[Path, dict[str, Any]]:
    """A two-step chrome trace (GEMMs, a dropout kernel, a gap the host spent in trl) and an
    allocator history whose peak holds a dropout mask: what --tiny reads."""

    def kernel(name: str, ts: float, dur: float) -> dict[str, Any]:
        return {"ph": "X", "cat": "kernel", "name": name, "ts": ts, "dur": dur}

    events = [
        kernel("sm90_xmma_gemm_bf16", 0, 100),
        kernel("fused_dropout_kernel", 100, 20),
        {"ph": "X", "cat": "python_function", "ts": 110, "dur": 200,
         "name": "site-packages/trl/trainer/sft_trainer.py(1560): compute_loss"},
        {"ph": "X", "cat": "cuda_runtime", "ts": 290, "dur": 5, "name": "cudaLaunchKernel"},
        kernel("sm90_xmma_gemm_bf16", 300, 100),
        kernel("multi_tensor_apply_kernel (adam)", 400, 10),
    ]  # fmt: skip
    trace = folder / "trace.json"
    trace.write_text(json.dumps({"traceEvents": events}))
    frames = [{"filename": "site-packages/peft/tuners/lora/layer.py", "line": 1102,
               "name": "forward"}]  # fmt: skip
    snapshot = {
        "device_traces": [
            [
                {"action": "alloc", "addr": 1, "size": 2**20, "frames": frames},
                {"action": "alloc", "addr": 2, "size": 2**21, "frames": []},
                {"action": "free_completed", "addr": 2, "size": 2**21},
            ]
        ]
    }
    return trace, snapshot


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--trace", type=Path, help="a torch.profiler chrome trace (with_stack=True)")
    ap.add_argument("--steps", type=int, default=2, help="steps the trace covers")
    ap.add_argument("--snapshot", type=Path, help="torch.cuda.memory._dump_snapshot's pickle")
    ap.add_argument("--baseline", type=int, default=0, help="bytes allocated before the step")
    ap.add_argument("--tiny", action="store_true", help="smoke: a synthetic trace and snapshot")
    a = ap.parse_args()
    trace, snapshot = a.trace, None
    if a.snapshot is not None:
        with a.snapshot.open("rb") as f:
            snapshot = pickle.load(f)  # the user's own file
    if a.tiny:
        trace, snapshot = _synthetic(Path(tempfile.mkdtemp(prefix="anatomy-")))
    if trace is None and snapshot is None:
        ap.error("give --trace, --snapshot or --tiny")
    out: dict[str, Any] = {}
    if trace is not None:
        out["time"] = gpu_time(trace, steps=a.steps)
    if snapshot is not None:
        out["memory"] = memory_at_peak(snapshot, a.baseline)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
