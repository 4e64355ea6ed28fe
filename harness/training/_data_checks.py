"""Checks on training rows before any model is loaded, and the train/validation split.

A bad row found after twenty minutes of training costs twenty minutes; found here it costs
milliseconds. Errors name the file, the row (``line N`` for files, ``row i`` for a suite split)
and the field, and say how to fix it:

* structure: missing or empty fields, wrong types, rows in another format than the recipe says;
* personal data: e-mail addresses and phone numbers (the adapter could learn and repeat them);
* contamination: training rows that contain an item of an evaluation suite of the experiment
  (the gate would measure memory instead of skill).

Duplicates are reported, not refused (curated sets repeat on purpose); the split keeps every
copy of a row on the same side, so validation loss never scores a row the model trained on.
"""

from __future__ import annotations

import bisect
import random
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from harness.config import ConfigError

#: The keys that make a row one format or another.
FORMAT_KEYS: dict[str, tuple[str, ...]] = {
    "prompt_completion": ("prompt", "completion"),
    "alpaca": ("instruction", "output"),
    "chat": ("messages",),
}
CHAT_ROLES = ("system", "user", "assistant", "tool")

#: An evaluation item counts as contained in a training row when its distinctive words (the
#: item without the prompt text every item of its suite shares) appear there in a row: at least
#: MIN_ITEM_WORDS of them, or any NGRAM-word run for long items (GPT-3's 13-gram rule).
MIN_ITEM_WORDS = 6
NGRAM = 13
MAX_LISTED = 5

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# Digit groups joined by spaces, dots, dashes or a parenthesised area code, optionally with a
# +country prefix; filtered below to 9-15 digits so dates, years and short ids do not match.
_PHONE = re.compile(
    r"(?<![\w+/.-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,4}(?![\w/-])"
    r"|(?<![\w+])\+\d{9,15}(?!\w)"
)
_DATE_LIKE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{4}$")
_IP_LIKE = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")


@dataclass(frozen=True)
class DataReport:
    """What the checks found; goes into the training result and the MLflow run."""

    source: str
    format: str
    rows: int
    duplicates: int = 0
    duplicate_rows: list[str] = field(default_factory=list)
    own_suite_overlap: int = 0
    train: int = 0
    val: int = 0
    dropped_by_truncation: int = 0
    warnings: list[str] = field(default_factory=list)

    def with_counts(self, **counts: int) -> DataReport:
        return replace(self, **counts)  # type: ignore[arg-type]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def normalise(text: str) -> str:
    """Lower-case words only: the key for duplicates and contamination (case, spacing and
    punctuation differences should not hide a copy)."""
    text = unicodedata.normalize("NFKC", text).lower()
    return " ".join(re.findall(r"\w+", text))


def string_fields(row: Mapping[str, Any], fmt: str) -> list[tuple[str, str]]:
    """(field path, text) for every text the model would see in this row."""
    if fmt == "chat":
        msgs = row.get("messages")
        if not isinstance(msgs, list):
            return []
        return [
            (f"messages.{i}.content", m["content"])
            for i, m in enumerate(msgs)
            if isinstance(m, dict) and isinstance(m.get("content"), str)
        ]
    keys = ("instruction", "input", "output") if fmt == "alpaca" else ("prompt", "completion")
    return [(k, row[k]) for k in keys if isinstance(row.get(k), str)]


def row_text(row: Mapping[str, Any], fmt: str) -> str:
    return "\n".join(text for _, text in string_fields(row, fmt))


def _structure_problems(row: Any, fmt: str) -> list[tuple[str, str, str]]:
    """(field, problem, fix) for one row."""
    if not isinstance(row, Mapping):
        return [("", f"expected an object, got {type(row).__name__}", "write one object a row")]
    own = FORMAT_KEYS[fmt]
    others = {f: [k for k in keys if k in row] for f, keys in FORMAT_KEYS.items() if f != fmt}
    others = {f: ks for f, ks in others.items() if ks}
    if others:
        other, keys = next(iter(others.items()))
        has_own = any(k in row for k in own)
        problem = (
            f"row mixes formats: it has {keys} ({other}) besides the {fmt} fields"
            if has_own
            else f"row is in {other} format (has {keys}) but data.format is '{fmt}'"
        )
        return [(keys[0], problem, "write every row in one format and set data.format to match")]
    out: list[tuple[str, str, str]] = []
    if fmt == "chat":
        return _chat_problems(row.get("messages"))
    for key in own:
        val = row.get(key)
        if key not in row or val is None:
            out.append((key, f"'{key}' is empty or missing", "fill the field or drop the row"))
        elif not isinstance(val, str):
            out.append((key, f"'{key}' must be text, got {type(val).__name__}", "write a string"))
        elif not val.strip():
            out.append((key, f"'{key}' is empty or missing", "fill the field or drop the row"))
    if fmt == "alpaca" and row.get("input") is not None and not isinstance(row["input"], str):
        out.append(("input", "'input' must be text", "write a string or leave 'input' out"))
    return out


