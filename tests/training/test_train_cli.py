"""``harness train``: one recipe trained on its own, into the cache a gate run reuses.

The slow test launches it under torchrun with two CPU processes (gloo) to check that exactly
one process writes the adapter and every process finishes.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from harness.cli import app
from harness.config import load_experiment
from harness.engine import training_examples
from harness.models import cache_root, fingerprint_files
from harness.pipeline import run_gate
from harness.training import ADAPTER_META, adapter_cache_key, load_cached
from harness.training._sft import _cache_key
from tests.conftest import write_tiny_experiment

REPO = Path(__file__).resolve().parents[2]


def _cached_adapters() -> list[Path]:
    root = cache_root() / "adapters"
    return sorted(p for p in root.iterdir() if not p.name.startswith(".")) if root.is_dir() else []


def _leftovers() -> list[Path]:
    root = cache_root() / "adapters"
    return sorted(p for p in root.iterdir() if p.name.startswith(".")) if root.is_dir() else []


def test_train_caches_the_adapter_under_the_gate_runs_key(
    tiny_model_dir: Path, isolated_env: Path
) -> None:
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir, max_steps=2)
    recipe = exp.parent / "training" / "lora.yaml"
    copy = isolated_env / "exported"
    args = ["train", str(recipe), "--base", str(tiny_model_dir), "--out", str(copy)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    (adapter,) = _cached_adapters()
    assert not _leftovers()  # the staging directory is gone
    for d in (adapter, copy):
        assert (d / "adapter_model.safetensors").is_file()
        assert (d / "adapter_config.json").is_file()
        assert json.loads((d / ADAPTER_META).read_text())["training"]["steps"] == 2
    out = " ".join(result.output.split())
    assert f"adapter: {adapter}" in out and "steps: 2" in out and "tokens/s:" in out
    cached = load_cached(adapter)
    assert cached is not None and cached.steps == 2

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "reused from the cache" in again.output
    assert _cached_adapters() == [adapter]

    # The key a gate run computes: the experiment's base and its own copy of the suite.
    e = load_experiment(exp)
    recipe_obj = e.recipes["lora"]
    suite = next(s for s in e.suites if s.path == recipe_obj.data.suite)
    examples = training_examples(suite, recipe_obj.data.split, recipe_obj.data.limit)
    key = adapter_cache_key(fingerprint_files(tiny_model_dir), recipe_obj, examples)
    assert adapter.name == key


def test_a_moved_checkout_and_an_earlier_cache_key_reuse_the_adapter(
    tiny_model_dir: Path, isolated_env: Path
) -> None:
    """The key holds the training rows, not where the data file sits: the project copied
    elsewhere (another clone, another CI workspace) reuses the adapter. An adapter cached under
    the key written before session 8 (which held the recipe's absolute data path) is reused."""
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir, max_steps=2)
    first = CliRunner().invoke(
        app, ["train", str(exp.parent / "training" / "lora.yaml"), "--base", str(tiny_model_dir)]
    )
    assert first.exit_code == 0, first.output
    (adapter,) = _cached_adapters()

    moved = isolated_env / "elsewhere"
    shutil.copytree(exp.parent, moved)
    recipe = moved / "training" / "lora.yaml"
    args = ["train", str(recipe), "--base", str(tiny_model_dir)]
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "reused from the cache" in again.output
    assert _cached_adapters() == [adapter]

    e = load_experiment(moved / exp.name)
    recipe_obj = e.recipes["lora"]
    suite = next(s for s in e.suites if s.path == recipe_obj.data.suite)
    examples = training_examples(suite, recipe_obj.data.split, recipe_obj.data.limit)
    earlier = _cache_key(
        fingerprint_files(tiny_model_dir), recipe_obj, examples, with_data_paths=True
    )
    assert earlier != adapter.name
    adapter.rename(adapter.parent / earlier)
    third = CliRunner().invoke(app, args)
    assert third.exit_code == 0, third.output
    assert "reused from the cache" in third.output and earlier in " ".join(third.output.split())
    assert [p.name for p in _cached_adapters()] == [earlier]

    # Other rows (one training row fewer) are another adapter.
    data = moved / "suites" / "tickets" / "train.jsonl"
    data.write_text("".join(data.read_text().splitlines(keepends=True)[:-1]))
    other = CliRunner().invoke(app, args)
    assert other.exit_code == 0, other.output
    assert "reused from the cache" not in other.output
    assert len(_cached_adapters()) == 2


