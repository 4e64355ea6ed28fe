"""Train one recipe on its own, outside a gate run, into the cache a gate run reads.

``harness train`` uses this, alone or under ``accelerate launch`` / torchrun: the adapter lands
in ``cache_root()/adapters/<adapter_cache_key>``, the same key a gate run computes from the same
base, recipe and data, so the gate run afterwards finds it and does not train again.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import BaseSpec, ConfigError, Recipe, SuiteSpec, load_recipe, load_suite
from harness.models import cache_root, fingerprint_files, resolve_base_dir
from harness.training._data_checks import DataReport, check_training_data
from harness.training._format import load_training_file
from harness.training._sft import TrainResult, cached_adapter_dir, load_cached, train_lora

# A suite's split as prompt/completion rows (``harness.engine.training_examples``). Passed in by
# the caller: formatting a suite's prompts is the engine's job, and training may not import it.
SuiteExamples = Callable[[SuiteSpec, str, int | None], list[dict[str, str]]]


@dataclass(frozen=True)
class StandaloneRun:
    """A trained (or reused) adapter: where it is, and how its training went."""

    result: TrainResult
    adapter_dir: Path
    cache_key: str
    copied_to: Path | None = None


def is_main_process() -> bool:
    """True in a plain run and in rank 0 of ``accelerate launch`` / torchrun (which set RANK)."""
    return int(os.environ.get("RANK", "0")) == 0


def check_base_dir(spec: BaseSpec) -> Path:
    """The base's directory (the builtin one converted on first use), or a ConfigError.

    Training loads safetensors only, so a directory without them cannot be trained from.
    """
    path = resolve_base_dir(spec)
    if not path.is_dir():
        raise ConfigError(
            path,
            "--base",
            "base model directory does not exist",
            "pass 'builtin:smollm2-135m-instruct' or a local Hugging Face model directory",
        )
    if not (path / "config.json").is_file() or not any(path.glob("*.safetensors")):
        raise ConfigError(
            path,
            "--base",
            "no config.json and *.safetensors weights in the base model directory",
            "point at a directory saved with save_pretrained (safetensors weights)",
        )
    return path


def recipe_examples(
    recipe: Recipe,
    tokenizer: Any,
    suite_examples: SuiteExamples,
    eval_items: dict[str, list[str]] | None = None,
) -> tuple[list[dict[str, str]], DataReport]:
    """A recipe's rows as prompt/completion pairs, checked, exactly as a gate run forms them.

    The rows decide the adapter's cache key, so they must match the gate run's byte for byte.
    ``eval_items`` (evaluation prompts per suite) turns on the contamination check; a run
    without an experiment has none to compare with.
    """
    d = recipe.data
    if d.path is not None:
        return load_training_file(d.path, d.format, tokenizer, eval_items, d.limit)
    assert d.suite is not None  # the recipe model requires exactly one of path and suite
    suite = load_suite(d.suite)
    examples = suite_examples(suite, d.split, d.limit)
    report = check_training_data(
        examples,
        f"{suite.path} ({d.split} split)",
        "prompt_completion",
        eval_items,
        own_suite=suite.name,
    )
    return examples, report


def _copy_adapter(src: Path, dest: Path) -> None:
    """Copy the adapter to ``dest``, replacing what was there only once the copy is whole."""
    dest = dest.resolve()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".copy-", dir=dest.parent))
    try:
        shutil.copytree(src, tmp / "adapter")
        if dest.exists():
            shutil.rmtree(dest) if dest.is_dir() else dest.unlink()
        os.replace(tmp / "adapter", dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def train_recipe(
    recipe_path: Path,
    base: BaseSpec,
    out_dir: Path | None = None,
    *,
    suite_examples: SuiteExamples,
    retrain: bool = False,
) -> StandaloneRun:
    """Train ``recipe_path`` on ``base`` into the adapter cache (reusing a match unless
    ``retrain``), and copy it to ``out_dir`` when given.

    Raises ConfigError for a bad recipe, base or data, TrainingFailed when the run cannot give
    a useful adapter. Under several processes every process calls this; train_lora lets only
    the main one write, and only the main one copies to ``out_dir``.
    """
    recipe = load_recipe(recipe_path)
    base_dir = check_base_dir(base)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(
        str(base_dir), trust_remote_code=base.trust_remote_code
    )
    examples, report = recipe_examples(recipe, tokenizer, suite_examples)
    base_fp = fingerprint_files(base_dir)
    adapter_dir = cached_adapter_dir(cache_root() / "adapters", base_fp, recipe, examples)
    key = adapter_dir.name
    result = None if retrain else load_cached(adapter_dir)
    if result is None:
        result = train_lora(base_dir, base_fp, recipe, examples, adapter_dir, data_report=report)
    copied = None
    if out_dir is not None:
        copied = out_dir.resolve()
        if is_main_process() and copied != adapter_dir.resolve():
            _copy_adapter(adapter_dir, copied)
    return StandaloneRun(result, adapter_dir, key, copied)
