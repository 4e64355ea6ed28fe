"""General suite, reasoning families: logic and language."""

from __future__ import annotations

import random

from .common import Item, load, num_item, take, tuples

NUMBER_WORDS: list[str] = load("common")["number_words"]

_LO = load("general_logic")
PEOPLE: list[str] = _LO["people"]
RELATIONS: list[tuple[str, str, str]] = tuples(_LO["relations"])
NONSENSE_KINDS: list[str] = _LO["nonsense_kinds"]
REAL_SYLLOGISMS: list[tuple[str, str, str, str]] = tuples(_LO["real_syllogisms"])
PET_NAMES: list[str] = _LO["pet_names"]
DAYS: list[str] = _LO["days"]
CONDITIONALS: list[tuple[str, ...]] = tuples(_LO["conditionals"])

_LA = load("general_language")
ANTONYMS: list[tuple[str, str]] = tuples(_LA["antonyms"])
ANTONYM_GROUPS: list[set[str]] = [set(g) for g in _LA["antonym_groups"]]
PLURALS: list[tuple[str, str]] = tuples(_LA["plurals"])
PAST_TENSES: list[tuple[str, str]] = tuples(_LA["past_tenses"])
DOUBLE_FINAL: set[str] = set(_LA["double_final"])
SYNONYMS: list[Item] = tuples(_LA["synonyms"])
RHYME_GROUPS: list[list[str]] = _LA["rhyme_groups"]
DEGREES: list[tuple[str, str, str, str]] = tuples(_LA["degrees"])
LETTER_QUIZ_WORDS: list[str] = _LA["letter_quiz_words"]
LANGUAGE_HAND: list[Item] = tuples(_LA["hand"])


def _singular(plural: str) -> str:
    return plural[:-2] if plural.endswith("xes") else plural[:-1]


def _article(word: str) -> str:
    return ("an " if word[0] in "aeiou" else "a ") + word


