"""Training recipes: one readable YAML file per adapter, validated before any work starts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
    model_validator,
)

from harness.config._errors import ConfigError, from_validation_error
from harness.config._paths import resolve_user_path
from harness.config._yaml import read_yaml_mapping

DataFormat = Literal["prompt_completion", "alpaca", "chat"]


class RecipeData(BaseModel):
    """Where training examples come from: a suite's split, or a JSONL file of the team's own.

    Training on a suite's own prompt format keeps train and test aligned without a second
    template to maintain. A file (``path``) holds rows in one of three formats: prompt/completion
    pairs, Alpaca rows (instruction/input/output) or chat rows (``messages``, rendered with the
    base tokenizer's chat template). Either way the rows are checked before any training starts.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    suite: Path | None = None
    path: Path | None = Field(
        None, description="JSONL training file, relative to the recipe (instead of a suite)."
    )
    format: DataFormat = Field(
        "prompt_completion", description="Row format of the file given as path."
    )
    split: Literal["train", "validation"] = "train"
    limit: int | None = Field(None, gt=0)
    val_fraction: float = Field(
        0.1,
        ge=0.0,
        lt=1.0,
        description="Share of rows held out for validation loss (0 = no validation).",
    )

    @model_validator(mode="after")
    def _one_source(self) -> RecipeData:
        if (self.suite is None) == (self.path is None):
            raise ValueError(
                "give exactly one of 'suite' (a suite's split) or 'path' (a JSONL file)"
            )
        if self.suite is not None and self.format != "prompt_completion":
            raise ValueError(
                "'format' applies to a 'path' file; a suite is formatted by its prompt"
            )
        return self


Method = Literal["lora", "qlora", "ia3", "prefix", "prompt"]

#: Which settings block each method reads; a block given for another method is refused.
METHOD_BLOCKS: dict[str, tuple[Method, ...]] = {
    "lora": ("lora", "qlora"),
    "quantization": ("qlora",),
    "ia3": ("ia3",),
    "prefix": ("prefix",),
    "prompt": ("prompt",),
}


class LoraSettings(BaseModel):
    """Low-rank update ``W + (alpha / r) * B @ A`` on the target modules (LoRA and QLoRA)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    r: int = Field(16, gt=0, le=1024)
    alpha: int = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0.0, lt=1.0)
    target_modules: list[str] | Literal["all-linear"] = "all-linear"


class IA3Settings(BaseModel):
    """IA3: learned per-channel scales on attention keys/values and the feed-forward input.

    The defaults are peft's own choice for llama-family models (keys, values and the MLP's
    down projection, which is the feed-forward module whose *input* is scaled).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    target_modules: list[str] = Field(default_factory=lambda: ["k_proj", "v_proj", "down_proj"])
    feedforward_modules: list[str] = Field(default_factory=lambda: ["down_proj"])

    @model_validator(mode="after")
    def _feedforward_in_targets(self) -> IA3Settings:
        extra = [m for m in self.feedforward_modules if m not in self.target_modules]
        if extra:
            raise ValueError(
                f"feedforward_modules {extra} are not in target_modules {self.target_modules}; "
                "every feed-forward module must also be a target"
            )
        return self


class PrefixSettings(BaseModel):
    """Prefix tuning: trained key/value vectors prepended to every layer's attention."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_virtual_tokens: int = Field(20, gt=0, le=512)


class PromptSettings(BaseModel):
    """Prompt tuning: trained embeddings prepended to the input (soft prompt)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    num_virtual_tokens: int = Field(20, gt=0, le=512)
    init: Literal["random", "text"] = "random"
    init_text: str | None = Field(
        None, description="Text whose token embeddings initialise the soft prompt (init: text)."
    )

    @model_validator(mode="after")
    def _init_text_matches(self) -> PromptSettings:
        if self.init == "text" and not (self.init_text or "").strip():
            raise ValueError("init: text needs a non-empty init_text")
        if self.init == "random" and self.init_text is not None:
            raise ValueError("init_text is only used with init: text; set init: text or drop it")
        return self


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
    checkpoint_fraction: float = Field(
        1.0,
        gt=0.0,
        le=1.0,
        description="With gradient_checkpointing: the share of decoder layers recomputed "
        "(CUDA only; the rest keep their activations). 1.0 recomputes all.",
    )
    offload_checkpoints: bool = Field(
        False,
        description="With gradient_checkpointing, on CUDA: keep each checkpointed layer's "
        "input in pinned host memory until backward (copied on a side stream). Frees "
        "layers x tokens x hidden x 2 bytes of GPU memory for a larger micro-batch.",
    )
    speed: Literal["auto", "off"] = Field(
        "auto",
        description="auto: the GPU speed code (harness.accel) where it applies; off: plain "
        "trl/peft training, none of it (so does HARNESS_SPEED=off).",
    )
    optim: Literal["auto", "adamw_torch", "adamw_torch_fused", "paged_adamw_8bit", "adamw_8bit"] = (
        Field(
            "auto",
            description="auto: paged 8-bit AdamW for QLoRA when CUDA is present, else adamw_torch.",
        )
    )
    eval_steps: int = Field(20, gt=0, description="Validation loss every this many steps.")
    early_stopping_patience: int | None = Field(
        3, gt=0, description="Stop after this many evaluations without a better validation loss."
    )
    logging_steps: int = Field(5, gt=0, description="Record loss, lr, grad norm every N steps.")
    save_best: bool = Field(
        True, description="Keep the checkpoint with the lowest validation loss as the adapter."
    )

    @model_validator(mode="after")
    def _offload_needs_checkpointing(self) -> TrainSettings:
        if self.offload_checkpoints and not self.gradient_checkpointing:
            raise ValueError(
                "offload_checkpoints keeps the inputs that gradient checkpointing saves; set "
                "gradient_checkpointing: true as well, or drop offload_checkpoints"
            )
        return self

    @field_validator("speed", mode="before")
    @classmethod
    def _yaml_off(cls, v: object) -> object:
        # YAML 1.1 reads an unquoted `speed: off` as false (and `on` as true)
        if v is False:
            return "off"
        if v is True:
            return "auto"
        return v

    @field_validator("learning_rate")
    @classmethod
    def _finite(cls, v: float) -> float:
        if math.isnan(v):
            raise ValueError("learning_rate must be a number")
        return v


