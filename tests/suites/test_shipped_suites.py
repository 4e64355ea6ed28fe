"""Checks on the built-in suites shipped in ``suites/`` (offline, fast)."""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SUITES = REPO / "suites"
YAMLS = sorted(SUITES.glob("*/*.yaml"))  # hand-written task YAMLs, one per suite folder

TICKET_DIR = SUITES / "ticket_routing"
GENERAL_DIR = SUITES / "general"
QUEUE_CODES = ["Q17", "Q23", "Q38", "Q41", "Q56", "Q62"]
CAPABILITIES = {
    "arithmetic",
    "factual_recall",
    "commonsense",
    "logic",
    "language",
    "instruction_following",
}
EXPECTED_TEST_ROWS = {
    "harness_ticket_routing": 300,
    "harness_general": 1500,
    "harness_ticket_extraction": 160,
    "harness_support_replies": 120,
}
# the data files suites/generate.py writes; the task YAMLs beside them are hand-written
GENERATED = [
    "ticket_routing/train.jsonl",
    "ticket_routing/test.jsonl",
    "general/test.jsonl",
    "ticket_extraction/test.jsonl",
    "support_replies/test.jsonl",
]


def _rows(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def _load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def _data_files(cfg: dict[str, Any]) -> dict[str, str]:
    files = cfg.get("dataset_kwargs", {}).get("data_files", {})
    assert isinstance(files, dict) and files, "suite must name its data_files per split"
    return files


def test_suites_exist() -> None:
    assert {p.name for p in YAMLS} >= {"ticket_routing.yaml", "general.yaml"}


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.parent.name)
def test_yaml_metadata_and_data_files(path: Path) -> None:
    cfg = _load_yaml(path)
    assert cfg["task"].startswith("harness_")
    meta = cfg["metadata"]
    assert isinstance(meta["version"], (int, float))
    assert meta["kind"] in {"task", "general"}
    if meta["kind"] == "task":
        assert isinstance(meta["capability"], str) and meta["capability"]
    else:
        assert isinstance(meta["capability_field"], str) and meta["capability_field"]
    assert meta.get("description")
    for split, rel in _data_files(cfg).items():
        assert not Path(rel).is_absolute(), split
        assert (path.parent / rel).is_file(), f"{path}: missing data file {rel}"


@pytest.fixture(scope="module")
def lm_eval_task_cls(tmp_path_factory: pytest.TempPathFactory) -> Any:
    cache = tmp_path_factory.mktemp("hf_cache")
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ.setdefault("HF_DATASETS_CACHE", str(cache / "datasets"))
    from lm_eval.api.task import ConfigurableTask

    return ConfigurableTask, cache


@pytest.mark.parametrize("path", YAMLS, ids=lambda p: p.parent.name)
def test_yaml_builds_lm_eval_task(path: Path, lm_eval_task_cls: Any) -> None:
    task_cls, cache = lm_eval_task_cls
    cfg = copy.deepcopy(_load_yaml(path))
    files = _data_files(cfg)
    cfg["dataset_kwargs"]["data_files"] = {
        split: str((path.parent / rel).resolve()) for split, rel in files.items()
    }
    cfg["dataset_kwargs"]["cache_dir"] = str(cache / path.parent.name)
    task = task_cls(config=cfg)

    docs = list(task.test_docs())
    assert len(docs) == EXPECTED_TEST_ROWS[cfg["task"]]
    if cfg.get("training_split"):
        assert len(list(task.training_docs())) == 480
    if cfg["output_type"] != "multiple_choice":
        return  # generation / rolling suites: tests below check their rows and prompts
    for doc in docs:
        choices = task.doc_to_choice(doc)
        target = task.doc_to_target(doc)
        assert isinstance(target, int) and 0 <= target < len(choices)
        assert all(isinstance(c, str) and c and not c[0].isspace() for c in choices)
        if "choices" in doc:
            assert choices == doc["choices"]  # jinja render + literal_eval round-trips
        text = task.doc_to_text(doc)
        assert text.startswith(("Route this support ticket", "Question: "))
        assert text.endswith(("\nQueue:", "\nAnswer:"))


def test_ticket_routing_rows() -> None:
    train = _rows(TICKET_DIR / "train.jsonl")
    test = _rows(TICKET_DIR / "test.jsonl")
    assert len(train) == 480 and len(test) == 300
    for split, rows in (("train", train), ("test", test)):
        ids = [r["id"] for r in rows]
        assert len(set(ids)) == len(ids)
        assert ids == [f"tr-{split}-{i:04d}" for i in range(1, len(rows) + 1)]
        for r in rows:
            assert set(r) == {"id", "ticket", "label", "queue"}
            assert isinstance(r["label"], int) and 0 <= r["label"] < len(QUEUE_CODES)
            assert r["queue"] == QUEUE_CODES[r["label"]]
            assert 5 <= len(r["ticket"].split()) <= 45
            assert not any(code in r["ticket"] for code in QUEUE_CODES)
        per_label = len(rows) // len(QUEUE_CODES)
        assert Counter(r["label"] for r in rows) == dict.fromkeys(range(6), per_label)
        # shuffled, not grouped by label
        assert [r["label"] for r in rows] != sorted(r["label"] for r in rows)


