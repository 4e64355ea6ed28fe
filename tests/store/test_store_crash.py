"""A run killed mid-suite resumes to exactly the uninterrupted result; writers never lose rows."""

from __future__ import annotations

import json
import multiprocessing as mp
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import ItemResult
from harness.store import ResultKey, ResultStore
from tests.conftest import write_tiny_suites

KEY = ResultKey("variant", "suite", "settings", "1")

_CHILD = """
import os, signal, sys
from pathlib import Path
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from harness.config import ScoringSettings, load_suite
from harness.engine import HarnessLM, run_suite
from harness.store import ResultKey, ResultStore

model_dir, suite_path, store_path, mode = sys.argv[1:5]
key = ResultKey("variant", "suite", "settings", "1")
store = ResultStore(Path(store_path))
model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
lm = HarnessLM(model, AutoTokenizer.from_pretrained(model_dir), batch_size=4,
               show_progress=False)
suite = load_suite(Path(suite_path))
done = store.partial(key)

def on_batch(items):
    store.add_items(key, items)
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, like the OOM killer

new = run_suite(lm, suite, ScoringSettings(), skip=done.keys(), on_batch=on_batch,
                batch_items=8)
store.complete(key, len(done) + len(new), {})
"""


def _child(tmp: Path, model_dir: Path, suite: Path, store: Path, mode: str) -> int:
    script = tmp / "child.py"
    script.write_text(_CHILD)
    return subprocess.run(
        [sys.executable, str(script), str(model_dir), str(suite), str(store), mode],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    ).returncode


def test_sigkilled_run_resumes_to_identical_results(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    suite = write_tiny_suites(tmp_path)["general"]
    killed, clean = tmp_path / "killed.sqlite", tmp_path / "clean.sqlite"

    assert _child(tmp_path, tiny_model_dir, suite, killed, "kill") == -signal.SIGKILL
    store = ResultStore(killed)
    assert store.get(KEY) is None  # an interrupted set is never served as whole
    assert len(store.partial(KEY)) == 8  # exactly the committed batch survived

    assert _child(tmp_path, tiny_model_dir, suite, killed, "resume") == 0
    assert _child(tmp_path, tiny_model_dir, suite, clean, "run") == 0
    resumed, reference = ResultStore(killed).get(KEY), ResultStore(clean).get(KEY)
    assert resumed is not None and reference is not None
    assert [r.item_id for r in resumed] == [r.item_id for r in reference]  # no gaps, no dupes
    for a, b in zip(resumed, reference, strict=True):
        assert (a.scores, a.prediction, a.capability) == (b.scores, b.prediction, b.capability)
        assert a.extra["loglikelihoods"] == pytest.approx(b.extra["loglikelihoods"], abs=1e-5)


def _writer(path: str, worker: int, n_batches: int) -> None:
    store = ResultStore(Path(path))
    key = ResultKey(f"v{worker}", "s", "x", "1")
    for b in range(n_batches):
        store.add_items(key, [ItemResult(f"w{worker}-b{b}-i{i}", {"acc": 1.0}) for i in range(25)])
    store.complete(key, n_batches * 25, {"worker": worker})


def test_concurrent_writers_lose_no_rows(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    ResultStore(path)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(path), w, 20)) for w in range(6)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
    assert [p.exitcode for p in procs] == [0] * 6
    store = ResultStore(path)
    for w in range(6):
        items = store.get(ResultKey(f"v{w}", "s", "x", "1"))
        assert items is not None and len(items) == 500
        assert store.provenance(ResultKey(f"v{w}", "s", "x", "1")) == {"worker": w}


def test_stale_result_set_is_explained(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    old = ResultKey("v", "suite-fp-1", "x", "1")
    store.put(old, [ItemResult("a", {"acc": 1.0})], {"suite": "general", "suite_version": "1.0"})
    new = ResultKey("v", "suite-fp-2", "x", "1")
    assert store.get(new) is None
    reasons = store.why_not_reused(new, "general", {"suite_version": "2.0"})
    assert reasons == ["suite version 1.0 -> 2.0"]
    assert json.dumps(reasons)
