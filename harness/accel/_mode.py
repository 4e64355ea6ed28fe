"""The off switch: a recipe's ``train.speed`` and the ``HARNESS_SPEED`` environment variable.

``auto`` (the default) lets the speed code decide per device; ``off`` runs plain trl/peft
training: no patch, no kernel, no setting of the speed code is used. Either the recipe or the
environment turns it off; neither can turn it on against the other.
"""

from __future__ import annotations

import os
from typing import Literal

SpeedSetting = Literal["auto", "off"]
SPEED_ENV = "HARNESS_SPEED"
_OFF = ("off", "0", "false", "no")
_AUTO = ("", "auto", "on", "1", "true", "yes")


def speed_mode(setting: str = "auto") -> SpeedSetting:
    """The effective mode for a run whose recipe says ``setting``: ``off`` when the recipe or
    ``HARNESS_SPEED`` says off, else ``auto``. An unknown ``HARNESS_SPEED`` is a ConfigError."""
    env = os.environ.get(SPEED_ENV, "").strip().lower()
    if env not in _OFF + _AUTO:
        from harness.config import ConfigError

        raise ConfigError(
            "environment",
            SPEED_ENV,
            f"environment variable {SPEED_ENV}={os.environ[SPEED_ENV]!r} is not a speed mode",
            f"set {SPEED_ENV}=off to train with plain trl/peft, or unset it",
        )
    if setting == "off" or env in _OFF:
        return "off"
    return "auto"
