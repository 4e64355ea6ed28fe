"""A gate run with adapters as other tools ship them (issue #17 part 2, wired into the gate).

Two given adapters on the tiny llama: one plain LoRA, and one with its own tokenizer (added
special tokens, its own chat template) and embeddings resized for it (``modules_to_save`` of
``embed_tokens``/``lm_head``), as trl or Axolotl save it. The second gets a base load of its
own (resizing the shared one would change what the first is scored on), is scored, merged
and scored again with its own tokenizer, and the summary and both reports say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import write_tiny_experiment
from tests.models.test_adapters_as_shipped import _fresh, _resizing_adapter, _save


def _experiment(model_dir: Path, root: Path, quant: str = "", gate: str = "") -> Path:
    """Candidates ``plain`` and ``shipped`` (given adapters), served with ``quant`` if set."""
    exp = write_tiny_experiment(
        root / "p",
        model_dir,
        gate="gate:\n  min_gain: 0.0\n  forgetting_margin: 1.0\n  capability_margin: 1.0\n" + gate,
    )
    adapters = root / "adapters"
    _save(_fresh(model_dir), adapters / "plain")
    _resizing_adapter(model_dir, adapters / "shipped", "modules_to_save")
    served = f"    quantization: {quant}\n" if quant else ""
    exp.write_text(
        exp.read_text().replace(
            "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n",
            f"candidates:\n  - name: plain\n    adapter: {adapters / 'plain'}\n{served}"
            f"  - name: shipped\n    adapter: {adapters / 'shipped'}\n{served}",
        )
    )
    return exp


@pytest.fixture
def experiment(tiny_model_dir: Path, isolated_env: Path) -> Path:
    return _experiment(tiny_model_dir, isolated_env, gate="  merge_check: true\n")


def test_adapter_with_own_tokenizer_is_scored_on_its_own_base_and_reported(
    experiment: Path,
) -> None:
    from rich.console import Console

    from harness.config import load_experiment
    from harness.models import adapter_tokenizer
    from harness.pipeline import run_gate

    console = Console(record=True, width=240, color_system=None)
    result = run_gate(load_experiment(experiment), console=console)
    out = console.export_text()
    summary = result.summary

    # Only the resizing adapter gets a base load of its own; the plain one shares the base.
    assert out.count("for shipped alone (its own vocabulary)") == 1, out[-3000:]
    assert "for plain alone" not in out
    variants = {v["name"]: v for v in summary["variants"]}
    assert variants["plain"]["notes"] == []
    notes = variants["shipped"]["notes"]
    assert any("scored with the adapter's tokenizer (402 tokens, +2" in n for n in notes), notes
    assert any("resized from 400 to 402 rows" in n for n in notes), notes
    # Its own chat template, scored without one: the warning is printed and kept.
    warning = next(n for n in notes if "apply_chat_template" in n)
    assert "set scoring.apply_chat_template: true" in warning
    assert warning in " ".join(out.split())

    # Scored (and merged, and scored again) on every suite, with its own tokenizer.
    tok = adapter_tokenizer(Path(variants["shipped"]["adapter"]))
    assert tok is not None and len(tok) == 402
    for suite in ("tickets", "general"):
        items = result.results["shipped"][suite]
        assert items and all(it.scores for it in items)
    merged = {c["variant"] for c in summary["checks"] if c["kind"] == "merge_equivalence"}
    assert "shipped" in merged, sorted({c["kind"] for c in summary["checks"]})

    # The reports carry the notes.
    reports = experiment.parent / "reports" / "latest"
    md = (reports / "report.md").read_text(encoding="utf-8")
    html = (reports / "report.html").read_text(encoding="utf-8")
    assert "- shipped: scored with the adapter's tokenizer" in md
    assert "<strong>shipped</strong>: scored with the adapter&#39;s tokenizer" in html
    on_disk = json.loads((reports / "summary.json").read_text(encoding="utf-8"))
    assert {v["name"]: v["notes"] for v in on_disk["variants"]}["shipped"] == notes


def test_adapter_with_own_tokenizer_on_the_nf4_base_gets_its_own_nf4_load(
    tiny_model_dir_64: Path, isolated_env: Path
) -> None:
    """Served quantised (QLoRA-style): the shared NF4 load serves ``base-nf4`` and ``plain``;
    ``shipped`` gets an NF4 load of its own, which the report notes like the unquantised one."""
    from rich.console import Console

    from harness.config import load_experiment
    from harness.pipeline import run_gate

    exp = _experiment(tiny_model_dir_64, isolated_env, "nf4", "  quantized_bases: [nf4]\n")
    console = Console(record=True, width=240, color_system=None)
    result = run_gate(load_experiment(exp), console=console)
    out = console.export_text()
    assert out.count("Loading base quantised (nf4) for shipped alone") == 1, out[-3000:]
    assert out.count("Loading base quantised (nf4, bitsandbytes)") == 1, out[-3000:]
    variants = {v["name"]: v for v in result.summary["variants"]}
    assert variants["shipped"]["quantization"] == "nf4"
    assert variants["shipped"]["execution"] == variants["plain"]["execution"] is not None
    assert any("resized from 400 to 402 rows" in n for n in variants["shipped"]["notes"])
    assert variants["plain"]["notes"] == []
    for suite in ("tickets", "general"):
        assert result.results["shipped"][suite] and result.results["plain"][suite]
