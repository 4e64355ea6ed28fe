"""The error a training run stops with when it could only produce a useless adapter."""

from __future__ import annotations

from harness.config import ConfigError


class TrainingFailed(ConfigError):
    """What the monitor saw, at which step, and the recipe field to change.

    A ConfigError because the fix is a recipe change: the CLI prints it without a traceback and
    exits with the 'could not decide' code, and no adapter is saved.
    """

    def __init__(self, recipe: str, field: str, step: int, problem: str, fix: str) -> None:
        self.step = step
        super().__init__(recipe, field, f"training stopped at step {step}: {problem}", fix)
