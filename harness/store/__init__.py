"""Per-item results by content key: cached baselines and provenance."""

from harness.store._sqlite import ResultKey, ResultStore

__all__ = ["ResultKey", "ResultStore"]
