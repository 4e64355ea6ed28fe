"""The experiment: which base, which suites, which candidates, which policy."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from harness.config._champion import ChampionSpec, check_champion_names
from harness.config._errors import ConfigError, from_validation_error, shorten
from harness.config._paths import resolve_user_path
from harness.config._policy import GatePolicy
from harness.config._preflight import (
    BUILTIN_LAYOUT,
    check_adapter_tensors,
    check_reports_dir,
    check_targets_exist,
    llama_module_names,
    read_adapter_json,
    read_adapter_weights,
    read_base_layout,
    same_base,
)
from harness.config._recipe import Recipe, load_recipe
from harness.config._registry_suite import registry_suite
from harness.config._suite import SuiteSpec, load_suite
from harness.config._yaml import directory_hint, read_yaml_mapping

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
    role: Literal["release", "comparison"] = Field(
        "release",
        description="'release': its checks decide the verdict and exit code; 'comparison': "
        "scored, checked and reported beside the release candidates, but its checks do not "
        "decide (e.g. a QLoRA arm on a base where NF4 costs a few points).",
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
    fewshot_seed: int = Field(1234, description="Seed of few-shot draws (lm-eval's default).")
    system_instruction: str | None = Field(None, description="System prompt before each item.")


class ExperimentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    base: BaseSpec = BaseSpec()
    # A task YAML path, or a registered lm-eval task/group ({lm_eval: mmlu, kind: general}).
    suites: list[Path | dict[str, Any]] = Field(min_length=1)
    candidates: list[CandidateSpec] = Field(min_length=1)
    scoring: ScoringSettings = ScoringSettings()
    gate: GatePolicy = GatePolicy()
    # The adapter a release candidate must not be worse than (harness.config._champion);
    # omitted: each release candidate's registered model, alias champion; "none": off.
    champion: ChampionSpec | Literal["none"] | None = None
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
    notes: tuple[str, ...] = ()
    champion: ChampionSpec | None = ChampionSpec()
    """The champion to gate against (``ChampionSpec()``: auto); None: ``champion: none``."""
    """Accepted oddities worth a line of output (e.g. an adapter recorded for another base)."""

    def comparison_variants(self) -> frozenset[str]:
        """The variants whose checks do not decide the verdict (comparison arms).

        Candidates with ``role: comparison``, and each quantised base of
        ``gate.quantized_bases`` (``base-nf4``) unless a release candidate is served on that
        quantisation: the NF4 base's loss matters for the release only when what ships runs
        on it; otherwise it is evidence about quantisation, shown but not deciding.
        """
        release = [c for c in self.candidates if c.role == "release"]
        served = {c.quantization for c in release}
        arms = {c.name for c in self.candidates if c.role == "comparison"}
        arms |= {f"base-{q}" for q in self.gate.quantized_bases if q not in served}
        return frozenset(arms)


def _resolve(root: Path, p: Path, file: Path, field: str) -> Path:
    return resolve_user_path(p, root, file, field)


def _load_suites(exp: ExperimentFile, path: Path, check_data: bool) -> list[SuiteSpec]:
    """The experiment's suites, each validated, with distinct names the gate policy can use."""
    root = path.parent
    suites: list[SuiteSpec] = []
    for i, s in enumerate(exp.suites):
        if isinstance(s, dict):  # lm-eval's registry; ``check_data=False`` reads no dataset
            suites.append(registry_suite(s, path, f"suites.{i}", exp.scoring, check_data))
            continue
        sp = _resolve(root, s, path, f"suites.{i}")
        if sp.is_dir():
            raise ConfigError(
                path,
                f"suites.{i}",
                f"suite path {s} is a directory, not a suite YAML",
                directory_hint(sp, "suite"),
            )
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
    return suites


def _resolve_base(exp: ExperimentFile, path: Path) -> BaseSpec:
    """The base spec with a local model directory made absolute (or the builtin checked)."""
    root = path.parent
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
    return base


