"""A champion that ships its own tokenizer and resized embeddings is scored as a candidate is.

The champion adapter here is the one tests/models/test_adapters_as_shipped.py builds: two added
special tokens, its own chat template, ``modules_to_save`` of ``embed_tokens``/``lm_head`` at
402 rows. The general suite's prompts carry one of its added tokens, so a champion scored with
the base's tokenizer would give other log-likelihoods. Its per-item results, fingerprint and
notes must be those of the same adapter gated as a candidate (in another result store, so both
are really scored), whether it is scored on this base or, ``across_bases``, on its own; and the
champion check still compares the release candidate with it.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import make_tiny_model, write_tiny_experiment
from tests.models.test_adapters_as_shipped import _fresh, _lls, _resizing_adapter, _save

CHECKED = {("tickets", None), ("general", None), ("general", "arithmetic"), ("general", "factual")}


def _experiment(root: Path, model_dir: Path, candidates: dict[str, Path], champion: str) -> Path:
    """The tiny experiment with given adapters as candidates, an added token in every general
    prompt, and ``champion`` (YAML) appended."""
    exp = write_tiny_experiment(root, model_dir)
    general = root / "suites" / "general" / "general.yaml"
    text = general.read_text(encoding="utf-8")
    general.write_text(text.replace('"Question:', '"<|tool|> Question:'), encoding="utf-8")
    listed = "".join(f"  - name: {n}\n    adapter: {d}\n" for n, d in candidates.items())
    text = exp.read_text(encoding="utf-8").replace(
        "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n", "candidates:\n" + listed
    )
    exp.write_text(text + champion, encoding="utf-8")
    return exp


def _gate(exp: Path) -> tuple[Any, str]:
    """One in-process gate run; returns (result, what it printed)."""
    from rich.console import Console

    from harness.config import load_experiment
    from harness.pipeline import run_gate

    out = io.StringIO()
    result = run_gate(load_experiment(exp), console=Console(file=out, width=240))
    return result, out.getvalue()


def _assert_same_items(a: list[Any], b: list[Any]) -> None:
    assert [(x.item_id, x.scores, x.prediction) for x in a] == [
        (x.item_id, x.scores, x.prediction) for x in b
    ]
    assert _lls(a) == pytest.approx(_lls(b), abs=1e-5)


@pytest.fixture(scope="module")
def adapters(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """``shipped`` (own tokenizer, 402 rows; harness_adapter.json records the tiny base, which
    the across_bases test needs) and ``plain`` (a LoRA that leaves the vocabulary alone)."""
    from harness.models import fingerprint_files

    root = tmp_path_factory.mktemp("champion-tokenizer-adapters")
    shipped = _resizing_adapter(tiny_model_dir, root / "shipped", "modules_to_save")
    meta = {"base_fingerprint": fingerprint_files(tiny_model_dir)}
    (shipped / "harness_adapter.json").write_text(json.dumps(meta), encoding="utf-8")
    return {"shipped": shipped, "plain": _save(_fresh(tiny_model_dir), root / "plain")}


@pytest.fixture(scope="module")
def as_candidate(
    adapters: dict[str, Path],
    tiny_model_dir: Path,
    tmp_path_factory: pytest.TempPathFactory,
    _empty_mlflow_db: Path,
) -> Any:
    """The reference: ``shipped`` gated as a candidate (champion: none), in a result store
    and MLflow store of its own (the settings of ``isolated_env``, for this module)."""
    import shutil

    root = tmp_path_factory.mktemp("as-candidate")
    shutil.copy(_empty_mlflow_db, root / "mlflow.db")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CACHE", str(root / "cache"))
        mp.setenv("HARNESS_STORE", str(root / "store.sqlite"))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("HF_DATASETS_CACHE", str(root / "hf-datasets"))
        mp.chdir(root)
        exp = _experiment(
            root / "p", tiny_model_dir, {"shipped": adapters["shipped"]}, "champion: none\n"
        )
        result, _ = _gate(exp)
    shipped = next(v for v in result.gate_summary.variants if v.name == "shipped")
    assert any("scored with the adapter's tokenizer (402 tokens, +2" in n for n in shipped.notes)
    return result


def _champion_matches_candidate(result: Any, reference: Any) -> Any:
    """The champion variant's notes, fingerprint and per-item results are the candidate's."""
    champ = next(v for v in result.gate_summary.variants if v.name == "champion")
    shipped = next(v for v in reference.gate_summary.variants if v.name == "shipped")
    assert champ.role == "champion"
    assert any("scored with the adapter's tokenizer (402 tokens, +2" in n for n in champ.notes)
    assert any("base embeddings resized from 400 to 402 rows" in n for n in champ.notes)
    assert any("apply_chat_template" in n for n in champ.notes)  # its own chat template
    assert champ.notes == shipped.notes
    assert champ.fingerprint == shipped.fingerprint
    for suite in ("tickets", "general"):
        _assert_same_items(result.results["champion"][suite], reference.results["shipped"][suite])
    return champ


def _champion_check_works(result: Any, champ: Any) -> None:
    """The release candidate ``plain`` is checked against the champion's results."""
    import numpy as np

    (rec,) = result.gate_summary.champions
    assert (rec.candidate, rec.variant, rec.source) == ("plain", "champion", "directory")
    assert rec.fingerprint == champ.fingerprint
    checks = [c for c in result.outcome.checks if c.kind == "not_worse_than_champion"]
    assert {(c.suite, c.capability) for c in checks} == CHECKED
    assert {c.variant for c in checks} == {"plain"}
    tickets = next(c for c in checks if c.suite == "tickets")
    acc = {
        v: [it.scores["acc"] for it in result.results[v]["tickets"]] for v in ("plain", "champion")
    }
    assert tickets.delta == pytest.approx(np.mean(acc["plain"]) - np.mean(acc["champion"]))


