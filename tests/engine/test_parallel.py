"""Data-parallel scoring: shards keep contexts together, cover every request once, and the
one-process path (CPU, plain ``python``) returns exactly what the scorer returns."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from harness.engine import (
    HarnessLM,
    SharedContextScorer,
    TokenRequest,
    process_state,
    score_data_parallel,
    shard_by_context,
)

ROOT = Path(__file__).resolve().parents[2]


def _requests(seed: int = 0, n_ctx: int = 15) -> list[TokenRequest]:
    rng = random.Random(seed)
    out = []
    for _ in range(n_ctx):
        ctx = tuple(rng.randrange(5, 300) for _ in range(rng.randint(3, 30)))
        for _ in range(rng.randint(1, 4)):
            out.append(TokenRequest(ctx, tuple(rng.randrange(5, 300) for _ in range(2))))
    return out


@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_shards_partition_requests_and_keep_contexts_together(world: int) -> None:
    reqs = _requests()
    ctxs = [r.context for r in reqs]
    lens = [len(r.context) + len(r.continuation) for r in reqs]
    shards = [shard_by_context(ctxs, lens, rank, world) for rank in range(world)]
    flat = sorted(i for s in shards for i in s)
    assert flat == list(range(len(reqs)))
    owner = {reqs[i].context: rank for rank, s in enumerate(shards) for i in s}
    for rank, s in enumerate(shards):
        assert all(owner[reqs[i].context] == rank for i in s)
    if world > 1:  # longest-first round robin keeps the token load roughly even
        loads = [sum(lens[i] for i in s) for s in shards if s]
        assert max(loads) <= 2 * min(loads) + max(lens) * 4


def test_one_process_returns_the_scorer_results(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    assert process_state().num_processes == 1
    scorer = SharedContextScorer(model, batch_size=4)
    reqs = _requests(seed=1)
    got = score_data_parallel(
        reqs, scorer.score, context_of=lambda r: r.context, length_of=lambda r: 1
    )
    assert got == scorer.score(reqs)


def test_harness_lm_places_model_on_the_process_device(tiny_model_dir: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    lm = HarnessLM(model, AutoTokenizer.from_pretrained(str(tiny_model_dir)), show_progress=False)
    assert lm.scorer.device == process_state().device


WORKER = """
import sys, torch
from transformers import AutoModelForCausalLM
from harness.engine import SharedContextScorer, process_state, score_data_parallel
from tests.engine.test_parallel import _requests
state = process_state()
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], dtype=torch.float32).eval()
scorer = SharedContextScorer(model, batch_size=4)
seen = []
def score(part):
    seen.append(len(part))
    return scorer.score(part)
reqs = _requests(seed=2)
got = score_data_parallel(reqs, score, lambda r: r.context, lambda r: len(r.context))
want = scorer.score(reqs)
assert len(got) == len(want)
assert all(abs(a[0] - b[0]) < 1e-4 and a[1] == b[1] for a, b in zip(got, want))
assert 0 < seen[0] < len(reqs), seen
print("rank", state.process_index, "of", state.num_processes, "scored", seen[0], "of", len(reqs))
"""


@pytest.mark.slow
def test_two_cpu_processes_split_and_gather(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Two processes under torchrun (gloo on CPU): each scores a shard, both get everything."""
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
         str(script), str(tiny_model_dir)],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-4000:]
    assert "rank 0 of 2" in out.stdout and "rank 1 of 2" in out.stdout
