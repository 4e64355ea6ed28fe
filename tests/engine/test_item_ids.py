"""Item ids of a task-YAML suite without an ``id`` column are the rows' positions in the split,
whatever the batch a row was scored in and whatever was skipped (a resumed run)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from harness.config import ScoringSettings, load_suite
from harness.engine import HarnessLM, run_suite
from tests.conftest import write_tiny_suites


@pytest.fixture(scope="module")
def lm(tiny_model_dir: Path) -> HarnessLM:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    return HarnessLM(model, tok, batch_size=8, show_progress=False)


def _no_ids(tmp_path: Path) -> Path:
    path = write_tiny_suites(tmp_path)["general"]
    data = path.parent / "test.jsonl"
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    for r in rows:
        del r["id"]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_ids_without_id_column_are_split_positions_across_batches_and_resume(
    lm: HarnessLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    suite = load_suite(_no_ids(tmp_path))
    whole = run_suite(lm, suite, ScoringSettings(), batch_items=1000)
    n = len(whole)
    assert n == 41
    assert [r.item_id for r in whole] == [str(i) for i in range(n)]
    batched = run_suite(lm, suite, ScoringSettings(), batch_items=7)
    assert [r.item_id for r in batched] == [str(i) for i in range(n)]
    # The same row under the same id: its log-likelihoods agree with the one-batch run.
    for a, b in zip(whole, batched, strict=True):
        assert a.extra["loglikelihoods"] == pytest.approx(b.extra["loglikelihoods"], abs=1e-4)
    skip = {str(i) for i in range(0, n, 3)}
    resumed = run_suite(lm, suite, ScoringSettings(), skip=skip, batch_items=5)
    want = [str(i) for i in range(n) if str(i) not in skip]
    assert [r.item_id for r in resumed] == want
    by_id = {r.item_id: r for r in whole}
    for r in resumed:
        assert r.scores == by_id[r.item_id].scores


def test_selection_local_doc_ids_map_to_split_positions(
    lm: HarnessLM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lm-eval versions that log ``doc_id`` as the position within ``samples=`` (0, 1, ... in
    every batch) get the split positions back: the k-th scored document is ``positions[k]``."""
    from lm_eval.evaluator import evaluate

    from harness.engine import build_task
    from harness.engine._suite_runner import _items_from_samples

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    suite = load_suite(_no_ids(tmp_path))
    chunk = [5, 6, 9, 30]
    out = evaluate(
        lm=lm,
        task_dict={suite.name: build_task(suite)},
        samples={suite.name: chunk},
        bootstrap_iters=0,
        log_samples=True,
        verbosity="ERROR",
    )
    samples = out["samples"][suite.name]
    local = [dict(s, doc_id=chunk.index(int(s["doc_id"]))) for s in samples]
    items = _items_from_samples(local, suite, ["acc", "acc_norm"], positions=chunk)
    assert [r.item_id for r in items] == ["5", "6", "9", "30"]
    as_logged = _items_from_samples(samples, suite, ["acc", "acc_norm"], positions=chunk)
    assert [r.scores for r in items] == [r.scores for r in as_logged]
    with pytest.raises(RuntimeError, match="scored 4 of 3"):
        _items_from_samples(samples, suite, ["acc"], positions=chunk[:3])
