"""Candidate roles (issue #17): release candidates decide the verdict; comparison arms are
scored, checked and reported, but their failures change neither the verdict nor the exit code.

The first tests need no model (config, the verdict, the reports); the last runs the tiny
experiment end to end with a LoRA release candidate, a QLoRA comparison arm on the NF4 base
(dequantized once on CPU) and a given no-op adapter as a comparison arm whose ``not_a_noop``
check fails for sure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from harness.config import ConfigError, GatePolicy, ItemResult, SuiteSpec, load_experiment
from harness.gates import Evidence, decide, evaluate
from tests.conftest import write_tiny_experiment

POLICY = GatePolicy(bootstrap_resamples=2000, min_gain=0.1)


def _suite() -> SuiteSpec:
    return SuiteSpec(
        name="s",
        path=Path("s.yaml"),
        kind="task",
        version="1",
        output_type="multiple_choice",
        metric="acc",
        capability=None,
        capability_field=None,
        data_files={},
        fingerprint="f",
    )


def _items(p: float, seed: int) -> dict[str, list[ItemResult]]:
    rng = np.random.default_rng(seed)
    return {
        "s": [ItemResult(f"i{i}", {"acc": float(v)}) for i, v in enumerate(rng.random(300) < p)]
    }


def _evidence(comparison: frozenset[str]) -> Evidence:
    results = {"base": _items(0.2, 0), "good": _items(0.8, 1), "flat": _items(0.2, 0)}
    return Evidence(
        policy=POLICY,
        suites=[_suite()],
        results=results,
        candidates=["good", "flat"],
        comparison=comparison,
    )


def test_a_failing_comparison_arm_does_not_decide_and_is_named() -> None:
    checks = evaluate(_evidence(frozenset({"flat"})))
    flat = [c for c in checks if c.variant == "flat"]
    assert flat and all(not c.decides for c in flat)
    assert any(not c.passed for c in flat)  # it fails, for real, and stays failed
    assert all(c.decides for c in checks if c.variant == "good")
    outcome = decide(checks)
    assert outcome.verdict == "GO"
    assert outcome.reasons[0].startswith("all ") and "deciding checks passed" in outcome.reasons[0]
    arm_lines = [r for r in outcome.reasons if r.startswith("comparison arm, does not decide:")]
    assert arm_lines and all("flat::" in r for r in arm_lines)
    # The same failure in a release candidate is a NO-GO.
    assert decide(evaluate(_evidence(frozenset()))).verdict == "NO-GO"


def test_release_checks_are_holm_corrected_without_the_comparison_arms() -> None:
    alone = Evidence(
        policy=POLICY,
        suites=[_suite()],
        results={"base": _items(0.2, 0), "good": _items(0.8, 1)},
        candidates=["good"],
    )
    with_arm = [c for c in evaluate(_evidence(frozenset({"flat"}))) if c.variant == "good"]
    assert [(c.name, c.p_adjusted) for c in with_arm] == [
        (c.name, c.p_adjusted) for c in evaluate(alone)
    ]


def test_roles_in_the_config(tiny_model_dir: Path, tmp_path: Path) -> None:
    exp_path = write_tiny_experiment(tmp_path / "p", tiny_model_dir)
    exp = load_experiment(exp_path)
    assert [c.role for c in exp.candidates] == ["release"]
    assert exp.comparison_variants() == frozenset()
    text = exp_path.read_text()

    exp_path.write_text(
        text.replace(
            "recipe: training/lora.yaml\n", "recipe: training/lora.yaml\n    role: comparison\n"
        )
    )
    with pytest.raises(ConfigError) as e:
        load_experiment(exp_path)
    assert e.value.field == "candidates" and "role: release" in e.value.fix

    exp_path.write_text(
        text.replace(
            "recipe: training/lora.yaml\n", "recipe: training/lora.yaml\n    role: shipping\n"
        )
    )
    with pytest.raises(ConfigError) as e:
        load_experiment(exp_path)
    assert "role" in str(e.value.field)


def test_the_nf4_base_decides_only_when_a_release_candidate_runs_on_it(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    exp_path = write_tiny_experiment(tmp_path / "p", tiny_model_dir)
    (exp_path.parent / "training" / "qlora.yaml").write_text(
        (exp_path.parent / "training" / "lora.yaml")
        .read_text()
        .replace("method: lora", "method: qlora")
        .replace("dtype: float32", "dtype: bfloat16")
    )
    arm = (
        "  - name: qlora\n    recipe: training/qlora.yaml\n    compare_to: lora\n    role: {role}\n"
    )
    gate = "gate:\n  min_gain: 0.0\n  quantized_bases: [nf4]\n"
    base_text = exp_path.read_text().split("gate:")[0].replace("scoring:", "{arm}scoring:")
    exp_path.write_text(base_text.format(arm=arm.format(role="comparison")) + gate)
    assert load_experiment(exp_path).comparison_variants() == {"qlora", "base-nf4"}
    exp_path.write_text(base_text.format(arm=arm.format(role="release")) + gate)
    assert load_experiment(exp_path).comparison_variants() == frozenset()


def test_the_default_experiment_has_a_qlora_comparison_arm_and_the_nf4_base() -> None:
    exp = load_experiment(Path(__file__).parents[2] / "experiment.yaml", check_data=False)
    roles = {c.name: (c.role, c.quantization, c.compare_to) for c in exp.candidates}
    assert roles == {"lora": ("release", "none", None), "qlora": ("comparison", "nf4", "lora")}
    assert exp.gate.quantized_bases == ["nf4"]
    assert exp.comparison_variants() == {"qlora", "base-nf4"}
    assert exp.recipes["qlora"].data == exp.recipes["lora"].data  # the same training rows


def _noop_adapter(model_dir: Path, out: Path) -> Path:
    """A LoRA adapter as peft creates it (B = 0): it changes nothing, so not_a_noop fails."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir))
    cfg = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=True)
    get_peft_model(model, cfg).save_pretrained(str(out))
    return out


