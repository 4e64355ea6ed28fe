"""``champion:`` in an experiment: the adapter a release candidate must not be worse than.

Three sources:

- omitted (or ``{across_bases: ...}`` alone): *auto*. Each release candidate is compared with
  the version its own registered model (``<experiment>-<candidate>``) carries under the alias
  ``champion``; where there is none yet (a first release) it is gated against the base alone;
- ``{model: NAME}`` with ``alias: A`` (default ``champion``) or ``version: N``: one version of
  any registered model, for every release candidate (it must exist);
- ``{adapter: DIR}``: an adapter directory, for every release candidate.

``champion: none`` turns the comparison off. ``across_bases: true`` lets a champion trained on
another base (its recorded base fingerprint differs) be scored on that base instead of
stopping the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.config._errors import ConfigError

if TYPE_CHECKING:
    from harness.config._experiment import CandidateSpec

DEFAULT_ALIAS = "champion"
CHAMPION_VARIANT = "champion"


class ChampionSpec(BaseModel):
    """The champion to gate against (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(
        None, min_length=1, description="A registered model of the MLflow model registry."
    )
    alias: str | None = Field(
        None, min_length=1, description="Its alias to compare with (default 'champion')."
    )
    version: int | None = Field(None, ge=1, description="Or one version of it, by number.")
    adapter: Path | None = Field(None, description="Or an adapter directory.")
    across_bases: bool = Field(
        False,
        description="A champion recorded for another base is scored on that base (its own), "
        "instead of stopping the run with exit 2.",
    )

    @model_validator(mode="after")
    def _one_source(self) -> ChampionSpec:
        if self.model is not None and self.adapter is not None:
            raise ValueError(
                "give 'model' (a registered model) or 'adapter' (a directory), not both"
            )
        if self.alias is not None and self.version is not None:
            raise ValueError("give 'alias' or 'version', not both")
        if self.model is None and (self.alias is not None or self.version is not None):
            raise ValueError("'alias' and 'version' name a version of 'model': add 'model'")
        return self

    @property
    def auto(self) -> bool:
        """No source named: each release candidate's own registered model, alias champion."""
        return self.model is None and self.adapter is None

    @property
    def wanted_alias(self) -> str | None:
        """The alias looked up (None when a version number is named)."""
        return None if self.version is not None else (self.alias or DEFAULT_ALIAS)

    def describe(self) -> str:
        if self.adapter is not None:
            return f"adapter directory {self.adapter}"
        if self.model is None:
            return f"each release candidate's registered model, alias '{DEFAULT_ALIAS}'"
        which = f"version {self.version}" if self.version else f"alias '{self.wanted_alias}'"
        return f"registered model '{self.model}', {which}"


def decides_release(candidate: CandidateSpec) -> bool:
    """Whether a candidate's verdict is a release (``role: release``, the default): only
    those are gated against a champion, and only their GO moves the ``champion`` alias."""
    return getattr(candidate, "role", "release") != "comparison"


def champion_variants(
    spec: ChampionSpec | None, candidates: Sequence[CandidateSpec]
) -> dict[str, str]:
    """Release candidate -> the name of the champion variant it is compared with.

    One champion for every release candidate (a named model or directory, or auto with one
    release candidate) is the variant ``champion``; auto with several release candidates
    gives each its own, ``champion-<candidate>``. Empty when the comparison is off.
    """
    if spec is None:
        return {}
    release = [c.name for c in candidates if decides_release(c)]
    if not spec.auto or len(release) == 1:
        return {name: CHAMPION_VARIANT for name in release}
    return {name: f"{CHAMPION_VARIANT}-{name}" for name in release}


def check_champion_names(
    spec: ChampionSpec | None, candidates: Sequence[CandidateSpec], file: Path
) -> None:
    """A candidate may not take the name of a champion variant."""
    taken = set(champion_variants(spec, candidates).values())
    for i, c in enumerate(candidates):
        if c.name in taken:
            raise ConfigError(
                file,
                f"candidates.{i}.name",
                f"'{c.name}' is the name of the champion this run gates against",
                "rename the candidate, or set champion: none to gate against the base alone",
            )
