from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from harness.report import render_junit


def _suite(xml: str) -> ET.Element:
    root = ET.fromstring(xml.encode("utf-8"))
    suites = list(root.iter("testsuite"))
    assert len(suites) == 1
    return suites[0]


def test_junit_counts_and_cases(any_summary: dict[str, Any]) -> None:
    suite = _suite(render_junit(any_summary))
    checks = any_summary["checks"]
    failed = [c for c in checks if not c["passed"]]
    assert suite.get("name") == "harness-gate"
    assert suite.get("tests") == str(len(checks))
    assert suite.get("failures") == str(len(failed))
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == [c["name"] for c in checks]
    assert [c.get("classname") for c in cases] == [f"{c['variant']}.{c['suite']}" for c in checks]
    assert sum(1 for c in cases if c.find("failure") is not None) == len(failed)


def test_junit_failure_carries_reason_and_numbers(nogo_summary: dict[str, Any]) -> None:
    suite = _suite(render_junit(nogo_summary))
    case = next(
        c
        for c in suite.findall("testcase")
        if c.get("name") == "lora::general::arithmetic::no_forgetting"
    )
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "lower bound -0.18 < allowed drop -0.05"
    assert failure.text is not None
    assert "delta=-0.120" in failure.text and "ci95=[-0.180, -0.060]" in failure.text
    nan_case = next(c for c in suite.findall("testcase") if c.get("name", "").startswith("qlora"))
    nan_failure = nan_case.find("failure")
    assert nan_failure is not None and nan_failure.text is not None
    assert "delta=n/a" in nan_failure.text


def test_junit_properties(go_summary: dict[str, Any]) -> None:
    suite = _suite(render_junit(go_summary))
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "GO"
    assert props["run_id"] == go_summary["run_id"]
    assert suite.get("failures") == "0"


def test_junit_survives_control_chars(evil_summary: dict[str, Any]) -> None:
    evil_summary["checks"][1]["reason"] = "bad\x00byte\x1b"
    evil_summary["checks"][1]["passed"] = False
    suite = _suite(render_junit(evil_summary))
    assert any("<script>" in (c.get("name") or "") for c in suite.iter("testcase"))