def logic(rng: random.Random) -> list[Item]:
    orders: list[Item] = []
    for k in range(400):
        comp, top, bottom = RELATIONS[k % len(RELATIONS)]
        a, b, c = rng.sample(PEOPLE, 3)  # a > b > c
        facts = [f"{a} is {comp} than {b}.", f"{b} is {comp} than {c}."]
        if rng.random() < 0.5:
            facts.reverse()
        ask = k % 3
        if ask == 2:
            q = f"{' '.join(facts)} Who is neither the {top} nor the {bottom}?"
            orders.append((q, b, a, c))
        else:
            q = f"{' '.join(facts)} Who is the {top if ask == 0 else bottom}?"
            ans = a if ask == 0 else c
            orders.append((q, ans, *(x for x in (a, b, c) if x != ans)))
    # yes/no syllogisms: two "Yes" forms and two "No" forms, used equally
    syl: dict[str, list[Item]] = {f: [] for f in ("all_yes", "none_no", "chain_yes", "tol_no")}
    for k in range(200):
        form = list(syl)[k % 4]
        name = PET_NAMES[k % len(PET_NAMES)]
        xp, yp, zp = rng.sample(NONSENSE_KINDS, 3)
        xs, ys = _article(_singular(xp)), _article(_singular(yp))
        if form == "all_yes" and k % 8 == 0:  # some with real categories
            xp, xs, yp, ys = REAL_SYLLOGISMS[(k // 8) % len(REAL_SYLLOGISMS)]
        if form == "all_yes":
            q, ans = f"All {xp} are {yp}. {name} is {xs}. Is {name} {ys}?", "Yes"
        elif form == "none_no":
            q, ans = f"No {xp} are {yp}. {name} is {xs}. Is {name} {ys}?", "No"
        elif form == "chain_yes":
            q, ans = f"All {xp} are {yp}. All {yp} are {zp}. Are all {xp} {zp}?", "Yes"
        else:
            q, ans = f"All {xp} are {yp}. {name} is not {ys}. Is {name} {xs}?", "No"
        syl[form].append((q, ans, "No" if ans == "Yes" else "Yes"))
    cond: list[Item] = []
    for if_c, then_c, fact_if, q_then, fact_not_then, q_if in CONDITIONALS:
        rule = f"If {if_c}, {then_c}."
        cond.append((f"{rule} {fact_if} {q_then}", "Yes", "No"))
        cond.append((f"{rule} {fact_not_then} {q_if}", "No", "Yes"))
    queue: list[Item] = []
    for name in PEOPLE:
        n = rng.randrange(4, 9)
        k = rng.randrange(2, n)
        q = (
            f"{n} children stand in a line. {name} is number {k} from the front. "
            f"How many children are in front of {name}?"
        )
        queue.append(num_item(q, k - 1, [k, k + 1, n - k, k - 2, n], rng))
        q = (
            f"{n} people wait in a queue. {name} is number {k} from the front. "
            f"How many people are behind {name}?"
        )
        queue.append(num_item(q, n - k, [n - k + 1, n - k - 1, k, k - 1, n], rng))
    days: list[Item] = []
    for d, day in enumerate(DAYS):
        for step in range(1, 7):
            ans = DAYS[(d + step) % 7]
            when = "tomorrow" if step == 1 else f"in {NUMBER_WORDS[step]} days"
            near = [DAYS[(d + step + j) % 7] for j in (1, -1, 2, -2)]
            days.append((f"If today is {day}, what day will it be {when}?", ans, *near[:3]))
        for step in range(1, 4):
            ans = DAYS[(d - step) % 7]
            when = "yesterday" if step == 1 else f"{NUMBER_WORDS[step]} days ago"
            near = [DAYS[(d - step + j) % 7] for j in (1, -1, 2)]
            days.append((f"If today is {day}, what day was it {when}?", ans, *near))
    return [
        *take(rng, orders, 80, "orderings"),
        *(it for form in syl.values() for it in take(rng, form, 12, "syllogisms")),
        *take(rng, cond, 32, "conditionals"),
        *take(rng, queue, 36, "line positions"),
        *take(rng, days, 54, "days"),
    ]


def _ing(verb: str) -> str:
    if verb in DOUBLE_FINAL:
        return verb + verb[-1] + "ing"
    if verb.endswith("e") and not verb.endswith("ee"):
        return verb[:-1] + "ing"
    return verb + "ing"


def _third(verb: str) -> str:
    if verb.endswith(("s", "sh", "ch", "x", "o")):
        return verb + "es"
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return verb[:-1] + "ies"
    return verb + "s"


def language(rng: random.Random) -> list[Item]:
    answers = [b for _, b in ANTONYMS]
    antonyms: list[Item] = []
    for word, opp in ANTONYMS:
        clash = set().union(*(g for g in ANTONYM_GROUPS if opp in g)) | {opp}
        pool = [x for x in answers if x not in clash]
        antonyms.append((f"What is the opposite of '{word}'?", opp, *rng.sample(pool, 3)))
    plurals: list[Item] = []
    for word, plural in PLURALS:
        wrong = [word + "s", word + "es", word[:-1] + "ies", word + "en", word + "ses"]
        wrong = list(dict.fromkeys(w for w in wrong if w != plural and w != word))
        if word == plural:
            wrong = [word + "s", word + "es", word + "en"]
        plurals.append((f"What is the plural of '{word}'?", plural, *rng.sample(wrong, 3)))
    pasts: list[Item] = []
    for verb, past in PAST_TENSES:
        naive = verb + "d" if verb.endswith("e") else verb + "ed"
        first = naive if naive != past else verb
        pasts.append(
            (f"What is the past tense of '{verb}'?", past, first, _ing(verb), _third(verb))
        )
    rhymes: list[Item] = []
    for gi, group in enumerate(RHYME_GROUPS):
        others = [w for gj, g in enumerate(RHYME_GROUPS) if gj != gi for w in g]
        for word in group:
            ans = rng.choice([w for w in group if w != word])
            rhymes.append((f"Which word rhymes with '{word}'?", ans, *rng.sample(others, 3)))
    degrees: list[Item] = []
    for adj, comp, sup, bad in DEGREES:
        degrees.append((f"What is the comparative form of '{adj}'?", comp, sup, adj, bad))
        degrees.append((f"What is the superlative form of '{adj}'?", sup, comp, adj, bad))
    letters: list[Item] = []
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    for word in LETTER_QUIZ_WORDS:
        for pos, idx in (("first", 0), ("last", -1)):
            ans = word[idx].upper()
            bad = rng.sample([c for c in alphabet if c.lower() not in word], 3)
            letters.append((f"What is the {pos} letter of the word '{word}'?", ans, *bad))
    return [
        *take(rng, antonyms, 55, "antonyms"),
        *LANGUAGE_HAND,
        *take(rng, plurals, 30, "plurals"),
        *take(rng, pasts, 35, "past tenses"),
        *take(rng, SYNONYMS, 25, "synonyms"),
        *take(rng, rhymes, 25, "rhymes"),
        *take(rng, degrees, 20, "comparatives"),
        *take(rng, letters, 10, "letters"),
    ]
