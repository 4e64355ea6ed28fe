"""Validated experiment, suite, recipe and gate-policy models, and their loaders."""

from harness.config._champion import ChampionSpec, champion_variants, decides_release
from harness.config._errors import ConfigError
from harness.config._experiment import (
    BUILTIN_BASE,
    BaseSpec,
    CandidateSpec,
    Experiment,
    ScoringSettings,
    load_experiment,
)
from harness.config._guide import (
    GUIDE_FIELDS,
    GuideRange,
    RecipeWarning,
    recipe_guide_notes,
    recipe_warnings,
)
from harness.config._items import ItemResult
from harness.config._policy import GatePolicy
from harness.config._recipe import (
    IA3Settings,
    LoraSettings,
    MonitorSettings,
    PrefixSettings,
    PromptSettings,
    QuantSettings,
    Recipe,
    RecipeData,
    TrainSettings,
    load_recipe,
)
from harness.config._registry_suite import RegistryEntry, RegistrySuite
from harness.config._suite import SuiteSpec, load_suite

__all__ = [
    "BUILTIN_BASE",
    "GUIDE_FIELDS",
    "BaseSpec",
    "CandidateSpec",
    "ChampionSpec",
    "ConfigError",
    "Experiment",
    "GatePolicy",
    "GuideRange",
    "IA3Settings",
    "ItemResult",
    "LoraSettings",
    "MonitorSettings",
    "PrefixSettings",
    "PromptSettings",
    "QuantSettings",
    "Recipe",
    "RecipeData",
    "RecipeWarning",
    "RegistryEntry",
    "RegistrySuite",
    "ScoringSettings",
    "SuiteSpec",
    "TrainSettings",
    "champion_variants",
    "decides_release",
    "load_experiment",
    "load_recipe",
    "load_suite",
    "recipe_guide_notes",
    "recipe_warnings",
]
