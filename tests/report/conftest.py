"""Sample gate summaries shared by the report tests (GO, NO-GO, and a NaN delta)."""

from __future__ import annotations

import copy
from types import SimpleNamespace
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


def _curve(start: float, end: float, steps: int, every: int) -> list[list[float]]:
    """A smooth, decaying loss curve (what a trainer logs every ``every`` steps)."""
    out = []
    for step in range(every, steps + 1, every):
        frac = step / steps
        out.append([step, round(end + (start - end) * (1 - frac) ** 2, 4)])
    return out


def make_comparison_summary() -> dict[str, Any]:
    """GO-vs-NO-GO LoRA and QLoRA candidates with every optional training fact and samples.

    The samples are produced by :func:`harness.report.changed_samples` from real
    ``ItemResult`` objects, the same path the gate run takes.
    """
    from harness.config import ItemResult
    from harness.report import changed_samples

    s = make_nogo_summary()
    s["reasons"] = [
        "qlora::general/arithmetic::no_forgetting: change -0.120, lower bound -0.180 <= "
        "allowed drop -0.120",
        "forgetting in arithmetic: try to lower the LoRA rank",
    ]
    s["policy"] = {"alpha": 0.05}
    s["checks"] = [
        s["checks"][0],
        _check(
            name="lora::general::no_forgetting",
            kind="no_forgetting",
            suite="general",
            baseline=0.65,
            candidate=0.655,
            delta=0.005,
            ci=[-0.01, 0.02],
            reason="change +0.005, lower bound -0.010 > allowed drop -0.050",
            n=200,
        ),
        _check(
            name="lora::general/arithmetic::no_forgetting",
            kind="no_forgetting",
            suite="general",
            capability="arithmetic",
            baseline=0.70,
            candidate=0.69,
            delta=-0.01,
            ci=[-0.04, 0.02],
            margin=0.12,
            reason="change -0.010, lower bound -0.040 > allowed drop -0.120",
            n=100,
        ),
        _check(
            name="qlora::ticket_routing::improves",
            variant="qlora",
            candidate=0.59,
            delta=0.41,
            ci=[0.35, 0.47],
            reason="gain +0.410, lower bound +0.350 > required gain +0.050",
        ),
        _check(
            name="qlora::general::no_forgetting",
            kind="no_forgetting",
            variant="qlora",
            suite="general",
            baseline=0.65,
            candidate=0.6,
            delta=-0.05,
            ci=[-0.08, -0.02],
            reason="change -0.050, lower bound -0.080 > allowed drop -0.100",
            margin=0.10,
            n=200,
        ),
        _check(
            name="qlora::general/arithmetic::no_forgetting",
            kind="no_forgetting",
            variant="qlora",
            suite="general",
            capability="arithmetic",
            baseline=0.70,
            candidate=0.58,
            delta=-0.12,
            ci=[-0.18, -0.06],
            margin=0.12,
            passed=False,
            reason="change -0.120, lower bound -0.180 <= allowed drop -0.120",
            n=100,
        ),
        _check(
            name="qlora::ticket_routing::quantization_gap",
            kind="quantization_gap",
            variant="qlora",
            candidate=0.59,
            baseline=0.61,
            delta=-0.02,
            ci=[-0.05, 0.01],
            margin=0.03,
            reason="vs lora: change -0.020, lower bound -0.050 <= allowed drop -0.030",
            passed=False,
        ),
    ]
    lora_training = s["variants"][1]["training"]
    lora_training.update(
        loss_curve=_curve(2.4, 0.21, 120, 5),
        val_loss_curve=_curve(2.5, 0.35, 120, 30),
        tokens_per_second=1840.5,
        peak_memory_mb=1650.0,
        adapter_size_bytes=1_843_200,
        memory_estimate_mb={"full": 2900.0, "lora": 1100.0, "qlora": 620.0},
    )
    s["variants"][2].update(
        adapter="/runs/qlora/adapter",
        training={
            **lora_training,
            "recipe": "training/qlora.yaml",
            "train_seconds": 402.7,
            "final_loss": 0.27,
            "loss_curve": _curve(2.4, 0.27, 120, 5),
            "val_loss_curve": _curve(2.5, 0.41, 120, 30),
            "tokens_per_second": 905.2,
            "peak_memory_mb": 780.0,
        },
    )
    s["suites"][0]["scores"]["qlora"] = 0.59
    s["suites"][1]["scores"] = {"base": 0.65, "lora": 0.655, "qlora": 0.60}
    s["suites"][1]["capabilities"]["reading"]["qlora"] = 0.61
    s["suites"][1]["capabilities"]["arithmetic"]["qlora"] = 0.58
    s["suites"][1]["capabilities"]["arithmetic"]["lora"] = 0.69

    labels = ["billing", "shipping", "returns", "account"]

    def item(i: int, pred: int, ok: bool, cap: str | None = None) -> ItemResult:
        return ItemResult(
            f"q{i}",
            {"acc": float(ok)},
            cap,
            pred,
            i % 4,
            {"choices": labels, "prompt": f"Ticket {i}: my parcel <b>never</b> arrived"},
        )

    results: dict[str, dict[str, list[ItemResult]]] = {"base": {}, "lora": {}, "qlora": {}}
    for v in results:
        results[v]["ticket_routing"] = [
            item(
                i,
                i % 4 if _right(v, i) else (i + 1) % 4,
                _right(v, i),
            )
            for i in range(1, 30)
        ]
        results[v]["general"] = [
            item(
                i,
                (i + 1) % 4 if v == "qlora" and i % 5 == 0 else i % 4,
                not (v == "qlora" and i % 5 == 0),
                "arithmetic" if i % 2 else "reading",
            )
            for i in range(1, 21)
        ]
    s["samples"] = changed_samples(results, [_Suite("ticket_routing"), _Suite("general")], 10)
    return s


def _right(variant: str, i: int) -> bool:
    """Base gets every 7th ticket right; LoRA 2 in 3; QLoRA like LoRA but misses some."""
    if i % 7 == 0:
        return True
    if variant == "base":
        return False
    return bool(i % 3) and not (variant == "qlora" and i % 5 == 1)


class _Suite:
    def __init__(self, name: str) -> None:
        self.name, self.metric = name, "acc"


@pytest.fixture
def comparison_summary() -> dict[str, Any]:
    return make_comparison_summary()


@pytest.fixture
def report_internals() -> SimpleNamespace:
    """The report package's private helpers that its tests check directly (the only place
    tests reach into ``harness.report._*``)."""
    from harness.report._compare import build_comparison, wilson_interval
    from harness.report._model import build_view
    from harness.report._samples import MAX_TEXT, build_samples
    from harness.report._svg import nice_ticks

    return SimpleNamespace(
        build_comparison=build_comparison,
        build_samples=build_samples,
        build_view=build_view,
        max_text=MAX_TEXT,
        nice_ticks=nice_ticks,
        wilson_interval=wilson_interval,
    )
