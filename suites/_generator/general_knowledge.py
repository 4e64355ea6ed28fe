"""General suite, knowledge families: arithmetic, factual recall, commonsense."""

from __future__ import annotations

import random

from .common import PER_CAPABILITY, Item, load, num_item, others, take, tuples

MONTHS: list[str] = load("common")["months"]

_AR = load("general_arithmetic")
WP_NAMES: list[str] = _AR["wp_names"]
WP_THINGS: list[str] = _AR["wp_things"]
WP_CONTAINERS: list[tuple[str, str]] = tuples(_AR["wp_containers"])

_FR = load("general_factual_recall")
FACTS: list[Item] = tuples(_FR["facts"])
COUNTRIES: list[tuple[str, str, str | None]] = tuples(_FR["countries"])
CONTINENTS: list[str] = _FR["continents"]
ANIMAL_CLASSES: dict[str, list[str]] = _FR["animal_classes"]
ELEMENTS: list[tuple[str, str]] = tuples(_FR["elements"])
LEGS: list[tuple[str, int]] = tuples(_FR["legs"])
COLOUR_FACTS: list[tuple[str, str]] = tuples(_FR["colour_facts"])
FACT_COLOURS: list[str] = _FR["fact_colours"]
SHAPES: list[tuple[str, int]] = tuples(_FR["shapes"])
SEASONS: list[str] = _FR["seasons"]
ORDINALS: list[str] = _FR["ordinals"]
MONTH_DAYS: dict[str, int] = _FR["month_days"]

_CS = load("general_commonsense")
COMMONSENSE: list[Item] = tuples(_CS["hand"])
COMPARE_TIERS: list[tuple[str, str, list[list[str]]]] = tuples(_CS["compare_tiers"])
TOOLS: list[tuple[str, str, str]] = tuples(_CS["tools"])
ROOMS: list[str] = _CS["rooms"]
ROOM_THINGS: list[tuple[str, str]] = tuples(_CS["room_things"])
PLACES: list[tuple[str, str, list[str]]] = tuples(_CS["places"])


def arithmetic(rng: random.Random) -> list[Item]:
    fam: dict[str, list[Item]] = {k: [] for k in ("add", "sub", "mul", "half", "double")}
    for a in range(2, 21):
        for b in range(2, 21):
            s = a + b
            fam["add"].append(
                num_item(f"What is {a} + {b}?", s, [s + 1, s - 1, s + 2, s - 2, s + 10], rng)
            )
    for a in range(10, 31):
        for b in range(2, a):
            d = a - b
            fam["sub"].append(
                num_item(f"What is {a} - {b}?", d, [d + 1, d - 1, d + 2, d - 2, a + b], rng)
            )
    for a in range(2, 10):
        for b in range(2, 10):
            p = a * b
            fam["mul"].append(
                num_item(
                    f"What is {a} times {b}?",
                    p,
                    [p + a, p - a, p + b, p - b, a + b, p + 1, p - 1],
                    rng,
                )
            )
    for n in range(4, 61, 2):
        h = n // 2
        fam["half"].append(num_item(f"What is half of {n}?", h, [n, h + 1, h - 1, n * 2], rng))
    for n in range(2, 31):
        fam["double"].append(
            num_item(f"What is double {n}?", 2 * n, [n, 2 * n + 1, 2 * n - 1, n + 2], rng)
        )
    words: list[Item] = []
    for name in WP_NAMES:
        for thing in WP_THINGS:
            a, b = rng.randrange(2, 10), rng.randrange(2, 10)
            kind = rng.randrange(3)
            if kind == 0:
                q = (
                    f"{name} has {a} {thing} and buys {b} more. "
                    f"How many {thing} does {name} have now?"
                )
                words.append(num_item(q, a + b, [a + b + 1, a + b - 1, abs(a - b), a * b], rng))
            elif kind == 1:
                a += b  # so the answer is positive
                q = (
                    f"{name} has {a} {thing} and gives {b} away. "
                    f"How many {thing} does {name} have left?"
                )
                words.append(num_item(q, a - b, [a - b + 1, a - b - 1, a + b, a], rng))
            else:
                plural, single = rng.choice(WP_CONTAINERS)
                a, b = rng.randrange(2, 6), rng.randrange(2, 6)
                q = (
                    f"There are {a} {plural} with {b} {thing} in each {single}. "
                    f"How many {thing} are there in total?"
                )
                words.append(num_item(q, a * b, [a + b, a * b + 1, a * b - 1, a * b + a], rng))
    return [
        *take(rng, fam["add"], 55, "add"),
        *take(rng, fam["sub"], 55, "sub"),
        *take(rng, fam["mul"], 45, "mul"),
        *take(rng, fam["half"], 20, "half"),
        *take(rng, fam["double"], 20, "double"),
        *take(rng, words, 55, "word problems"),
    ]


