"""``import harness.training`` (and ``harness.accel``) stays light: no torch until training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("package", ["harness.training", "harness.accel"])
def test_import_loads_no_torch(package: str) -> None:
    code = f"import {package}, sys; assert 'torch' not in sys.modules, sorted(sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
