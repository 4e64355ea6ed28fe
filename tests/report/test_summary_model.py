"""summary.json as the typed GateSummary: its published schema, exact round trips, strict
building, lenient reading."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from harness.report import (
    CheckKindInfo,
    CheckRecord,
    GateSummary,
    RegisteredModel,
    json_safe,
    summary_json_text,
)
from harness.report.schema import SCHEMA_PATH, schema_text

ROOT = Path(__file__).resolve().parents[2]
CONTRACT = {"verdict", "checks", "variants", "suites", "mlflow_run_id", "provenance"}
CHECK_CONTRACT = {
    "name",
    "kind",
    "variant",
    "suite",
    "metric",
    "baseline",
    "candidate",
    "delta",
    "ci",
    "margin",
    "passed",
    "reason",
}


def test_published_schema_is_the_generated_one() -> None:
    shipped = (ROOT / SCHEMA_PATH).read_text(encoding="utf-8")
    assert shipped == schema_text(), (
        f"{SCHEMA_PATH} is stale: regenerate it with "
        f"`python -m harness.report.schema > {SCHEMA_PATH}`"
    )
    schema = json.loads(shipped)
    assert set(schema["required"]) >= CONTRACT
    assert set(schema["$defs"]["CheckRecord"]["required"]) >= CHECK_CONTRACT
    assert schema["additionalProperties"] is False


def test_check_record_has_every_field_of_a_gate_check() -> None:
    from harness.gates import Check

    assert [f.name for f in dataclasses.fields(Check)] == list(CheckRecord.model_fields)


def test_every_registered_kind_can_be_shown_by_the_reports() -> None:
    """The registry's directions and report roles are the summary's vocabulary."""
    from harness.gates import check_kinds

    for kind in check_kinds():
        info = CheckKindInfo.model_validate(kind.display())
        assert (info.direction, tuple(info.shown_as)) == (kind.direction, kind.shown_as)


@pytest.mark.parametrize("name", ["go", "nogo", "comparison"])
def test_a_stored_summary_round_trips_exactly(
    name: str,
    go_summary: dict[str, Any],
    nogo_summary: dict[str, Any],
    comparison_summary: dict[str, Any],
) -> None:
    raw = {"go": go_summary, "nogo": nogo_summary, "comparison": comparison_summary}[name]
    text = json.dumps(json_safe(raw), indent=2, sort_keys=True, allow_nan=False) + "\n"
    assert summary_json_text(GateSummary.read(json.loads(text))) == text
    # Reading never adds keys: the pre-registry default of check_kinds is not written back.
    assert "check_kinds" not in GateSummary.read(json.loads(text)).to_dict()


def test_building_is_strict_about_keys_and_types(go_summary: dict[str, Any]) -> None:
    GateSummary.model_validate(go_summary)
    with pytest.raises(ValidationError, match=r"surprise"):
        GateSummary.model_validate({**go_summary, "surprise": 1})
    bad = copy.deepcopy(go_summary)
    bad["checks"][0]["passed"] = "yes"
    with pytest.raises(ValidationError, match="passed"):
        GateSummary.model_validate(bad)


def test_reading_tolerates_another_harness_version(go_summary: dict[str, Any]) -> None:
    newer = copy.deepcopy(go_summary)
    newer["from_the_future"] = {"x": 1}
    newer["checks"][0]["confidence"] = 0.9
    newer["samples"] = ["junk", {"items": "nope"}]
    newer["check_kinds"] = {"improves": {"direction": "sideways"}}
    s = GateSummary.read(newer)
    assert len(s.checks) == len(go_summary["checks"])
    assert [b.items for b in s.samples] == [[]]
    assert s.kind_info("improves").direction is None
    missing = copy.deepcopy(go_summary)
    del missing["verdict"]
    with pytest.raises(ValidationError, match="verdict"):
        GateSummary.read(missing)


def test_registered_model_is_absent_until_set(go_summary: dict[str, Any]) -> None:
    s = GateSummary.model_validate(go_summary)
    lora = s.variants[1]
    assert "registered_model" not in s.to_dict()["variants"][1]
    registered = lora.model_copy(
        update={"registered_model": RegisteredModel(name="m", version="1")}
    )
    dumped = s.model_copy(update={"variants": [s.variants[0], registered]}).to_dict()
    assert dumped["variants"][1]["registered_model"] == {"name": "m", "version": "1"}
    assert "registered_model" not in dumped["variants"][0]
    with pytest.raises(ValidationError):
        lora.name = "other"  # type: ignore[misc]  # records are frozen


def test_nan_stays_nan_in_memory_and_is_null_in_the_file(nogo_summary: dict[str, Any]) -> None:
    s = GateSummary.model_validate(nogo_summary)
    qlora = s.checks[3]
    assert qlora.delta != qlora.delta  # NaN
    stored = json.loads(summary_json_text(s))
    assert stored["checks"][3]["delta"] is None and stored["checks"][3]["ci"] == [None, None]
