"""General suite, instruction-following family: pick the output that obeys the instruction."""

from __future__ import annotations

import json
import random

from .common import Item, load, take, tuples

NUMBER_WORDS: list[str] = load("common")["number_words"]

_IF = load("general_instruction_following")
CAPS_PHRASES: list[str] = _IF["caps_phrases"]
LOWER_PHRASES: list[str] = _IF["lower_phrases"]
WORD_COUNT_REPLIES: list[tuple[str, list[str]]] = tuples(_IF["word_count_replies"])
JSON_VALUE_LISTS: list[list[str] | list[int]] = _IF["json_value_lists"]
JSON_OBJECTS: list[tuple[str, str | int]] = tuples(_IF["json_objects"])
QUESTION_PAIRS: list[tuple[str, str]] = tuples(_IF["question_pairs"])
CATEGORY_WORDS: dict[str, list[str]] = _IF["category_words"]
LIST_CATEGORIES: dict[str, list[str]] = _IF["list_categories"]
SORT_WORDS: list[str] = _IF["sort_words"]
REVERSE_WORDS: list[str] = _IF["reverse_words"]


def _number_words(n: int) -> str:
    return NUMBER_WORDS[n]


def _case(upper: bool) -> list[Item]:
    if upper:
        return [
            (f"Write '{p}' in all capital letters.", p.upper(), p, p.title(), p.capitalize())
            for p in CAPS_PHRASES
        ]
    return [
        (f"Write '{p.upper()}' in all lowercase letters.", p, p.upper(), p.title(), p.capitalize())
        for p in LOWER_PHRASES
    ]


def _word_counts(rng: random.Random) -> list[Item]:
    counts: list[Item] = []
    for prompt, replies in WORD_COUNT_REPLIES:
        assert [len(r.split()) for r in replies] == [1, 2, 3, 4, 5], prompt
        for n in range(1, 6):
            good = replies[n - 1]
            bad = rng.sample([r for r in replies if r != good], 3)
            q = f"Answer '{prompt}' using exactly {_number_words(n)} word{'s' if n > 1 else ''}."
            counts.append((q, good, *bad))
    return counts


def _jsons(rng: random.Random) -> list[Item]:
    jsons: list[Item] = []
    for values in JSON_VALUE_LISTS:
        good = json.dumps(values)
        inner = ", ".join(str(v) for v in values)
        bad = [f"({inner})", f"[{inner}", "{" + inner + "}", good[:-1]]
        if isinstance(values[0], str):
            bad += ["[" + ", ".join(f"'{v}'" for v in values) + "]", f"[{inner}]"]
        bad = list(dict.fromkeys(b for b in bad if b != good))
        kind = "word" if isinstance(values[0], str) else "number"
        if len(values) == 1:
            spoken = f"the {kind} {values[0]}"
        else:
            head = ", ".join(str(v) for v in values[:-1])
            spoken = f"the {kind}s {head} and {values[-1]}"
        q = f"Write {spoken} as a valid JSON list."
        jsons.append((q, good, *rng.sample(bad, 3)))
    for key, value in JSON_OBJECTS:
        good = json.dumps({key: value})
        v = json.dumps(value)
        single = f"'{value}'" if isinstance(value, str) else v
        bad = [
            "{" + f"'{key}': {single}" + "}",
            "{" + f"{key}: {v}" + "}",
            "{" + f'"{key}" = {v}' + "}",
            f'("{key}": {v})',
            "{" + f'"{key}": {v}',
        ]
        q = f'Write a valid JSON object with the key "{key}" set to {v}.'
        jsons.append((q, good, *rng.sample(bad, 3)))
    return jsons


def _questions() -> list[Item]:
    questions: list[Item] = []
    for statement, question in QUESTION_PAIRS:
        assert question.endswith("?") and statement.endswith(".")
        q = f"Turn '{statement}' into a question that ends with a question mark."
        questions.append((q, question, question[:-1] + ".", statement, statement[:-1] + "!"))
    return questions