def _chat_problems(msgs: Any) -> list[tuple[str, str, str]]:
    fix = "give 'messages' as [{role, content}, ...] ending with the assistant's answer"
    if not isinstance(msgs, list) or not msgs:
        return [("messages", "'messages' is empty, missing or not a list", fix)]
    for i, m in enumerate(msgs):
        if not isinstance(m, Mapping):
            return [(f"messages.{i}", "a message must be an object with role and content", fix)]
        if m.get("role") not in CHAT_ROLES:
            return [
                (f"messages.{i}.role", f"role {m.get('role')!r} is not one of {CHAT_ROLES}", fix)
            ]
        content = m.get("content")
        if not isinstance(content, str) or not content.strip():
            return [(f"messages.{i}.content", "'content' is empty or missing", fix)]
    if msgs[-1]["role"] != "assistant":
        return [(f"messages.{len(msgs) - 1}.role", "the last message is not the assistant's", fix)]
    if not any(m["role"] == "user" for m in msgs[:-1]):
        return [("messages", "no user message before the assistant's answer", fix)]
    return []


def _raise(source: str, problems: list[tuple[str, str, str, str]], what: str) -> None:
    """One ConfigError for all problems of one kind: the first named in 'field', up to
    MAX_LISTED listed, so a user fixes a file in one pass rather than one row per run."""
    name, fld, problem, fix = problems[0]
    if len(problems) == 1:
        raise ConfigError(source, f"{name}.{fld}" if fld else name, problem, fix)
    listed = "; ".join(
        f"{n}.{f}: {p}" if f else f"{n}: {p}" for n, f, p, _ in problems[:MAX_LISTED]
    )
    more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
    raise ConfigError(
        source,
        f"{name}.{fld}" if fld else name,
        f"{len(problems)} rows have {what}: {listed}{more}",
        fix,
    )


def _mask(kind: str, text: str) -> str:
    # Name the finding without copying the personal data into logs and MLflow.
    if kind == "e-mail address":
        user, _, domain = text.partition("@")
        return f"{user[:1]}***@{domain}"
    digits = re.sub(r"\D", "", text)
    return f"{'+' if text.startswith('+') else ''}{'*' * (len(digits) - 2)}{digits[-2:]}"


def personal_data(text: str) -> list[tuple[str, str]]:
    """(kind, masked value) for e-mail addresses and phone numbers in ``text``."""
    found = [("e-mail address", _mask("e-mail address", m)) for m in _EMAIL.findall(text)]
    scrubbed = _EMAIL.sub(" ", text)
    for m in _PHONE.finditer(scrubbed):
        s = m.group(0)
        digits = sum(c.isdigit() for c in s)
        if not 9 <= digits <= 15 or _DATE_LIKE.match(s) or _IP_LIKE.match(s):
            continue
        found.append(("phone number", _mask("phone number", s)))
    return found


def _variable_words(items: Sequence[str]) -> list[list[str]]:
    """Each item's words without the prompt text that every item of the suite shares.

    Shared template words ("Question: ... Answer:") would otherwise make every row written in
    the suite's own format look contaminated.
    """
    toks = [normalise(t).split() for t in items]
    if len(toks) < 2:
        return toks
    shortest = min(len(t) for t in toks)
    pre = 0
    while pre < shortest and all(t[pre] == toks[0][pre] for t in toks):
        pre += 1
    suf = 0
    while suf < shortest - pre and all(t[-1 - suf] == toks[0][-1 - suf] for t in toks):
        suf += 1
    return [t[pre : len(t) - suf] for t in toks]


def find_contamination(
    texts: Sequence[str], eval_items: Mapping[str, Sequence[str]]
) -> list[tuple[int, str, int]]:
    """(training row, suite, item index) for each evaluation item a training row contains."""
    padded = [f" {normalise(t)} " for t in texts]
    corpus = "\n".join(padded)
    starts: list[int] = []
    pos = 0
    for p in padded:
        starts.append(pos)
        pos += len(p) + 1
    grams: dict[str, int] | None = None
    hits: set[tuple[int, str, int]] = set()
    for suite, items in eval_items.items():
        for j, words in enumerate(_variable_words(items)):
            if len(words) < MIN_ITEM_WORDS:
                continue
            if len(words) <= NGRAM:
                needle = f" {' '.join(words)} "
                at = corpus.find(needle)
                while at != -1:
                    hits.add((bisect.bisect_right(starts, at) - 1, suite, j))
                    at = corpus.find(needle, at + 1)
                continue
            if grams is None:
                grams = {}
                for r, p in enumerate(padded):
                    w = p.split()
                    for k in range(len(w) - NGRAM + 1):
                        grams.setdefault(" ".join(w[k : k + NGRAM]), r)
            for k in range(len(words) - NGRAM + 1):
                r = grams.get(" ".join(words[k : k + NGRAM]), -1)
                if r >= 0:
                    hits.add((r, suite, j))
                    break
    return sorted(hits)


