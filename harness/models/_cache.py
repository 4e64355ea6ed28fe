"""Where converted models and trained adapters are cached: outside git, per user."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """``$HARNESS_CACHE``, else ``$XDG_CACHE_HOME/llm-harness``, else ``~/.cache/llm-harness``."""
    env = os.environ.get("HARNESS_CACHE")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "llm-harness"
