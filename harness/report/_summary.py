"""summary.json as a typed model: the contract between a gate run and everything that reads it.

The gate builds a :class:`GateSummary` and writes it; the reports, the pytest plugin and the
CLI read it back through the same model. It lives in ``harness.report`` because the report
package imports nothing from the rest of harness (reports are re-rendered from a stored
summary.json on machines without the training/eval stack); the pipeline imports it from here.
Its JSON Schema is published as ``docs/summary.schema.json`` (regenerate with
``python -m harness.report.schema > docs/summary.schema.json``; a test keeps the two equal).

Two ways in:

- ``GateSummary(...)`` / ``GateSummary.model_validate(data)``: strict. An unknown key is an
  error (``extra="forbid"``), so a contract slip fails the gate run instead of writing a file
  nobody expects.
- :meth:`GateSummary.read`: for stored files, which an older or newer harness may have
  written. Unknown keys are dropped; an optional field that does not validate takes its
  default, and a list or map entry that does not validate is skipped; the contract fields
  (``verdict``, ``checks``, ``variants``, ``suites``, ``mlflow_run_id``, ``provenance``, ...)
  must be there.

:meth:`GateSummary.to_dict` returns exactly the keys the summary was built or read with: a
reader never adds keys to a stored summary, and a field filled in later in a gate run
(a variant's ``registered_model``, once MLflow registered its adapter) is absent, not null,
where it was never set. Numbers that are NaN in memory are ``null`` in the file.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    ValidationInfo,
    field_serializer,
    model_validator,
)

Number = int | float
"""A JSON number as the producer wrote it (an integer stays an integer)."""
Scalar = str | bool | int | float | None
"""A JSON scalar."""
NaNFloat = float | None
"""A float that is NaN (or infinite) in memory and ``null`` in summary.json."""

_LENIENT = "lenient"


class _Record(BaseModel):
    """Base of every summary record: frozen, strict about keys, lenient in :meth:`read`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="wrap")
    @classmethod
    def _tolerate(cls, data: Any, handler: Any, info: ValidationInfo) -> Any:
        if not (info.context or {}).get(_LENIENT) or not isinstance(data, Mapping):
            return handler(data)
        fields = cls.model_fields
        keep_unknown = cls.model_config.get("extra") == "allow"
        data = {k: v for k, v in data.items() if keep_unknown or k in fields}
        while True:  # each round drops one bad part, or re-raises
            try:
                return handler(data)
            except ValidationError as exc:
                data = _without_bad_parts(data, exc, fields)


def _without_bad_parts(data: dict[str, Any], exc: ValidationError, fields: Any) -> dict[str, Any]:
    """``data`` minus what ``exc`` rejects: a bad entry of a list or map, else a bad optional
    field. Raises ``exc`` again when only required fields are at fault."""
    out = dict(data)
    changed = False
    for err in exc.errors():
        loc = err["loc"]
        key = loc[0] if loc else None
        if key not in out:
            continue
        value = out[key]
        if len(loc) > 1 and isinstance(value, list) and isinstance(loc[1], int):
            out[key] = [v for i, v in enumerate(value) if i != loc[1]]
        elif len(loc) > 1 and isinstance(value, Mapping) and loc[1] in value:
            out[key] = {k: v for k, v in value.items() if k != loc[1]}
        elif key in fields and not fields[key].is_required():
            del out[key]
        else:
            continue
        changed = True
        break  # indices shift: re-validate before removing more
    if not changed:
        raise exc
    return out


# ---- the parts -----------------------------------------------------------------------


class CheckRecord(_Record):
    """One gate check with its evidence (``harness.gates.Check``)."""

    name: str = Field(description="`<variant>::<suite>[/<capability>]::<kind>`, unique in a run")
    kind: str = Field(description="the check kind; see the summary's `check_kinds`")
    variant: str
    suite: str = Field(description="suite name, or `all` for a check over every suite")
    capability: str | None = None
    metric: str
    baseline: NaNFloat = Field(description="the reference's score (the baseline's, mostly)")
    candidate: NaNFloat
    delta: NaNFloat = Field(description="candidate - baseline, in the metric's units")
    ci: tuple[NaNFloat, NaNFloat] = Field(description="[low, high] interval of the delta")
    margin: float = Field(description="the policy margin the check was decided against")
    passed: StrictBool
    reason: str
    n: int | None = Field(None, description="paired items the check was computed on")
    mde: NaNFloat = Field(None, description="the effect the check detects with power 0.8")
    p_value: NaNFloat = None
    p_adjusted: NaNFloat = Field(None, description="Holm-adjusted across the run")
    mcnemar: dict[str, NaNFloat] | None = None
    decides: StrictBool = Field(
        True,
        description="false for a check of a comparison arm: reported, not part of the verdict",
    )

    @field_serializer("ci")
    def _ci_as_list(self, ci: tuple[float | None, float | None]) -> list[float | None]:
        return list(ci)