def _starts(rng: random.Random) -> list[Item]:
    starts: list[Item] = []
    for cat, words in CATEGORY_WORDS.items():
        for word in words:
            letter = word[0].upper()
            others = [w for w in words if w[0].upper() != letter]
            if len({w[0] for w in others}) < 3:
                continue
            bad: list[str] = []
            for w in rng.sample(others, len(others)):
                if w[0] not in {b[0] for b in bad}:
                    bad.append(w)
            q = f"Name {cat} whose name starts with the letter {letter}."
            if sum(w[0].upper() == letter for w in words) == 1:
                starts.append((q, word, *bad[:3]))
    return starts


def _lists(rng: random.Random) -> list[Item]:
    lists: list[Item] = []
    for cat, words in LIST_CATEGORIES.items():
        for n in (2, 3, 4, 5):
            pick = rng.sample(words, n + 1)
            q = f"List exactly {_number_words(n)} {cat}, separated by commas."
            lists.append(
                (
                    q,
                    ", ".join(pick[:n]),
                    ", ".join(pick[: n - 1]),
                    ", ".join(pick),
                    " ".join(pick[:n]),
                )
            )
    return lists


def _sorts(rng: random.Random) -> list[Item]:
    sorts: list[Item] = []
    seen_sorts: set[tuple[str, ...]] = set()
    for _ in range(200):
        words = sorted(rng.sample(SORT_WORDS, rng.choice((3, 4))))
        if tuple(words) in seen_sorts:
            continue
        seen_sorts.add(tuple(words))
        shown = list(words)
        while shown == words:
            rng.shuffle(shown)
        good = ", ".join(words)
        wrong: list[str] = []
        while len(wrong) < 3:
            perm = rng.sample(words, len(words))
            text = ", ".join(perm)
            if perm != words and text not in wrong:
                wrong.append(text)
        sorts.append((f"Sort these words alphabetically: {', '.join(shown)}.", good, *wrong))
    return sorts


def _reverse() -> list[Item]:
    reverse: list[Item] = []
    for word in REVERSE_WORDS:
        rev = word[::-1]
        assert rev != word
        scrambled = word[1:] + word[0]
        bad = list(dict.fromkeys(x for x in (word, scrambled, rev[1:] + rev[0]) if x != rev))
        reverse.append((f"Write the word '{word}' backwards.", rev, *bad))
    return reverse


def _repeats(rng: random.Random) -> list[Item]:
    repeats: list[Item] = []
    for word in REVERSE_WORDS:
        n = rng.choice((2, 3, 4))
        q = f"Repeat the word '{word}' exactly {_number_words(n)} times, separated by spaces."
        repeats.append(
            (q, " ".join([word] * n), " ".join([word] * (n - 1)), " ".join([word] * (n + 1)),
             ", ".join([word] * n))
        )  # fmt: skip
    return repeats


def instruction_following(rng: random.Random) -> list[Item]:
    # The pools are built in this order because each draws from the one seeded ``rng``.
    caps, lower = _case(upper=True), _case(upper=False)
    counts = _word_counts(rng)
    jsons = _jsons(rng)
    questions = _questions()
    starts = _starts(rng)
    lists = _lists(rng)
    sorts = _sorts(rng)
    reverse = _reverse()
    repeats = _repeats(rng)
    return [
        *take(rng, caps, 30, "all caps"),
        *take(rng, lower, 26, "lowercase"),
        *take(rng, counts, 30, "word count"),
        *take(rng, jsons, 30, "json"),
        *take(rng, questions, 24, "question mark"),
        *take(rng, starts, 24, "first letter"),
        *take(rng, lists, 24, "n items"),
        *take(rng, sorts, 30, "alphabetical"),
        *take(rng, reverse, 16, "backwards"),
        *take(rng, repeats, 16, "repeat"),
    ]
