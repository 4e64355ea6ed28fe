"""The champion's bad inputs end the run before any verdict, with the exit code of their kind:
a named alias, version or model that does not exist (2, listing what the registry has), a
registry that cannot be reached (3, naming the tracking URI), champion files that fail adapter
validation (2), a champion of another base (2, naming both fingerprints, unless
``across_bases``). Also: ``champion: none``, a directory champion, comparison arms."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.conftest import make_tiny_model
from tests.pipeline.test_champion import gate, ticket_adapters, write_experiment
from tests.tracking.conftest import log_fake_gate_run

__all__ = ["ticket_adapters"]  # the module fixture, shared


def evaluate(exp: Path) -> tuple[int, str]:
    from harness.cli import app

    res = CliRunner().invoke(app, ["evaluate", str(exp)], env={"COLUMNS": "400"})
    return res.exit_code, " ".join(res.output.split())


@pytest.fixture
def registered(mlflow_store: str, ticket_adapters: dict) -> str:
    """Registered model ``exp-lora``: version 1 GO (champion), version 2 NO-GO; real files."""
    log_fake_gate_run("g1", "GO", 5, ticket_adapters[7])
    log_fake_gate_run("g2", "NO-GO", 2, ticket_adapters[5])
    return mlflow_store


@pytest.mark.parametrize(
    ("champion", "field", "says"),
    [
        (
            "champion:\n  model: exp-lora\n  alias: production\n",
            "champion.alias",
            "has no alias 'production'; it has versions 1 (GO), 2 (NO-GO); "
            "aliases candidate -> 2, champion -> 1",
        ),
        ("champion:\n  model: exp-lora\n  version: 9\n", "champion.version", "has no version 9"),
        (
            "champion:\n  model: exp-qlora\n",
            "champion.model",
            "has no registered model 'exp-qlora' (it has exp-lora)",
        ),
    ],
)
def test_named_champion_missing_exits_2_listing_the_registry(
    tmp_path: Path,
    tiny_model_dir: Path,
    registered: str,
    ticket_adapters: dict,
    champion: str,
    field: str,
    says: str,
) -> None:
    exp = write_experiment(
        tmp_path / "p", tiny_model_dir, ticket_adapters[9], champion=champion, name="exp"
    )
    code, out = evaluate(exp)
    assert code == 2, out
    assert f"field '{field}'" in out and says in out and "champion: none" in out
    assert "Loading base model" not in out  # found out before any model loads


def test_unreachable_registry_exits_3_naming_the_uri(
    tmp_path: Path,
    tiny_model_dir: Path,
    isolated_env: Path,
    ticket_adapters: dict,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        uri = f"http://127.0.0.1:{s.getsockname()[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "5")
    exp = write_experiment(tmp_path / "p", tiny_model_dir, ticket_adapters[9], name="exp")
    code, out = evaluate(exp)
    assert code == 3, out
    assert f"RegistryUnreachable: the MLflow model registry at {uri} could not be reached" in out


def test_champion_files_failing_validation_exit_2(
    tmp_path: Path, tiny_model_dir: Path, mlflow_store: str, ticket_adapters: dict
) -> None:
    adapter_dir = tmp_path / "stand-in"  # a config and 1000 bytes that are not safetensors
    adapter_dir.mkdir()
    (adapter_dir / "adapter_config.json").write_text('{"r": 4, "peft_type": "LORA"}')
    (adapter_dir / "adapter_model.safetensors").write_bytes(bytes(range(250)) * 4)
    log_fake_gate_run("g1", "GO", 5, adapter_dir)
    exp = write_experiment(tmp_path / "p", tiny_model_dir, ticket_adapters[9], name="exp")
    code, out = evaluate(exp)
    assert code == 2, out
    assert (
        "the champion (registered model 'exp-lora' version 1 (alias 'champion')) is not a " in out
    )
    assert "usable adapter for this base" in out and "set champion: none" in out


def test_champion_directory_failing_preflight_exits_2(
    tmp_path: Path, tiny_model_dir: Path, isolated_env: Path, ticket_adapters: dict
) -> None:
    broken = tmp_path / "broken"
    shutil_copy(ticket_adapters[7], broken)
    cfg = broken / "adapter_config.json"
    cfg.write_text(cfg.read_text().replace('"q_proj"', '"no_such_proj"'), encoding="utf-8")
    exp = write_experiment(
        tmp_path / "p", tiny_model_dir, ticket_adapters[9],
        champion=f"champion:\n  adapter: {broken}\n", name="exp",
    )  # fmt: skip
    code, out = evaluate(exp)
    assert code == 2, out
    assert "no_such_proj" in out


def shutil_copy(src: Path, dst: Path) -> None:
    import shutil

    shutil.copytree(src, dst)


def _tag_version(uri: str, tags: dict[str, str]) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    for k, v in tags.items():
        client.set_model_version_tag("exp-lora", "1", k, v)


def test_champion_of_another_base_exits_2_naming_both_fingerprints(
    tmp_path: Path, tiny_model_dir: Path, registered: str, ticket_adapters: dict
) -> None:
    _tag_version(registered, {"harness.base_fingerprint": "0" * 32})
    exp = write_experiment(tmp_path / "p", tiny_model_dir, ticket_adapters[9], name="exp")
    code, out = evaluate(exp)
    assert code == 2, out
    from harness.models import fingerprint_files

    assert f"fingerprint {'0' * 32}" in out
    assert f"has fingerprint {fingerprint_files(tiny_model_dir)}" in out
    assert "champion: none" in out and "across_bases: true" in out
    assert "Scoring" not in out  # stopped before any scoring


def test_across_bases_scores_the_champion_on_its_own_base(
    tmp_path: Path, tiny_model_dir: Path, registered: str, ticket_adapters: dict
) -> None:
    """The base was upgraded (another tiny llama, same shapes and tokenizer): the champion
    recorded for the old base is scored there, and the report says so."""
    from harness.models import fingerprint_files, variant_fingerprint

    old_fp = fingerprint_files(tiny_model_dir)
    _tag_version(
        registered,
        {
            "harness.base_fingerprint": old_fp,
            "harness.base_model": str(tiny_model_dir),
            "harness.dtype": "float32",
        },
    )
    new_base = make_tiny_model(tmp_path / "new-base", seed=1)
    exp = write_experiment(
        tmp_path / "p", new_base, ticket_adapters[9],
        champion="champion:\n  across_bases: true\n", name="exp",
    )  # fmt: skip
    result, log = gate(exp)
    (rec,) = result.gate_summary.champions
    assert rec.own_base == str(tiny_model_dir) and rec.version == "1"
    assert "scored on its own base" in rec.note and old_fp in rec.note
    assert "Loading the champion's own base" in log
    champ = next(v for v in result.gate_summary.variants if v.role == "champion")
    adapter_fp = fingerprint_files(ticket_adapters[7])
    assert champ.fingerprint == variant_fingerprint(old_fp, adapter_fp, "none", "float32")
    checks = [c for c in result.outcome.checks if c.kind == "not_worse_than_champion"]
    assert checks and {c.variant for c in checks} == {"lora"}
    md = (result.run_dir / "report.md").read_text(encoding="utf-8")
    assert "scored on its own base" in md


def test_directory_champion_and_a_comparison_arm(
    tmp_path: Path, tiny_model_dir: Path, mlflow_store: str, ticket_adapters: dict
) -> None:
    """A directory champion gates every release candidate; a comparison arm gets no champion
    check and never moves the registry's champion alias."""
    from mlflow.tracking import MlflowClient

    exp = write_experiment(
        tmp_path / "p", tiny_model_dir, ticket_adapters[9],
        champion=f"champion:\n  adapter: {ticket_adapters[7]}\n", name="exp",
    )  # fmt: skip
    text = exp.read_text(encoding="utf-8").replace(
        "scoring:",
        f"  - name: arm\n    adapter: {ticket_adapters[5]}\n    role: comparison\nscoring:",
    )
    exp.write_text(text, encoding="utf-8")
    result, _ = gate(exp)
    assert result.outcome.verdict == "GO", result.outcome.reasons
    (rec,) = result.gate_summary.champions
    assert (rec.candidate, rec.source, rec.adapter) == (
        "lora",
        "directory",
        str(ticket_adapters[7]),
    )
    champ = [c for c in result.outcome.checks if c.kind == "not_worse_than_champion"]
    assert champ and all(c.variant == "lora" and c.passed for c in champ)
    client = MlflowClient(mlflow_store)
    assert "champion" in client.get_registered_model("exp-lora").aliases
    assert "champion" not in client.get_registered_model("exp-arm").aliases


