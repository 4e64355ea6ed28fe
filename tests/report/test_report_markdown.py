from __future__ import annotations

import copy
import re
from types import SimpleNamespace
from typing import Any

from harness.report import render_job_summary, render_markdown


def test_markdown_starts_with_verdict(
    go_summary: dict[str, Any], nogo_summary: dict[str, Any]
) -> None:
    assert render_markdown(go_summary).startswith("# ✅ GO")
    assert render_markdown(nogo_summary).startswith("# ❌ NO-GO")


def test_reasons_come_before_tables(nogo_summary: dict[str, Any]) -> None:
    md = render_markdown(nogo_summary)
    first_reason = md.index(nogo_summary["reasons"][0][:40])
    assert first_reason < md.index("## Checks") < md.index("## Suite scores")


def test_markdown_lists_every_check_with_formatted_numbers(any_summary: dict[str, Any]) -> None:
    md = render_markdown(any_summary)
    for check in any_summary["checks"]:
        assert f"`{check['name']}`" in md
    row = next(line for line in md.splitlines() if "`lora::ticket_routing::improves`" in line)
    for expected in ("0.180", "0.610", "+0.430", "[+0.370, +0.490]", "0.050", "300", "0.040", "✅"):
        assert expected in row


def test_nan_delta_rendered_as_missing(nogo_summary: dict[str, Any]) -> None:
    md = render_markdown(nogo_summary)
    assert not re.search(r"\bnan\b|\binf\b", md, re.IGNORECASE)
    row = next(line for line in md.splitlines() if "`qlora::ticket_routing::improves`" in line)
    assert "n/a" in row and "❌ FAIL" in row


def test_markdown_sections(go_summary: dict[str, Any]) -> None:
    md = render_markdown(go_summary)
    for section in (
        "## Checks",
        "## Suite scores",
        "## Per-capability",
        "## Training",
        "## Provenance",
        "## MLflow",
    ):
        assert section in md
    assert "3m 30s" in md  # train time
    assert "460,800" in md and "0.34%" in md and "0.2100" in md
    assert "abc123" in md and "sqlite:///mlflow.db" in md and "nox -s ui" in md
    assert "2.13.0" in md


def test_capability_drop_flagged(nogo_summary: dict[str, Any]) -> None:
    md = render_markdown(nogo_summary)
    arith = next(line for line in md.splitlines() if line.startswith("| arithmetic"))
    assert "-0.120" in arith and "❌ failed check" in arith
    reading = next(line for line in md.splitlines() if line.startswith("| reading"))
    assert "+0.020" in reading and "▼" not in reading


def test_markdown_escapes_markup_and_pipes(evil_summary: dict[str, Any]) -> None:
    md = render_markdown(evil_summary)
    assert "<script>" not in md.replace("`lora::<script>alert(1)</script>::improves`", "")
    assert "\\| broke" in md


def test_job_summary_is_short_and_failures_first(nogo_summary: dict[str, Any]) -> None:
    many = dict(nogo_summary)
    many["checks"] = nogo_summary["checks"] + [
        {**nogo_summary["checks"][0], "name": f"lora::extra{i}::improves"} for i in range(40)
    ]
    many["reasons"] = [f"reason {i}" for i in range(20)]
    js = render_job_summary(many)
    assert js.startswith("# ❌ NO-GO")
    assert len(js.splitlines()) <= 40
    table = [line for line in js.splitlines() if line.startswith("| `")]
    assert "FAIL" in table[0] and "FAIL" in table[1]
    assert "more checks in report.md" in js and "and 14 more" in js


def test_job_summary_go(go_summary: dict[str, Any]) -> None:
    js = render_job_summary(go_summary)
    assert js.startswith("# ✅ GO")
    assert "`lora::ticket_routing::improves`" in js and "+0.430" in js
    assert len(js.splitlines()) < 40


def test_plain_comparisons_stay_readable(nogo_summary: dict[str, Any]) -> None:
    md = render_markdown(nogo_summary)
    assert "lower bound -0.18 < allowed drop -0.05" in md


def test_rendering_ignores_dict_key_order(nogo_summary: dict[str, Any]) -> None:
    import json

    from harness.report import json_safe

    safe = json_safe(nogo_summary)
    resorted = json.loads(json.dumps(safe, sort_keys=True))
    assert render_markdown(safe) == render_markdown(resorted)


def test_a_lower_is_better_capability_is_flagged_when_it_rises(
    go_summary: dict[str, Any], report_internals: SimpleNamespace
) -> None:
    build_view = report_internals.build_view
    s = copy.deepcopy(go_summary)
    general = next(x for x in s["suites"] if x["capabilities"])
    cap = sorted(general["capabilities"])[0]
    base = general["capabilities"][cap]["base"]
    general["capabilities"][cap]["lora"] = base - 0.05  # fewer bits per byte: better
    view = build_view(s)

    def flag(summary_view: Any) -> str:
        suite = next(x for x in summary_view.suites if x.name == general["name"])
        row = next(c for c in suite.capabilities if c.name == cap)
        return str(row.flag(next(c for c in row.cells if c.variant == "lora")))

    assert flag(view) == "drop"  # summaries without the field: higher is better
    general["higher_is_better"] = False
    assert flag(build_view(s)) == ""
    general["capabilities"][cap]["lora"] = base + 0.05
    assert flag(build_view(s)) == "drop"
