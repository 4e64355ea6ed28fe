"""The variants a gate run scores beside the baseline: quantised bases, candidates, merged LoRAs.

A candidate is either trained here from its recipe (or its adapter is reused from the cache
when the same base, recipe and training rows trained one before) or loaded from the adapter
directory it names. Its adapter is attached to the pooled model that serves its quantisation
and adapter type (a QLoRA candidate: the base loaded in NF4 through bitsandbytes, shared with
``gate.quantized_bases``) and scored on every suite, with its own tokenizer when it ships one
(:func:`score_as_shipped`, which the champion goes through too). With ``gate.merge_check`` each
LoRA served unquantised is also merged into a fresh copy of the base and scored again.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness._gate.pool import ModelPool
from harness._gate.record import variant_record
from harness._gate.scoring import Scorer, Steps, VariantResults
from harness.config import CandidateSpec, Experiment, SuiteSpec
from harness.models import cache_root, fingerprint_files, variant_fingerprint
from harness.models._nf4_cpu import fingerprinted_quantization
from harness.report import VariantRecord

if TYPE_CHECKING:
    from harness.models import LoadedBase


class EvalItems:
    """The experiment's evaluation prompts per suite, built once and only if a recipe trains.

    The contamination check compares training rows with these.
    """

    def __init__(self, suites: list[SuiteSpec]) -> None:
        self.suites = suites
        self._items: dict[str, list[str]] | None = None

    def get(self) -> dict[str, list[str]]:
        if self._items is None:
            from harness.engine import build_task

            self._items = {}
            for suite in self.suites:
                task = build_task(suite)
                self._items[suite.name] = [str(task.doc_to_text(d)) for d in task.eval_docs]
        return self._items


@dataclass(frozen=True)
class ShippedScore:
    """One adapter attached and scored as shipped (:func:`score_as_shipped`)."""

    fingerprint: str
    results: VariantResults
    notes: list[str]  # for its VariantRecord: chat-template warning, own tokenizer, resize
    prompt_learning: bool  # virtual tokens: nothing to merge
    seconds: float  # the scoring alone


def score_as_shipped(
    name: str,
    adapter_dir: Path,
    scorer: Scorer,
    attach: Callable[[list[str]], Any],
    fingerprint: Callable[[], str],
) -> ShippedScore:
    """Attach the adapter in ``adapter_dir`` as ``name`` and score it as it was shipped.

    ``attach(notes)`` puts it on a base load (resized for its vocabulary where it needs that,
    see ``ModelPool.attach``) and appends what the report should say; it is scored with its
    own tokenizer when it saved one. Candidates and champions both come through here, so a
    champion is scored exactly as it was as a candidate: same tokenizer, same base rows, same
    fingerprint (``fingerprint()`` is called after the load, which may decide how a quantised
    base runs), and the same notes in the report.
    """
    from harness.models import adapter_tokenizer, chat_template_mismatch

    notes: list[str] = []
    warning = chat_template_mismatch(adapter_dir, scorer.exp.scoring.apply_chat_template)
    if warning is not None:
        scorer.steps.note(f"warning: {name}: {warning}")
        notes.append(warning)
    model = attach(notes)
    prompt_learning = bool(model.peft_config[name].is_prompt_learning)
    fp = fingerprint()
    t0 = time.perf_counter()
    results = scorer.score(model, name, fp, adapter_tokenizer(adapter_dir))
    return ShippedScore(fp, results, notes, prompt_learning, time.perf_counter() - t0)


@dataclass
class Variants:
    """Scores the non-baseline variants of one run and keeps what the checks need."""

    exp: Experiment
    base: LoadedBase
    steps: Steps
    scorer: Scorer
    pool: ModelPool
    retrain: bool = False
    records: list[VariantRecord] = field(default_factory=list)
    results: dict[str, VariantResults] = field(default_factory=dict)
    pairs: list[tuple[str, str]] = field(default_factory=list)  # (quantised, reference)
    merged: dict[str, VariantResults] = field(default_factory=dict)
    train_seconds: float = 0.0
    candidate_seconds: float = 0.0
    _prompt_learning: set[str] = field(default_factory=set)  # virtual tokens: nothing to merge

    def __post_init__(self) -> None:
        self._eval_items = EvalItems(self.exp.suites)

    def _fingerprint(self, adapter_fp: str | None, quant: str, merged: bool = False) -> str:
        b = self.base
        # Scores of the dequantized CPU execution are kept apart from the real 4-bit layers'
        # (bitsandbytes' packed inference kernel rounds differently): call after the load.
        q = fingerprinted_quantization(quant, self.pool.execution(quant))
        return variant_fingerprint(b.fingerprint, adapter_fp, q, b.dtype, merged=merged)

    def add(self, record: VariantRecord, results: VariantResults) -> None:
        self.records.append(record)
        self.results[record.name] = results

    def quantized_base(self, quant: str) -> None:
        """The base itself quantised ``quant`` (``base-nf4``), gated against the base."""
        model = self.pool.model(quant)
        name, fp = f"base-{quant}", self._fingerprint(None, quant)
        results = self.scorer.score(model, name, fp)
        self.pairs.append((name, "base"))
        record = variant_record(
            name,
            "quantized_base",
            fp,
            quantization=quant,
            dtype=self.base.dtype,
            decides=name not in self.exp.comparison_variants(),
            execution=self.pool.execution(quant),
        )
        self.add(record, results)

    def score_adapter(self, name: str, adapter_dir: Path, quant: str) -> ShippedScore:
        """:func:`score_as_shipped` on the pooled model serving ``quant`` (a load of its own
        when the adapter changes the base): how candidates and champions on this base are
        attached and scored."""
        return score_as_shipped(
            name,
            adapter_dir,
            self.scorer,
            lambda notes: self.pool.attach(quant, adapter_dir, name, notes),
            lambda: self._fingerprint(fingerprint_files(adapter_dir), quant),
        )

    def candidate(self, cand: CandidateSpec) -> None:
        """Train (or reuse) or load the candidate's adapter, attach it, score it."""
        quant = cand.quantization or "none"
        adapter_dir, training = self._adapter(cand)
        scored = self.score_adapter(cand.name, adapter_dir, quant)
        if scored.prompt_learning:
            self._prompt_learning.add(cand.name)
        self.candidate_seconds += scored.seconds
        if cand.compare_to is not None:
            self.pairs.append((cand.name, cand.compare_to))
        record = variant_record(
            cand.name,
            "candidate",
            scored.fingerprint,
            quantization=quant,
            dtype=self.base.dtype,
            adapter=str(adapter_dir),
            training=training,
            decides=cand.role == "release",
            execution=self.pool.execution(quant),
            notes=scored.notes,
        )
        self.add(record, scored.results)

    def _adapter(self, cand: CandidateSpec) -> tuple[Path, dict[str, Any] | None]:
        """The candidate's adapter directory and, when it comes from a recipe, its training."""
        if cand.recipe is None:
            assert cand.adapter is not None
            return cand.adapter, None
        from harness.engine import training_examples
        from harness.training import cached_adapter_dir, load_cached, recipe_examples, train_lora

        base, recipe = self.base, self.exp.recipes[cand.name]
        # The same rows `harness train` forms (so it shares the adapter cache), checked
        # against this experiment's suites for contamination.
        examples, data_report = recipe_examples(
            recipe, base.tokenizer, training_examples, self._eval_items.get()
        )
        for warning in data_report.warnings:
            self.steps.note(f"{cand.name}: training data: {warning}")
        adapter_dir = cached_adapter_dir(
            cache_root() / "adapters", base.fingerprint, recipe, examples
        )
        trained = None if self.retrain else load_cached(adapter_dir)
        if trained is not None:
            self.steps.note(
                f"{cand.name}: reusing adapter trained earlier from the same base, recipe "
                f"and data ({adapter_dir}); --retrain to redo"
            )
        else:
            t0 = time.perf_counter()
            trained = self.steps.run(
                f"Training {cand.name} from {recipe.source} ({len(examples)} examples)",
                functools.partial(
                    train_lora,
                    base.path,
                    base.fingerprint,
                    recipe,
                    examples,
                    adapter_dir,
                    data_report=data_report,
                ),
            )
            self.train_seconds += time.perf_counter() - t0
        return adapter_dir, trained.to_json()

    def mergeable(self) -> list[VariantRecord]:
        """LoRA-style candidates served unquantised (prefix/prompt tuning adds virtual
        tokens: there is nothing to merge)."""
        return [
            v
            for v in self.records
            if v.role == "candidate"
            and v.quantization == "none"
            and v.name not in self._prompt_learning
        ]

    def merge(self, v: VariantRecord) -> None:
        """Score ``v``'s adapter merged into a fresh copy of the base: the model users deploy."""
        from harness.models import adapter_tokenizer, attach_adapter, load_base

        assert v.adapter is not None
        adapter_dir, base = Path(v.adapter), self.base
        fresh = self.steps.run(
            f"Merging {v.name} into a fresh copy of the base",
            lambda: load_base(self.exp.base, fingerprint=base.fingerprint),
        )
        model = attach_adapter(
            fresh.model,
            adapter_dir,
            v.name,
            base_fingerprint=base.fingerprint,
            base_tokenizer=fresh.tokenizer,
            notes=[],  # the candidate's record already says it
        ).merge_and_unload()
        fp = self._fingerprint(fingerprint_files(adapter_dir), "none", merged=True)
        tokenizer = adapter_tokenizer(adapter_dir)
        self.merged[v.name] = self.scorer.score(model, f"{v.name}-merged", fp, tokenizer)
