"""Scoring requests for many variants of one base; lm-eval interop."""

from harness.engine._examples import training_examples
from harness.engine._lm import HarnessLM, place_model
from harness.engine._multi import VariantScorer, active_variant
from harness.engine._parallel import process_state, score_data_parallel, shard_by_context
from harness.engine._prompt_learning import PlainScorer, is_prompt_learning
from harness.engine._registry_run import lm_eval_aggregate
from harness.engine._scorer import BASE_VARIANT, SharedContextScorer, TokenRequest
from harness.engine._suite_runner import build_task, run_suite

__all__ = [
    "BASE_VARIANT",
    "HarnessLM",
    "PlainScorer",
    "SharedContextScorer",
    "TokenRequest",
    "VariantScorer",
    "active_variant",
    "build_task",
    "is_prompt_learning",
    "lm_eval_aggregate",
    "place_model",
    "process_state",
    "run_suite",
    "score_data_parallel",
    "shard_by_context",
    "training_examples",
]
