"""What the registry planning step and its data step share: the per-suite state, the canonical
form of a task config, the offline switch and the suite fingerprint.

Apart from :mod:`harness.engine._registry` so that its data step
(:mod:`harness.engine._registry_data`) can use them without importing the planner back.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from dataclasses import dataclass, field
from typing import Any

from harness.config._registry_suite import RegistrySuite


@dataclass
class RegistryState:
    """What the engine keeps for one registry suite: lm-eval's objects, built once per process.

    ``configs`` are the leaf configs lm-eval's factory produced; ``tasks`` the real tasks
    (filled by the data step); ``group`` lm-eval's Group (for its own aggregate), if any.
    """

    configs: dict[str, dict[str, Any]]
    group: Any = None
    prompt: dict[str, Any] = field(default_factory=dict)
    tasks: dict[str, Any] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)


def canonical(value: Any) -> Any:
    """A JSON-able, machine-independent form of a task config (functions by their source)."""
    if isinstance(value, dict):
        return {
            str(k): canonical(v)
            for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))
            if k != "config_source"
        }
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if callable(value):
        try:
            src = inspect.getsource(value)
        except (OSError, TypeError):
            src = ""
        name = f"{getattr(value, '__module__', '')}.{getattr(value, '__qualname__', value)}"
        return {"function": name, "source": hashlib.sha256(src.encode()).hexdigest()}
    return repr(value)


def offline() -> bool:
    """Whether the hub may not be reached: HF_HUB_OFFLINE or HF_DATASETS_OFFLINE set true."""
    return any(
        os.environ.get(v, "").strip().lower() in {"1", "true", "yes", "on"}
        for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    )


def fingerprint_of(suite: RegistrySuite, datasets: list[dict[str, Any]]) -> str:
    """Hash of the entry, the resolved leaf configs, lm-eval's version and the data used."""
    import lm_eval

    assert suite.entry is not None and isinstance(suite.state, RegistryState)
    payload = {
        "lm_eval": lm_eval.__version__,
        "entry": suite.entry.model_dump(exclude={"kind", "name", "metric"}),
        "configs": canonical(suite.state.configs),
        "datasets": datasets,
        "prompt": suite.state.prompt,
    }
    text = json.dumps(payload, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()
