"""Put transformers' modeling modules back as they were when training ends (compat row
``modeling-module-globals``).

liger-kernel, applied to the trained model's instance (``patches.trainer.apply_liger``),
also patches the modeling module itself (for llama: ``apply_rotary_pos_emb``,
``LlamaRMSNorm`` and ``LlamaMLP`` replaced by Triton versions), for the rest of the process.
A model built afterwards in the same process — the gate scores the candidate after training
it — then runs Triton kernels it did not ask for, and fails outright on CPU (seen on an H200:
a CPU scorer after the CUDA training tests raised "Pointer argument cannot be accessed from
Triton").
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from harness.accel.compat import allowed


@contextmanager
def keep_modeling_globals(model: Any) -> Iterator[None]:
    """Snapshot the ``transformers.models.*`` modules ``model``'s classes come from (their
    attributes, and each of their classes' ``forward``) and put them back on exit."""
    if not allowed("modeling-module-globals"):
        yield
        return
    names = {type(m).__module__ for m in model.modules()}
    modules = [sys.modules[n] for n in names if n.startswith("transformers.models.")]
    saved = [(mod, dict(vars(mod))) for mod in modules]
    forwards = [
        (cls, cls.__dict__["forward"])
        for _, attrs in saved
        for cls in attrs.values()
        if isinstance(cls, type) and "forward" in cls.__dict__
    ]
    try:
        yield
    finally:
        for mod, attrs in saved:
            for key in [k for k in vars(mod) if k not in attrs]:
                delattr(mod, key)
            for key, value in attrs.items():
                if vars(mod).get(key) is not value:
                    setattr(mod, key, value)
        for cls, forward in forwards:
            if cls.__dict__.get("forward") is not forward:
                setattr(cls, "forward", forward)  # noqa: B010
