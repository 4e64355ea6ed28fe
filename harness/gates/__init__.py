"""Checks and the verdict, from paired per-item results."""

from harness.gates._checks import Check, PairingError, paired_arrays, paired_check
from harness.gates._merge import merge_equivalence_check
from harness.gates._noop import not_a_noop_check
from harness.gates._verdict import FORGETTING_REMEDIES, GateOutcome, build_checks, decide

__all__ = [
    "FORGETTING_REMEDIES",
    "Check",
    "GateOutcome",
    "PairingError",
    "build_checks",
    "decide",
    "merge_equivalence_check",
    "not_a_noop_check",
    "paired_arrays",
    "paired_check",
]
