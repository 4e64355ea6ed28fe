"""The fine-tuning guide's hyperparameter ranges, and warnings for recipes outside them.

A value outside these ranges is not wrong (a tiny model on a CPU, or a deliberate stress
recipe, has good reasons), so these are warnings printed by ``harness validate`` and at training
time, never errors. Each warning names the field, the value, the range and why the range is
what it is, so a person can decide in one read. ``docs/recipes.md`` shows the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.config._recipe import Recipe


@dataclass(frozen=True)
class GuideRange:
    """One documented range: inclusive bounds and the reason for them."""

    field: str
    low: float
    high: float
    why: str

    def text(self) -> str:
        return f"{self.low:g}..{self.high:g}"


#: Learning rate by method: adapters with fewer parameters need (and tolerate) larger steps.
LEARNING_RATE: dict[str, GuideRange] = {
    "lora": GuideRange(
        "train.learning_rate",
        5e-5,
        1e-3,
        "LoRA/QLoRA usually train at 1e-4..3e-4 (2e-4 is the common default); small models and "
        "short runs tolerate up to 1e-3, above that the loss tends to spike or diverge",
    ),
    "ia3": GuideRange(
        "train.learning_rate",
        1e-3,
        1e-2,
        "IA3 learns only per-channel scales, so it needs larger steps (the IA3 paper uses 3e-3)",
    ),
    "prompt": GuideRange(
        "train.learning_rate",
        1e-3,
        3e-2,
        "soft prompts are a few embedding vectors and learn slowly at LoRA rates "
        "(peft's examples use 3e-2)",
    ),
}
LEARNING_RATE["qlora"] = LEARNING_RATE["lora"]
LEARNING_RATE["prefix"] = LEARNING_RATE["prompt"]

#: Ranges that apply to every method.
TRAIN_RANGES: tuple[GuideRange, ...] = (
    GuideRange(
        "train.epochs",
        1,
        5,
        "one to a few passes; more epochs over a small set memorise it and cost general "
        "capability (catastrophic forgetting)",
    ),
    GuideRange(
        "train.effective_batch",
        16,
        128,
        "effective batch = batch_size x grad_accum; 16..128 gives stable gradients for "
        "adapters, raise grad_accum rather than batch_size to reach it on small memory",
    ),
    GuideRange(
        "train.warmup_ratio",
        0.03,
        0.1,
        "a short warmup avoids large early updates to freshly initialised adapter weights",
    ),
    GuideRange(
        "train.weight_decay",
        0.0,
        0.1,
        "adapters are small; strong decay pulls them back to the base and undoes training",
    ),
    GuideRange(
        "train.max_grad_norm",
        0.3,
        1.0,
        "clipping at 0.3 (QLoRA paper) to 1.0 (Trainer default) keeps rare large "
        "gradients from wrecking the adapter",
    ),
)

LORA_RANGES: tuple[GuideRange, ...] = (
    GuideRange(
        "lora.r",
        8,
        64,
        "rank 8..64 covers most tasks; below 8 underfits, above 64 adds memory for little gain",
    ),
    GuideRange(
        "lora.dropout",
        0.0,
        0.1,
        "0.05..0.1 regularises small data sets; more slows learning without helping",
    ),
)

VIRTUAL_TOKENS = GuideRange(
    "num_virtual_tokens",
    8,
    100,
    "fewer than ~8 virtual tokens limits what the prompt can encode; beyond ~100 gains "
    "flatten (Lester et al. 2021) while every virtual token lengthens every sequence",
)

LR_SCHEDULER = "cosine"
ALPHA_PER_RANK = 2

#: Module names of MLP (feed-forward) projections across common architectures.
MLP_MODULES = frozenset(
    {
        "gate_proj",
        "up_proj",
        "down_proj",
        "fc1",
        "fc2",
        "c_fc",
        "w1",
        "w2",
        "w3",
        "dense_h_to_4h",
        "dense_4h_to_h",
        "mlp",
    }
)


#: Every setting the guide has a view on, as recipes name them in ``outside_guide``.
GUIDE_FIELDS: tuple[str, ...] = (
    "train.learning_rate",
    *(r.field for r in TRAIN_RANGES),
    "train.lr_scheduler",
    *(r.field for r in LORA_RANGES),
    "lora.alpha",
    "lora.target_modules",
    "prefix.num_virtual_tokens",
    "prompt.num_virtual_tokens",
)


def _outside(rng: GuideRange, value: float, field: str | None = None) -> str | None:
    if rng.low <= value <= rng.high:
        return None
    return f"{field or rng.field} = {value:g} is outside the guide's range {rng.text()}: {rng.why}"


def _findings(recipe: Recipe) -> list[tuple[str, str]]:
    """(guide field, sentence) for every place ``recipe`` leaves the guide.

    Only the settings the recipe's method uses are checked (a LoRA rank means nothing to a
    soft prompt), and ``train.epochs`` is skipped when ``train.max_steps`` caps the run.
    """
    t = recipe.train
    out: list[tuple[str, str | None]] = [
        ("train.learning_rate", _outside(LEARNING_RATE[recipe.method], t.learning_rate))
    ]
    for rng in TRAIN_RANGES:
        if rng.field == "train.epochs" and t.max_steps is not None:
            continue
        if rng.field == "train.effective_batch":
            value = t.batch_size * t.grad_accum
            label = f"train.batch_size x train.grad_accum ({t.batch_size} x {t.grad_accum})"
            out.append((rng.field, _outside(rng, value, label)))
        else:
            out.append((rng.field, _outside(rng, getattr(t, rng.field.split(".", 1)[1]))))
    if t.lr_scheduler != LR_SCHEDULER:
        out.append(
            (
                "train.lr_scheduler",
                f"train.lr_scheduler = {t.lr_scheduler} differs from the guide's "
                f"{LR_SCHEDULER}: a cosine decay ends training at a small learning rate, which "
                "settles the adapter",
            )
        )
    if recipe.method in ("lora", "qlora"):
        lo = recipe.lora
        out.append((LORA_RANGES[0].field, _outside(LORA_RANGES[0], lo.r)))
        if lo.alpha != ALPHA_PER_RANK * lo.r:
            out.append(
                (
                    "lora.alpha",
                    f"lora.alpha = {lo.alpha} is not {ALPHA_PER_RANK} x lora.r "
                    f"({ALPHA_PER_RANK * lo.r}): the update is scaled by alpha / r, and the "
                    f"guide keeps that scale at {ALPHA_PER_RANK} so a rank change does not "
                    "change the effective learning rate",
                )
            )
        out.append((LORA_RANGES[1].field, _outside(LORA_RANGES[1], lo.dropout)))
        targets = lo.target_modules
        if targets != "all-linear" and not MLP_MODULES.intersection(targets):
            out.append(
                (
                    "lora.target_modules",
                    f"lora.target_modules = {targets} has no MLP projection: the guide targets "
                    "all linear layers (attention and MLP; QLoRA paper), which matches full "
                    "fine-tuning far more closely than attention alone",
                )
            )
    elif recipe.method in ("prefix", "prompt"):
        block = recipe.prefix if recipe.method == "prefix" else recipe.prompt
        field = f"{recipe.method}.num_virtual_tokens"
        out.append((field, _outside(VIRTUAL_TOKENS, block.num_virtual_tokens, field)))
    return [(f, w) for f, w in out if w is not None]


def recipe_warnings(recipe: Recipe) -> list[str]:
    """Every place ``recipe`` leaves the guide's ranges without saying why (``outside_guide``),
    one readable sentence each; and every ``outside_guide`` entry the recipe no longer needs.
    """
    found = _findings(recipe)
    declared = recipe.outside_guide
    out = [w for f, w in found if f not in declared]
    stale = sorted(set(declared) - {f for f, _ in found})
    out += [
        f"outside_guide names {f}, but the recipe is inside the guide there: remove the entry"
        for f in stale
    ]
    return out


def recipe_guide_notes(recipe: Recipe) -> list[str]:
    """The deviations ``recipe`` declares in ``outside_guide``, each with its reason: shown as
    notes (``harness validate``, the adapter's record) instead of warnings."""
    declared = recipe.outside_guide
    return [f"{w} (on purpose: {declared[f]})" for f, w in _findings(recipe) if f in declared]


class RecipeWarning(UserWarning):
    """A recipe value outside the guide's ranges (see ``recipe_warnings``)."""
