"""Whole gate runs on the tiny llama (tests/conftest.py builds it): the CLI, the pytest plugin
and in-process runs, their summary.json, reports and MLflow records.

The MLflow fixtures are shared with tests/tracking (a migrated store copied per test).
"""

from typing import Any

import pytest

from tests.tracking.conftest import _empty_mlflow_db, mlflow_store

__all__ = ["_empty_mlflow_db", "mlflow_store"]


@pytest.fixture
def per_item_results() -> Any:
    """The pytest plugin's lookup of a run's per-item results (``harness._gate_session``)."""
    from harness._gate_session import per_item_results as lookup

    return lookup
