"""Checks and the verdict, from paired per-item results.

Every kind of check is declared once in the kind registry (``_registry``; the built-in kinds
in ``_kinds``): the checks, the power figures, the pytest plugin's messages and, through
summary.json's ``check_kinds``, the reports all read it.
"""

from harness.gates._check import Check, check_name
from harness.gates._checks import PairingError, apply_holm, paired_arrays, paired_check
from harness.gates._kinds import (
    FORGETTING_REMEDIES,
    IMPROVES,
    MERGE_EQUIVALENCE,
    NO_FORGETTING,
    NOT_A_NOOP,
    NOT_WORSE_THAN_CHAMPION,
    QUANTIZATION_GAP,
    merge_equivalence_check,
    not_a_noop_check,
)
from harness.gates._plan import PlannedSuite, PlanRow, PowerPlan, plan_power
from harness.gates._registry import (
    CheckKind,
    Evidence,
    Subject,
    check_kind,
    check_kinds,
    find_check_kind,
    register_check_kind,
    unregister_check_kind,
)
from harness.gates._verdict import GateOutcome, build_checks, decide, evaluate

__all__ = [
    "FORGETTING_REMEDIES",
    "IMPROVES",
    "MERGE_EQUIVALENCE",
    "NOT_A_NOOP",
    "NOT_WORSE_THAN_CHAMPION",
    "NO_FORGETTING",
    "QUANTIZATION_GAP",
    "Check",
    "CheckKind",
    "Evidence",
    "GateOutcome",
    "PairingError",
    "PlanRow",
    "PlannedSuite",
    "PowerPlan",
    "Subject",
    "apply_holm",
    "build_checks",
    "check_kind",
    "check_kinds",
    "check_name",
    "decide",
    "evaluate",
    "find_check_kind",
    "merge_equivalence_check",
    "not_a_noop_check",
    "paired_arrays",
    "paired_check",
    "plan_power",
    "register_check_kind",
    "unregister_check_kind",
]