def test_gate_with_comparison_arms_end_to_end(tiny_model_dir_64: Path, isolated_env: Path) -> None:
    exp = write_tiny_experiment(
        isolated_env / "p",
        tiny_model_dir_64,
        gate="gate:\n  min_gain: 0.0\n  forgetting_margin: 1.0\n  capability_margin: 1.0\n"
        "  quantization_margin: 1.0\n  quantized_bases: [nf4]\n",
    )
    recipe = (exp.parent / "training" / "lora.yaml").read_text()
    (exp.parent / "training" / "qlora.yaml").write_text(
        recipe.replace("name: tiny-lora\nmethod: lora", "name: tiny-qlora\nmethod: qlora").replace(
            "dtype: float32", "dtype: bfloat16"
        )
    )
    noop = _noop_adapter(tiny_model_dir_64, isolated_env / "noop")
    exp.write_text(
        exp.read_text().replace(
            "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n",
            "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n"
            "  - name: qlora\n    recipe: training/qlora.yaml\n    compare_to: lora\n"
            "    role: comparison\n"
            f"  - name: noop\n    adapter: {noop}\n    role: comparison\n",
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "evaluate", str(exp)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = exp.parent / "reports" / "latest"
    summary = json.loads((run_dir / "summary.json").read_text())
    variants = {v["name"]: v for v in summary["variants"]}
    assert {n: v["decides"] for n, v in variants.items()} == {
        "base": True,
        "base-nf4": False,
        "lora": True,
        "qlora": False,
        "noop": False,
    }
    # NF4 on CPU ran from its NF4 values dequantized once, for scoring and for training.
    assert variants["base-nf4"]["execution"] == variants["qlora"]["execution"]
    assert variants["qlora"]["execution"] == "nf4-dequantized-once"
    assert variants["qlora"]["training"]["execution"] == "nf4-dequantized-once"
    assert (
        variants["lora"]["execution"] is None and variants["lora"]["training"]["execution"] is None
    )
    checks = summary["checks"]
    assert all(c["decides"] == variants[c["variant"]]["decides"] for c in checks)
    assert {c["variant"] for c in checks if c["decides"]} <= {"base", "lora"}
    noop_fail = [c for c in checks if c["variant"] == "noop" and not c["passed"]]
    assert "not_a_noop" in {c["kind"] for c in noop_fail}
    # Exit code and verdict follow the release candidate's checks alone.
    release_ok = all(c["passed"] for c in checks if c["decides"])
    assert summary["verdict"] == ("GO" if release_ok else "NO-GO")
    assert proc.returncode == (0 if release_ok else 1)
    assert any(r.startswith("comparison arm, does not decide: noop::") for r in summary["reasons"])
    # Every report shows the roles.
    md = (run_dir / "report.md").read_text()
    assert "candidate (comparison arm)" in md and "candidate (release)" in md
    assert "quantized base (comparison arm)" in md and "nf4-dequantized-once" in md
    assert "❌ FAIL (comparison arm, not deciding)" in md
    html = (run_dir / "report.html").read_text()
    assert "noop (comparison arm)" in html and "comparison arm, not deciding" in html
    job = (run_dir / "job_summary.md").read_text()
    assert "of them of comparison arms" in job
    suite = ET.parse(run_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.find("properties") or []}
    assert props["release"] == "lora" and set(str(props["comparison_arms"]).split(",")) == {
        "base-nf4",
        "qlora",
        "noop",
    }
    noop_case = suite.find("testcase[@name='noop::all::not_a_noop']")
    assert noop_case is not None and noop_case.find("skipped") is not None
    assert noop_case.find("failure") is None
    # The registry: a comparison arm's version never carries GO, so `champion` never moves
    # to it (only lora's version can hold it, and only on GO).
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=summary["mlflow_tracking_uri"])
    for name, v in variants.items():
        reg = v.get("registered_model")
        if reg is None:
            continue
        mv = client.get_model_version(reg["name"], reg["version"])
        assert mv.tags["harness.role"] == ("release" if v["decides"] else "comparison")
        aliases = set(client.get_registered_model(reg["name"]).aliases)
        if v["decides"]:
            assert ("champion" in aliases) == (summary["verdict"] == "GO")
        else:
            assert "champion" not in aliases and mv.tags["harness.verdict"] != "GO", name
    # The pytest plugin (stored results and cached adapters: no training, no scoring): the
    # arm's failed checks are xfails with their numbers, and do not change the exit status.
    plugin = subprocess.run(
        [*(sys.executable, "-m", "pytest", str(exp), "-p", "harness.pytest_plugin", "-rx"), "-q"],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = plugin.stdout + plugin.stderr
    assert plugin.returncode == proc.returncode, out[-3000:]
    assert "xfailed" in out and "XFAIL" in out and "noop::all::not_a_noop" in out
    assert "comparison arm, does not decide: noop::all::not_a_noop" in out
