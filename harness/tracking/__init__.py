"""MLflow logging of gate runs (the only package that imports mlflow)."""

from harness.tracking._mlflow import GateRunLog, gate_run, tracking_uri

__all__ = ["GateRunLog", "gate_run", "tracking_uri"]
