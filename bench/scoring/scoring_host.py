"""Host-side time of ``HarnessLM.loglikelihood``: where the CPU goes when the model costs nothing.

    python bench/scoring/scoring_host.py           # 2,000 items x 4, as scoring_gpu.py
    python bench/scoring/scoring_host.py --items 200 --profile 0
    python bench/scoring/scoring_host.py --gpu-model --sync-debug   # on a GPU: the real model
    python bench/scoring/scoring_host.py --tiny    # smoke: 16 items, one call, no profile

The requests and the tokenizer are bench/scoring/scoring_gpu.py's own (same builders, same
seed), but the model is a TINY random llama (hidden 64, 2 layers, vocab 32,000 so every token
id fits) in float32 on the CPU, so what is left is host work: tokenisation, request building,
trie packing, batch tensors and masks, and result gathering. Each phase is timed with
``time.perf_counter`` around the same calls ``loglikelihood`` makes (the model forward and the
head are timed inside the scorer through forward hooks), and one whole call is profiled with
cProfile. (The phases are the engine's internals: this script reads ``harness.engine._scorer``
and ``HarnessLM._token_requests``, the one bench script that goes below the public API.)

Prints a phase table, the whole call's wall time (its first full-size call apart, then best of
``--repeat``), the seconds Python's garbage collector ran in each call, and the cProfile top
functions; writes ``$OUT/scoring_host.json`` when ``OUT`` is set. ``checksum`` (the sum of all
log-likelihoods) must not move when the host code changes. With ``--gpu-model`` the phases
are synchronised and the model's share is what the host phases leave of the whole call.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "scoring"))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import torch  # noqa: E402
from scoring_gpu import instances, make_items, make_model, make_tokenizer, sync  # noqa: E402


class _ModelClock:
    """Wall time inside the decoder and head forwards (CPU: no sync needed).

    On CUDA nothing is hooked (a sync per forward would change what is measured); the
    model's share is then the whole call minus the host phases.
    """

    def __init__(self, scorer: Any, enabled: bool) -> None:
        self.seconds = 0.0
        if not enabled:
            return
        t0 = [0.0]

        def start(*_: Any) -> None:
            t0[0] = time.perf_counter()

        def stop(*_: Any) -> None:
            self.seconds += time.perf_counter() - t0[0]

        for module in (scorer.decoder, scorer.head):
            module.register_forward_pre_hook(start)
            module.register_forward_hook(stop)


class _GcClock:
    """Seconds Python's cyclic garbage collector runs (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._t0 = 0.0
        gc.callbacks.append(self._tick)

    def _tick(self, phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._t0
            self.collections += 1


def phases(lm: Any, reqs: list[Any], clock: _ModelClock) -> dict[str, float]:
    """The steps of ``HarnessLM.loglikelihood``, each timed on its own."""
    from harness.engine import _scorer
    from harness.engine._scorer import pack_rows

    paused = getattr(_scorer, "gc_paused", nullcontext)  # as loglikelihood, where it exists
    with paused():
        return _phases(lm, reqs, clock, pack_rows)


def _phases(lm: Any, reqs: list[Any], clock: _ModelClock, pack_rows: Any) -> dict[str, float]:
    out: dict[str, float] = {}
    t = time.perf_counter()
    encoded = lm.encode_pairs([tuple(r.args) for r in reqs])
    out["tokenise (encode_pairs)"] = time.perf_counter() - t
    t = time.perf_counter()
    token_reqs = lm._token_requests(encoded)
    out["build TokenRequests"] = time.perf_counter() - t
    t = time.perf_counter()
    rows = pack_rows(token_reqs, lm.scorer.row_tokens)
    out["pack rows (tries)"] = time.perf_counter() - t
    del rows
    clock.seconds = 0.0
    sync()
    t = time.perf_counter()
    lm.scorer.score(token_reqs)
    sync()
    scored = time.perf_counter() - t
    if clock.seconds:
        out["model (decoder forward, head log-softmax)"] = clock.seconds
        out["scorer rest (pack, batch tensors, mask, gather)"] = scored - clock.seconds
    else:
        out["scorer (pack, tensors, model, gather; synced)"] = scored
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=1024, help="max rows per forward (as the GPU run)")
    ap.add_argument("--max-batch-tokens", type=int, default=65536, help="as on CUDA")
    ap.add_argument("--repeat", type=int, default=3, help="whole-call timings (best is reported)")
    ap.add_argument("--profile", type=int, default=25, help="cProfile rows to print (0: none)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--gpu-model",
        action="store_true",
        help="scoring_gpu.py's 1.1B bf16 model on CUDA instead (first call timed apart)",
    )
    ap.add_argument(
        "--sync-debug",
        action="store_true",
        help="CUDA: warn at every op that waits for the device during one whole call",
    )
    ap.add_argument("--tiny", action="store_true", help="smoke: 16 items, one call, no profile")
    args = ap.parse_args()
    if args.tiny:
        args.items, args.repeat, args.profile, args.gpu_model = 16, 1, 0, False

    from harness.engine import HarnessLM

    t0 = time.perf_counter()
    items = make_items(args.items, args.seed, 60, 160)
    tok = make_tokenizer(items, vocab=32000)
    cuda = args.gpu_model and torch.cuda.is_available()
    model = make_model(
        not args.gpu_model,
        32000,
        torch.bfloat16 if cuda else torch.float32,
        "cuda" if cuda else "cpu",
        args.seed,
    )
    reqs = instances(items)
    print(f"setup {time.perf_counter() - t0:.1f} s; {args.items} items, {len(reqs)} requests")
    print(
        f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}, "
        f"load average {os.getloadavg()[0]:.2f}"
    )

    lm = HarnessLM(
        model,
        tok,
        batch_size=args.rows,
        show_progress=False,
        max_batch_tokens=args.max_batch_tokens,
        device=None,
    )
    clock = _ModelClock(lm.scorer, enabled=lm.scorer.device.type == "cpu")
    lm.loglikelihood(reqs[:64], disable_tqdm=True)  # warm-up, as scoring_gpu.py's

    walls = []
    result: list[Any] = []
    gc_clock = _GcClock()
    gc_s = []
    for _ in range(args.repeat):
        clock.seconds = 0.0
        gc_clock.seconds, gc_clock.collections = 0.0, 0
        sync()
        t = time.perf_counter()
        result = lm.loglikelihood(reqs, disable_tqdm=True)
        sync()
        walls.append((time.perf_counter() - t, clock.seconds))
        gc_s.append((round(gc_clock.seconds, 3), gc_clock.collections))
    first_s = walls[0][0]
    wall, model_s = min(walls)
    ph = phases(lm, reqs, clock)
    if args.sync_debug and torch.cuda.is_available():
        import warnings

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            lm.loglikelihood(reqs, disable_tqdm=True)
            torch.cuda.set_sync_debug_mode(0)
        where = sorted({str(w.message).splitlines()[0][:160] for w in caught})
        print(f"device syncs in one call: {len(caught)}; distinct: {where}")

    print()
    print("| phase | seconds |")
    print("| --- | --- |")
    for k, v in ph.items():
        print(f"| {k} | {v:.3f} |")
    print(f"| whole loglikelihood, first full-size call | {first_s:.3f} |")
    split = f" (model {model_s:.3f}, host {wall - model_s:.3f})" if model_s else ""
    print(f"| **whole loglikelihood** (best of {args.repeat}) | {wall:.3f}{split} |")
    print(f"garbage collection in each whole call (seconds, collections): {gc_s}")

    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        lm.loglikelihood(reqs, disable_tqdm=True)
        prof.disable()
        buf = io.StringIO()
        st = pstats.Stats(prof, stream=buf).strip_dirs().sort_stats("tottime")
        st.print_stats(args.profile)
        print("\ncProfile of one whole call, by own time:")
        print("\n".join(buf.getvalue().splitlines()[4:]))

    fig = {
        "items": args.items,
        "requests": len(reqs),
        "device": str(lm.scorer.device),
        "first_call_s": round(first_s, 3),
        "whole_s": round(wall, 3),
        "model_s": round(model_s, 3),
        "host_s": round(wall - model_s, 3) if model_s else None,
        "all_whole_s": [round(w, 3) for w, _ in walls],
        "gc_s_and_collections": gc_s,
        "phases_s": {k: round(v, 3) for k, v in ph.items()},
        "load_average": os.getloadavg(),
        "torch_threads": torch.get_num_threads(),
        "checksum": round(sum(lp for lp, _ in result), 6),
        "greedy": sum(g for _, g in result),
    }
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "scoring_host.json").write_text(json.dumps(fig, indent=2))
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
