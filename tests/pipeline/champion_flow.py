"""The champion flow of issue #19 as three whole gate runs, shared by the sqlite test
(tests/pipeline/test_champion.py) and the PostgreSQL-backed server test
(tests/tracking/test_champion_postgres.py), so that both stores are held to the same
assertions.

A first run with no champion sets it; a worse adapter that still beats the base is NO-GO by the
champion check alone and leaves ``champion`` where it was; a better one moves it. The champion
is never scored twice: its results come from the result store.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tiny_suites
from tests.pipeline.champion_adapters import make_ticket_adapter

GATE = (
    "gate:\n  min_gain: 0.0\n  forgetting_margin: 1.0\n  capability_margin: 1.0\n"
    "  champion_margin: 0.05\n  bootstrap_resamples: 2000\n"
)
MODEL = "champ-lora"  # the registered model of experiment ``champ``, candidate ``lora``


@pytest.fixture(scope="module")
def ticket_adapters(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[int, Path]:
    """Adapters right on 7, 5 and 9 of the nine ticket phrases (base: 3 of 9), keyed so.

    A fixture here rather than in a conftest: the test modules that need it live in
    tests/pipeline and tests/tracking and import it (once per module, a few seconds)."""
    root = tmp_path_factory.mktemp("ticket-adapters")
    return {n: make_ticket_adapter(tiny_model_dir, root / f"right{n}", range(n)) for n in (5, 7, 9)}


def write_experiment(
    root: Path, model_dir: Path, adapter: Path, *, champion: str = "", gate: str = GATE,
    name: str = "champ",
) -> Path:  # fmt: skip
    """The tiny experiment (90 ticket items) with one given adapter, candidate ``lora``."""
    if not (root / "suites").exists():
        write_tiny_suites(root, n_test=90)
    exp = root / "experiment.yaml"
    exp.write_text(
        f"name: {name}\n"
        f"base:\n  model: {model_dir}\n  dtype: float32\n"
        "suites:\n  - suites/tickets/tickets.yaml\n  - suites/general/general.yaml\n"
        f"candidates:\n  - name: lora\n    adapter: {adapter}\n"
        "scoring:\n  batch_size: 16\n" + gate + champion,
        encoding="utf-8",
    )
    return exp


def gate(exp: Path) -> tuple[Any, str]:
    """One in-process gate run; returns (result, what it printed)."""
    from rich.console import Console

    from harness.config import load_experiment
    from harness.pipeline import run_gate

    out = io.StringIO()
    result = run_gate(load_experiment(exp), console=Console(file=out, width=200))
    return result, out.getvalue()


def aliases(uri: str, model: str) -> dict[str, str]:
    """The registered model's aliases, alias -> version."""
    from mlflow.tracking import MlflowClient

    return {a: str(v) for a, v in MlflowClient(uri).get_registered_model(model).aliases.items()}


@dataclass(frozen=True)
class ChampionRuns:
    """The three gate runs' results and console logs, for store-specific assertions."""

    first: Any
    worse: Any
    better: Any
    logs: tuple[str, str, str]


def run_champion_flow(
    project: Path, model_dir: Path, adapters: dict[int, Path], uri: str
) -> ChampionRuns:
    """Gate the 7-, 5- and 9-phrase adapters in turn against the registry at ``uri`` (the
    tracking URI the runs log to) and assert what each run must do to ``champion``."""
    from mlflow.tracking import MlflowClient

    # 1. First release: no champion yet, gated against the base alone; GO sets the champion.
    first, log1 = gate(write_experiment(project, model_dir, adapters[7]))
    assert first.outcome.verdict == "GO", first.outcome.reasons
    assert "first release" in log1
    (rec,) = first.gate_summary.champions
    assert rec.source == "none" and rec.variant is None and "first release" in rec.note
    assert not any(c.kind == "not_worse_than_champion" for c in first.outcome.checks)
    assert aliases(uri, MODEL) == {"candidate": "1", "champion": "1"}

    # 2. A worse adapter: beats the base, loses to the champion. NO-GO by that check alone.
    worse, log2 = gate(write_experiment(project, model_dir, adapters[5]))
    assert worse.outcome.verdict == "NO-GO"
    failed = [c for c in worse.outcome.checks if not c.passed]
    assert [c.name for c in failed] == ["lora::tickets::not_worse_than_champion"], failed
    improves = next(c for c in worse.outcome.checks if c.kind == "improves")
    assert improves.passed and improves.delta > 0.1  # it does beat the base
    (check,) = failed
    assert check.delta < -0.1 and check.ci[1] < 0 and check.reason.startswith("vs champion:")
    assert any("worse than the champion in tickets" in r for r in worse.outcome.reasons)
    # The champion is run 1's adapter: fetched from the registry, results from the store.
    (rec,) = worse.gate_summary.champions
    assert (rec.source, rec.model, rec.version, rec.alias) == ("registry", MODEL, "1", "champion")
    assert rec.fingerprint == first.gate_summary.variants[1].fingerprint
    assert "champion/tickets: 90 items from the result store" in log2
    assert "champion/general: 41 items from the result store" in log2
    assert "Scoring champion" not in log2
    assert worse.results["champion"] == first.results["lora"]
    # champion stays; candidate moves; the version records what it was gated against.
    assert aliases(uri, MODEL) == {"candidate": "2", "champion": "1"}
    v2 = MlflowClient(uri).get_model_version(MODEL, "2")
    assert v2.tags["harness.champion"] == f"{MODEL}/1"
    assert v2.tags["harness.verdict"] == "NO-GO"

    # 3. A better adapter: passes against the champion; GO moves the alias to it.
    better, log3 = gate(write_experiment(project, model_dir, adapters[9]))
    assert better.outcome.verdict == "GO", better.outcome.reasons
    champ = [c for c in better.outcome.checks if c.kind == "not_worse_than_champion"]
    # tickets, general and its two capabilities, all against version 1 (run 2 did not move it)
    assert len(champ) == 4 and all(c.passed for c in champ)
    assert next(c for c in champ if c.suite == "tickets").delta > 0.1
    assert better.gate_summary.champions[0].version == "1"
    assert "champion/tickets: 90 items from the result store" in log3
    assert "Scoring champion" not in log3
    assert aliases(uri, MODEL) == {"candidate": "3", "champion": "3"}
    return ChampionRuns(first, worse, better, (log1, log2, log3))