class MonitorSettings(BaseModel):
    """When the training monitor gives up on a run instead of saving a useless adapter.

    Counts are in logged steps (``train.logging_steps``) or evaluations (``train.eval_steps``),
    the units the numbers are seen in. The defaults leave room for noisy but healthy runs.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    overfit_patience: int = Field(
        3, gt=0, description="Evaluations of rising val loss while train loss falls, then stop."
    )
    dead_grad_steps: int = Field(
        3, gt=0, description="Optimizer steps with a zero gradient norm (or a frozen adapter)."
    )
    flat_loss_steps: int = Field(
        8, gt=1, description="Logged steps whose loss does not change at all, then stop."
    )


class Recipe(BaseModel):
    """An adapter recipe. Paths are resolved against the recipe file's directory."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    method: Method = "lora"
    data: RecipeData
    lora: LoraSettings = LoraSettings()
    ia3: IA3Settings = IA3Settings()
    prefix: PrefixSettings = PrefixSettings()
    prompt: PromptSettings = PromptSettings()
    train: TrainSettings = TrainSettings()
    monitor: MonitorSettings = MonitorSettings()
    quantization: QuantSettings = QuantSettings()
    outside_guide: dict[str, str] = Field(
        default_factory=dict,
        description="Settings left outside the guide's ranges on purpose, each with its reason "
        "(e.g. train.effective_batch: 'a few CPU minutes'): shown as notes, not warnings.",
    )
    source: Path | None = Field(None, exclude=True)

    @field_validator("outside_guide")
    @classmethod
    def _known_guide_fields(cls, v: dict[str, str]) -> dict[str, str]:
        # A misspelt key would silence nothing and say nothing; an empty reason hides why.
        from harness.config._guide import GUIDE_FIELDS

        for key, reason in v.items():
            if key not in GUIDE_FIELDS:
                raise ValueError(
                    f"outside_guide: '{key}' is not a setting the guide has a range for; use "
                    f"one of {', '.join(GUIDE_FIELDS)}"
                )
            if not reason.strip():
                raise ValueError(
                    f"outside_guide.{key}: give the reason the recipe leaves the guide there"
                )
        return v

    @field_validator("lora", "ia3", "prefix", "prompt", "quantization")
    @classmethod
    def _block_fits_method(cls, v: BaseModel, info: ValidationInfo) -> BaseModel:
        # Runs only for blocks written in the file (defaults are not validated), so unused
        # defaults are ignored while a block written for another method is refused: it would
        # otherwise be silently ignored and the user would train something else than they read.
        method = info.data.get("method")
        block = str(info.field_name)
        if method is not None and method not in METHOD_BLOCKS[block]:
            allowed = " or ".join(METHOD_BLOCKS[block])
            raise ValueError(
                f"the '{block}' block applies to method {allowed}, not method '{method}'; "
                f"remove the '{block}' block or set method: {METHOD_BLOCKS[block][0]}"
            )
        return v

    @model_serializer(mode="wrap")
    def _used_blocks_only(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A dump (adapter cache key, the adapter's provenance record) holds only the blocks the
        # method reads: it validates again as written, and an unused default cannot change a key.
        data: dict[str, Any] = handler(self)
        for block, methods in METHOD_BLOCKS.items():
            if self.method not in methods:
                data.pop(block, None)
        if not self.outside_guide:  # recipes without it dump (and key) as they always did
            data.pop("outside_guide", None)
        return data

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
    if recipe.data.path is not None:
        file = resolve_user_path(recipe.data.path, path.parent, path, "data.path")
        if not file.is_file():
            raise ConfigError(
                path,
                "data.path",
                f"training file {file} does not exist",
                "point data.path at a JSONL file, relative to the recipe file",
            )
        data = recipe.data.model_copy(update={"path": file})
    else:
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
