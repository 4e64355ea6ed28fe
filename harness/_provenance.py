"""What produced a result: library versions, device, git commit."""

from __future__ import annotations

import importlib.metadata
import platform
import subprocess
from pathlib import Path
from typing import Any

import harness

_PACKAGES = (
    "torch",
    "transformers",
    "peft",
    "trl",
    "bitsandbytes",
    "lm_eval",
    "mlflow",
    "accelerate",
)


def _version(pkg: str) -> str | None:
    try:
        return importlib.metadata.version(pkg.replace("_", "-"))
    except importlib.metadata.PackageNotFoundError:
        return None


def git_commit(cwd: Path) -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def collect(cwd: Path, device: str) -> dict[str, Any]:
    prov: dict[str, Any] = {
        "harness": harness.__version__,
        "scoring_version": harness.SCORING_VERSION,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "device": device,
        "git_commit": git_commit(cwd),
    }
    for pkg in _PACKAGES:
        prov[pkg] = _version(pkg)
    return prov