@pytest.mark.slow
def test_a_gate_run_after_train_reuses_the_adapter(
    tiny_model_dir: Path, isolated_env: Path
) -> None:
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir, max_steps=2)
    recipe = exp.parent / "training" / "lora.yaml"
    result = CliRunner().invoke(app, ["train", str(recipe), "--base", str(tiny_model_dir)])
    assert result.exit_code == 0, result.output
    (adapter,) = _cached_adapters()
    log = isolated_env / "gate.log"
    with log.open("w") as fh:
        gate = run_gate(load_experiment(exp), console=Console(file=fh, width=200))
    assert "reusing adapter trained earlier" in log.read_text()
    assert gate.summary["verdict"] in ("GO", "NO-GO")
    assert _cached_adapters() == [adapter]


def test_missing_recipe_exits_2_naming_the_file(isolated_env: Path) -> None:
    result = CliRunner().invoke(app, ["train", str(isolated_env / "nowhere.yaml")])
    assert result.exit_code == 2
    assert "configuration error" in result.output and "nowhere.yaml" in result.output


def test_base_without_weights_exits_2(isolated_env: Path, tiny_model_dir: Path) -> None:
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir)
    empty = isolated_env / "empty-base"
    empty.mkdir()
    recipe = exp.parent / "training" / "lora.yaml"
    result = CliRunner().invoke(app, ["train", str(recipe), "--base", str(empty)])
    assert result.exit_code == 2
    out = " ".join(result.output.split())
    assert "--base" in out and "safetensors" in out
    assert not _cached_adapters()


def test_training_failure_exits_2_with_the_reason(tiny_model_dir: Path, isolated_env: Path) -> None:
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir)
    recipe = exp.parent / "training" / "lora.yaml"
    # Every prompt is longer than 9 tokens, so no completion token survives truncation.
    recipe.write_text(recipe.read_text().replace("max_seq_len: 64", "max_seq_len: 9"))
    result = CliRunner().invoke(app, ["train", str(recipe), "--base", str(tiny_model_dir)])
    assert result.exit_code == 2, result.output
    out = " ".join(result.output.split())
    assert "training failed" in out and "max_seq_len" in out
    assert not _cached_adapters()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_processes_under_torchrun_write_one_adapter(
    tiny_model_dir: Path, isolated_env: Path
) -> None:
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir, max_steps=2)
    recipe = exp.parent / "training" / "lora.yaml"
    # Validation every step: the main process saves checkpoints, and every process reads the
    # best one back from the same directory at the end (load_best_model_at_end).
    text = recipe.read_text().replace("  split: train\n", "  split: train\n  val_fraction: 0.25\n")
    recipe.write_text(text + "  eval_steps: 1\n")
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        "-m",
        "harness",
        "train",
        str(recipe),
        "--base",
        str(tiny_model_dir),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    (adapter,) = _cached_adapters()
    assert not _leftovers()
    assert (adapter / "adapter_model.safetensors").is_file()
    meta = json.loads((adapter / ADAPTER_META).read_text())
    assert meta["training"]["steps"] == 2 and meta["training"]["val_loss"] is not None
    assert meta["processes"] == 2
    # DDP split the data: 17 training rows, 8 per process per step, 2 processes -> a whole
    # epoch in 2 steps (one process alone would be at epoch 0.67).
    assert re.search(r"'epoch': '1(\.0)?'", proc.stdout), proc.stdout[-2000:]
    assert proc.stdout.count("adapter: ") == 1  # only the main process prints
