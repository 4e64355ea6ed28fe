from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.config import ConfigError
from harness.tracking import ADAPTER_MAX_MB_ENV, gate_run, tracking_uri
from tests.tracking.conftest import log_fake_gate_run


def test_uri_defaults_to_sqlite_in_cwd(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    assert tracking_uri() == f"sqlite:///{tmp_path.as_posix()}/mlflow.db"


def test_failed_body_ends_run_failed(mlflow_store: str) -> None:
    from mlflow.tracking import MlflowClient

    with pytest.raises(RuntimeError), gate_run("exp", "r1") as log:
        run_id = log.run_id
        raise RuntimeError("boom")
    assert MlflowClient(tracking_uri()).get_run(run_id).info.status == "FAILED"


def test_run_of_a_killed_process_is_ended_by_the_next_run(mlflow_store: str) -> None:
    from mlflow.tracking import MlflowClient

    code = (
        "import os\n"
        "from harness.tracking import gate_run\n"
        "with gate_run('exp', 'killed') as log:\n"
        "    print(log.run_id, flush=True)\n"
        "    os._exit(9)\n"  # dies like SIGKILL: no cleanup runs
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    orphan = proc.stdout.strip().splitlines()[-1]
    client = MlflowClient(tracking_uri())
    assert client.get_run(orphan).info.status == "RUNNING"
    with gate_run("exp", "next"):
        pass
    assert client.get_run(orphan).info.status == "KILLED"


def test_gate_runs_starting_together_on_a_fresh_store_all_succeed(isolated_env: Path) -> None:
    # Creating a fresh sqlite store runs schema migrations; unserialised, concurrent starts
    # fail with "table ... already exists".
    code = (
        "from harness.tracking import gate_run\n"
        "with gate_run('exp', 'together') as log:\n"
        "    log.log_metrics({'x': 1.0})\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    errors = [p.communicate(timeout=300)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], errors
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri())
    exp = client.get_experiment_by_name("exp")
    runs = client.search_runs([exp.experiment_id])
    assert len(runs) == 3 and {r.info.status for r in runs} == {"FINISHED"}


def test_variant_run_holds_item_table_curve_and_adapter_files(
    mlflow_store: str, adapter_dir: Path, tmp_path: Path
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    parent, child = log_fake_gate_run("r1", "GO", 5, adapter_dir)
    client = MlflowClient(mlflow_store)
    run = client.get_run(child)
    assert run.data.tags["mlflow.parentRunId"] == parent
    assert run.data.tags["harness.run_kind"] == "variant"
    assert run.data.tags["harness.adapter_logged"] == "files"
    assert [m.value for m in client.get_metric_history(child, "train_loss")] == [2.0, 1.5]

    table = mlflow.load_table("items/tickets.json", run_ids=[child])
    assert list(table.columns[:5]) == [
        "item_id",
        "capability",
        "baseline_score",
        "candidate_score",
        "changed",
    ]
    assert table["item_id"].tolist() == [f"i{k}" for k in range(6)]
    # Baseline right on 0 and 3, candidate on 0-4: items 1, 2 and 4 changed.
    assert table.loc[table["changed"], "item_id"].tolist() == ["i1", "i2", "i4"]

    got = Path(client.download_artifacts(child, "adapter", str(tmp_path / "dl")))
    assert sorted(p.name for p in got.iterdir()) == sorted(p.name for p in adapter_dir.iterdir())
    weights = "adapter_model.safetensors"
    assert (got / weights).read_bytes() == (adapter_dir / weights).read_bytes()


def test_adapter_over_the_size_limit_is_logged_by_location(
    mlflow_store: str, adapter_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv(ADAPTER_MAX_MB_ENV, "0.0005")  # 500 bytes; the weights are 1000
    _, child = log_fake_gate_run("r1", "GO", 5, adapter_dir)
    client = MlflowClient(mlflow_store)
    tags = client.get_run(child).data.tags
    assert tags["harness.adapter_logged"] == "location"
    assert tags["harness.adapter_location"] == str(adapter_dir.resolve())
    names = {f.path for f in client.list_artifacts(child, "adapter")}
    assert names == {"adapter/adapter_config.json", "adapter/LOCATION.txt"}


@pytest.mark.parametrize("value", ["lots", "-1", "nan", "inf"])
def test_bad_adapter_size_limit_fails_before_any_run(
    mlflow_store: str, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(ADAPTER_MAX_MB_ENV, value)
    with pytest.raises(ConfigError) as info, gate_run("exp", "r"):
        pass
    assert info.value.field == ADAPTER_MAX_MB_ENV and "200" in info.value.fix


def test_registry_candidate_alias_follows_every_run_champion_only_go(
    mlflow_store: str, adapter_dir: Path, tmp_path: Path
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    from harness.tracking import registered_model_name

    name = registered_model_name("exp", "lora")
    assert name == "exp-lora"
    _, child1 = log_fake_gate_run("r1", "GO", 5, adapter_dir)
    _, child2 = log_fake_gate_run("r2", "NO-GO", 1, adapter_dir)
    client = MlflowClient(mlflow_store)
    champion = client.get_model_version_by_alias(name, "champion")
    candidate = client.get_model_version_by_alias(name, "candidate")
    assert (str(champion.version), champion.run_id) == ("1", child1)
    assert (str(candidate.version), candidate.run_id) == ("2", child2)
    assert candidate.tags["harness.verdict"] == "NO-GO"
    assert candidate.tags["harness.gate_run_id"] == "r2"
    assert champion.tags["harness.verdict"] == "GO"
    # What a deployment does: fetch the champion adapter by alias, no run id needed.
    got = Path(
        mlflow.artifacts.download_artifacts(
            f"models:/{name}@champion", dst_path=str(tmp_path / "c")
        )
    )
    assert (got / "adapter_config.json").is_file()


def test_model_names_keep_only_characters_the_registry_accepts() -> None:
    from harness.tracking import registered_model_name

    assert registered_model_name("my exp/1", "lora:a") == "my-exp-1-lora-a"


def test_a_reused_adapter_points_at_the_run_that_holds_its_files(
    mlflow_store: str, adapter_dir: Path, tmp_path: Path
) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(mlflow_store)
    _, first = log_fake_gate_run("r1", "GO", 5, adapter_dir, adapter_key="fp-1")
    _, second = log_fake_gate_run("r2", "GO", 5, adapter_dir, adapter_key="fp-1")
    tags = client.get_run(second).data.tags
    assert tags["harness.adapter_logged"] == "reused"
    assert tags["harness.adapter_run_id"] == first
    assert client.list_artifacts(second, "adapter") == []  # not copied a second time
    # The second registered version still serves the adapter's files, from the first run.
    versions = sorted(client.search_model_versions("name='exp-lora'"), key=lambda v: v.version)
    assert [v.run_id for v in versions] == [first, first]
    got = Path(client.download_artifacts(first, "adapter", str(tmp_path / "dl")))
    assert (got / "adapter_model.safetensors").exists()
    # Another adapter (another key) is copied again.
    _, third = log_fake_gate_run("r3", "GO", 5, adapter_dir, adapter_key="fp-2")
    assert client.get_run(third).data.tags["harness.adapter_logged"] == "files"