def test_champion_none_gates_against_the_base_alone(
    tmp_path: Path, tiny_model_dir: Path, registered: str, ticket_adapters: dict
) -> None:
    """champion: none looks nothing up (not even a registry that has a champion)."""
    from rich.console import Console

    from harness._gate.champion import find_champions
    from harness._gate.scoring import Steps
    from harness.config import load_experiment

    exp = write_experiment(
        tmp_path / "p", tiny_model_dir, ticket_adapters[9], champion="champion: none\n", name="exp"
    )
    loaded = load_experiment(exp)
    assert loaded.champion is None
    found = find_champions(loaded, Steps(Console(quiet=True)))
    assert found.champions == [] and found.mapping() == {}
    assert found.records({}) == []


@pytest.mark.parametrize(
    ("champion", "field", "says"),
    [
        ("champion:\n  model: m\n  adapter: a\n", "champion", "not both"),
        ("champion:\n  model: m\n  alias: a\n  version: 2\n", "champion", "'alias' or 'version'"),
        ("champion:\n  alias: a\n", "champion", "add 'model'"),
        ("champion:\n  adapter: nowhere\n", "champion.adapter", "not found"),
        ("champion: always\n", "champion", ""),
    ],
)
def test_bad_champion_config_exits_2(
    tmp_path: Path, tiny_model_dir: Path, isolated_env: Path, ticket_adapters: dict,
    champion: str, field: str, says: str,
) -> None:  # fmt: skip
    from harness.config import ConfigError, load_experiment

    exp = write_experiment(tmp_path / "p", tiny_model_dir, ticket_adapters[9], champion=champion)
    with pytest.raises(ConfigError) as err:
        load_experiment(exp)
    assert (err.value.field or "").startswith(field) and says in err.value.render()


def test_a_candidate_may_not_take_the_champions_name(
    tmp_path: Path, tiny_model_dir: Path, isolated_env: Path, ticket_adapters: dict
) -> None:
    from harness.config import ConfigError, load_experiment

    exp = write_experiment(tmp_path / "p", tiny_model_dir, ticket_adapters[9])
    exp.write_text(exp.read_text().replace("- name: lora", "- name: champion"), encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_experiment(exp)
    assert err.value.field == "candidates.0.name" and "champion: none" in err.value.fix
    # with the comparison off the name is free
    exp.write_text(exp.read_text() + "champion: none\n", encoding="utf-8")
    assert load_experiment(exp).candidates[0].name == "champion"
