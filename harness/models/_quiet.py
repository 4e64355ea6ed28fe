"""Library noise kept out of gate logs: nothing a release gate's reader can act on.

Two log lines bitsandbytes' CPU backend prints when it is imported, and transformers 5.25's
deprecation of ``is_gradient_checkpointing``, which peft 0.21 (attaching an adapter) and trl
1.16 (training) read.

transformers 5.25 requires the ``kernels`` package. With it installed, bitsandbytes 0.50 asks
the Hugging Face Hub for an optional CPU kernel (``kernels-community/quantization-bitsandbytes``)
on every import on a CPU with AVX512-BF16; offline (the harness sets ``HF_HUB_OFFLINE``) or
from an unverified publisher that fails, bitsandbytes says so in two warnings and runs its own
CPU implementation, as it does without ``kernels``. Nothing about the run changes, and the
reader of a release gate's log cannot act on either line, so both are filtered; every other
message of those loggers passes.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

_DROPPED = {
    "bitsandbytes.backends.cpu.ops": "Failed to load CPU gemm_4bit_forward from kernels-community",
    "kernels._internals.hf_hub": "Skipping publisher trust check for 'kernels-community/",
}


class _DropProbeLines(logging.Filter):
    def __init__(self, start: str) -> None:
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.start)


def quiet_hub_kernel_probe() -> None:
    """Filter the two lines (idempotent; harness.models calls it on import, before anything
    imports bitsandbytes)."""
    for name, start in _DROPPED.items():
        logger = logging.getLogger(name)
        if not any(isinstance(f, _DropProbeLines) for f in logger.filters):
            logger.addFilter(_DropProbeLines(start))


_CHECKPOINTING_DEPRECATION = r"`is_gradient_checkpointing` is deprecated"


@contextmanager
def quiet_library_deprecations() -> Iterator[None]:
    """Within the block, transformers' ``is_gradient_checkpointing`` deprecation (raised
    inside peft and trl, not by the harness) is not shown; every other warning is."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_CHECKPOINTING_DEPRECATION)
        yield