def _load_candidates(
    exp: ExperimentFile,
    path: Path,
    base: BaseSpec,
    modules: Any,
    base_dir: Path | None,
    notes: list[str],
) -> tuple[list[CandidateSpec], dict[str, Recipe]]:
    """Candidates with their recipes loaded or adapters checked, names, roles and twins valid."""
    root = path.parent
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
            if rp.is_dir():
                raise ConfigError(
                    path,
                    f"candidates.{i}.recipe",
                    f"recipe path {rp} is a directory, not a recipe YAML",
                    directory_hint(rp, "recipe"),
                )
            if not rp.exists():
                raise ConfigError(
                    path,
                    f"candidates.{i}.recipe",
                    f"recipe {rp} does not exist",
                    "point at a recipe YAML in training/, relative to this file",
                )
            recipes[c.name] = load_recipe(rp)
            if modules is not None:
                _check_recipe_targets(recipes[c.name], modules, base.model)
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
            note = _check_given_adapter(ap, modules, base_dir, base.model)
            if note:
                notes.append(f"candidate {c.name}: {note}")
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
    if not any(c.role == "release" for c in candidates):
        raise ConfigError(
            path,
            "candidates",
            "every candidate has role: comparison, so no check would decide the verdict",
            "give the candidate you mean to ship role: release (the default)",
        )
    return candidates, recipes


def load_experiment(path: Path, *, check_data: bool = True) -> Experiment:
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
    suites = _load_suites(exp, path, check_data)
    base = _resolve_base(exp, path)
    # Module names of the base from its config.json (no weights): None when not llama-style.
    base_dir: Path | None = None
    if base.model.startswith("builtin:"):
        modules = llama_module_names(BUILTIN_LAYOUT)
    else:
        base_dir = Path(base.model)
        modules = llama_module_names(read_base_layout(base_dir))
    notes: list[str] = []
    candidates, recipes = _load_candidates(exp, path, base, modules, base_dir, notes)
    champion = _champion(exp.champion, candidates, root, path)
    if champion is not None and champion.adapter is not None:
        note = _check_given_adapter(champion.adapter, modules, base_dir, base.model)
        if note:
            notes.append(f"champion: {note}")
    reports_dir = _resolve(root, exp.reports_dir, path, "reports_dir")
    check_reports_dir(reports_dir, path)
    return Experiment(
        name=exp.name,
        source=path,
        base=base,
        suites=suites,
        candidates=candidates,
        recipes=recipes,
        scoring=exp.scoring,
        gate=exp.gate,
        reports_dir=reports_dir,
        notes=tuple(notes),
        champion=champion,
    )


def _champion(
    raw: ChampionSpec | str | None,
    candidates: list[CandidateSpec],
    root: Path,
    path: Path,
) -> ChampionSpec | None:
    """``champion:`` resolved: None when off, its adapter directory resolved and present."""
    if raw == "none":
        return None
    spec = raw if isinstance(raw, ChampionSpec) else ChampionSpec()
    if spec.adapter is not None:
        ap = _resolve(root, spec.adapter, path, "champion.adapter")
        if not ap.is_dir():
            raise ConfigError(
                path,
                "champion.adapter",
                f"champion adapter dir {ap} not found",
                "point at a directory holding adapter_config.json, name a registered model "
                "(champion: {model: NAME}), or set champion: none",
            )
        spec = spec.model_copy(update={"adapter": ap})
    check_champion_names(spec, candidates, path)
    return spec


def _check_recipe_targets(recipe: Recipe, names: list[str], base: str) -> None:
    """A recipe's target_modules must match modules of the base (known from its config.json)."""
    fix = (
        f"use module names of the base ({base}), e.g. [q_proj, v_proj] or 'all-linear' for a "
        "llama-style model"
    )
    src = recipe.source or Path("<recipe>")
    if recipe.method in ("lora", "qlora"):
        check_targets_exist(recipe.lora.target_modules, names, src, "lora.target_modules", fix)
    elif recipe.method == "ia3":
        check_targets_exist(recipe.ia3.target_modules, names, src, "ia3.target_modules", fix)


def _check_given_adapter(
    adapter_dir: Path, names: list[str] | None, base_dir: Path | None, base: str
) -> str | None:
    """Model-free checks of a given adapter; returns a note to print, if any."""
    cfg_path, cfg = read_adapter_json(adapter_dir)
    weights, header = read_adapter_weights(adapter_dir)
    if names is not None:
        check_targets_exist(cfg.get("target_modules"), names, cfg_path, "target_modules")
        check_adapter_tensors(cfg_path, cfg, weights, header, names)
    recorded = cfg.get("base_model_name_or_path")
    if not same_base(recorded, base_dir, base):
        return (
            f"{cfg_path} records base_model_name_or_path {shorten(str(recorded), 120)!r}, "
            f"not this experiment's base ({shorten(base, 120)}); accepted if its tensor shapes "
            "fit the base and any recorded base fingerprint agrees (checked when it attaches)"
        )
    return None
