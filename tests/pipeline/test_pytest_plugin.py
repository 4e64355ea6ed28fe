"""The pytest plugin, driven through pytester on the tiny experiment.

One experiment (and its result store, adapter cache and MLflow db) is shared by the module, so
only the first gate run trains and scores; later runs reuse stored results and the adapter.
Every run is a subprocess: torch and mlflow state never leaks between them.
"""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import write_tiny_experiment

pytest_plugins = ["pytester"]

# Task must gain 0.9 (impossible from a 1/3 baseline) -> the improves check fails for sure;
# the general margins are 1.0 -> every no_forgetting check passes for sure.
NO_GO_POLICY = "gate:\n  min_gain: 0.9\n  forgetting_margin: 1.0\n  capability_margin: 1.0\n"
PLUGIN = ("-p", "harness.pytest_plugin", "-p", "no:cacheprovider", "-p", "no:warnings")

CUSTOM_GATE = """
def test_custom_tickets_gate(harness_results, harness_baseline, harness_variant, harness_gate):
    base = {r.item_id: r.scores["acc"] for r in harness_baseline["tickets"]}
    lora = {r.item_id: r.scores["acc"] for r in harness_variant("lora")["tickets"]}
    assert base.keys() == lora.keys() and len(base) == 30
    assert set(harness_results) == {"base", "lora"}
    assert harness_results["base"]["tickets"] == harness_baseline["tickets"]
    right = [i for i, s in base.items() if s == 1.0]
    lost = [i for i in right if lora[i] < 1.0]
    assert len(lost) <= len(right), f"lost {len(lost)} of {len(right)}"
    assert harness_gate.summary["verdict"] in ("GO", "NO-GO")
    assert (harness_gate.run_dir / "summary.json").is_file()
"""