def test_champion_with_its_own_tokenizer_is_scored_as_a_candidate_is(
    tmp_path: Path,
    tiny_model_dir: Path,
    mlflow_store: str,
    adapters: dict[str, Path],
    as_candidate: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness._gate.scoring import Scorer
    from harness.config import load_experiment
    from harness.engine import HarnessLM, run_suite
    from harness.models import attach_adapter

    used: dict[str, Any] = {}  # variant -> the tokenizer it was scored with
    real_score = Scorer.score

    def recording(self: Scorer, model: Any, variant: str, fp: str, tok: Any = None) -> Any:
        used[variant] = self.tokenizer if tok is None else tok
        return real_score(self, model, variant, fp, tok)

    monkeypatch.setattr(Scorer, "score", recording)
    champion = f"champion:\n  adapter: {adapters['shipped']}\n"
    exp = _experiment(tmp_path / "p", tiny_model_dir, {"plain": adapters["plain"]}, champion)
    result, log = _gate(exp)

    # Its own tokenizer (the added token is one id), on a base load of its own, resized.
    assert len(used["champion"]) == 402
    assert used["champion"].convert_tokens_to_ids("<|tool|>") == 400
    assert len(used["base"]) == len(used["plain"]) == 400
    assert log.count("Loading a copy of the base for champion alone (its own vocabulary)") == 1
    assert "Scoring champion on general" in log  # scored here: this store had no results
    champ = _champion_matches_candidate(result, as_candidate)

    # Not vacuous: the base's tokenizer gives the adapter other log-likelihoods on these prompts.
    loaded = load_experiment(exp)
    general = next(s for s in loaded.suites if s.name == "general")
    base_tok = used["base"]
    model = attach_adapter(
        _fresh(tiny_model_dir), adapters["shipped"], "x", base_tokenizer=base_tok
    )
    lm = HarnessLM(model, base_tok, show_progress=False, device=None)
    wrong = _lls(run_suite(lm, general, loaded.scoring))
    right = _lls(result.results["champion"]["general"])
    assert max(abs(a - b) for a, b in zip(wrong, right, strict=True)) > 1e-3

    # The reports carry the notes, as for a candidate.
    md = (result.run_dir / "report.md").read_text(encoding="utf-8")
    html = (result.run_dir / "report.html").read_text(encoding="utf-8")
    assert "- champion: scored with the adapter's tokenizer (402 tokens, +2" in md
    assert "<strong>champion</strong>: scored with the adapter&#39;s tokenizer" in html
    on_disk = json.loads((result.run_dir / "summary.json").read_text(encoding="utf-8"))
    assert {v["name"]: v["notes"] for v in on_disk["variants"]}["champion"] == champ.notes
    _champion_check_works(result, champ)


def test_champion_with_its_own_tokenizer_on_its_own_base(
    tmp_path: Path,
    tiny_model_dir: Path,
    mlflow_store: str,
    adapters: dict[str, Path],
    as_candidate: Any,
) -> None:
    """across_bases: the base was upgraded; the champion is scored on the base it was gated
    on, resized there for its own tokenizer, with the notes a candidate gets."""
    new_base = make_tiny_model(tmp_path / "new-base", seed=1)
    champion = f"champion:\n  adapter: {adapters['shipped']}\n  across_bases: true\n"
    exp = _experiment(tmp_path / "p", new_base, {"plain": adapters["plain"]}, champion)
    result, log = _gate(exp)
    (rec,) = result.gate_summary.champions
    assert rec.own_base == str(tiny_model_dir) and "scored on its own base" in rec.note
    assert "Loading the champion's own base" in log
    assert "Scoring champion on general" in log
    champ = _champion_matches_candidate(result, as_candidate)
    md = (result.run_dir / "report.md").read_text(encoding="utf-8")
    assert "- champion: scored with the adapter's tokenizer (402 tokens, +2" in md
    _champion_check_works(result, champ)
