"""bitsandbytes' probe for a hub CPU kernel stays out of gate logs; other warnings do not.

With transformers 5.25 (which requires ``kernels``) on a CPU with AVX512-BF16, importing
bitsandbytes offline printed two warnings (the kernel is not cached; the publisher is not
checked) on every gate run. Where ``kernels`` or that CPU is missing the import prints
neither and the first test passes trivially; the second checks the filter itself.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import pytest


def test_importing_bitsandbytes_after_harness_models_prints_no_probe_lines() -> None:
    code = (
        "import logging; logging.basicConfig(level=logging.WARNING)\n"
        "import harness.models\n"
        "import bitsandbytes\n"
        "import peft\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "kernels-community" not in done.stderr, done.stderr[-3000:]


@pytest.mark.parametrize(
    ("logger", "dropped"),
    [
        (
            "bitsandbytes.backends.cpu.ops",
            "Failed to load CPU gemm_4bit_forward from kernels-community: offline",
        ),
        (
            "kernels._internals.hf_hub",
            "Skipping publisher trust check for 'kernels-community/x' because Hugging Face Hub "
            "is in offline mode.",
        ),
    ],
)
def test_only_the_probe_lines_are_filtered(
    logger: str, dropped: str, caplog: pytest.LogCaptureFixture
) -> None:
    import harness.models  # noqa: F401  (installs the filter)

    log = logging.getLogger(logger)
    with caplog.at_level(logging.WARNING, logger=logger):
        log.warning(dropped)
        log.warning("Some other bitsandbytes warning")
    messages = [r.getMessage() for r in caplog.records if r.name == logger]
    assert messages == ["Some other bitsandbytes warning"]
