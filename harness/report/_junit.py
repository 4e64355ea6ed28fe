"""JUnit XML rendering, so CI systems show each gate check as a test case.

Every CI (GitHub, GitLab, Jenkins, Buildkite) already knows how to display JUnit: a
failed ``no_forgetting`` check then shows up in the same "tests" tab as unit tests,
with its reason and numbers, without any harness-specific plugin.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from harness.report._format import fmt_ci, fmt_int, fmt_num, fmt_signed, to_float
from harness.report._model import CheckView, Summary, build_view

SUITE_NAME = "harness-gate"

# Characters XML 1.0 forbids even when escaped; ElementTree would write them verbatim
# and produce a file that CI parsers reject, losing the whole test report.
_ILLEGAL_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(value: object) -> str:
    return _ILLEGAL_XML.sub("\ufffd", "" if value is None else str(value))


def _numbers(check: CheckView) -> str:
    return (
        f"metric={check.metric} baseline={fmt_num(check.baseline)} "
        f"candidate={fmt_num(check.candidate)} delta={fmt_signed(check.delta)} "
        f"ci95={fmt_ci((check.ci_low, check.ci_high))} margin={fmt_num(check.margin)} "
        f"n={fmt_int(check.n)} mde={fmt_num(check.mde)}"
    )


def render_junit(summary: Summary) -> str:
    """Render the checks as ``<testsuites><testsuite name="harness-gate">…``.

    One testcase per check (classname ``<variant>.<suite>``, name = check id); failed
    checks carry a ``<failure>`` whose message is the reason and whose body lists the
    numbers. Verdict and run id go into ``<properties>`` for traceability.
    """
    view = build_view(summary)
    n_tests = len(view.checks)
    # A comparison arm's failed check is reported as skipped (as pytest's xfail is): its
    # numbers stay visible, and CI does not count it as a failure of the release.
    n_arm = len(view.comparison_failures)
    n_fail = len(view.failed_checks) - n_arm
    total_s = dict(view.durations).get("total_s")

    root = ET.Element(
        "testsuites",
        {"name": SUITE_NAME, "tests": str(n_tests), "failures": str(n_fail), "errors": "0"},
    )
    suite = ET.SubElement(
        root,
        "testsuite",
        {
            "name": SUITE_NAME,
            "tests": str(n_tests),
            "failures": str(n_fail),
            "errors": "0",
            "skipped": str(n_arm),
            "timestamp": _clean(view.created_at),
            "time": f"{to_float(total_s) or 0.0:.3f}",
        },
    )
    props = ET.SubElement(suite, "properties")
    for name, value in (
        ("verdict", view.verdict),
        ("run_id", view.run_id),
        ("experiment", view.experiment),
        ("mlflow_run_id", view.mlflow_run_id or ""),
        ("release", ",".join(v.name for v in view.variants if v.role != "baseline" and v.decides)),
        ("comparison_arms", ",".join(v.name for v in view.variants if not v.decides)),
    ):
        ET.SubElement(props, "property", {"name": name, "value": _clean(value)})

    for check in view.checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {"classname": _clean(check.classname), "name": _clean(check.name), "time": "0"},
        )
        role = ET.SubElement(ET.SubElement(case, "properties"), "property")
        role.attrib.update(name="decides", value=str(check.decides).lower())
        if check.comparison_failure:
            skipped = ET.SubElement(case, "skipped")
            skipped.set("message", _clean(f"comparison arm, not deciding: {check.reason}"))
            ET.SubElement(case, "system-out").text = _clean(f"{check.reason}\n{_numbers(check)}")
        elif not check.passed:
            failure = ET.SubElement(
                case,
                "failure",
                {
                    "message": _clean(check.reason or "check failed"),
                    "type": _clean(check.kind or "gate"),
                },
            )
            failure.text = _clean(f"{check.reason}\n{_numbers(check)}")
        else:
            out = ET.SubElement(case, "system-out")
            out.text = _clean(f"{check.reason}\n{_numbers(check)}")

    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
