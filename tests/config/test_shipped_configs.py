"""Every YAML the project ships is loaded and validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import Recipe, load_experiment, load_recipe, load_suite, recipe_warnings
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


# Shipped recipes that deliberately leave the guide's ranges, and the fields they leave it on.
DELIBERATE_WARNINGS = {
    "lora.yaml": ["train.batch_size x train.grad_accum"],  # small effective batch for the CPU
    "qlora.yaml": ["train.batch_size x train.grad_accum"],
    "lora-overfit.yaml": [  # the stress recipe that must make the gate say NO-GO
        "train.learning_rate",
        "train.batch_size x train.grad_accum",
        "train.warmup_ratio",
        "train.lr_scheduler",
    ],
    "lora-narrow.yaml": [  # trained too long at a constant rate: learns the task and forgets
        "train.batch_size x train.grad_accum",
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
def test_recipes_warn_only_where_documented(path: Path) -> None:
    warned = [w.split(" = ")[0].split(" (")[0] for w in recipe_warnings(load_recipe(path))]
    assert warned == DELIBERATE_WARNINGS.get(path.name, [])


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
