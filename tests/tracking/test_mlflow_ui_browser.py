"""Where a user compares the LoRA and QLoRA child runs: MLflow's own UI, in headless chromium.

A real ``mlflow server`` on a temporary sqlite store holding a gate run as ``run_gate`` logs it
(parent run, ``lora`` and ``qlora`` child runs with scores and loss curves). The test walks the
path docs/mlflow.md describes: open the experiment in the model-training view, expand the gate
run, tick both candidates, press Compare, and check the comparison shows both runs and their
scores. With ``HARNESS_UPDATE_SCREENSHOTS=1`` it also writes the screenshots the docs show.
"""

from __future__ import annotations

import math
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img"
GATE_RUN = "20261203-101500-ab12cd"

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"{CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium)",
)


def _log_gate_run() -> str:
    """A gate run with a LoRA and a QLoRA candidate, logged through the harness; experiment id."""
    from harness.tracking import gate_run

    with gate_run("ticket-router", GATE_RUN) as log:
        log.log_params({"candidates": "lora,qlora", "suites": "ticket_routing,general"})
        for name, floor, step_s, task, general in (
            ("lora", 0.90, 1.7, 0.62, 0.41),
            ("qlora", 1.05, 2.7, 0.58, 0.39),
        ):
            curve = [(s, 2.6 * math.exp(-s / 40) + floor) for s in range(1, 121, 3)]
            log.log_variant(
                name,
                {"train.recipe": f"recipes/{name}.yaml", "train.steps": 120},
                {
                    "ticket_routing.acc": task,
                    "general.acc": general,
                    "train.train_seconds": 120 * step_s,
                },
                curve,
            )
        log.log_metrics({"base.ticket_routing.acc": 0.31, "checks_failed": 0, "checks_total": 6})
        log.set_tags({"harness.verdict": "GO"})
    from mlflow.tracking import MlflowClient

    exp = MlflowClient().get_experiment_by_name("ticket-router")
    assert exp is not None
    return str(exp.experiment_id)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(mlflow_store: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(server URL, experiment id) of an ``mlflow server`` on the test's store."""
    experiment_id = _log_gate_run()
    port = _free_port()
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "mlflow", "server", "--workers", "1"),
            *("--backend-store-uri", mlflow_store, "--host", "127.0.0.1", "--port", str(port)),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{url}/health", timeout=2)
                break
            except OSError:
                assert proc.poll() is None, (tmp_path / "server.log").read_text()
                assert time.monotonic() < deadline, "mlflow server did not start in 120 s"
                time.sleep(0.5)
        yield url, experiment_id
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser.new_page(viewport={"width": 1400, "height": 900})
        finally:
            browser.close()


def _shoot(page: Any, name: str, *, full_page: bool = False) -> None:
    if os.environ.get("HARNESS_UPDATE_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / name), full_page=full_page)


def _click(page: Any, target: Any, action: str = "click", timeout_s: float = 60.0) -> None:
    """Click (or ``check``) ``target``, first dismissing MLflow's onboarding popovers.

    MLflow 3.17's GenAI overview opens a modal tip ("Detect Issues in Your Traces", button "Got
    it") a moment after the page loads; while it is open the page takes no clicks. On a fast
    machine the click wins the race, on a loaded CI machine the tip does, so the test closes any
    open dialog the way a user would before clicking.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        got_it = page.get_by_role("button", name="Got it")
        for i in range(got_it.count()):
            if got_it.nth(i).is_visible():
                got_it.nth(i).click()
        try:
            getattr(target, action)(timeout=3_000)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise


def test_lora_and_qlora_child_runs_compared_in_the_mlflow_ui(
    server: tuple[str, str], page: Any
) -> None:
    url, experiment_id = server
    # MLflow 3.17 opens every experiment in its GenAI view until the browser is switched to
    # "Model training" (remembered per browser; ``?workflowType=machine_learning`` does it too).
    page.goto(f"{url}/#/experiments/{experiment_id}")
    _click(page, page.get_by_text("Model training", exact=True).first)
    # The model-training view: the runs table, with the gate run as a parent row.
    parent = page.locator("[role=gridcell]", has_text=GATE_RUN).first
    parent.wait_for(timeout=60_000)
    assert "/runs" in page.url
    _click(page, parent.locator("button").first)  # expand: the variants are its child runs
    for name in ("lora", "qlora"):
        row = page.locator(".ag-row", has=page.get_by_text(name, exact=True))
        row.first.wait_for(timeout=20_000)
        _click(page, row.first.locator("input[type=checkbox]").first, "check")
    close = page.get_by_role("button", name="Close")
    if close.count():  # MLflow's assistant panel takes a third of the window
        _click(page, close.first)
    _shoot(page, "mlflow-runs-select-lora-qlora.png")

    _click(page, page.get_by_role("button", name="Compare", exact=True))
    page.get_by_text("Comparing 2 Runs").wait_for(timeout=30_000)
    assert "compare-runs" in page.url
    body = page.locator("body")
    # Both candidates, their scores and the training-loss metric side by side.
    for metric in ("ticket_routing.acc", "general.acc", "train_loss"):
        page.get_by_text(metric).first.wait_for(timeout=20_000)
    text = body.inner_text()
    for value in ("lora", "qlora", "0.62", "0.58", "0.41", "0.39"):
        assert value in text, value
    # The screenshot shows the scores table: run names above, one metric per row.
    _click(page, page.get_by_text("Visualizations", exact=True).first)  # fold the plots away
    page.get_by_text("general.acc").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    _shoot(page, "mlflow-compare-lora-qlora.png")
