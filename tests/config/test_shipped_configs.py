"""Every YAML the project ships is loaded and validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import load_experiment, load_recipe, load_suite

ROOT = Path(__file__).resolve().parents[2]


def test_default_experiment_validates() -> None:
    exp = load_experiment(ROOT / "experiment.yaml")
    assert {s.kind for s in exp.suites} == {"task", "general"}
    assert [c.name for c in exp.candidates] == ["lora"]


@pytest.mark.parametrize("path", sorted((ROOT / "training").glob("*.yaml")), ids=lambda p: p.name)
def test_recipes_validate(path: Path) -> None:
    recipe = load_recipe(path)
    assert recipe.data.suite.is_file()


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
    if "zero-adapter" in text:  # made by a script, not shipped: validate with a stand-in dir
        adapter = tmp_path / "zero-adapter"
        adapter.mkdir()
        text = text.replace("../../.harness/zero-adapter", str(adapter))
        path = tmp_path / path.name
        path.write_text(text.replace("../../", f"{ROOT}/"))
    exp = load_experiment(path)
    assert exp.candidates
