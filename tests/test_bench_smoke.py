"""Every benchmark script runs: each one's ``--tiny`` mode, in a subprocess, on the CPU.

The figures in docs/benchmarks.md come from these scripts on other machines; this keeps the
scripts from drifting away from the package between those runs. ``--tiny`` builds a tiny
random model in-process and runs in seconds; its numbers mean nothing. A script that needs
CUDA says it skipped and exits 0 without one. ``nox -s bench-smoke`` runs only these.
"""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"

# script -> a line its --tiny output must contain (the end of its own report)
SCRIPTS = {
    "training/gpu_train.py": "ours-lora-5g-m8",
    "training/train_host.py": "| ckpt-trim-fused |",
    "training/lora_dropout.py": "torch ms",  # on CUDA; without it the skip line below
    "training/step_anatomy.py": '"peak_gb"',
    "training/qlora_cpu.py": "qlora_cpu: done",
    "scoring/scoring_cpu.py": "speed-up",
    "scoring/scoring_gpu.py": "| base + 2 adapters, mixed |",
    "scoring/scoring_host.py": '"checksum"',
    "scoring/registry_pack.py": "registry_pack: done",
    "scoring/registry_mmlu.py": "registry_mmlu: done",
    "validity/planted_effect.py": "| false NO-GO rate |",
    "robustness/robustness.py": "resumed runs identical to an uninterrupted run | 1/1 |",
    "robustness/bad_inputs.py": "bad inputs rejected: 2/2",
}
NEEDS_CUDA = {"training/lora_dropout.py"}
# bench/evidence holds experiments for docs/gates.md (and the script that makes one's
# adapter), not benchmarks: nothing there is timed.
NOT_BENCHMARKS = {"evidence"}


def _cuda() -> bool:
    import importlib.util

    import torch

    return torch.cuda.is_available() and importlib.util.find_spec("triton") is not None


def test_every_script_is_smoke_tested_and_in_the_readme() -> None:
    found = {
        str(p.relative_to(BENCH))
        for p in BENCH.glob("*/*.py")
        if p.parent.name not in NOT_BENCHMARKS
    }
    assert found == set(SCRIPTS), "add the script to SCRIPTS (and give it --tiny)"
    readme = (BENCH / "README.md").read_text(encoding="utf-8")
    for script in SCRIPTS:
        assert f"bench/{script}" in readme, script
    assert not list(BENCH.glob("*.py")), "bench/ scripts live in a folder by what they measure"


def _run(script: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "HF_DATASETS_CACHE": str(tmp / "hf-datasets"),
        "HARNESS_CACHE": str(tmp / "cache"),
        "HARNESS_STORE": str(tmp / "store.sqlite"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}",
        "TMPDIR": str(tmp),
    }
    env.pop("OUT", None)  # the scripts write their figures there when it is set
    return subprocess.run(
        [sys.executable, str(BENCH / script), "--tiny"],
        capture_output=True, text=True, cwd=tmp, env=env, timeout=900, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def tiny_runs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every selected script's ``--tiny`` run, started together (they spend their time
    importing and starting processes: two at a time per core roughly halves the wait)."""
    wanted = sorted(
        {
            item.callspec.params["script"]
            for item in request.session.items
            if getattr(item, "originalname", "") == "test_script_runs_tiny"
            and hasattr(item, "callspec")
        }
    )
    root = tmp_path_factory.mktemp("bench-smoke")
    workers = max(2, min(len(wanted), os.cpu_count() or 2))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = {s: pool.submit(_run, s, root / s.replace("/", "-")) for s in wanted}
        return {s: f.result() for s, f in futures.items()}


@pytest.mark.parametrize("script", sorted(SCRIPTS))
def test_script_runs_tiny(
    script: str, tiny_runs: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    proc = tiny_runs[script]
    tail = f"\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, tail
    if script in NEEDS_CUDA and not _cuda():
        assert "skipped (needs a CUDA device" in proc.stdout, tail
        return
    assert SCRIPTS[script] in proc.stdout, tail