class RegisteredModel(_Record):
    """Where MLflow's model registry holds a candidate's adapter."""

    name: str
    version: str


class TrainingRecord(_Record):
    """How a candidate was trained in this run (``harness.training.TrainResult.to_json``).

    The training package owns this record and may add facts (extra keys are kept); the fields
    below are the ones the reports read.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    recipe: str | None = None
    steps: Number | None = None
    train_seconds: Number | None = None
    final_loss: Number | None = None
    trainable_params: Number | None = None
    trainable_pct: Number | None = None
    tokens_per_second: Number | None = None
    peak_memory_mb: Number | None = None
    adapter_size_bytes: Number | None = None
    n_examples: Number | None = None
    loss_curve: list[tuple[Number | None, Number | None]] = Field(
        default_factory=list, description="[optimizer step, training loss] points"
    )
    val_loss_curve: list[tuple[Number | None, Number | None]] = Field(default_factory=list)
    memory_estimate_mb: dict[str, Number | None] = Field(default_factory=dict)
    execution: str | None = Field(
        None,
        description="how a 4-bit base ran while training: `bitsandbytes-4bit` or "
        "`nf4-dequantized-once` (CPU); null for an unquantised base",
    )


class VariantRecord(_Record):
    """A model variant the gate scored: the baseline, a quantised base, or a candidate."""

    name: str
    role: str = Field(description="`baseline`, `quantized_base`, `champion` or `candidate`")
    fingerprint: str | None = Field(description="base weights, adapter files and quantisation")
    adapter: str | None
    quantization: str | None
    dtype: str | None
    training: TrainingRecord | None = None
    decides: StrictBool = Field(
        True,
        description="whether this variant's checks decide the verdict: false for a "
        "comparison arm (`role: comparison`, or a quantised base no release candidate runs on)",
    )
    execution: str | None = Field(
        None,
        description="how a quantised variant was scored: `bitsandbytes-4bit` (the real 4-bit "
        "layers) or `nf4-dequantized-once` (CPU: bitsandbytes' NF4 values dequantized once); "
        "null when unquantised",
    )
    notes: list[str] = Field(
        default_factory=list,
        description="what a reader must know about how this variant was loaded or scored: "
        "the adapter's own tokenizer, a base resized for it, a prompt format (chat template) "
        "other than the one it was trained on",
    )
    registered_model: RegisteredModel | None = Field(
        None,
        description="set once MLflow registered the candidate's adapter; absent otherwise",
    )


class SuiteRecord(_Record):
    """One evaluation suite with every variant's score."""

    name: str
    kind: str = Field(description="`task` (must improve) or `general` (must not drop)")
    version: str
    fingerprint: str
    n_items: int | None
    metric: str
    higher_is_better: bool = True
    path: str | None = None
    scores: dict[str, NaNFloat] = Field(description="variant -> mean metric")
    capabilities: dict[str, dict[str, NaNFloat]] = Field(
        default_factory=dict, description="capability -> variant -> mean metric"
    )
    lm_eval_aggregate: dict[str, dict[str, NaNFloat]] = Field(
        default_factory=dict,
        description="registry suites: variant -> lm-eval's own aggregate of the task or group "
        "(weighted as lm-eval weights it; keys as lm-eval's, e.g. `acc,none`)",
    )
    num_fewshot: int | None = Field(
        None, description="registry suites: few-shot examples per prompt (null: not one value)"
    )


class SamplePrediction(_Record):
    prediction: Scalar = None
    score: NaNFloat = None


class SampleItem(_Record):
    """One item whose answer changed for some candidate."""

    item_id: str = ""
    capability: str | None = None
    prompt: str | None = None
    target: Scalar = None
    predictions: dict[str, SamplePrediction] = Field(default_factory=dict)


class SampleBlock(_Record):
    """A suite's changed items (``harness.report.changed_samples``)."""

    suite: str = ""
    metric: str = ""
    baseline: str = "base"
    n_items: int | None = None
    n_changed: int | None = None
    items: list[SampleItem] = Field(default_factory=list)


ReportRole = Literal["delta", "forgetting", "quantization_gap", "champion"]


class CheckKindInfo(_Record):
    """What the reports need to know about a check kind (from the gate's kind registry).

    ``direction``: ``gain`` (the CI's lower bound must clear +margin), ``no_drop`` (-margin) or
    null. ``shown_as``: ``delta`` (the kind's delta is the variant's change vs the baseline on
    its suite or capability: comparison cells, threshold line), ``forgetting`` (a failure is
    forgetting), ``quantization_gap`` (a gap vs a reference: its own row and chart).
    """

    direction: Literal["gain", "no_drop"] | None = None
    shown_as: list[ReportRole] = Field(default_factory=list)


