"""An mmlu-sized registered group: the harness's registry suite against lm-eval's own HFLM path.

    python bench/scoring/registry_mmlu.py            # CUDA: random 1.1B llama, 14,000 items x 4
    python bench/scoring/registry_mmlu.py --tiny     # CPU smoke test of the whole script

What it builds, offline and seeded: a Hugging Face hub cache (the layout of
tests/engine/registry_cache.py) holding ``cais/mmlu`` in its real format (57 configs, each a
``test`` and a ``dev`` parquet split, the hub's README ``configs:`` metadata), 14,000 test
items in all spread over the 57 subjects (MMLU has 14,042), questions of 8-300 pseudo-words
(log-normal, median about 30) and four choices of 1-12 words; a random TinyLlama-shaped model
(scoring_gpu.py's) and a byte-level BPE tokenizer trained here on the questions.

Both sides use lm-eval's registered ``mmlu`` group unchanged (its 57 task YAMLs, the four
sub-groups, the prompt "... Answer:" with the letters A-D as choices):
1. lm-eval: ``simple_evaluate(HFLM(batch 64), tasks=["mmlu"])``, data from the same cache
   (``load_dataset`` pointed at the snapshot, as tests/engine/test_registry_parity.py does).
2. harness: ``registry_suite({"lm_eval": "mmlu", "capabilities": "groups"})`` and
   ``run_suite(HarnessLM)`` as the gate runs it (128 items per lm-eval call, so a crash keeps
   all finished batches), then ``lm_eval_aggregate``.
Each side is timed whole (task building, data loading, scoring, aggregation) twice in one
process, our tasks rebuilt each time; the first lm-eval run also pays the datasets library's
one-time parquet-to-arrow conversion, which both sides then share. Then per item: the argmax
over the four log-likelihoods and ``acc`` of the two sides, and the group accuracies.

A random model's four letters are near ties, and bf16 rounds log-likelihoods coarsely
(HFLM's log-softmax runs in the model's dtype), so exact parity is checked in float32 on the
first ``--parity-per-task`` documents of every subject (HFLM with ``limit``, ours with the
others skipped).

Prints a table; writes ``$OUT/registry_mmlu.json`` when ``OUT`` is set.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "scoring"))

_HOME = Path(tempfile.mkdtemp(prefix="registry-mmlu-hf-"))
for _key, _value in {
    "HF_HOME": str(_HOME),
    "HF_HUB_CACHE": str(_HOME / "hub"),
    "HF_DATASETS_CACHE": str(_HOME / "datasets"),
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "true",
}.items():
    os.environ[_key] = _value  # before huggingface_hub and datasets read them at import

import torch  # noqa: E402
from scoring_gpu import SYLLABLES, make_model, make_tokenizer, timed  # noqa: E402

from tests.engine.registry_cache import (  # noqa: E402
    MMLU_SUBJECTS,
    _parquet,
    _readme,
    write_repo,
)


def make_mmlu(n_items: int, n_dev: int, seed: int, max_words: int) -> dict[str, list[dict]]:
    """Rows per config in mmlu's columns: question, subject, choices (4), answer (0-3)."""
    rng = random.Random(seed)
    lexicon = sorted(
        {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(30000)}
    )
    rng.shuffle(lexicon)
    weights = [1.0 / (i + 10) for i in range(len(lexicon))]

    def words(k: int) -> str:
        return " ".join(rng.choices(lexicon, weights=weights, k=k))

    def row(subject: str) -> dict[str, Any]:
        n = min(max_words, max(8, round(math.exp(rng.gauss(math.log(30), 0.8)))))
        return {
            "question": words(n) + "?",
            "subject": subject,
            "choices": [words(rng.randint(1, 12)) for _ in range(4)],
            "answer": rng.randrange(4),
        }

    per = [n_items // len(MMLU_SUBJECTS)] * len(MMLU_SUBJECTS)
    for i in range(n_items - sum(per)):
        per[i] += 1
    rows: dict[str, list[dict]] = {}
    for subject, n in zip(MMLU_SUBJECTS, per, strict=True):
        rows[f"{subject}/test"] = [row(subject) for _ in range(n)]
        rows[f"{subject}/dev"] = [row(subject) for _ in range(n_dev)]
    return rows


def write_cache(rows: dict[str, list[dict]]) -> None:
    files = {f"{key}-00000-of-00001.parquet": _parquet(r) for key, r in rows.items()}
    files["README.md"] = _readme(
        {s: {"test": f"{s}/test-*", "dev": f"{s}/dev-*"} for s in MMLU_SUBJECTS}
    )
    write_repo(_HOME / "hub", "cais/mmlu", files, "c" * 40)


def lm_eval_side(model: Any, tok: Any, batch: int, limit: int | None = None) -> dict[str, Any]:
    """lm-eval's own path: TaskManager, simple_evaluate, HFLM, data from the same cache."""
    import datasets
    from huggingface_hub import snapshot_download
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    from harness.engine._registry import task_manager

    real = datasets.load_dataset

    def from_cache(path: str, name: str | None = None, **kwargs: Any) -> Any:
        snap = snapshot_download(path, repo_type="dataset", local_files_only=True)
        return real(snap, name, **kwargs)

    datasets.load_dataset = from_cache
    try:
        hflm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch)
        out = simple_evaluate(
            model=hflm,
            tasks=["mmlu"],
            task_manager=task_manager(),
            bootstrap_iters=0,
            log_samples=True,
            limit=limit,
            verbosity="ERROR",
        )
    finally:
        datasets.load_dataset = real
    assert out is not None
    return out


