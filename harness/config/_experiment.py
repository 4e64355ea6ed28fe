"""The experiment: which base, which suites, which candidates, which policy."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.config._errors import ConfigError, from_validation_error
from harness.config._paths import resolve_user_path
from harness.config._policy import GatePolicy
from harness.config._recipe import Recipe, load_recipe
from harness.config._suite import SuiteSpec, load_suite
from harness.config._yaml import read_yaml_mapping

BUILTIN_BASE = "builtin:smollm2-135m-instruct"
Dtype = Literal["float32", "bfloat16", "float16"]


class BaseSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str = Field(BUILTIN_BASE, description="'builtin:smollm2-135m-instruct' or a local dir.")
    dtype: Dtype = "bfloat16"
    trust_remote_code: bool = False
    allow_pickle: bool = False


class CandidateSpec(BaseModel):
    """One candidate: an adapter trained from a recipe, or one given as a directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    recipe: Path | None = None
    adapter: Path | None = None
    quantization: Literal["none", "nf4", "int8"] | None = Field(
        None,
        description="Base quantisation this candidate is served with; a qlora recipe "
        "implies nf4, otherwise none.",
    )
    compare_to: str | None = Field(
        None,
        description="Another candidate to check this one against with quantization_gap "
        "(e.g. a QLoRA candidate against its LoRA twin).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> CandidateSpec:
        if (self.recipe is None) == (self.adapter is None):
            raise ValueError("give exactly one of 'recipe' (train it) or 'adapter' (load it)")
        return self


class ScoringSettings(BaseModel):
    """Settings that change scores, so they are part of every result's key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    batch_size: int = Field(32, gt=0, le=4096)
    apply_chat_template: bool = False
    limit: int | None = Field(None, gt=0, description="Score only the first N items per suite.")


class ExperimentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    base: BaseSpec = BaseSpec()
    suites: list[Path] = Field(min_length=1)
    candidates: list[CandidateSpec] = Field(min_length=1)
    scoring: ScoringSettings = ScoringSettings()
    gate: GatePolicy = GatePolicy()
    reports_dir: Path = Path("reports")


class Experiment(BaseModel):
    """A validated experiment with every path resolved and every referenced file loaded."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    name: str
    source: Path
    base: BaseSpec
    suites: list[SuiteSpec]
    candidates: list[CandidateSpec]
    recipes: dict[str, Recipe]
    scoring: ScoringSettings
    gate: GatePolicy
    reports_dir: Path


def _resolve(root: Path, p: Path, file: Path, field: str) -> Path:
    return resolve_user_path(p, root, file, field)


def load_experiment(path: Path) -> Experiment:
    """Validate an experiment file and everything it points at, before any model is loaded.

    Failing here costs milliseconds; failing after a baseline costs minutes.
    """
    path = path.resolve()
    raw = read_yaml_mapping(path, "experiment")
    try:
        exp = ExperimentFile.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(path, exc) from exc
    root = path.parent
    suites: list[SuiteSpec] = []
    for i, s in enumerate(exp.suites):
        sp = _resolve(root, s, path, f"suites.{i}")
        if not sp.exists():
            raise ConfigError(
                path,
                f"suites.{i}",
                f"unknown suite: {s} ({sp} does not exist)",
                "list suite YAML paths relative to the experiment file, "
                "e.g. suites/general/general.yaml",
            )
        suites.append(load_suite(sp))
    names = [s.name for s in suites]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise ConfigError(
            path,
            "suites",
            f"suite names repeat: {sorted(dupes)}",
            "give each suite a distinct task name",
        )
    unknown = sorted(set(exp.gate.suites) - set(names))
    if unknown:
        raise ConfigError(
            path,
            f"gate.suites.{unknown[0]}",
            f"'{unknown[0]}' is not the name of a suite of this experiment",
            f"use one of {sorted(names)} (a suite's name is its task name)",
        )
    if not any(s.kind == "task" for s in suites) and not any(s.kind == "general" for s in suites):
        raise ConfigError(path, "suites", "no task or general suite", "add at least one suite")
    candidates: list[CandidateSpec] = []
    recipes: dict[str, Recipe] = {}
    seen: set[str] = set()
    for i, c in enumerate(exp.candidates):
        if c.name in seen or c.name == "base":
            raise ConfigError(
                path,
                f"candidates.{i}.name",
                f"name '{c.name}' is taken",
                "give each candidate a unique name other than 'base'",
            )
        seen.add(c.name)
        if c.recipe is not None:
            rp = _resolve(root, c.recipe, path, f"candidates.{i}.recipe")
            if not rp.exists():
                raise ConfigError(
                    path,
                    f"candidates.{i}.recipe",
                    f"recipe {rp} does not exist",
                    "point at a recipe YAML in training/, relative to this file",
                )
            recipes[c.name] = load_recipe(rp)
            implied = recipes[c.name].base_quantization
            if c.quantization not in (None, implied):
                raise ConfigError(
                    path,
                    f"candidates.{i}.quantization",
                    f"'{c.quantization}' contradicts the recipe's method "
                    f"({recipes[c.name].method} serves on '{implied}')",
                    "drop 'quantization' for trained candidates",
                )
            c = c.model_copy(update={"recipe": rp, "quantization": implied})
        else:
            assert c.adapter is not None
            ap = _resolve(root, c.adapter, path, f"candidates.{i}.adapter")
            if not ap.is_dir():
                raise ConfigError(
                    path,
                    f"candidates.{i}.adapter",
                    f"adapter dir {ap} not found",
                    "point at a directory holding adapter_config.json",
                )
            c = c.model_copy(update={"adapter": ap, "quantization": c.quantization or "none"})
        candidates.append(c)
    cand_names = {c.name for c in candidates}
    for i, c in enumerate(candidates):
        if c.compare_to is not None and (c.compare_to not in cand_names or c.compare_to == c.name):
            raise ConfigError(
                path,
                f"candidates.{i}.compare_to",
                f"'{c.compare_to}' is not another candidate of this experiment",
                f"use one of {sorted(cand_names - {c.name})}",
            )
    base = exp.base
    if not base.model.startswith("builtin:"):
        bp = _resolve(root, Path(base.model), path, "base.model")
        if not bp.is_dir():
            raise ConfigError(
                path,
                "base.model",
                f"base model dir {bp} not found",
                f"use '{BUILTIN_BASE}' or a local Hugging Face model directory",
            )
        base = base.model_copy(update={"model": str(bp)})
    elif base.model != BUILTIN_BASE:
        raise ConfigError(
            path,
            "base.model",
            f"unknown builtin model '{base.model}'",
            f"use '{BUILTIN_BASE}' or a local model directory",
        )
    return Experiment(
        name=exp.name,
        source=path,
        base=base,
        suites=suites,
        candidates=candidates,
        recipes=recipes,
        scoring=exp.scoring,
        gate=exp.gate,
        reports_dir=_resolve(root, exp.reports_dir, path, "reports_dir"),
    )