def factual_recall(rng: random.Random) -> list[Item]:
    hand = list(FACTS)
    hand_qs = {it[0] for it in hand}
    capitals = [cap for _, cap, _ in COUNTRIES]
    cap_items: list[Item] = []
    cont_items: list[Item] = []
    for country, cap, cont in COUNTRIES:
        q = f"What is the capital of {country}?"
        if q not in hand_qs:
            cap_items.append((q, cap, *others(rng, cap, capitals)))
        q = f"On which continent is {country}?"
        if cont is not None and q not in hand_qs:
            cont_items.append((q, cont, *others(rng, cont, CONTINENTS)))
    classes = sorted(ANIMAL_CLASSES)
    class_items: list[Item] = []
    for cls in classes:
        for animal in ANIMAL_CLASSES[cls]:
            q = f"What kind of animal is {animal}?"
            class_items.append((q, cls, *others(rng, cls, classes)))
    symbols = [s for _, s in ELEMENTS]
    elem_items: list[Item] = []
    for name, sym in ELEMENTS:
        q = f"What is the chemical symbol for {name}?"
        if q not in hand_qs:
            elem_items.append((q, sym, *others(rng, sym, symbols)))
    misc: list[Item] = []
    for animal, n in LEGS:
        misc.append((f"How many legs does {animal} have?", str(n), *others(rng, str(n), "024681")))
    for q, col in COLOUR_FACTS:
        misc.append((q, col, *others(rng, col, FACT_COLOURS)))
    for shape, n in SHAPES:
        near = [str(x) for x in (n - 1, n + 1, n + 2, n - 2)]
        misc.append((f"How many sides does {shape} have?", str(n), *rng.sample(near, 3)))
    for i, s in enumerate(SEASONS):
        nxt, opp = SEASONS[(i + 1) % 4], SEASONS[(i + 2) % 4]
        misc.append((f"Which season comes after {s}?", nxt, *(x for x in SEASONS if x != nxt)))
        misc.append(
            (
                f"When it is {s} in the Northern Hemisphere, which season is it in the "
                "Southern Hemisphere?",
                opp,
                *(x for x in SEASONS if x != opp),
            )
        )
    for m, days in MONTH_DAYS.items():
        other = "30" if days == 31 else "31"
        misc.append((f"How many days are there in {m}?", str(days), other, "28", "35"))
    month_items: list[Item] = []
    for i, m in enumerate(MONTHS):
        nxt, prev = MONTHS[(i + 1) % 12], MONTHS[(i - 1) % 12]
        month_items.append(
            (f"Which month comes after {m}?", nxt, prev, *others(rng, nxt, MONTHS)[:2])
        )
        month_items.append(
            (
                f"Which month comes before {m}?",
                prev,
                nxt,
                *others(rng, prev, [x for x in MONTHS if x != nxt])[:2],
            )
        )
        month_items.append(
            (f"Which is the {ORDINALS[i]} month of the year?", m, *others(rng, m, MONTHS))
        )
    items = [
        *hand,
        *take(rng, cap_items, 30, "capitals"),
        *take(rng, cont_items, 30, "continents"),
        *take(rng, class_items, 30, "animal classes"),
        *take(rng, elem_items, 18, "elements"),
        *take(rng, misc, len(misc), "misc facts"),
    ]
    items.extend(take(rng, month_items, PER_CAPABILITY - len(items), "months"))
    return items


def commonsense(rng: random.Random) -> list[Item]:
    hand = list(COMMONSENSE)
    compare: dict[str, list[Item]] = {}
    for big_adj, small_adj, tiers in COMPARE_TIERS:
        pool: list[Item] = []
        for i, lower in enumerate(tiers):
            for upper in tiers[i + 2 :]:
                for small in lower:
                    for big in upper:
                        ask_big = rng.random() < 0.5
                        pair = [big, small]
                        rng.shuffle(pair)
                        adj = big_adj if ask_big else small_adj
                        q = f"Which is {adj}, {pair[0]} or {pair[1]}?"
                        pool.append((q, big, small) if ask_big else (q, small, big))
        compare[big_adj] = pool
    uses = [u for _, u, _ in TOOLS]
    tools = [t for t, _, _ in TOOLS]
    tool_items: list[Item] = []
    for tool, use, group in TOOLS:
        bad_uses = [u for _, u, g in TOOLS if g != group]
        bad_tools = [t for t, _, g in TOOLS if g != group]
        assert use in uses and tool in tools
        tool_items.append((f"What is {tool} used for?", use, *rng.sample(bad_uses, 3)))
        tool_items.append(
            (f"Which of these would you use for {use}?", tool, *rng.sample(bad_tools, 3))
        )
    where: list[Item] = []
    for thing, room in ROOM_THINGS:
        where.append(
            (f"In which room of a house would you usually find {thing}?", room,
             *(r for r in ROOMS if r != room))
        )  # fmt: skip
    all_places = [p for _, p, _ in PLACES]
    for want, place, also in PLACES:
        bad = [p for p in all_places if p != place and p not in also]
        where.append((f"Where would you go to {want}?", place, *rng.sample(bad, 3)))
    return [
        *hand,
        *take(rng, compare["heavier"], 30, "heavier"),
        *take(rng, compare["bigger"], 30, "bigger"),
        *take(rng, compare["faster"], 24, "faster"),
        *take(rng, compare["hotter"], 16, "hotter"),
        *take(rng, tool_items, 48, "tools"),
        *take(rng, where, 24, "where"),
    ]
