"""Sample gate summaries shared by the report tests (GO, NO-GO, and a NaN delta)."""

from __future__ import annotations

import copy
from typing import Any

import pytest


def _check(**kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": "lora::ticket_routing::improves",
        "kind": "improves",
        "variant": "lora",
        "suite": "ticket_routing",
        "capability": None,
        "metric": "acc",
        "baseline": 0.18,
        "candidate": 0.61,
        "delta": 0.43,
        "ci": [0.37, 0.49],
        "margin": 0.05,
        "passed": True,
        "reason": "lower bound 0.37 >= required gain 0.05",
        "n": 300,
        "mde": 0.04,
    }
    base.update(kw)
    return base


def make_summary() -> dict[str, Any]:
    """A GO summary with one task suite, one general suite and a trained LoRA."""
    return {
        "run_id": "20261129-121500-ab12cd",
        "experiment": "smollm2-ticket-routing",
        "created_at": "2026-11-29T12:15:00+00:00",
        "verdict": "GO",
        "reasons": ["all 3 checks passed"],
        "checks": [
            _check(),
            _check(
                name="lora::general::no_forgetting",
                kind="no_forgetting",
                suite="general",
                baseline=0.70,
                candidate=0.69,
                delta=-0.01,
                ci=[-0.03, 0.01],
                margin=0.05,
                reason="lower bound -0.03 >= allowed drop -0.05",
                n=200,
                mde=None,
            ),
            _check(
                name="lora::general::arithmetic::no_forgetting",
                kind="no_forgetting",
                suite="general",
                capability="arithmetic",
                baseline=0.70,
                candidate=0.69,
                delta=-0.01,
                ci=[-0.04, 0.02],
                margin=0.05,
                reason="lower bound -0.04 >= allowed drop -0.05",
                n=100,
                mde=None,
            ),
        ],
        "variants": [
            {
                "name": "base",
                "role": "baseline",
                "fingerprint": "9f2c00aa",
                "adapter": None,
                "quantization": "none",
                "dtype": "bfloat16",
            },
            {
                "name": "lora",
                "role": "candidate",
                "fingerprint": "7b1e11bb",
                "adapter": "/runs/lora/adapter",
                "quantization": "none",
                "dtype": "bfloat16",
                "training": {
                    "recipe": "training/lora.yaml",
                    "train_seconds": 210.3,
                    "steps": 120,
                    "final_loss": 0.21,
                    "trainable_params": 460800,
                    "trainable_pct": 0.34,
                    "loss_curve": [[1, 2.3], [10, 1.1], [60, 0.5], [120, 0.21]],
                },
            },
        ],
        "suites": [
            {
                "name": "ticket_routing",
                "kind": "task",
                "version": "1.0",
                "fingerprint": "aa11",
                "n_items": 300,
                "metric": "acc",
                "scores": {"base": 0.18, "lora": 0.61},
                "capabilities": {},
            },
            {
                "name": "general",
                "kind": "general",
                "version": "1.0",
                "fingerprint": "bb22",
                "n_items": 200,
                "metric": "acc",
                "scores": {"base": 0.70, "lora": 0.69},
                "capabilities": {
                    "arithmetic": {"base": 0.70, "lora": 0.69},
                    "reading": {"base": 0.60, "lora": 0.62},
                },
            },
        ],
        "mlflow_run_id": "abc123",
        "mlflow_tracking_uri": "sqlite:///mlflow.db",
        "provenance": {
            "harness": "0.1.0",
            "torch": "2.13.0",
            "transformers": "4.57.0",
            "peft": "0.17.0",
            "lm_eval": "0.4.9",
            "device": "cpu",
            "python": "3.11.7",
            "git_commit": None,
            "scoring_version": "1",
        },
        "durations": {
            "baseline_s": 12.0,
            "training_s": 210.0,
            "candidates_s": 25.0,
            "total_s": 260.0,
        },
    }


def make_nogo_summary() -> dict[str, Any]:
    """NO-GO: forgetting on arithmetic fails, and one check has a NaN delta/CI."""
    s = make_summary()
    s["verdict"] = "NO-GO"
    s["reasons"] = [
        "lora: general/arithmetic dropped by -0.12 (CI [-0.18, -0.06]) beyond allowed -0.05",
        "qlora: ticket_routing delta is undefined",
    ]
    s["checks"][2].update(
        candidate=0.58,
        delta=-0.12,
        ci=[-0.18, -0.06],
        passed=False,
        reason="lower bound -0.18 < allowed drop -0.05",
    )
    s["checks"].append(
        _check(
            name="qlora::ticket_routing::improves",
            variant="qlora",
            candidate=float("nan"),
            delta=float("nan"),
            ci=[float("nan"), float("nan")],
            passed=False,
            reason="delta undefined: no paired items",
            mde=float("inf"),
        )
    )
    s["variants"].append(
        {
            "name": "qlora",
            "role": "candidate",
            "fingerprint": "cc33",
            "adapter": None,
            "quantization": "nf4",
            "dtype": "bfloat16",
            "training": None,
        }
    )
    s["suites"][0]["scores"]["qlora"] = float("nan")
    s["suites"][1]["capabilities"]["arithmetic"]["lora"] = 0.58
    return s


@pytest.fixture
def go_summary() -> dict[str, Any]:
    return make_summary()


@pytest.fixture
def nogo_summary() -> dict[str, Any]:
    return make_nogo_summary()


@pytest.fixture(params=["go", "nogo"])
def any_summary(request: pytest.FixtureRequest) -> dict[str, Any]:
    return make_summary() if request.param == "go" else make_nogo_summary()


@pytest.fixture
def evil_summary() -> dict[str, Any]:
    """A suite/check name carrying markup, to prove outputs escape it."""
    s = copy.deepcopy(make_nogo_summary())
    evil = "<script>alert(1)</script>"
    s["suites"][0]["name"] = evil
    s["checks"][0]["suite"] = evil
    s["checks"][0]["name"] = f"lora::{evil}::improves"
    s["reasons"].append(f"suite {evil} | broke & table")
    return s
