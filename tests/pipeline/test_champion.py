"""Regression against the champion (issue #19): whole gate runs on the tiny llama, a real MLflow
sqlite store, adapters of known ticket accuracy (tests/pipeline/champion_adapters.py).

The flow itself (first run sets ``champion``, a worse adapter is NO-GO by the champion check
alone and leaves it, a better one moves it, the champion never scored twice) is
tests/pipeline/champion_flow.py, shared with the PostgreSQL-backed server test
(tests/tracking/test_champion_postgres.py); this file adds what the reports show.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pipeline.champion_flow import (
    MODEL,
    gate,
    run_champion_flow,
    ticket_adapters,
    write_experiment,
)

# ticket_adapters: the module fixture. gate and write_experiment: test_champion_inputs.py
# imports them from here.
__all__ = ["gate", "ticket_adapters", "write_experiment"]


def test_champion_set_defended_and_moved(
    tmp_path: Path, tiny_model_dir: Path, mlflow_store: str, ticket_adapters: dict
) -> None:
    runs = run_champion_flow(tmp_path / "project", tiny_model_dir, ticket_adapters, mlflow_store)
    worse, model = runs.worse, MODEL

    # Side by side: summary, Markdown and HTML show base -> champion -> candidate and the
    # answers that changed between champion and candidate.
    summary = json.loads((worse.run_dir / "summary.json").read_text(encoding="utf-8"))
    roles = [(v["name"], v["role"]) for v in summary["variants"]]
    assert roles == [("base", "baseline"), ("champion", "champion"), ("lora", "candidate")]
    tickets = next(s for s in summary["suites"] if s["name"] == "tickets")
    assert tickets["scores"]["base"] < tickets["scores"]["lora"] < tickets["scores"]["champion"]
    blocks = summary["champions"][0]["samples"]
    block = next(b for b in blocks if b["suite"] == "tickets")
    assert block["baseline"] == "champion" and block["n_changed"] > 0
    assert all(set(i["predictions"]) == {"champion", "lora"} for i in block["items"])
    assert summary["check_kinds"]["not_worse_than_champion"]["shown_as"] == ["champion"]
    md = (worse.run_dir / "report.md").read_text(encoding="utf-8")
    assert "## Against the champion" in md
    assert f"### lora vs {model} version 1 (alias champion) ❌" in md
    row = next(ln for ln in md.splitlines() if ln.startswith("| tickets | acc |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert [float(x) for x in cells[2:5]] == pytest.approx(
        [tickets["scores"][v] for v in ("base", "champion", "lora")], abs=5e-4
    )
    assert cells[8] == "-0.050"  # the bound
    assert "Answers that differ between the champion and lora" in md
    html = (worse.run_dir / "report.html").read_text(encoding="utf-8")
    assert 'id="champion"' in html and "answers that differ, champion → lora" in html
    job = (worse.run_dir / "job_summary.md").read_text(encoding="utf-8")
    assert "**Against the champion**" in job
