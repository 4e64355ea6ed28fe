"""The machinery that makes scoring fast must not change a single result.

Token tries (shared contexts, shared choice prefixes, neighbouring contexts in one row), the
tree attention mask, token-budget batching and batched tokenisation are each checked against
the plain computation they replace. Timing itself lives in bench/, not here.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch

from harness.engine import HarnessLM, SharedContextScorer, TokenRequest
from harness.engine._scorer import _batches, pack_rows, tree_mask


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(str(tiny_model_dir))


def test_trie_row_holds_each_distinct_prefix_once() -> None:
    # two contexts sharing 2 tokens; choices sharing their first token
    reqs = [
        TokenRequest((1, 2, 3), (7, 8)),
        TokenRequest((1, 2, 3), (7, 9)),
        TokenRequest((1, 2, 3), (6,)),
        TokenRequest((1, 2, 4, 5), (7, 8, 9)),
    ]
    (row,) = pack_rows(reqs, row_tokens=64)
    # nodes: 1 2 3 7 | 4 5 7 8  (the last choice token is a target only, never an input)
    assert sorted(row.tokens) == sorted([1, 2, 3, 7, 4, 5, 7, 8])
    assert len(row.targets) == 2 + 2 + 1 + 3
    assert sorted(row.requests) == [0, 1, 2, 3]
    # every node's position is its depth: the same as in context + choice alone
    for tok, pos in zip(row.tokens, row.positions, strict=True):
        if tok in (1, 2):
            assert pos == tok - 1


def test_rows_split_at_the_token_budget_and_sort_longest_first() -> None:
    reqs = [TokenRequest(tuple(range(i, i + 10)), (1, 2)) for i in range(0, 400, 20)]
    rows = pack_rows(reqs, row_tokens=40)
    assert all(len(r.tokens) <= 40 for r in rows)
    assert [len(r.tokens) for r in rows] == sorted((len(r.tokens) for r in rows), reverse=True)
    assert sorted(i for r in rows for i in r.requests) == list(range(len(reqs)))
    for batch in _batches(rows, max_rows=100, max_tokens=70):
        assert len(batch) * len(batch[0].tokens) <= 70


def test_tree_mask_lets_a_node_see_exactly_its_ancestors() -> None:
    # trie in depth-first order: 0 -> 1 -> {2, 3 -> 4}; padding at 5
    ends = torch.tensor([[5, 5, 3, 5, 5, 6]])
    allowed = tree_mask(ends, torch.float32)[0, 0] == 0
    want = {0: {0}, 1: {0, 1}, 2: {0, 1, 2}, 3: {0, 1, 3}, 4: {0, 1, 3, 4}, 5: {5}}
    for q, keys in want.items():
        assert {k for k in range(6) if allowed[q, k]} == keys


def _random_requests(seed: int) -> list[TokenRequest]:
    rng = random.Random(seed)
    prefix = tuple(rng.randrange(5, 300) for _ in range(4))  # a shared instruction
    reqs = []
    for _ in range(20):
        ctx = prefix + tuple(rng.randrange(5, 300) for _ in range(rng.randint(1, 30)))
        first = rng.randrange(5, 300)
        for _ in range(rng.randint(1, 5)):
            tail = tuple(rng.randrange(5, 300) for _ in range(rng.randint(0, 4)))
            reqs.append(TokenRequest(ctx, (first, *tail) if rng.random() < 0.5 else tail or (9,)))
    return reqs


def test_a_short_last_row_gets_a_batch_of_its_own() -> None:
    reqs = [TokenRequest(tuple(range(i, i + 10)), (1, 2)) for i in range(0, 430, 20)]
    rows = pack_rows(reqs, row_tokens=40)
    widths = [len(r.tokens) for r in rows]
    assert widths == [33] * 7 + [11]  # 22 contexts of 11 nodes each, 3 per row: 1 left over
    batches = list(_batches(rows, max_rows=100, max_tokens=10_000))
    assert [len(b) for b in batches] == [len(rows) - 1, 1]
    padded = sum(len(b) * len(b[0].tokens) for b in batches)
    assert padded == sum(widths)


@pytest.mark.parametrize(
    ("rows", "row_tokens", "budget", "head_chunk"),
    [(1, 1, 64, 2048), (4, 64, 512, 3), (64, 512, 8192, 2048), (64, 512, 8192, 1)],
)
def test_results_do_not_depend_on_packing_or_batching(
    tiny, rows, row_tokens, budget, head_chunk
) -> None:
    model, _ = tiny
    reqs = _random_requests(0)
    ref = SharedContextScorer(model, batch_size=1, row_tokens=1).score(reqs)
    got = SharedContextScorer(
        model,
        batch_size=rows,
        row_tokens=row_tokens,
        max_batch_tokens=budget,
        head_chunk=head_chunk,
    ).score(reqs)
    for (lp, greedy), (rlp, rgreedy) in zip(got, ref, strict=True):
        assert lp == pytest.approx(rlp, abs=1e-4)
        assert greedy == rgreedy


def test_batched_tokenisation_equals_lm_evals_per_request_encoding(tiny) -> None:
    from lm_eval.api.model import TemplateLM

    model, tok = tiny
    lm = HarnessLM(model, tok, show_progress=False, device=None)
    pairs = [
        ("Question: What is 2 plus 3?\nAnswer:", " 5"),
        ("Ticket: my parcel has not arrived\nQueue: ", "Q23"),  # trailing space moves over
        ("Ticket:  ", " Q17"),
        ("", "Paris"),  # empty context: the prefix token
        ("", "<|im_start|>yes"),
        ("<|im_start|>user\nWhat is the capital of France?", " Paris"),  # starts with BOS
        ("Question: What is 2 plus 3?\nAnswer:", " 6"),
    ]

    class Capture(HarnessLM):
        def _loglikelihood_tokens(self, requests, disable_tqdm=False, **kw):
            self.seen = requests
            return [(0.0, False)] * len(requests)

    from lm_eval.api.instance import Instance

    ref = Capture(model, tok, show_progress=False, device=None)
    insts = [Instance("loglikelihood", {}, p, idx=0) for p in pairs]
    TemplateLM.loglikelihood(ref, insts, disable_tqdm=True)  # lm-eval's own per-request path
    assert [(c, x) for _, c, x in lm.encode_pairs(pairs)] == [(c, x) for _, c, x in ref.seen]


def _layout_by_walk(reqs: list[TokenRequest]) -> list[tuple]:
    from harness.engine._scorer import _Trie

    groups: dict[tuple[int, ...], list[int]] = {}
    for i, r in enumerate(reqs):
        groups.setdefault(r.context, []).append(i)
    trie = _Trie()
    for ctx in sorted(groups):
        trie.add_group(ctx, groups[ctx], reqs)
    fast = trie.preorder
    trie.preorder = False  # force the explicit depth-first walk
    row = trie.to_row(reqs)
    return [fast, row.tokens, row.positions, row.ends, row.need]


@pytest.mark.parametrize("seed", range(5))
def test_creation_order_layout_equals_a_depth_first_walk(seed: int) -> None:
    rng = random.Random(seed)
    reqs = [
        TokenRequest(
            tuple(rng.choice([1, 2, 3]) for _ in range(rng.randint(1, 4))),
            tuple(rng.choice([1, 2, 3, 4]) for _ in range(rng.randint(1, 3))),
        )
        for _ in range(12)
    ]
    walked = _layout_by_walk(reqs)
    (row,) = pack_rows(reqs, row_tokens=10_000)
    pairs = sorted(zip(row.tokens, row.positions, strict=True))
    assert pairs == sorted(zip(walked[1], walked[2], strict=True))
    if walked[0]:  # creation order was depth-first: identical layout without a walk
        assert [row.tokens, row.positions, row.ends] == walked[1:4]


def test_context_running_into_another_contexts_choice_scores_right(tiny) -> None:
    model, _ = tiny
    # (1, 2) has choices (3, 4) and (6, 7); (1, 2, 3, 5) runs on through choice node 3 after
    # node 6 exists, so creation order is not depth-first and the walk must take over.
    reqs = [
        TokenRequest((11, 12), (13, 14)),
        TokenRequest((11, 12), (16, 17)),
        TokenRequest((11, 12, 13, 15), (18,)),
    ]
    assert _layout_by_walk(reqs)[0] is False
    got = SharedContextScorer(model, row_tokens=64).score(reqs)
    want = SharedContextScorer(model, row_tokens=1).score(reqs)  # one row per context
    assert [g[0] for g in got] == pytest.approx([w[0] for w in want], abs=1e-5)


def test_warmup_changes_no_result(tiny) -> None:
    model, tok = tiny
    reqs = _random_requests(1)
    cold = SharedContextScorer(model, batch_size=8, max_batch_tokens=512).score(reqs)
    calls: list[int] = []
    hook = model.model.register_forward_pre_hook(lambda *_: calls.append(1))
    lm = HarnessLM(model, tok, batch_size=8, max_batch_tokens=512, device=None, warmup=True)
    assert calls  # the dummy batches ran through the decoder
    n = len(calls)
    HarnessLM(model, tok, batch_size=8, max_batch_tokens=512, device=None, warmup=True)
    assert len(calls) == n  # once per model and process
    hook.remove()
    assert lm.scorer.score(reqs) == cold
