"""Robustness figures for docs/benchmarks.md: crash/resume, concurrency, cache keys, bad input.

Runs on a tiny random llama (made here, offline) so the figures take about a minute:

    python bench/robustness/robustness.py [--trials 5] [--writers 8]
    python bench/robustness/robustness.py --tiny   (smoke: 1 trial, 2 writers, no gate runs)

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from harness.config import ItemResult  # noqa: E402
from harness.store import ResultKey, ResultStore  # noqa: E402
from tests.conftest import make_tiny_model, write_tiny_suites  # noqa: E402

CHILD = """
import os, signal, sys
from pathlib import Path
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from harness.config import ScoringSettings, load_suite
from harness.engine import HarnessLM, run_suite
from harness.models import fingerprint_files
from harness.store import ResultKey, ResultStore

model_dir, suite_path, store_path, kill_after = sys.argv[1:5]
kill_after = int(kill_after)
suite = load_suite(Path(suite_path))
key = ResultKey(fingerprint_files(Path(model_dir)), suite.fingerprint, "s", "1")
store = ResultStore(Path(store_path))
if store.get(key) is not None:
    print("HIT"); sys.exit(0)
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
lm = HarnessLM(model, AutoTokenizer.from_pretrained(model_dir), batch_size=4,
               show_progress=False)
done = store.partial(key)
batches = 0
def on_batch(items):
    global batches
    store.add_items(key, items)
    batches += 1
    if batches == kill_after:
        os.kill(os.getpid(), signal.SIGKILL)
new = run_suite(lm, suite, ScoringSettings(), skip=done.keys(), on_batch=on_batch,
                batch_items=5)
