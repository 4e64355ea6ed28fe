"""Every YAML the project ships is loaded and validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import (
    Recipe,
    load_experiment,
    load_recipe,
    load_suite,
    recipe_guide_notes,
    recipe_warnings,
)
from tests.config.adapter_files import write_stand_in_lora

ROOT = Path(__file__).resolve().parents[2]


def test_default_experiment_validates() -> None:
    exp = load_experiment(ROOT / "experiment.yaml")
    assert {s.kind for s in exp.suites} == {"task", "general"}
    # The LoRA release candidate decides; its QLoRA twin is a comparison arm (docs/gates.md).
    assert [(c.name, c.role) for c in exp.candidates] == [
        ("lora", "release"),
        ("qlora", "comparison"),
    ]
    assert exp.candidates[1].compare_to == "lora"
    assert exp.gate.quantized_bases == ["nf4"]


# Shipped recipes that deliberately leave the guide's ranges, and the fields they leave it on:
# each says so itself, with its reason, in outside_guide.
DELIBERATE = {
    "lora.yaml": ["train.effective_batch"],  # small effective batch for the CPU
    "qlora.yaml": ["train.effective_batch"],
    "lora-overfit.yaml": [  # the stress recipe that must make the gate say NO-GO
        "train.learning_rate",
        "train.effective_batch",
        "train.warmup_ratio",
        "train.lr_scheduler",
    ],
    "lora-narrow.yaml": [  # trained too long at a constant rate: learns the task and forgets
        "train.effective_batch",
        "train.lr_scheduler",
    ],
}


@pytest.mark.parametrize("path", sorted((ROOT / "training").glob("*.yaml")), ids=lambda p: p.name)
def test_recipes_validate(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.data.suite is not None and recipe.data.suite.is_file()
    assert recipe.name.endswith("ticket-routing")
    assert recipe.method in path.stem
    # A dump holds only the blocks the method reads, and validates again as it is.
    dumped = recipe.model_dump(mode="json", exclude={"source"})
    assert Recipe.model_validate(dumped) == recipe.model_copy(update={"source": None})


@pytest.mark.parametrize("path", sorted((ROOT / "training").glob("*.yaml")), ids=lambda p: p.name)
def test_recipes_leave_the_guide_only_where_they_say_why(path: Path) -> None:
    """No shipped recipe warns: every deviation is declared with its reason, and shows as a
    note (harness validate, the adapter's record) instead of a warning in every gate run."""
    recipe = load_recipe(path)
    assert recipe_warnings(recipe) == []
    assert sorted(recipe.outside_guide) == sorted(DELIBERATE.get(path.name, []))
    notes = recipe_guide_notes(recipe)
    assert len(notes) == len(recipe.outside_guide)
    assert all("(on purpose: " in n for n in notes)


def test_every_method_has_a_shipped_recipe() -> None:
    methods = {load_recipe(p).method for p in (ROOT / "training").glob("*.yaml")}
    assert methods == {"lora", "qlora", "ia3", "prefix", "prompt"}


@pytest.mark.parametrize("path", sorted((ROOT / "suites").rglob("*.yaml")), ids=lambda p: p.name)
def test_suites_validate(path: Path) -> None:
    suite = load_suite(path)
    assert suite.version and suite.kind in ("task", "general")
    assert len(suite.fingerprint) == 32


@pytest.mark.parametrize(
    "path", sorted((ROOT / "bench" / "evidence").glob("*.yaml")), ids=lambda p: p.name
)
def test_evidence_experiments_validate(path: Path, tmp_path: Path) -> None:
    text = path.read_text()
    if "zero-adapter" in text:  # made by a script, not shipped: validate with a stand-in
        # shaped like make_zero_adapter.py's (all seven projections of the builtin's 30 layers)
        adapter = write_stand_in_lora(tmp_path / "zero-adapter", layers=30)
        text = text.replace("../../.harness/zero-adapter", str(adapter))
        path = tmp_path / path.name
        path.write_text(text.replace("../../", f"{ROOT}/"))
    exp = load_experiment(path)
    assert exp.candidates
