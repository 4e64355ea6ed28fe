"""Where per-item results live and how a result's key is built (one function, used by the
pipeline and by the pytest plugin's store lookups)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import harness
from harness.config import ScoringSettings
from harness.models import fingerprint_value
from harness.store import ResultKey


def store_path() -> Path:
    """``HARNESS_STORE`` or ``.harness/results.sqlite`` in the working directory."""
    env = os.environ.get("HARNESS_STORE")
    return Path(env) if env else Path.cwd() / ".harness" / "results.sqlite"


def scoring_settings(scoring: ScoringSettings) -> dict[str, Any]:
    """The scoring settings that enter a result's key (and its provenance)."""
    # batch_size is left out on purpose: it changes speed, not (beyond float noise) scores.
    settings: dict[str, Any] = {
        "apply_chat_template": scoring.apply_chat_template,
        "limit": scoring.limit,
    }
    # Added only when set away from their defaults, so the keys of results stored before these
    # settings existed (every run with the defaults) stay the same and those results reusable.
    defaults = ScoringSettings()
    if scoring.fewshot_seed != defaults.fewshot_seed:
        settings["fewshot_seed"] = scoring.fewshot_seed
    if scoring.system_instruction != defaults.system_instruction:
        settings["system_instruction"] = scoring.system_instruction
    return settings


def result_key(
    scoring: ScoringSettings, variant_fingerprint: str, suite_fingerprint: str
) -> ResultKey:
    """The key of one variant's results on one suite: variant fingerprint (base weights,
    adapter files, quantisation, dtype), suite fingerprint (its files), the scoring settings'
    fingerprint and the scoring code's version. Change any of them and stored results are
    not reused."""
    return ResultKey(
        variant_fingerprint,
        suite_fingerprint,
        fingerprint_value(scoring_settings(scoring)),
        harness.SCORING_VERSION,
    )
