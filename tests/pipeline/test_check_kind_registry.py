"""A check kind registered from a test, and nothing else touched, reaches every output.

The kind is registered by a conftest.py this test writes next to the experiment (where a team
would put its own kind; the pytest plugin's gate run, a subprocess, loads it): one registry
entry plus its decision function. It
reads each variant's results alone (scope ``variant``) and ranks first in the verdict
(priority -1), the two things the registry must express for the kinds to come
(``finite_outputs``, ``champion_*``).
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import write_tiny_experiment

pytest_plugins = ["pytester"]

PLUGIN = ("-p", "harness.pytest_plugin", "-p", "no:cacheprovider", "-p", "no:warnings")
GO_POLICY = "gate:\n  min_gain: 0.0\n  forgetting_margin: 1.0\n  capability_margin: 1.0\n"

TOY_KIND = '''
from harness.gates import Check, CheckKind, check_name, register_check_kind


def decide_toy(kind, subject, evidence):
    """Fails a variant that scored fewer than 1000 items: reads its own results only."""
    n = sum(len(items) for items in evidence.results[subject.variant].values())
    yield Check(
        name=check_name(subject.variant, "all", kind.name),
        kind=kind.name,
        variant=subject.variant,
        suite="all",
        capability=None,
        metric="items_scored",
        baseline=1000.0,
        candidate=float(n),
        delta=float(n - 1000),
        ci=(float(n - 1000), float(n - 1000)),
        margin=0.0,
        passed=n >= 1000,
        reason=f"toy kind saw {n} items",
        n=n,
        mde=None,
    )


register_check_kind(
    CheckKind(
        name="toy_kind",
        scope="variant",
        decide=decide_toy,
        description="a toy: every variant scored at least 1000 items",
        rule="toy rule, margin {margin:.1f}",
        remedy="toy remedy for {where}",
        priority=-1,
    )
)
'''


def test_a_kind_registered_in_a_test_appears_in_every_output(
    pytester: pytest.Pytester, tiny_model_dir: Path, tmp_path: Path
) -> None:
    root = tmp_path / "toy"
    exp = write_tiny_experiment(root / "project", tiny_model_dir, gate=GO_POLICY)
    (exp.parent / "conftest.py").write_text(TOY_KIND, encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_CACHE", str(root / "cache"))
        mp.setenv("HARNESS_STORE", str(root / "store.sqlite"))
        mp.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        mp.setenv("HF_DATASETS_CACHE", str(root / "hf-datasets"))
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.delenv("GITHUB_STEP_SUMMARY", raising=False)
        result = pytester.runpytest_subprocess(str(exp), *PLUGIN, "-v")
    out = result.stdout.str()
    assert result.ret == 1, out[-3000:] + result.stderr.str()[-3000:]

    # A pytest item per variant, failing with the rule its kind declares.
    result.stdout.fnmatch_lines(
        [
            "*experiment.yaml::base::all::toy_kind FAILED*",
            "*experiment.yaml::lora::all::toy_kind FAILED*",
        ]
    )
    assert "check lora::all::toy_kind failed (toy_kind, metric items_scored)" in out
    assert "toy rule, margin 0.0" in out

    run_dir = (exp.parent / "reports" / "latest").resolve()
    summary = json.loads((run_dir / "summary.json").read_text())
    toy = [c for c in summary["checks"] if c["kind"] == "toy_kind"]
    assert [c["name"] for c in toy] == ["base::all::toy_kind", "lora::all::toy_kind"]
    assert summary["checks"][:2] == toy  # per-variant kinds are decided first
    assert summary["check_kinds"]["toy_kind"] == {"direction": None, "shown_as": []}
    assert summary["verdict"] == "NO-GO"
    # Its failures rank first (priority -1), its remedy closes the list.
    assert summary["reasons"][0].startswith("base::all::toy_kind: toy kind saw")
    assert summary["reasons"][-1] == "toy remedy for all, all"

    cases = {c.attrib["name"]: c for c in ET.parse(run_dir / "junit.xml").iter("testcase")}
    failure = cases["lora::all::toy_kind"].find("failure")
    assert failure is not None and failure.attrib["type"] == "toy_kind"
    assert "`lora::all::toy_kind`" in (run_dir / "report.md").read_text()
    assert "lora::all::toy_kind" in (run_dir / "report.html").read_text()