def test_ticket_routing_splits_are_disjoint() -> None:
    train = {r["ticket"] for r in _rows(TICKET_DIR / "train.jsonl")}
    test = {r["ticket"] for r in _rows(TICKET_DIR / "test.jsonl")}
    assert len(train) == 480 and len(test) == 300
    assert not train & test


def test_ticket_routing_yaml_choices_match_codes() -> None:
    cfg = _load_yaml(TICKET_DIR / "ticket_routing.yaml")
    assert cfg["doc_to_choice"] == QUEUE_CODES
    assert cfg["metadata"]["kind"] == "task"
    assert cfg["metadata"]["capability"] == "ticket_routing"


def test_general_rows() -> None:
    rows = _rows(GENERAL_DIR / "test.jsonl")
    assert len(rows) == 1500
    ids = [r["id"] for r in rows]
    assert ids == [f"gen-{i:04d}" for i in range(1, 1501)]
    for r in rows:
        assert set(r) == {"id", "capability", "question", "choices", "answer"}
        assert r["capability"] in CAPABILITIES
        assert 2 <= len(r["choices"]) <= 4
        assert len(set(r["choices"])) == len(r["choices"])
        assert isinstance(r["answer"], int) and 0 <= r["answer"] < len(r["choices"])
    assert Counter(r["capability"] for r in rows) == dict.fromkeys(CAPABILITIES, 250)
    questions = [r["question"] for r in rows]
    assert len(set(questions)) == len(questions), "question text must be unique in the suite"
    # answer positions are balanced within each capability and choice count
    for cap in CAPABILITIES:
        for n in (2, 3, 4):
            pos = Counter(
                r["answer"] for r in rows if r["capability"] == cap and len(r["choices"]) == n
            )
            if pos:
                counts = [pos.get(i, 0) for i in range(n)]
                assert max(counts) - min(counts) <= 1, (cap, n, counts)
    cfg = _load_yaml(GENERAL_DIR / "general.yaml")
    assert cfg["metadata"]["kind"] == "general"
    assert cfg["metadata"]["capability_field"] == "capability"


ARITHMETIC_PATTERNS: list[tuple[re.Pattern[str], Any]] = [
    (re.compile(r"What is (\d+) \+ (\d+)\?"), lambda a, b: a + b),
    (re.compile(r"What is (\d+) - (\d+)\?"), lambda a, b: a - b),
    (re.compile(r"What is (\d+) times (\d+)\?"), lambda a, b: a * b),
    (re.compile(r"What is half of (\d+)\?"), lambda a: a // 2),
    (re.compile(r"What is double (\d+)\?"), lambda a: 2 * a),
    (re.compile(r"\w+ has (\d+) \w+ and buys (\d+) more\. How many .*"), lambda a, b: a + b),
    (re.compile(r"\w+ has (\d+) \w+ and gives (\d+) away\. How many .*"), lambda a, b: a - b),
    (
        re.compile(r"There are (\d+) \w+ with (\d+) \w+ in each \w+\. How many .*"),
        lambda a, b: a * b,
    ),
]


def test_general_arithmetic_answers_are_correct() -> None:
    rows = [r for r in _rows(GENERAL_DIR / "test.jsonl") if r["capability"] == "arithmetic"]
    assert len(rows) == 250
    for r in rows:
        for pattern, fn in ARITHMETIC_PATTERNS:
            m = pattern.fullmatch(r["question"])
            if m:
                expected = fn(*(int(g) for g in m.groups()))
                assert expected >= 0, r
                assert r["choices"][r["answer"]] == str(expected), r
                assert str(expected) not in (
                    c for i, c in enumerate(r["choices"]) if i != r["answer"]
                ), r
                break
        else:
            pytest.fail(f"unrecognised arithmetic question: {r['question']}")


def test_generator_reproduces_committed_files(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SUITES / "generate.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    produced = sorted(
        p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()
    )
    shipped = sorted(p.relative_to(SUITES).as_posix() for p in SUITES.glob("*/*.jsonl"))
    # only data files, and every shipped one: the YAMLs are hand-written, not generated
    assert produced == shipped == sorted(GENERATED)
    assert proc.stdout.split() == [str(tmp_path / rel) for rel in GENERATED]
    for rel in GENERATED:
        assert (tmp_path / rel).read_bytes() == (SUITES / rel).read_bytes(), rel


def test_generator_content_is_data_and_stays_out_of_harness() -> None:
    """Word lists live in JSON beside the generator package; harness/ never imports it."""
    pkg = SUITES / "_generator"
    data = sorted(pkg.glob("data/*.json"))
    assert data, "the generator's content files are missing"
    for path in data:
        tables = json.loads(path.read_text(encoding="utf-8"))
        assert isinstance(tables, dict) and set(tables) - {"_about"}, path.name
    for path in pkg.glob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert len(text.splitlines()) < 500, path.name
        assert "import yaml" not in text, f"{path.name}: the generator is stdlib-only"
    for path in (REPO / "harness").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"suites", "_generator", "generate"}, path


