"""Shared pieces: seeds, data-file loading, JSONL writing and item helpers."""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

SEED = 20240611
PER_CAPABILITY = 250  # items per capability in the general suite
DATA_DIR = Path(__file__).resolve().parent / "data"

# (question, correct answer, distractors...)
Item = tuple[str, ...]


@cache
def load(name: str) -> dict[str, Any]:
    """The tables of ``data/<name>.json``; keys starting with ``_`` (notes) are dropped."""
    with open(DATA_DIR / f"{name}.json", encoding="utf-8") as fh:
        data = json.load(fh)
    return {k: v for k, v in data.items() if not k.startswith("_")}


def tuples(rows: Iterable[Sequence[Any]]) -> list[tuple[Any, ...]]:
    """The rows of a data-file table (JSON lists) as tuples, e.g. hand-written items."""
    return [tuple(r) for r in rows]


def write_jsonl(path: Path, rows: Iterable[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def take(rng: random.Random, pool: Sequence[Item], n: int, name: str) -> list[Item]:
    """Sample ``n`` items of one template family (the pool must be big enough)."""
    first: dict[str, Item] = {}
    for it in pool:  # a template may produce the same question twice: keep the first
        first.setdefault(it[0], it)
    uniq = list(first.values())
    assert len(uniq) >= n, (name, len(uniq), n)
    return rng.sample(uniq, n)


def others(rng: random.Random, answer: str, pool: Sequence[str], k: int = 3) -> list[str]:
    cands = sorted({x for x in pool if x != answer})
    return rng.sample(cands, k)


def num_item(q: str, ans: int, near: Iterable[int], rng: random.Random) -> Item:
    distractors = sorted({x for x in near if x >= 0 and x != ans})
    rng.shuffle(distractors)
    assert len(distractors) >= 3, q
    return (q, str(ans), *(str(x) for x in distractors[:3]))
