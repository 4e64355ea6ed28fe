"""Ticket suites: routing (task, multiple choice), extraction (generation), replies (rolling)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Sequence

from .common import SEED, load, tuples

_TR = load("ticket_routing")
QUEUES: list[tuple[str, str]] = tuples(_TR["queues"])
CHOICES = [code for code, _ in QUEUES]
ISSUES: dict[str, list[str]] = _TR["issues"]
PRODUCTS: list[str] = _TR["products"]
OPENERS: list[str] = _TR["openers"]
DETAILS: list[str] = _TR["details"]
CLOSINGS: list[str] = _TR["closings"]
MONTHS: list[str] = load("common")["months"]
COLOURS: list[str] = _TR["colours"]
CITIES: list[str] = _TR["cities"]
NAMES: list[str] = _TR["names"]
N_TRAIN = 480
N_TEST = 300

_EX = load("ticket_extraction")
N_EXTRACT_PER_CAPABILITY = 80
EXTRACT_QUESTIONS: dict[str, str] = _EX["questions"]
ORDER_DETAILS: list[str] = _EX["order_details"]

_RP = load("support_replies")
N_REPLIES_PER_TOPIC = 20
REPLY_OPENERS: list[str] = _RP["openers"]
REPLY_BODIES: dict[str, list[str]] = _RP["bodies"]
REPLY_CLOSINGS: list[str] = _RP["closings"]


# ---- ticket routing --------------------------------------------------------------------------


def _ticket(rng: random.Random, issue: str, products: Sequence[str]) -> str:
    product = rng.choice(products)
    fill = {
        "product": product,
        "order": f"#{rng.randrange(100000, 1000000)}",
        "date": f"{rng.randrange(1, 29)} {rng.choice(MONTHS)}",
        "month": rng.choice(MONTHS),
        "cust": f"C-{rng.randrange(10000, 100000)}",
        "colour": rng.choice(COLOURS),
        "city": rng.choice(CITIES),
        "name": rng.choice(NAMES),
    }
    parts: list[str] = []
    if rng.random() < 0.6:
        parts.append(rng.choice(OPENERS))
    parts.append(issue.format(**fill))
    if rng.random() < 0.85:
        parts.append(rng.choice(DETAILS).format(**fill))
    if rng.random() < 0.75:
        parts.append(rng.choice(CLOSINGS).format(**fill))
    return " ".join(parts)


def _split_rows(
    rng: random.Random,
    split: str,
    n_total: int,
    issues: dict[str, list[str]],
    products: Sequence[str],
) -> list[dict]:
    per_queue = n_total // len(QUEUES)
    rows: list[dict] = []
    seen: set[str] = set()
    for label, (code, _topic) in enumerate(QUEUES):
        phrasings = issues[code]
        for k in range(per_queue):
            issue = phrasings[k % len(phrasings)]
            for _attempt in range(1000):
                text = _ticket(rng, issue, products)
                if text not in seen:
                    break
            else:  # pragma: no cover - combinatorics make this unreachable
                raise RuntimeError("could not generate a unique ticket")
            seen.add(text)
            rows.append({"ticket": text, "label": label, "queue": code})
    rng.shuffle(rows)
    return [{"id": f"tr-{split}-{i + 1:04d}", **r} for i, r in enumerate(rows)]


def build_ticket_routing() -> tuple[list[dict], list[dict]]:
    rng = random.Random(SEED)
    train_issues: dict[str, list[str]] = {}
    test_issues: dict[str, list[str]] = {}
    for code, _topic in QUEUES:
        phr = list(ISSUES[code])
        assert len(phr) == len(set(phr)) >= 12, code
        rng.shuffle(phr)
        cut = (2 * len(phr)) // 3
        train_issues[code], test_issues[code] = phr[:cut], phr[cut:]
    all_phrasings = [p for code, _ in QUEUES for p in ISSUES[code]]
    assert len(all_phrasings) == len(set(all_phrasings)), "duplicate phrasing across queues"

    products = list(PRODUCTS)
    rng.shuffle(products)
    # 6 train-only, 6 shared, 4 test-only product names
    train_products, test_products = products[:12], products[6:]

    train = _split_rows(rng, "train", N_TRAIN, train_issues, train_products)
    test = _split_rows(rng, "test", N_TEST, test_issues, test_products)

    train_texts = {r["ticket"] for r in train}
    test_texts = {r["ticket"] for r in test}
    assert len(train_texts) == N_TRAIN and len(test_texts) == N_TEST
    assert not train_texts & test_texts, "ticket text appears in both splits"
    for code, _ in QUEUES:  # no test phrasing leaks into train (and vice versa)
        assert not set(train_issues[code]) & set(test_issues[code])
    for rows, n in ((train, N_TRAIN), (test, N_TEST)):
        counts = Counter(r["label"] for r in rows)
        assert counts == dict.fromkeys(range(len(QUEUES)), n // len(QUEUES)), counts
    return train, test


# ---- ticket extraction -----------------------------------------------------------------------


def _extract_ticket(rng: random.Random, capability: str) -> tuple[str, str]:
    """A ticket and the short phrase to extract from it (the product name or the order number)."""
    code = rng.choice(CHOICES)
    issue = rng.choice([p for p in ISSUES[code] if "{product}" in p])
    product = rng.choice(PRODUCTS)
    order = f"#{rng.randrange(100000, 1000000)}"
    parts = [rng.choice(OPENERS)] if rng.random() < 0.5 else []
    parts.append(issue.format(product=product))
    if capability == "order_number" or rng.random() < 0.5:
        parts.append(rng.choice(ORDER_DETAILS).format(order=order))
    if rng.random() < 0.6:
        parts.append(rng.choice(CLOSINGS).format(name=rng.choice(NAMES)))
    return " ".join(parts), product if capability == "product" else order


def build_extraction() -> list[dict]:
    rng = random.Random(SEED + 2)
    rows: list[dict] = []
    seen: set[str] = set()
    for capability in EXTRACT_QUESTIONS:
        made = 0
        while made < N_EXTRACT_PER_CAPABILITY:
            ticket, answer = _extract_ticket(rng, capability)
            if ticket in seen:
                continue
            seen.add(ticket)
            assert answer in ticket
            rows.append(
                {
                    "capability": capability,
                    "ticket": ticket,
                    "question": EXTRACT_QUESTIONS[capability],
                    "answer": answer,
                }
            )
            made += 1
    rng.shuffle(rows)
    return [{"id": f"ex-{i + 1:04d}", **r} for i, r in enumerate(rows)]


# ---- support replies -------------------------------------------------------------------------


def build_replies() -> list[dict]:
    rng = random.Random(SEED + 3)
    rows: list[dict] = []
    seen: set[str] = set()
    for topic, bodies in REPLY_BODIES.items():
        made = 0
        while made < N_REPLIES_PER_TOPIC:
            body = rng.sample(bodies, 2)
            text = " ".join(
                [
                    rng.choice(REPLY_OPENERS).format(product=rng.choice(PRODUCTS)),
                    *body,
                    rng.choice(REPLY_CLOSINGS),
                ]
            )
            if text in seen:
                continue
            seen.add(text)
            rows.append({"topic": topic, "text": text})
            made += 1
    rng.shuffle(rows)
    return [{"id": f"rp-{i + 1:04d}", **r} for i, r in enumerate(rows)]
