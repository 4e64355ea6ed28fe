"""Finding the champion in a real MLflow sqlite registry and fetching its adapter files, however
the gate logged them (the files, a pointer to an earlier identical copy, or their location)."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from harness.config import ConfigError
from tests.tracking.conftest import log_fake_gate_run


def _find(tmp_path: Path, model: str = "exp-lora", **kw: object):  # type: ignore[no-untyped-def]
    from harness.tracking import find_champion

    args: dict[str, object] = {"alias": "champion", "version": None, "required": True}
    args.update(kw)
    return find_champion(model, dest_root=tmp_path / "champions", **args)  # type: ignore[arg-type]


def _same_files(a: Path, b: Path) -> bool:
    names = sorted(p.name for p in a.iterdir() if p.is_file())
    return names == sorted(p.name for p in b.iterdir() if p.is_file()) and all(
        (a / n).read_bytes() == (b / n).read_bytes() for n in names
    )


def test_champion_files_from_the_registrys_artifacts(
    mlflow_store: str, adapter_dir: Path, tmp_path: Path
) -> None:
    log_fake_gate_run("g1", "GO", 5, adapter_dir)
    found = _find(tmp_path)
    assert (found.model, found.version, found.alias) == ("exp-lora", "1", "champion")
    assert _same_files(found.adapter_dir, adapter_dir)
    assert (
        "registry's artifacts" in found.fetched_from and "models:/exp-lora/1" in found.fetched_from
    )
    assert found.tags["harness.verdict"] == "GO" and found.tracking_uri == mlflow_store
    # A second lookup reuses the fetched copy; by number it is the same version.
    again = _find(tmp_path)
    assert again.adapter_dir == found.adapter_dir
    by_number = _find(tmp_path, alias=None, version=1)
    assert by_number.version == "1" and by_number.alias is None


def test_champion_logged_as_a_pointer_to_an_earlier_copy(
    mlflow_store: str, adapter_dir: Path, tmp_path: Path
) -> None:
    """A run that reused a cached adapter logs no files; its version points at the run that
    holds them (and a version registered from the reusing run itself is followed through its
    ``harness.adapter_run_id`` tag)."""
    from mlflow.tracking import MlflowClient

    _, first_child = log_fake_gate_run("g1", "NO-GO", 2, adapter_dir, adapter_key="k1")
    _, second_child = log_fake_gate_run("g2", "GO", 5, adapter_dir, adapter_key="k1")
    client = MlflowClient(mlflow_store)
    assert client.get_run(second_child).data.tags["harness.adapter_logged"] == "reused"
    assert not client.list_artifacts(second_child, "adapter")
    found = _find(tmp_path)
    assert found.version == "2" and _same_files(found.adapter_dir, adapter_dir)

    # An older-style version whose source is the reusing run itself (no files there).
    mv = client.create_model_version(
        "exp-lora", source=f"runs:/{second_child}/adapter", run_id=second_child
    )
    client.set_registered_model_alias("exp-lora", "champion", mv.version)
    found = _find(tmp_path)
    assert found.version == str(mv.version) and _same_files(found.adapter_dir, adapter_dir)
    assert first_child in found.fetched_from


def test_champion_logged_by_location(
    mlflow_store: str, adapter_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An adapter over HARNESS_MLFLOW_ADAPTER_MAX_MB is logged as its JSON files and
    LOCATION.txt: the champion is read where it lives, or the run stops naming the path."""
    monkeypatch.setenv("HARNESS_MLFLOW_ADAPTER_MAX_MB", "0")
    log_fake_gate_run("g1", "GO", 5, adapter_dir)
    found = _find(tmp_path)
    assert found.adapter_dir == adapter_dir.resolve()
    assert "location only" in found.fetched_from

    shutil.rmtree(adapter_dir)
    with pytest.raises(ConfigError) as err:
        _find(tmp_path / "again")
    assert str(adapter_dir.resolve()) in err.value.problem
    assert "not on this machine" in err.value.problem


def test_no_champion_yet_is_a_first_release_when_not_named(
    mlflow_store: str, adapter_dir: Path, tmp_path: Path
) -> None:
    assert _find(tmp_path, required=False) is None  # no registered model yet
    log_fake_gate_run("g1", "NO-GO", 2, adapter_dir)  # a version, but never GO
    assert _find(tmp_path, required=False) is None


def test_named_champion_that_does_not_exist_lists_what_the_registry_has(
    mlflow_store: str, adapter_dir: Path, tmp_path: Path
) -> None:
    log_fake_gate_run("g1", "GO", 5, adapter_dir)
    log_fake_gate_run("g2", "NO-GO", 2, adapter_dir)
    with pytest.raises(ConfigError) as err:
        _find(tmp_path, alias="production", file=Path("experiment.yaml"))
    msg = err.value.render()
    assert err.value.field == "champion.alias"
    assert "has no alias 'production'" in msg
    assert "versions 1 (GO), 2 (NO-GO)" in msg
    assert "aliases candidate -> 2, champion -> 1" in msg
    with pytest.raises(ConfigError) as err:
        _find(tmp_path, alias=None, version=7)
    assert err.value.field == "champion.version" and "has no version 7" in err.value.problem
    with pytest.raises(ConfigError) as err:
        _find(tmp_path, model="exp-qlora")
    assert err.value.field == "champion.model"
    assert "no registered model 'exp-qlora' (it has exp-lora)" in err.value.problem


def test_unreachable_registry_names_the_tracking_uri(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.tracking import RegistryUnreachable

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    uri = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    with pytest.raises(RegistryUnreachable) as err:
        _find(tmp_path, required=False)
    assert not isinstance(err.value, ConfigError)
    assert f"registry at {uri} could not be reached" in str(err.value)