@pytest.fixture(scope="module")
def gate_project(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path) -> Iterator[Path]:
    """The tiny experiment, with every store pointed into one module-wide temp dir."""
    root = tmp_path_factory.mktemp("plugin")
    exp = write_tiny_experiment(root / "project", tiny_model_dir, gate=NO_GO_POLICY)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CACHE", str(root / "cache"))
        mp.setenv("HARNESS_STORE", str(root / "store.sqlite"))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("HF_DATASETS_CACHE", str(root / "hf-datasets"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.delenv("GITHUB_STEP_SUMMARY", raising=False)
        yield exp


def _out(result: pytest.RunResult) -> str:
    return result.stdout.str() + "\n" + result.stderr.str()


def test_full_gate_no_go_exits_1_with_numbers_and_junit(
    pytester: pytest.Pytester, gate_project: Path
) -> None:
    junit = pytester.path / "junit.xml"
    result = pytester.runpytest_subprocess(str(gate_project), *PLUGIN, f"--junitxml={junit}")
    assert result.ret == 1, _out(result)
    # Other checks (e.g. new kinds) may join the four this tiny experiment always has.
    outcomes = result.parseoutcomes()
    assert outcomes["failed"] == 1 and outcomes["passed"] >= 3, outcomes
    out = result.stdout.str()
    # The failure carries the evidence, not a bare `assert False`.
    result.stdout.fnmatch_lines(
        [
            "*check lora::tickets::improves failed (improves, metric acc)*",
            "*baseline*",
            "*candidate*",
            "*delta*CI [[]*",
            "*margin*0.9000*needs CI low > +0.9000*",
            "*n 30*MDE*",
            "*reason: gain*required gain +0.900*",
        ]
    )
    assert "Traceback" not in out
    result.stdout.fnmatch_lines(
        [
            "*= release gate =*",
            "NO-GO",
            "  - lora::tickets::improves: gain *required gain +0.900",
            "report: *report.html*",
            "mlflow: run *",
        ]
    )
    # JUnit XML: one testcase per check, with the numbers as properties.
    cases = ET.parse(junit).getroot().findall(".//testcase")
    assert len(cases) == outcomes["failed"] + outcomes["passed"]
    props = {
        p["check"]: p
        for p in ({q.attrib["name"]: q.attrib["value"] for q in c.iter("property")} for c in cases)
    }
    assert set(props) >= {
        "lora::tickets::improves",
        "lora::general::no_forgetting",
        "lora::general/arithmetic::no_forgetting",
        "lora::general/factual::no_forgetting",
    }
    improves = props["lora::tickets::improves"]
    assert {"delta", "ci", "margin", "baseline", "candidate", "n", "mde"} <= improves.keys()
    assert float(improves["margin"]) == pytest.approx(0.9)
    failed = [c for c in cases if c.find("failure") is not None]
    assert [c.attrib["name"] for c in failed] == ["improves"]


def test_collect_only_lists_check_ids(pytester: pytest.Pytester, gate_project: Path) -> None:
    result = pytester.runpytest_subprocess(str(gate_project), *PLUGIN, "--collect-only", "-q")
    assert result.ret == 0, _out(result)
    result.stdout.fnmatch_lines(
        [
            "*experiment.yaml::lora::tickets::improves",
            "*experiment.yaml::lora::general::no_forgetting",
            "*experiment.yaml::lora::general/arithmetic::no_forgetting",
            "*experiment.yaml::lora::general/factual::no_forgetting",
        ]
    )
    assert "release gate" not in result.stdout.str()


def test_k_selection_and_custom_gate_give_go(pytester: pytest.Pytester, gate_project: Path) -> None:
    custom = pytester.makepyfile(test_custom_gate=CUSTOM_GATE)
    result = pytester.runpytest_subprocess(
        str(gate_project), str(custom), *PLUGIN, "-v", "-k", "arithmetic or custom"
    )
    assert result.ret == 0, _out(result)
    outcomes = result.parseoutcomes()
    assert outcomes["passed"] == 2 and outcomes["deselected"] >= 3, outcomes
    result.stdout.fnmatch_lines(
        [
            "*lora::general/arithmetic::no_forgetting PASSED*",
            "*test_custom_tickets_gate PASSED*",
            "GO",
            "  - all 1 selected checks passed (* deselected), and 1 custom gates",
        ]
    )
    assert "lora::tickets::improves" not in result.stdout.str()


def test_an_erroring_custom_gate_means_no_verdict(
    pytester: pytest.Pytester, gate_project: Path
) -> None:
    custom = pytester.makepyfile(
        test_broken_gate="def test_broken(harness_variant):\n    harness_variant('nope')\n"
    )
    result = pytester.runpytest_subprocess(
        str(gate_project), str(custom), *PLUGIN, "-k", "factual or broken"
    )
    assert result.ret == 3, _out(result)
    result.stdout.fnmatch_lines(["NO VERDICT*", "*error (could not decide): *test_broken*"])
    assert "no variant 'nope'" in result.stdout.str()


def test_bad_config_is_a_collection_error_naming_file_field_and_fix(
    pytester: pytest.Pytester, gate_project: Path
) -> None:
    bad = gate_project.parent / "bad-experiment.yaml"
    bad.write_text(gate_project.read_text().replace("batch_size: 8", "batch_size: many"))
    result = pytester.runpytest_subprocess(str(bad), *PLUGIN)
    assert result.ret not in (0, 1), _out(result)
    assert result.ret == 2
    out = " ".join(result.stdout.str().split())
    assert "configuration error" in out and "bad-experiment.yaml" in out
    assert "scoring.batch_size" in out and "fix:" in out
    assert "Traceback" not in out


def test_option_names_the_experiment(pytester: pytest.Pytester, gate_project: Path) -> None:
    bad = gate_project.parent / "bad-option.yaml"
    bad.write_text(gate_project.read_text() + "bogus: 1\n")
    pytester.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = pytester.runpytest_subprocess(*PLUGIN, f"--harness-experiment={bad}")
    assert result.ret == 2, _out(result)
    assert "bogus" in result.stdout.str() and "fix:" in result.stdout.str()
    # Without explicit paths, the option runs the gate only (test_plain is not collected).
    assert "test_plain" not in result.stdout.str()


def test_inert_without_an_experiment(pytester: pytest.Pytester) -> None:
    pytester.makefile(".yaml", stray="name: not-an-experiment\n")
    pytester.makepyfile(
        test_plain="""
        import pytest

        def test_plain():
            assert 1 + 1 == 2

        def test_fixture_skips(harness_results):
            pass
        """
    )
    result = pytester.runpytest_subprocess(*PLUGIN, "-rs")
    assert result.ret == 0, _out(result)
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["*no harness experiment in this session*"])
    assert "release gate" not in result.stdout.str()


def test_plugin_import_is_light() -> None:
    code = (
        "import sys, harness.pytest_plugin\n"
        "heavy = {'torch', 'transformers', 'mlflow', 'lm_eval', 'peft', 'trl', 'numpy',"
        " 'harness.pipeline', 'harness.config'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert proc.stdout.strip() == "[]", proc.stdout


def test_entry_point_is_registered() -> None:
    from importlib.metadata import entry_points

    eps = [ep for ep in entry_points(group="pytest11") if ep.value == "harness.pytest_plugin"]
    assert [ep.name for ep in eps] == ["harness.pytest_plugin"]
