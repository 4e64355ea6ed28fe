from __future__ import annotations

from pathlib import Path

import pytest

from harness.config import ConfigError, load_experiment, load_suite


def test_suite_without_kind_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d.jsonl").write_text('{"a": 1}\n')
    p = tmp_path / "s.yaml"
    p.write_text(
        "task: x\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: d.jsonl\n"
        "metric_list:\n  - metric: acc\nmetadata:\n  version: 1\n"
    )
    with pytest.raises(ConfigError) as e:
        load_suite(p)
    assert e.value.field == "metadata.kind" and "task" in e.value.fix


def test_hub_dataset_is_refused_offline(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        "task: x\ndataset_path: cais/mmlu\nmetric_list:\n  - metric: acc\n"
        "metadata:\n  version: 1\n  kind: task\n"
    )
    with pytest.raises(ConfigError) as e:
        load_suite(p)
    assert e.value.field == "dataset_path"


def test_missing_data_file_names_the_split(tmp_path: Path) -> None:
    p = tmp_path / "s.yaml"
    p.write_text(
        "task: x\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: no.jsonl\n"
        "metric_list:\n  - metric: acc\nmetadata:\n  version: 1\n  kind: task\n"
    )
    with pytest.raises(ConfigError) as e:
        load_suite(p)
    assert e.value.field == "dataset_kwargs.data_files.test"


def test_candidate_needs_exactly_one_source(tmp_path: Path) -> None:
    p = tmp_path / "e.yaml"
    p.write_text("name: e\nsuites: [x.yaml]\ncandidates:\n  - name: a\n")
    with pytest.raises(ConfigError) as e:
        load_experiment(p)
    assert "candidates.0" in str(e.value)


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    p = tmp_path / "e.yaml"
    p.write_text("name: e\nsuites: [x.yaml\n")
    with pytest.raises(ConfigError) as e:
        load_experiment(p)
    assert "line" in str(e.value) and str(p) in str(e.value)


def test_relative_data_path_may_not_escape_the_suite_dir(tmp_path: Path) -> None:
    (tmp_path / "outside.jsonl").write_text('{"a": 1}\n')
    d = tmp_path / "suite"
    d.mkdir()
    p = d / "s.yaml"
    p.write_text(
        "task: x\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        "    test: ../outside.jsonl\nmetric_list:\n  - metric: acc\n"
        "metadata:\n  version: 1\n  kind: task\n"
    )
    with pytest.raises(ConfigError) as e:
        load_suite(p)
    assert e.value.field == "dataset_kwargs.data_files.test" and "outside" in e.value.problem
    assert "into the suite's directory" in e.value.fix


def test_absolute_data_path_outside_the_suite_dir_is_refused(tmp_path: Path) -> None:
    """docs/suites.md: data paths may not leave the suite's directory, absolute ones neither
    (b805b56 accepted them)."""
    outside = tmp_path / "outside.jsonl"
    outside.write_text('{"a": 1}\n')
    d = tmp_path / "suite"
    d.mkdir()
    p = d / "s.yaml"
    p.write_text(
        "task: x\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {outside}\nmetric_list:\n  - metric: acc\n"
        "metadata:\n  version: 1\n  kind: task\n"
    )
    with pytest.raises(ConfigError) as e:
        load_suite(p)
    assert e.value.field == "dataset_kwargs.data_files.test"
    assert "absolute data path" in e.value.problem and "outside" in e.value.problem
