"""Suites named by lm-eval's task registry (``- lm_eval: mmlu``) instead of a task YAML path.

The entry is validated here; lm-eval's registry, the dataset in the Hugging Face cache and
the fingerprint are resolved by ``harness.engine._registry``, which this module reaches by name
only when an experiment names a registered task. ``harness.config`` itself never imports
lm-eval, so ``import harness`` stays light and experiments without such entries never pay
for lm-eval's registry scan (several seconds).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.config._errors import ConfigError, from_validation_error
from harness.config._suite import SuiteKind, SuiteSpec

CapabilityMode = Literal["groups", "tasks", "none"]
_RESOLVER = "harness.engine._registry"


class RegistryEntry(BaseModel):
    """One ``suites:`` entry naming a registered lm-eval task or group."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    lm_eval: str = Field(min_length=1, description="A registered lm-eval task or group name.")
    kind: SuiteKind = Field(description="'general' (must not drop) or 'task' (must improve).")
    name: str | None = Field(
        None,
        pattern=r"^[A-Za-z0-9_.-]+$",
        description="The suite's name in reports and gate.suites; defaults to the lm_eval name.",
    )
    capabilities: CapabilityMode = Field(
        "groups",
        description="One check per sub-group ('groups'; a group without sub-groups uses its "
        "tasks), per subtask ('tasks'), or none. Single tasks have none.",
    )
    limit: int | None = Field(
        None, gt=0, description="Score a seeded sample of N items, stratified by subtask."
    )
    sample_seed: int = Field(0, description="Seed of the 'limit' sample.")
    num_fewshot: int | None = Field(
        None, ge=0, description="Few-shot examples per prompt; default: the task's own count."
    )
    metric: str | None = Field(
        None, description="Metric to gate on; default: the first of the task's metric_list."
    )


@dataclass(frozen=True)
class RegistrySuite(SuiteSpec):
    """A registry suite as the pipeline sees it: a SuiteSpec, plus what the engine needs.

    ``path`` is lm-eval's YAML of the task or group; ``source``/``where`` name the experiment
    entry, which is where errors point. ``subtasks`` maps each leaf task to its capability.
    ``state`` is the engine's cache of built tasks (not part of equality).
    """

    entry: RegistryEntry | None = None
    source: Path = Path()
    where: str = ""
    subtasks: tuple[tuple[str, str | None], ...] = ()
    provenance: dict[str, Any] = field(default_factory=dict, compare=False)
    data_checked: bool = True
    state: Any = field(default=None, compare=False, repr=False)


def parse_entry(raw: dict[str, Any], file: Path, where: str) -> RegistryEntry:
    """Validate one registry entry; errors name ``suites.<i>.<field>``."""
    try:
        return RegistryEntry.model_validate(raw)
    except ValidationError as exc:
        err = from_validation_error(file, exc)
        fields = ", ".join(f"{where}.{f}" for f in (err.field or "").split(", ") if f)
        raise ConfigError(file, fields or where, err.problem, err.fix) from exc


def registry_suite(
    raw: dict[str, Any], file: Path, where: str, scoring: Any, check_data: bool = True
) -> RegistrySuite:
    """Resolve an entry through lm-eval's registry (and, with ``check_data``, the HF cache).

    Without ``check_data`` nothing is read from the dataset: names, configs and metrics are
    checked, the fingerprint is left unresolved and the suite cannot be scored. The few-shot
    seed and system prompt of ``scoring`` go into the fingerprint, so results made under other
    prompts are never reused even where the result key does not name them.
    """
    entry = parse_entry(raw, file, where)
    prompt = {
        "fewshot_seed": getattr(scoring, "fewshot_seed", None),
        "system_instruction": getattr(scoring, "system_instruction", None),
    }
    resolver = importlib.import_module(_RESOLVER)
    suite: RegistrySuite = resolver.plan_registry_suite(
        entry, file, where, prompt, check_data=check_data
    )
    return suite
