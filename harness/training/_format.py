"""Training files in three row formats, read and turned into prompt/completion pairs.

Everything downstream (data checks, the split, SFTTrainer with completion-only loss, the
adapter cache key) works on prompt/completion strings, so the formats differ only here:

* ``prompt_completion``: ``{"prompt": ..., "completion": ...}`` used as is;
* ``alpaca``: ``{"instruction", "input" (optional), "output"}`` rendered with the Stanford
  Alpaca prompt, the format most instruction data sets ship in;
* ``chat``: ``{"messages": [{"role", "content"}, ...]}`` rendered with the base tokenizer's own
  chat template, the prompt ending where the assistant's last turn begins.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.config import ConfigError
from harness.training._data_checks import DataReport, check_training_data

ALPACA_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further "
    "context. Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n"
)
ALPACA_NO_INPUT = (
    "Below is an instruction that describes a task. Write a response that appropriately "
    "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:\n"
)


def read_jsonl(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a JSONL file and their names (``line N``, 1-based, as an editor shows them).

    Blank lines are skipped but still counted, so every name points at the right line.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(path, None, "not valid UTF-8", "save the file as UTF-8") from exc
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read: {exc}", "check the path") from exc
    rows: list[dict[str, Any]] = []
    names: list[str] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                path,
                f"line {n}",
                f"not valid JSON: {exc.msg} (column {exc.colno})",
                "write one JSON object per line (JSONL)",
            ) from exc
        if not isinstance(row, dict):
            raise ConfigError(
                path,
                f"line {n}",
                f"expected a JSON object, got {type(row).__name__}",
                "write one JSON object per line (JSONL)",
            )
        rows.append(row)
        names.append(f"line {n}")
    if not rows:
        raise ConfigError(path, None, "the training file has no rows", "add JSONL rows")
    return rows, names


def alpaca_example(row: dict[str, Any]) -> dict[str, str]:
    """An Alpaca row as a prompt/completion pair (the prompt ends at '### Response:')."""
    inp = str(row.get("input") or "").strip()
    template = ALPACA_WITH_INPUT if inp else ALPACA_NO_INPUT
    prompt = template.format(instruction=str(row["instruction"]).strip(), input=inp)
    return {"prompt": prompt, "completion": str(row["output"])}


def chat_example(row: dict[str, Any], tokenizer: Any, source: str, name: str) -> dict[str, str]:
    """A chat row rendered by the tokenizer's chat template; completion = the last turn.

    The prompt is the conversation before the last assistant turn with the template's
    generation prompt, so the loss falls on exactly what the model would generate.
    """
    messages = row["messages"]
    prompt = tokenizer.apply_chat_template(
        messages[:-1], tokenize=False, add_generation_prompt=True
    )
    full = tokenizer.apply_chat_template(messages, tokenize=False)
    if not isinstance(prompt, str) or not isinstance(full, str) or not full.startswith(prompt):
        # Some templates rewrite earlier turns once an assistant turn follows (e.g. they strip
        # reasoning); then there is no clean split point and training would learn the wrong text.
        raise ConfigError(
            source,
            f"{name}.messages",
            "the chat template renders the conversation differently with and without its last "
            "assistant turn, so the prompt/completion boundary is unclear",
            "use format alpaca or prompt_completion for this base, or a simpler chat template",
        )
    return {"prompt": prompt, "completion": full[len(prompt) :]}


def format_rows(
    rows: Sequence[dict[str, Any]],
    names: Sequence[str],
    fmt: str,
    source: str,
    tokenizer: Any = None,
) -> list[dict[str, str]]:
    """Checked rows (see ``check_training_data``) as prompt/completion pairs, in order."""
    if fmt == "prompt_completion":
        return [{"prompt": str(r["prompt"]), "completion": str(r["completion"])} for r in rows]
    if fmt == "alpaca":
        return [alpaca_example(r) for r in rows]
    if fmt == "chat":
        if tokenizer is None or not getattr(tokenizer, "chat_template", None):
            raise ConfigError(
                source,
                "data.format",
                "format 'chat' needs the base tokenizer's chat template, and this base has none",
                "use format alpaca or prompt_completion, or a base with a chat template",
            )
        return [chat_example(r, tokenizer, source, n) for r, n in zip(rows, names, strict=True)]
    raise ConfigError(
        source, "data.format", f"unknown format {fmt!r}", "use prompt_completion, alpaca or chat"
    )


def load_training_file(
    path: Path,
    fmt: str,
    tokenizer: Any,
    eval_items: Mapping[str, Sequence[str]] | None = None,
    limit: int | None = None,
) -> tuple[list[dict[str, str]], DataReport]:
    """A recipe's JSONL file, checked (see ``check_training_data``) and as prompt/completion."""
    rows, names = read_jsonl(path)
    if limit is not None:
        rows, names = rows[:limit], names[:limit]
    report = check_training_data(rows, str(path), fmt, eval_items, names=names)
    return format_rows(rows, names, fmt, str(path), tokenizer), report