def harness_side(
    model: Any, tok: Any, rows: int, skip: set[str] | None = None
) -> tuple[Any, list[Any], float]:
    from harness.config import ScoringSettings
    from harness.config._registry_suite import registry_suite
    from harness.engine import HarnessLM, run_suite
    from harness.engine._registry_data import _BUILT

    _BUILT.clear()  # build the 57 tasks again, as a fresh process would
    t0 = time.perf_counter()
    suite = registry_suite(
        {"lm_eval": "mmlu", "kind": "general", "capabilities": "groups"},
        _HOME / "exp.yaml",
        "suites.0",
        ScoringSettings(),
    )
    build_s = time.perf_counter() - t0
    lm = HarnessLM(model, tok, batch_size=rows, show_progress=False, device=None)
    items = run_suite(lm, suite, ScoringSettings(), skip=skip or set())
    return suite, items, build_s


def compare(ref: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    """Per item: argmax and acc of both sides; the reference's top-2 margin where they differ."""
    by_id = {f"{t}/{s['doc_id']}": s for t, ss in ref["samples"].items() for s in ss}
    differ, acc_differ, margins, gap = 0, 0, [], 0.0
    for it in items:
        s = by_id[it.item_id]
        ref_ll = [float(r[0]) for r in s["filtered_resps"]]
        ours = it.extra["loglikelihoods"]
        gap = max(gap, *(abs(a - b) for a, b in zip(ref_ll, ours, strict=True)))
        if max(range(4), key=ref_ll.__getitem__) != max(range(4), key=ours.__getitem__):
            differ += 1
            top = sorted(ref_ll, reverse=True)
            margins.append(top[0] - top[1])
        acc_differ += it.scores["acc"] != s["acc"]
    return {
        "items": len(items),
        "reference_items": len(by_id),
        "predictions_differ": differ,
        "acc_differ": acc_differ,
        "reference_top2_margin_where_differ_max": max(margins) if margins else None,
        "max_abs_loglik_diff": gap,
    }


def aggregates(ref: dict[str, Any], suite: Any, items: list[Any]) -> dict[str, list[float]]:
    from harness.engine._registry_run import lm_eval_aggregate

    ours = lm_eval_aggregate(suite, items)
    names = ["mmlu", "mmlu_stem", "mmlu_other", "mmlu_social_sciences", "mmlu_humanities"]
    return {g: [ref["results"][g]["acc,none"], ours[g]["acc,none"]] for g in names}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="small model and few items, on CPU")
    ap.add_argument("--items", type=int, default=None, help="test items (default 14000)")
    ap.add_argument("--hflm-batch", type=int, default=64)
    ap.add_argument("--rows", type=int, default=32, help="HarnessLM batch_size (the gate's)")
    ap.add_argument("--parity-per-task", type=int, default=None, help="fp32 docs per subject")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    import lm_eval
    import transformers

    tiny = args.tiny
    device = "cuda" if torch.cuda.is_available() and not tiny else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    n_items = args.items or (171 if tiny else 14000)
    per_task = args.parity_per_task or (1 if tiny else 25)

    t0 = time.perf_counter()
    rows = make_mmlu(n_items, 5, args.seed, 60 if tiny else 300)
    write_cache(rows)
    corpus = [(r["question"], r["choices"]) for rs in rows.values() for r in rs]
    tok = make_tokenizer(corpus, vocab=1000 if tiny else 32000)
    vocab = 32000 if not tiny else max(len(tok), 256)
    model = make_model(tiny, vocab, dtype, device, args.seed)
    print(f"setup {time.perf_counter() - t0:.1f} s; {n_items} items x 4 choices in the cache")

    fig: dict[str, Any] = {
        "machine": torch.cuda.get_device_name(0) if device == "cuda" else platform.processor(),
        "device": device,
        "dtype": str(dtype).replace("torch.", ""),
        "items": n_items,
        "versions": {
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "lm_eval": lm_eval.__version__,
        },
        "settings": vars(args),
    }
    runs: dict[str, list[float]] = {"lm_eval": [], "harness": [], "harness_build": []}
    ref: dict[str, Any] = {}
    suite, items = None, []
    for _ in range(2):
        t, ref = timed(lambda: lm_eval_side(model, tok, args.hflm_batch))
        runs["lm_eval"].append(round(t, 2))
        t, (suite, items, build_s) = timed(lambda: harness_side(model, tok, args.rows))
        runs["harness"].append(round(t, 2))
        runs["harness_build"].append(round(build_s, 2))
        print(f"lm-eval {runs['lm_eval'][-1]} s, harness {runs['harness'][-1]} s", flush=True)
    fig["runs_s"] = runs
    fig["speedup_second_run"] = round(runs["lm_eval"][1] / runs["harness"][1], 2)
    fig["run_dtype_parity"] = compare(ref, items)
    fig["group_acc_lm_eval_vs_harness"] = aggregates(ref, suite, items)

    # float32 parity: the first `per_task` documents of every subject on both sides.
    model.float()
    ref32 = lm_eval_side(model, tok, args.hflm_batch, limit=per_task)
    keep = {f"{t}/{s['doc_id']}" for t, ss in ref32["samples"].items() for s in ss}
    every = {it.item_id for it in items}
    _, items32, _ = harness_side(model, tok, args.rows, skip=every - keep)
    fig["fp32_parity"] = compare(ref32, items32)
    model.to(dtype)

    c, p = fig["run_dtype_parity"], fig["fp32_parity"]
    print()
    print("| measurement | run 1 (s) | run 2 (s) | note |")
    print("| --- | --- | --- | --- |")
    print(
        f"| lm-eval `simple_evaluate`, HFLM batch {args.hflm_batch} | {runs['lm_eval'][0]:.1f} "
        f"| {runs['lm_eval'][1]:.1f} | run 1 includes the parquet-to-arrow conversion |"
    )
    print(
        f"| harness `registry_suite` + `run_suite` | {runs['harness'][0]:.1f} | "
        f"{runs['harness'][1]:.1f} | {fig['speedup_second_run']}x faster in run 2; building "
        f"the 57 tasks {runs['harness_build'][1]:.1f} s of it |"
    )
    print(
        f"| predictions, {fig['dtype']} | - | - | {c['predictions_differ']} of {c['items']} "
        f"differ (acc differs on {c['acc_differ']}), max abs loglik diff "
        f"{c['max_abs_loglik_diff']:.3g} |"
    )
    print(
        f"| predictions, float32 | - | - | {p['predictions_differ']} of {p['items']} differ "
        f"(acc {p['acc_differ']}), max abs loglik diff {p['max_abs_loglik_diff']:.2e} |"
    )
    for g, (a, b) in fig["group_acc_lm_eval_vs_harness"].items():
        print(f"| {g} acc: lm-eval / harness | - | - | {a:.4f} / {b:.4f} |")
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "registry_mmlu.json").write_text(json.dumps(fig, indent=2, default=str))
    print(json.dumps(fig, default=str))
    print("registry_mmlu: done")


if __name__ == "__main__":
    main()
