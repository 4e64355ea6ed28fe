"""Validated experiment, suite, recipe and gate-policy models, and their loaders."""

from harness.config._errors import ConfigError
from harness.config._experiment import (
    BUILTIN_BASE,
    BaseSpec,
    CandidateSpec,
    Experiment,
    ScoringSettings,
    load_experiment,
)
from harness.config._items import ItemResult
from harness.config._policy import GatePolicy
from harness.config._recipe import LoraSettings, Recipe, RecipeData, TrainSettings, load_recipe
from harness.config._suite import SuiteSpec, load_suite

__all__ = [
    "BUILTIN_BASE",
    "BaseSpec",
    "CandidateSpec",
    "ConfigError",
    "Experiment",
    "GatePolicy",
    "ItemResult",
    "LoraSettings",
    "Recipe",
    "RecipeData",
    "ScoringSettings",
    "SuiteSpec",
    "TrainSettings",
    "load_experiment",
    "load_recipe",
    "load_suite",
]
