"""Training recipes: one readable YAML file per adapter, validated before any work starts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from harness.config._errors import ConfigError, from_validation_error
from harness.config._paths import resolve_user_path
from harness.config._yaml import read_yaml_mapping


class RecipeData(BaseModel):
    """Where training examples come from: a suite's training split, formatted like its prompts.

    Training on the suite's own prompt format keeps train and test aligned without a second
    template to maintain.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    suite: Path
    split: Literal["train", "validation"] = "train"
    limit: int | None = Field(None, gt=0)


class LoraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    r: int = Field(16, gt=0, le=1024)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class QuantSettings(BaseModel):
    """4-bit base for QLoRA: NF4 with double quantisation and bf16 compute, as in the paper."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    quant_type: Literal["nf4", "fp4"] = "nf4"
    double_quant: bool = True
    compute_dtype: Literal["bfloat16", "float32", "float16"] = "bfloat16"


class TrainSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    learning_rate: float = Field(2e-4, gt=0.0, lt=1.0)
    epochs: float = Field(1.0, gt=0.0, le=100.0)
    batch_size: int = Field(8, gt=0)
    grad_accum: int = Field(1, gt=0)
    warmup_ratio: float = Field(0.03, ge=0.0, lt=1.0)
    weight_decay: float = Field(0.0, ge=0.0, lt=1.0)
    max_grad_norm: float = Field(1.0, gt=0.0)
    lr_scheduler: Literal["cosine", "linear", "constant", "constant_with_warmup"] = "cosine"
    max_seq_len: int = Field(256, gt=8)
    seed: int = 0
    dtype: Literal["float32", "bfloat16"] = "bfloat16"
    max_steps: int | None = Field(None, gt=0)
    gradient_checkpointing: bool = Field(
        False, description="Trade compute for memory; worth it for large bases on a GPU."
    )

    @field_validator("learning_rate")
    @classmethod
    def _finite(cls, v: float) -> float:
        if math.isnan(v):
            raise ValueError("learning_rate must be a number")
        return v


class Recipe(BaseModel):
    """An adapter recipe. Paths are resolved against the recipe file's directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    method: Literal["lora", "qlora"] = "lora"
    data: RecipeData
    lora: LoraSettings = LoraSettings()
    train: TrainSettings = TrainSettings()
    quantization: QuantSettings = QuantSettings()
    source: Path | None = Field(None, exclude=True)

    @property
    def base_quantization(self) -> str:
        """How the base is loaded for this recipe: QLoRA trains (and serves) on a 4-bit base."""
        return self.quantization.quant_type if self.method == "qlora" else "none"


def load_recipe(path: Path) -> Recipe:
    """Load and validate a recipe YAML, resolving its data path next to the file."""
    path = path.resolve()
    raw = read_yaml_mapping(path, "recipe")
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(path, exc) from exc
    suite = resolve_user_path(recipe.data.suite, path.parent, path, "data.suite")
    if not suite.exists():
        raise ConfigError(
            path,
            "data.suite",
            f"suite file {suite} does not exist",
            "point data.suite at a suite YAML, relative to the recipe file",
        )
    data = recipe.data.model_copy(update={"suite": suite})
    return recipe.model_copy(update={"data": data, "source": path})
