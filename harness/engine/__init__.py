"""Scoring requests for many variants of one base; lm-eval interop."""

from harness.engine._examples import training_examples
from harness.engine._lm import HarnessLM
from harness.engine._scorer import SharedContextScorer, TokenRequest
from harness.engine._suite_runner import build_task, run_suite

__all__ = [
    "HarnessLM",
    "SharedContextScorer",
    "TokenRequest",
    "build_task",
    "run_suite",
    "training_examples",
]
