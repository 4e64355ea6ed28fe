"""Whether a candidate is scored in the prompt format it was trained on (chat template or not).

A model tuned on chat-formatted data and scored on bare prompts (or the reverse) loses points
that say nothing about its quality; the gate would blame the adapter for a setting. The format
is known from the harness's own record (``harness_adapter.json``: the recipe's ``data.format``)
or, for adapters from other tools, suggested by a chat template saved with their tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.models._validate import HARNESS_ADAPTER_FILE

__all__ = ["chat_template_mismatch", "trained_on_chat"]

_SETTING = "scoring.apply_chat_template"


def _json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _recorded_format(adapter_dir: Path) -> str | None:
    """The training data format the harness recorded ('chat', 'alpaca', ..., 'suite')."""
    meta = _json(adapter_dir / HARNESS_ADAPTER_FILE)
    recipe = meta.get("recipe") if meta else None
    data = recipe.get("data") if isinstance(recipe, dict) else None
    if not isinstance(data, dict):
        return None
    if data.get("suite"):
        return "suite"
    fmt = data.get("format")
    return fmt if isinstance(fmt, str) else "prompt_completion"


def shipped_chat_template(adapter_dir: Path) -> str | None:
    """Which file of the adapter's tokenizer holds a chat template, if it ships one."""
    for name in ("chat_template.jinja", "chat_template.json"):
        if (adapter_dir / name).is_file():
            return name
    if (adapter_dir / "additional_chat_templates").is_dir():
        return "additional_chat_templates/"
    cfg = _json(adapter_dir / "tokenizer_config.json")
    if cfg and cfg.get("chat_template"):
        return "tokenizer_config.json"
    return None


def trained_on_chat(adapter_dir: Path) -> tuple[bool | None, str]:
    """(trained on chat-formatted data?, the evidence); None when nothing says."""
    fmt = _recorded_format(adapter_dir)
    if fmt is not None:
        where = f"{HARNESS_ADAPTER_FILE} records training data format '{fmt}'"
        return fmt == "chat", where
    shipped = shipped_chat_template(adapter_dir)
    if shipped is not None:
        return True, f"its tokenizer ships a chat template ({shipped})"
    return None, ""


def chat_template_mismatch(adapter_dir: Path, apply_chat_template: bool) -> str | None:
    """A warning when the adapter in ``adapter_dir`` was trained in another prompt format than
    the one it is scored in (``scoring.apply_chat_template``), naming the setting to change;
    None when they agree or nothing is known. The pipeline prints it; it does not stop the run
    (a team may score bare prompts on purpose)."""
    chat, evidence = trained_on_chat(adapter_dir)
    has_tokenizer = any(
        (adapter_dir / n).is_file() for n in ("tokenizer.json", "tokenizer_config.json")
    )
    if chat is True and not apply_chat_template:
        return (
            f"adapter {adapter_dir} looks trained on chat-formatted data ({evidence}) but is "
            f"scored without a chat template ({_SETTING}: false): set {_SETTING}: true in the "
            "experiment file to score it in the format it was trained on"
        )
    if apply_chat_template and chat is False:
        return (
            f"adapter {adapter_dir} was trained on plain prompts ({evidence}) but is scored "
            f"with a chat template ({_SETTING}: true): set {_SETTING}: false in the experiment "
            "file to score it in the format it was trained on"
        )
    if apply_chat_template and has_tokenizer and shipped_chat_template(adapter_dir) is None:
        return (
            f"adapter {adapter_dir} ships a tokenizer without a chat template but {_SETTING} "
            f"is true: set {_SETTING}: false, or save the tokenizer with the chat template it "
            "was trained with"
        )
    return None