EXTRACTION_DIR = SUITES / "ticket_extraction"
REPLIES_DIR = SUITES / "support_replies"


def test_every_shipped_suite_loads_with_its_direction() -> None:
    from harness.config import load_suite

    specs = {p.parent.name: load_suite(p) for p in YAMLS}
    assert {n: (s.output_type, s.metric, s.higher_is_better) for n, s in specs.items()} == {
        "ticket_routing": ("multiple_choice", "acc", True),
        "general": ("multiple_choice", "acc", True),
        "ticket_extraction": ("generate_until", "harness_rougeL", True),
        "support_replies": ("loglikelihood_rolling", "bits_per_byte", False),
    }
    assert all(s.version == "1.0" or s.name == "general" for s in specs.values())


def test_ticket_extraction_rows() -> None:
    rows = _rows(EXTRACTION_DIR / "test.jsonl")
    assert len(rows) == 160
    assert [r["id"] for r in rows] == [f"ex-{i:04d}" for i in range(1, 161)]
    assert Counter(r["capability"] for r in rows) == {"product": 80, "order_number": 80}
    assert len({r["ticket"] for r in rows}) == 160
    for r in rows:
        assert set(r) == {"id", "capability", "ticket", "question", "answer"}
        assert r["answer"] in r["ticket"]  # an extraction: the answer is in the ticket
        if r["capability"] == "order_number":
            assert re.fullmatch(r"#\d{6}", r["answer"])
            assert r["ticket"].count("#") == 1
        else:
            assert r["answer"] in PRODUCT_NAMES
    cfg = _load_yaml(EXTRACTION_DIR / "ticket_extraction.yaml")
    assert cfg["output_type"] == "generate_until"
    gen = cfg["generation_kwargs"]
    assert "\n" in gen["until"] and gen["max_gen_toks"] <= 16 and gen["do_sample"] is False
    assert [m["metric"] for m in cfg["metric_list"]][:3] == [
        "harness_rougeL",
        "harness_bleu",
        "harness_chrf",
    ]


def test_support_replies_rows() -> None:
    rows = _rows(REPLIES_DIR / "test.jsonl")
    assert len(rows) == 120
    assert [r["id"] for r in rows] == [f"rp-{i:04d}" for i in range(1, 121)]
    assert set(Counter(r["topic"] for r in rows).values()) == {20}
    assert len({r["text"] for r in rows}) == 120
    for r in rows:
        assert set(r) == {"id", "topic", "text"} and 15 <= len(r["text"].split()) <= 60


PRODUCT_NAMES = {
    "NovaPhone X2", "NovaPhone Mini", "AeroBook 14", "AeroBook Air", "TerraWatch S",
    "TerraWatch Sport", "ZenCam 4K", "ZenCam Go", "Kestrel Tab 8", "Kestrel Tab Pro",
    "Lumo Smart Display", "PixelPad 10", "Vela Laptop 15", "Orbit Phone 5", "PulseWatch 3",
    "Strata Tablet 11",
}  # fmt: skip


@pytest.mark.slow
def test_generation_and_rolling_suites_run_end_to_end(tiny_model_dir: Path, tmp_path: Path) -> None:
    """Both new output types score a few items through run_suite with per-item values."""
    import math

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from harness.config import ScoringSettings, load_suite
    from harness.engine import HarnessLM, run_suite

    os.environ["HF_DATASETS_CACHE"] = str(tmp_path / "hf")
    model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
    lm = HarnessLM(model, AutoTokenizer.from_pretrained(str(tiny_model_dir)), show_progress=False)
    ext = run_suite(
        lm, load_suite(EXTRACTION_DIR / "ticket_extraction.yaml"), ScoringSettings(limit=4)
    )
    assert len(ext) == 4
    for it in ext:
        assert set(it.scores) >= {"harness_rougeL", "harness_bleu", "harness_chrf", "exact_match"}
        assert 0.0 <= it.scores["harness_rougeL"] <= 1.0 and isinstance(it.prediction, str)
        assert it.capability in {"product", "order_number"}
    rep = run_suite(lm, load_suite(REPLIES_DIR / "support_replies.yaml"), ScoringSettings(limit=3))
    assert len(rep) == 3
    for it in rep:
        assert math.isfinite(it.scores["bits_per_byte"]) and it.scores["bits_per_byte"] > 0
        assert it.extra["loglikelihoods"][0] < 0


def test_generation_example_experiment_loads() -> None:
    from harness.config import load_experiment

    exp = load_experiment(REPO / "examples" / "generation.yaml")
    assert {s.name: s.output_type for s in exp.suites} == {
        "ticket_routing": "multiple_choice",
        "general": "multiple_choice",
        "ticket_extraction": "generate_until",
        "support_replies": "loglikelihood_rolling",
    }