def _pre_registry_kinds() -> dict[str, CheckKindInfo]:
    """What summaries written before ``check_kinds`` existed meant by their kinds.

    A frozen snapshot for reading old files, not a declaration: kinds are declared in the
    gate's registry and reach the reports through ``check_kinds``.
    """
    return {
        "improves": CheckKindInfo(direction="gain", shown_as=["delta"]),
        "no_forgetting": CheckKindInfo(direction="no_drop", shown_as=["delta", "forgetting"]),
        "quantization_gap": CheckKindInfo(direction="no_drop", shown_as=["quantization_gap"]),
    }


class ChampionRecord(_Record):
    """The champion a release candidate was gated against, or why there was none.

    ``source``: ``registry`` (a version of a registered model), ``directory`` (an adapter
    directory) or ``none`` (a first release: no champion yet; the candidate was gated against
    the base alone). ``samples`` are the items whose answer differs between the champion and
    the candidate (``baseline`` in each block is the champion variant).
    """

    candidate: str
    variant: str | None = Field(None, description="the scored champion variant; null if none")
    source: Literal["registry", "directory", "none"]
    note: str = Field(description="one line for people: what the champion is, or why none")
    model: str | None = Field(None, description="registered model name")
    version: str | None = None
    alias: str | None = Field(None, description="the alias it was found by")
    adapter: str | None = Field(None, description="the local adapter directory scored")
    fingerprint: str | None = Field(None, description="the champion variant's fingerprint")
    base_fingerprint: str | None = Field(None, description="the base the champion was recorded for")
    own_base: str | None = Field(
        None, description="across bases: the champion's own base, which it was scored on"
    )
    samples: list[SampleBlock] = Field(default_factory=list)


# ---- the summary -----------------------------------------------------------------------


class GateSummary(_Record):
    """One gate run: ``reports/<run-id>/summary.json``."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="GateSummary")

    run_id: str
    experiment: str
    experiment_file: str | None = None
    created_at: str = Field(description="ISO 8601, UTC, when the verdict was reached")
    verdict: str = Field(description="exactly `GO` passes; anything else is a stop")
    reasons: list[str]
    checks: list[CheckRecord]
    check_kinds: dict[str, CheckKindInfo] = Field(
        default_factory=_pre_registry_kinds,
        description="kind -> how the reports show it, for the kinds in `checks`",
    )
    variants: list[VariantRecord]
    suites: list[SuiteRecord]
    policy: dict[str, Any] = Field(
        default_factory=dict, description="the gate policy as configured (`gate:`)"
    )
    scoring: dict[str, Scalar] = Field(
        default_factory=dict,
        description="the scoring settings (`scoring:`): chat template, few-shot seed, system "
        "prompt, limit, batch size; the same for every variant of the run",
    )
    mlflow_run_id: str | None
    mlflow_tracking_uri: str | None
    provenance: dict[str, Scalar]
    durations: dict[str, NaNFloat]
    samples: list[SampleBlock] = Field(
        default_factory=list, description="per suite, the items whose answers changed"
    )
    champions: list[ChampionRecord] = Field(
        default_factory=list,
        description="per release candidate, the champion it was gated against (or none)",
    )

    @classmethod
    def read(cls, data: Mapping[str, Any]) -> GateSummary:
        """A stored summary, written by this or another harness version (see the module)."""
        return cls.model_validate(data, context={_LENIENT: True})

    @classmethod
    def load(cls, path: Any) -> GateSummary:
        with open(path, encoding="utf-8") as fh:
            return cls.read(json.load(fh))

    def to_dict(self) -> dict[str, Any]:
        """The summary as plain data (NaN kept; ``json_safe`` makes it strict JSON)."""
        return self.model_dump(mode="python", exclude_unset=True)

    @property
    def alpha(self) -> float | None:
        value = self.policy.get("alpha")
        return float(value) if isinstance(value, int | float) else None

    @property
    def baseline(self) -> str | None:
        """The baseline variant's name (the first variant when none says so)."""
        named = next((v.name for v in self.variants if v.role == "baseline"), None)
        return named if named is not None else (self.variants[0].name if self.variants else None)

    def suite(self, name: str) -> SuiteRecord | None:
        return next((s for s in self.suites if s.name == name), None)

    def kind_info(self, kind: str) -> CheckKindInfo:
        return self.check_kinds.get(kind) or CheckKindInfo()


SummaryInput = GateSummary | Mapping[str, Any]


def as_summary(summary: SummaryInput) -> GateSummary:
    """A :class:`GateSummary` as is, a mapping read as a stored summary."""
    return summary if isinstance(summary, GateSummary) else GateSummary.read(summary)


def summary_json_schema() -> dict[str, Any]:
    """The JSON Schema of summary.json, as published in docs/summary.schema.json."""
    return GateSummary.model_json_schema(mode="validation")
