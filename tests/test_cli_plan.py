"""``harness plan``: power planned before scoring, from the suites' items and the result store;
``harness validate --no-data``; the result key's few-shot seed and system prompt."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness._gate.keys import result_key, store_path
from harness._gate.plan import (
    _base_fingerprint,
    _stored,
    item_counts,
    plan_experiment,
    plan_lines,
)
from harness.cli import app
from harness.config import ItemResult, ScoringSettings, load_experiment
from harness.models import fingerprint_files, variant_fingerprint
from harness.store import ResultStore
from tests.conftest import write_tiny_experiment


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_plan_counts_items_and_flags_small_suites(tiny_experiment: Path) -> None:
    exp = load_experiment(tiny_experiment)
    general = next(s for s in exp.suites if s.kind == "general")
    assert item_counts(general, exp.scoring) == {"arithmetic": 20, "factual": 21}
    code, out = _run("plan", str(tiny_experiment))
    assert code == 0, out
    assert re.search(r"general/arithmetic\s+│\s+no_forgetting\s+│\s+20\b", out)
    assert re.search(r"tickets\s+│\s+improves\s+│\s+30\b", out)
    # The tiny experiment's margins of 1.0 clear any harmless adapter: nothing flagged.
    assert "FLAG" not in out
    assert "Holm across 4 checks" in out


def test_require_power_exits_2_with_what_would_do(
    tmp_path: Path, tiny_model_dir: Path, isolated_env: Path
) -> None:
    exp = write_tiny_experiment(
        tmp_path / "p",
        tiny_model_dir,
        gate="gate:\n  forgetting_margin: 0.05\n  capability_margin: 0.12\n  require_power: true\n",
    )
    code, out = _run("plan", str(exp))
    assert code == 2, out
    assert "FLAG general/arithmetic: fails a harmless adapter" in out
    assert "give it >=" in out and "items or a margin >=" in out
    assert "underpowered" in out
    code, _ = _run("plan", str(exp), "--no-require-power")
    assert code == 0
    # harness evaluate refuses the same experiment before loading a model or scoring.
    code, out = _run("evaluate", str(exp))
    assert code == 2, out
    assert "gate.require_power" in out and "nothing was scored" in out
    assert not (tmp_path / "store.sqlite").exists()


@pytest.mark.parametrize("width", [80, 200])
def test_plan_table_fits_the_terminal_and_splits_no_figure(
    width: int, tmp_path: Path, tiny_model_dir: Path, isolated_env: Path
) -> None:
    """At 80 columns (a CI log) the wide table used to fold every column, figures included
    ("drop" above "0.086", "no_forge" above "tting"); now only the check's name wraps."""
    exp = write_tiny_experiment(
        tmp_path / "w",
        tiny_model_dir,
        gate="gate:\n  forgetting_margin: 0.05\n  capability_margin: 0.12\n",
    )
    result = CliRunner().invoke(app, ["plan", str(exp)], env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.output
    out = result.output.splitlines()
    assert out[0].startswith("Power plan: "), out[:3]  # no progress bars before the table
    # The table (the sentences below it are soft-wrapped by the terminal).
    lines = out[1 : next(i for i, ln in enumerate(out) if ln.startswith("Holm"))]
    assert max(len(line) for line in lines) <= width
    rows, _ = plan_lines(plan_experiment(load_experiment(exp)))  # the CLI's draws
    table = "\n".join(lines)
    for row in rows[1:]:
        for cell in row[2:-1]:  # items, baseline, margin, detectable, harmless fails
            assert cell in table, (cell, table)
    assert "FLAG" in table and "improves" in table and "no_forgetting" in table
    if width >= 200:  # every check on one line
        for row in rows[1:]:
            assert any(row[0] in ln and row[1] in ln and row[-1] in ln for ln in lines), row


@pytest.mark.parametrize(
    ("candidates", "checks", "arms"),
    [
        # qlora a comparison arm, the NF4 base one too (nothing that ships runs on it): the
        # deciding family is lora's 4 checks (tickets; general, arithmetic, factual).
        ("    role: comparison\n    compare_to: lora\n", 4, "base-nf4, qlora"),
        # both ship: 2 x 4, and qlora's quantization gap to lora on both suites; the NF4
        # base stays an arm.
        ("    compare_to: lora\n", 10, "base-nf4"),
    ],
)
def test_plan_counts_the_deciding_holm_family_as_the_gate_forms_it(
    candidates: str,
    checks: int,
    arms: str,
    tmp_path: Path,
    tiny_model_dir: Path,
    isolated_env: Path,
) -> None:
    """Comparison arms are Holm-corrected among themselves (harness.gates.evaluate) and decide
    nothing; planning them into the release's family overstated its correction (the
    default's second run: 26 planned, 16 real)."""
    exp = write_tiny_experiment(tmp_path / "a", tiny_model_dir)
    text = exp.read_text().replace(
        "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n",
        "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n"
        "  - name: qlora\n    recipe: training/lora.yaml\n" + candidates,
    )
    exp.write_text(text.replace("gate:\n", "gate:\n  quantized_bases: [nf4]\n"))
    result = plan_experiment(load_experiment(exp), draws=2000)
    assert result.plan.checks == checks
    assert any(
        f"comparison arms ({arms}) are Holm-corrected among themselves" in n for n in result.notes
    ), result.notes


def test_plan_reads_the_stored_baseline_and_observed_discordance(tiny_experiment: Path) -> None:
    exp = load_experiment(tiny_experiment)
    general = next(s for s in exp.suites if s.kind == "general")
    keys = _base_fingerprint(exp)
    assert keys is not None
    base_fp = keys.base
    assert base_fp == variant_fingerprint(
        fingerprint_files(Path(exp.base.model)), None, "none", exp.base.dtype
    )
    store = ResultStore(store_path())
    caps = ["arithmetic"] * 20 + ["factual"] * 21
    base = [ItemResult(f"g-{i}", {"acc": float(i % 2)}, caps[i]) for i in range(41)]
    # The other candidate changes the answer on items 0..9 (10 of 41: discordance 0.244).
    cand = [
        ItemResult(r.item_id, {"acc": 1 - r.scores["acc"] if i < 10 else r.scores["acc"]}, caps[i])
        for i, r in enumerate(base)
    ]
    store.put(result_key(exp.scoring, base_fp, general.fingerprint), base, {})
    store.put(result_key(exp.scoring, "other-candidate", general.fingerprint), cand, {})
    # Before a second candidate the champion checks have no peer to learn from.
    assert _stored(exp, general, keys).peer_discordance == {}
    plan = plan_experiment(exp, draws=2000).plan
    row = next(r for r in plan.rows if r.suite == "general" and r.capability is None)
    assert row.baseline == sum(i % 2 for i in range(41)) / 41
    assert row.discordance == 10 / 41
    arith = next(r for r in plan.rows if r.capability == "arithmetic")
    assert arith.discordance == 10 / 20 and arith.discordance_source == "observed"
    factual = next(r for r in plan.rows if r.capability == "factual")
    assert factual.discordance == exp.gate.plan_discordance  # nothing changed there
    code, out = _run("plan", str(tiny_experiment))
    assert code == 0 and "discordance observed on stored candidates" in out

    # A third variant, flipping items 5..24 of the base: against the second it differs on
    # items 0..4 and 10..24 (20 of 41), in arithmetic on 0..4 and 10..19 (15 of 20).
    third = [
        ItemResult(
            r.item_id, {"acc": 1 - r.scores["acc"] if 5 <= i < 25 else r.scores["acc"]}, caps[i]
        )
        for i, r in enumerate(base)
    ]
    store.put(result_key(exp.scoring, "third-candidate", general.fingerprint), third, {})
    stored = _stored(exp, general, keys)
    assert stored.peer_discordance[None] == 20 / 41
    assert stored.peer_discordance["arithmetic"] == 15 / 20
    assert stored.peer_discordance["factual"] == 5 / 21
    # Against the base: the median of 10/41 and 20/41.
    assert stored.discordance[None] == pytest.approx(15 / 41)

    # The base quantized to NF4 (as gate.quantized_bases scores it, here in the CPU execution)
    # is the base again, no candidate: with it in the policy, its results are no churn figure.
    nf4 = variant_fingerprint(
        fingerprint_files(Path(exp.base.model)), None, "nf4+nf4-dequantized-once", exp.base.dtype
    )
    flipped = [ItemResult(r.item_id, {"acc": 1 - r.scores["acc"]}, r.capability) for r in base]
    store.put(result_key(exp.scoring, nf4, general.fingerprint), flipped, {})
    assert _stored(exp, general, keys).peer_discordance[None] != 20 / 41  # counted as a peer
    quantized = exp.model_copy(
        update={"gate": exp.gate.model_copy(update={"quantized_bases": ["nf4"]})}
    )
    qkeys = _base_fingerprint(quantized)
    assert qkeys is not None and nf4 in qkeys.quantized
    again = _stored(quantized, general, qkeys)
    assert again.peer_discordance == stored.peer_discordance
    assert again.discordance == stored.discordance


def test_validate_no_data_reads_no_suite_data(tiny_experiment: Path) -> None:
    data = tiny_experiment.parent / "suites" / "general" / "test.jsonl"
    data.write_text("{not json\n")
    code, out = _run("validate", str(tiny_experiment))
    assert code == 2, out
    code, out = _run("validate", str(tiny_experiment), "--no-data")
    assert code == 0, out
    assert "(data not read)" in out


def test_result_key_settings_change_only_away_from_defaults() -> None:
    default = result_key(ScoringSettings(), "v", "s")
    # The key the embedded default experiment has used all along (its stored results).
    assert default.settings == "3a455a0f5d7bcc4dd27e9bab5807fcb2"
    assert result_key(ScoringSettings(fewshot_seed=1234), "v", "s") == default
    seeded = result_key(ScoringSettings(fewshot_seed=7), "v", "s")
    prompted = result_key(ScoringSettings(system_instruction="Be brief."), "v", "s")
    assert len({default.settings, seeded.settings, prompted.settings}) == 3


def test_plan_lists_champion_checks_once_the_registry_has_one(
    tiny_experiment: Path, isolated_env: Path
) -> None:
    """Automatic champion: a first release plans no champion checks (and creates no MLflow
    store); once the candidate's registered model has the alias, every subject is planned
    again against it, in the same Holm family."""
    from mlflow.tracking import MlflowClient

    from harness.tracking import CHAMPION_ALIAS, registered_model_name

    code, out = _run("plan", str(tiny_experiment))
    assert code == 0, out
    assert "not_worse_than_champion" not in out and "Holm across 4 checks" in out
    assert not (isolated_env / "mlflow.db").exists()

    client = MlflowClient(f"sqlite:///{isolated_env / 'mlflow.db'}")
    model = registered_model_name("tiny-experiment", "lora")
    client.create_registered_model(model)
    mv = client.create_model_version(model, source=str(isolated_env))
    client.set_registered_model_alias(model, CHAMPION_ALIAS, mv.version)
    code, out = _run("plan", str(tiny_experiment))
    assert code == 0, out
    assert re.search(r"tickets\s+│\s+not_worse_than_champion\s+│\s+30\b", out)
    assert re.search(r"general/factual\s+│\s+not_worse_than_champion\s+│\s+21\b", out)
    assert "Holm across 8 checks" in out
    assert f"registered champion of lora ({model}@{CHAMPION_ALIAS})" in out
