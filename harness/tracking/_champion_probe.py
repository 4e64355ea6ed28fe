"""Whether a registered model has a champion yet, asked without fetching anything.

``harness plan`` plans the ``not_worse_than_champion`` checks only for release candidates that
will get them: in the automatic mode that is the ones whose registered model already carries
the alias. :func:`find_champion` answers that too, but downloads the adapter; the plan loads
no model and writes nothing, so it asks the registry this one question instead.
"""

from __future__ import annotations

from pathlib import Path

from harness.tracking._champion import _ask, _Missing
from harness.tracking._mlflow import tracking_uri


def champion_alias_exists(model: str, alias: str, uri: str | None = None) -> bool:
    """True when ``model`` has a version under ``alias``. A sqlite store that does not exist
    yet has none (and is not created); raises ``RegistryUnreachable`` when the registry does
    not answer."""
    from mlflow.tracking import MlflowClient

    uri = uri or tracking_uri()
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return False
    client = MlflowClient(uri)
    try:
        _ask(uri, lambda: client.get_model_version_by_alias(model, alias))
    except _Missing:
        return False
    return True