def check_training_data(
    rows: Sequence[Any],
    source: str,
    fmt: str,
    eval_items: Mapping[str, Sequence[str]] | None = None,
    *,
    names: Sequence[str] | None = None,
    own_suite: str | None = None,
) -> DataReport:
    """Refuse unusable rows (ConfigError naming file, row and field); report the rest.

    ``eval_items`` maps each evaluation suite of the experiment to its items' prompts.
    ``own_suite`` names the suite the rows come from (a suite's train split): its overlap with
    its own test split is the suite author's choice, so it is reported, not refused.
    """
    names = list(names) if names is not None else [f"row {i}" for i in range(len(rows))]
    if not rows:
        raise ConfigError(source, "data", "no training examples", "add rows to the training data")
    if fmt not in FORMAT_KEYS:
        raise ConfigError(source, "data.format", f"unknown format {fmt!r}", str(list(FORMAT_KEYS)))
    bad = [
        (name, fld, problem, fix)
        for row, name in zip(rows, names, strict=True)
        for fld, problem, fix in _structure_problems(row, fmt)
    ]
    if bad:
        _raise(source, bad, "format problems")
    pii = [
        (name, fld, f"contains a {kind} ({masked})", "")
        for row, name in zip(rows, names, strict=True)
        for fld, text in string_fields(row, fmt)
        for kind, masked in personal_data(text)
    ]
    if pii:
        fix = "remove or mask personal data (e.g. <EMAIL>, <PHONE>) in these rows"
        _raise(source, [(n, f, p, fix) for n, f, p, _ in pii], "personal data")
    texts = [row_text(r, fmt) for r in rows]
    warnings: list[str] = []
    own_overlap = 0
    if eval_items:
        hits = find_contamination(texts, eval_items)
        own = [h for h in hits if h[1] == own_suite]
        foreign = [h for h in hits if h[1] != own_suite]
        own_overlap = len({h[0] for h in own})
        if own_overlap:
            warnings.append(
                f"{own_overlap} rows overlap the test split of their own suite '{own_suite}'"
            )
        if foreign:
            suites = sorted({s for _, s, _ in foreign})
            fix = (
                f"remove these rows: training on items of {suites} inflates the gate's scores "
                "on them"
            )
            _raise(
                source,
                [
                    (
                        names[r],
                        "",
                        f"contains item {j} of evaluation suite '{s}' (contamination)",
                        fix,
                    )
                    for r, s, j in foreign
                ],
                f"evaluation items of {suites}",
            )
    seen: dict[str, int] = {}
    dupes: list[str] = []
    for i, text in enumerate(texts):
        key = normalise(text)
        if key in seen:
            dupes.append(f"{names[i]} repeats {names[seen[key]]}")
        else:
            seen[key] = i
    if dupes:
        warnings.append(
            f"{len(dupes)} duplicate rows (after normalising case and punctuation), e.g. "
            + "; ".join(dupes[:3])
        )
    return DataReport(
        source=source,
        format=fmt,
        rows=len(rows),
        duplicates=len(dupes),
        duplicate_rows=dupes[:MAX_LISTED],
        own_suite_overlap=own_overlap,
        warnings=warnings,
    )


def split_train_val(
    examples: Sequence[Mapping[str, str]], val_fraction: float, seed: int
) -> tuple[list[int], list[int]]:
    """Seeded, deterministic split into train and validation indices, in original order.

    Rows that normalise to the same text form one group and land on one side, so the
    validation loss is measured on rows the model never trained on.
    """
    if val_fraction <= 0 or len(examples) < 2:
        return list(range(len(examples))), []
    groups: dict[str, list[int]] = {}
    for i, ex in enumerate(examples):
        groups.setdefault(normalise(" ".join(ex.values())), []).append(i)
    if len(groups) < 2:
        return list(range(len(examples))), []
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target = max(1, round(val_fraction * len(examples)))
    val: list[int] = []
    for key in keys[:-1]:  # the last group always trains
        if len(val) >= target:
            break
        val.extend(groups[key])
    val_set = set(val)
    return [i for i in range(len(examples)) if i not in val_set], sorted(val)
