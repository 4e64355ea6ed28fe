"""Step lines on the console, and scoring one variant on every suite through the result store."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from rich.console import Console
from rich.markup import escape

from harness._gate.keys import result_key, scoring_settings
from harness.config import Experiment, ItemResult, SuiteSpec
from harness.store import ResultKey, ResultStore

T = TypeVar("T")
VariantResults = dict[str, list[ItemResult]]  # suite -> per-item results


class Steps:
    """Numbered, timed step lines: progress a person can follow in a CI log."""

    def __init__(self, console: Console) -> None:
        # No "of N": how many steps run depends on what the caches already hold.
        self.console, self.n = console, 0

    def run(self, title: str, fn: Callable[[], T]) -> T:
        self.n += 1
        self.console.print(f"[bold cyan]step {self.n}[/] {escape(title)} ...", soft_wrap=True)
        t0 = time.perf_counter()
        out = fn()
        self.console.print(f"      done in {time.perf_counter() - t0:.1f} s")
        return out

    def note(self, line: str) -> None:
        """An indented line under the steps (plain text: no markup)."""
        self.console.print(f"      {line}", markup=False)


@dataclass
class Scorer:
    """Scores a model on every suite of the experiment, reusing or resuming stored results."""

    exp: Experiment
    steps: Steps
    store: ResultStore
    tokenizer: Any
    provenance: dict[str, Any]

    def score(
        self, model: Any, variant: str, fingerprint: str, tokenizer: Any | None = None
    ) -> VariantResults:
        """Score every suite for one variant, committing batches and resuming what a crash left.

        ``tokenizer``: the adapter's own (its added tokens, chat template) when it ships one;
        the base's otherwise. The fingerprint covers it: it hashes the adapter's files."""
        from harness.engine import HarnessLM

        tok = self.tokenizer if tokenizer is None else tokenizer
        lm = HarnessLM(model, tok, batch_size=self.exp.scoring.batch_size)
        return {s.name: self._suite(lm, s, variant, fingerprint) for s in self.exp.suites}

    def _suite(self, lm: Any, suite: SuiteSpec, variant: str, fingerprint: str) -> list[ItemResult]:
        from harness.engine import run_suite

        key = result_key(self.exp.scoring, fingerprint, suite.fingerprint)
        prov = {
            **self.provenance,
            # A registry suite's task, datasets and their resolved revisions.
            **getattr(suite, "provenance", {}),
            "variant": variant,
            "suite": suite.name,
            "suite_version": suite.version,
            "scoring_settings": scoring_settings(self.exp.scoring),
        }
        where = f"{variant}/{suite.name}"
        cached = self.store.get(key)
        if cached is not None:
            self.steps.note(
                f"{where}: {len(cached)} items from the result store (no forward passes)"
            )
            return cached
        stale = self.store.why_not_reused(key, suite.name, prov)
        if stale:
            self.steps.note(f"{where}: stored results not reused ({'; '.join(stale)})")
        done = self.store.partial(key)
        if done:
            self.steps.note(f"{where}: resuming, {len(done)} items already committed")

        def score(k: ResultKey = key, d: dict[str, ItemResult] = done) -> list[ItemResult]:
            batch = functools.partial(self.store.add_items, k)
            return run_suite(lm, suite, self.exp.scoring, skip=d.keys(), on_batch=batch)

        new = self.steps.run(f"Scoring {variant} on {suite.name}", score)
        self.store.complete(key, len(done) + len(new), prov)
        items = self.store.get(key)
        assert items is not None
        return items