store.complete(key, len(done) + len(new), {})
print("MISS")
"""


def _child(work: Path, model: Path, suite: Path, store: Path, kill_after: int) -> tuple[int, str]:
    script = work / "child.py"
    script.write_text(CHILD)
    p = subprocess.run(
        [sys.executable, str(script), str(model), str(suite), str(store), str(kill_after)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return p.returncode, p.stdout.strip()


def crash_resume(work: Path, model: Path, suite: Path, trials: int) -> tuple[int, int]:
    ref_store = work / "reference.sqlite"
    _child(work, model, suite, ref_store, 0)
    ref = {k: v for k, v in _rows(ref_store).items()}
    identical = 0
    for t in range(trials):
        store = work / f"trial{t}.sqlite"
        rc, _ = _child(work, model, suite, store, t + 1)  # killed after batch t+1
        assert rc == -signal.SIGKILL, rc
        _child(work, model, suite, store, 0)
        got = _rows(store)
        same = got.keys() == ref.keys() and all(
            got[k].scores == ref[k].scores
            and got[k].prediction == ref[k].prediction
            and all(
                abs(a - b) < 1e-5
                for a, b in zip(
                    got[k].extra["loglikelihoods"], ref[k].extra["loglikelihoods"], strict=True
                )
            )
            for k in ref
        )
        identical += int(same)
    return identical, trials


def _rows(path: Path) -> dict[str, ItemResult]:
    store = ResultStore(path)
    import sqlite3

    with sqlite3.connect(path) as con:
        (variant, suite, settings, version) = con.execute(
            "SELECT variant, suite, settings, scoring_version FROM result_sets"
        ).fetchone()
    items = store.get(ResultKey(variant, suite, settings, version)) or []
    return {it.item_id: it for it in items}


def cross_model_hits(work: Path, suite: Path) -> int:
    """Score model A, then overwrite its weights in place with model B: B must miss."""
    model = work / "swap-model"
    make_tiny_model(model, seed=1)
    store = work / "swap.sqlite"
    _, first = _child(work, model, suite, store, 0)
    shutil.rmtree(model)
    make_tiny_model(model, seed=2)  # same path, other weights
    _, second = _child(work, model, suite, store, 0)
    assert first == "MISS"
    return int(second == "HIT")


def _writer(path: str, worker: int, batches: int) -> None:
    store = ResultStore(Path(path))
    key = ResultKey(f"v{worker}", "s", "x", "1")
    for b in range(batches):
        store.add_items(key, [ItemResult(f"{worker}-{b}-{i}", {"acc": 1.0}) for i in range(25)])
    store.complete(key, batches * 25, {})


def concurrent_writers(work: Path, writers: int, batches: int) -> tuple[int, int]:
    path = work / "concurrent.sqlite"
    ResultStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, batches)) for w in range(writers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    failed = sum(p.exitcode != 0 for p in procs)
    store = ResultStore(path)
    got = sum(len(store.get(ResultKey(f"v{w}", "s", "x", "1")) or []) for w in range(writers))
    return writers * batches * 25 - got, failed


def concurrent_gate_runs(work: Path, model: Path, runs: int) -> tuple[int, int, int]:
    """``runs`` whole gate runs at once on one results store and one MLflow database.

    Returns (runs that decided, MLflow runs left RUNNING, result sets incomplete or short).
    """
    from tests.conftest import write_tiny_experiment

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HARNESS_STORE": str(work / "gate.sqlite"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{work / 'gate-mlflow.db'}",
        "HARNESS_CACHE": str(work / "gate-cache"),
    }
    exps = [write_tiny_experiment(work / f"gate{i}", model, max_steps=2 + i) for i in range(runs)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "harness", "evaluate", str(e)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for e in exps
    ]
    decided = sum(p.wait(timeout=900) in (0, 1) for p in procs)
    import sqlite3

    with sqlite3.connect(work / "gate-mlflow.db") as con:
        (running,) = con.execute("SELECT COUNT(*) FROM runs WHERE status='RUNNING'").fetchone()
    with sqlite3.connect(work / "gate.sqlite") as con:
        sets = con.execute(
            "SELECT variant, suite, settings, scoring_version, n_items, complete FROM result_sets"
        ).fetchall()
        bad = 0
        for variant, suite, settings, version, n_items, complete in sets:
            (have,) = con.execute(
                "SELECT COUNT(*) FROM items WHERE variant=? AND suite=? AND settings=? AND "
                "scoring_version=?",
                (variant, suite, settings, version),
            ).fetchone()
            bad += int(not complete or have != n_items)
    return decided, running, bad


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--trials", type=int, default=None, help="default 5 (tiny 1)")
    ap.add_argument("--writers", type=int, default=None, help="default 8 (tiny 2)")
    ap.add_argument(
        "--tiny", action="store_true", help="smoke: 1 trial, 2 writers of 5 batches, no gate runs"
    )
    args = ap.parse_args()
    args.trials = args.trials or (1 if args.tiny else 5)
    args.writers = args.writers or (2 if args.tiny else 8)
    batches = 5 if args.tiny else 40
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["HF_DATASETS_CACHE"] = str(work / "hf")
        model = make_tiny_model(work / "model")
        suite = write_tiny_suites(work / "suites")["general"]
        t0 = time.perf_counter()
        same, trials = crash_resume(work, model, suite, args.trials)
        hits = None if args.tiny else cross_model_hits(work, suite)
        lost, failed = concurrent_writers(work, args.writers, batches)
        gates = None if args.tiny else concurrent_gate_runs(work, model, 4)
        elapsed = time.perf_counter() - t0
    print("| figure | result |")
    print("| --- | --- |")
    print(
        f"| killed (SIGKILL after batch k) and resumed runs identical to an uninterrupted run "
        f"| {same}/{trials} |"
    )
    skipped = "skipped (--tiny)"
    print(
        f"| cache hits for other weights at the same path | {skipped if hits is None else hits} |"
    )
    print(
        f"| rows lost with {args.writers} concurrent writers ({batches} batches of 25 each) "
        f"| {lost} (writers crashed: {failed}) |"
    )
    shown = skipped if gates is None else f"{gates[0]}/4, {gates[1]}, {gates[2]}"
    print(
        f"| 4 whole gate runs at once on one store and one MLflow sqlite database: decided, "
        f"MLflow runs left RUNNING, result sets incomplete | {shown} |"
    )
    print(f"\n({elapsed:.0f} s)")


if __name__ == "__main__":
    main()
