"""General-capability suite (forgetting detector): 250 items for each of six capabilities."""

from __future__ import annotations

import random
from collections import Counter

from .common import PER_CAPABILITY, SEED, Item
from .general_instructions import instruction_following
from .general_knowledge import arithmetic, commonsense, factual_recall
from .general_reasoning import language, logic

CAPABILITIES = [
    "arithmetic",
    "factual_recall",
    "commonsense",
    "logic",
    "language",
    "instruction_following",
]


def _place(rng: random.Random, items: list[Item], capability: str) -> list[dict]:
    """Turn (question, answer, *distractors) into rows with a balanced answer position."""
    decks: dict[int, list[int]] = {}
    rows = []
    for q, answer, *distractors in items:
        n = 1 + len(distractors)
        assert 2 <= n <= 4, q
        assert answer not in distractors and len(set(distractors)) == len(distractors), q
        deck = decks.setdefault(n, [])
        if not deck:
            deck.extend(range(n))
            rng.shuffle(deck)
        pos = deck.pop()
        others = list(distractors)
        rng.shuffle(others)
        choices = [*others[:pos], answer, *others[pos:]]
        rows.append({"capability": capability, "question": q, "choices": choices, "answer": pos})
    return rows


def build_general() -> list[dict]:
    rng = random.Random(SEED + 1)
    builders = {
        "arithmetic": arithmetic,
        "factual_recall": factual_recall,
        "commonsense": commonsense,
        "logic": logic,
        "language": language,
        "instruction_following": instruction_following,
    }
    rows: list[dict] = []
    seen_questions: set[str] = set()
    for cap in CAPABILITIES:
        items = builders[cap](rng)
        assert len(items) == PER_CAPABILITY, (cap, len(items))
        keys = [(q, tuple(sorted(rest))) for q, *rest in items]
        assert len(set(keys)) == len(keys), f"duplicate item in {cap}"
        for q, *_rest in items:
            assert q not in seen_questions, f"duplicate question: {q}"
            seen_questions.add(q)
        rows.extend(_place(rng, items, cap))
    rng.shuffle(rows)
    rows = [{"id": f"gen-{i + 1:04d}", **r} for i, r in enumerate(rows)]
    counts = Counter(r["capability"] for r in rows)
    assert counts == dict.fromkeys(CAPABILITIES, PER_CAPABILITY), counts
    return rows
