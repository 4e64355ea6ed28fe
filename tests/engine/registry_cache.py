"""A Hugging Face hub cache laid out on disk, holding tiny data in the real datasets' formats.

The registry tests use lm-eval's own task definitions unchanged (mmlu, hellaswag, gsm8k), so
the data must look exactly like the hub repositories those YAMLs name: the same repo ids,
config names, split file names, README ``configs:`` metadata and columns. The cache uses the
hub's own layout (``datasets--org--name/{blobs,refs,snapshots/<rev>}``, snapshot files linked
to content-named blobs), so ``huggingface_hub.snapshot_download(local_files_only=True)`` finds
it exactly as it finds a cache filled by ``huggingface-cli download``.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import Any

# lm-eval's mmlu group has 57 subtasks, one hub config each; every one gets a few rows so
# the group is whole (its YAMLs are used unchanged), each subtask's rows distinct.
MMLU_STEM = [
    "abstract_algebra", "anatomy", "astronomy", "college_biology", "college_chemistry",
    "college_computer_science", "college_mathematics", "college_physics", "computer_security",
    "conceptual_physics", "electrical_engineering", "elementary_mathematics", "high_school_biology",
    "high_school_chemistry", "high_school_computer_science", "high_school_mathematics",
    "high_school_physics", "high_school_statistics", "machine_learning",
]  # fmt: skip
MMLU_OTHER = [
    "business_ethics", "clinical_knowledge", "college_medicine", "global_facts",
    "human_aging", "management", "marketing", "medical_genetics", "miscellaneous", "nutrition",
    "professional_accounting", "professional_medicine", "virology",
]  # fmt: skip
MMLU_SOCIAL = [
    "econometrics", "high_school_geography", "high_school_government_and_politics",
    "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology",
    "human_sexuality", "professional_psychology", "public_relations", "security_studies",
    "sociology", "us_foreign_policy",
]  # fmt: skip
MMLU_HUMANITIES = [
    "formal_logic", "high_school_european_history", "high_school_us_history",
    "high_school_world_history", "international_law", "jurisprudence", "logical_fallacies",
    "moral_disputes", "moral_scenarios", "philosophy", "prehistory", "professional_law",
    "world_religions",
]  # fmt: skip
MMLU_SUBJECTS = MMLU_STEM + MMLU_OTHER + MMLU_SOCIAL + MMLU_HUMANITIES
REV_A = "a" * 40
REV_B = "b" * 40


def _parquet(rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), buf)
    return buf.getvalue()


def _readme(configs: dict[str, dict[str, str]]) -> bytes:
    """README front matter in the hub's ``configs:`` form, which datasets reads for splits."""
    lines = ["---", "configs:"]
    for name, splits in configs.items():
        lines += [f"- config_name: {name}", "  data_files:"]
        for split, pattern in splits.items():
            lines += [f"  - split: {split}", f"    path: {pattern}"]
    return ("\n".join([*lines, "---", "", "# test data", ""])).encode()


def write_repo(hub_cache: Path, repo_id: str, files: dict[str, bytes], revision: str) -> Path:
    """Write one dataset repo at ``revision`` in the hub cache layout; ``refs/main`` points at it.

    Returns the snapshot directory.
    """
    repo = hub_cache / f"datasets--{repo_id.replace('/', '--')}"
    (repo / "blobs").mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    snap = repo / "snapshots" / revision
    for rel, data in files.items():
        blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
        blob.write_bytes(data)
        target = snap / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists() or target.is_symlink():
            target.unlink()
        os.symlink(os.path.relpath(blob, target.parent), target)
    (repo / "refs" / "main").write_text(revision)
    return snap


def _mmlu_row(subject: str, i: int) -> dict[str, Any]:
    return {
        "question": f"Question {i} on {subject.replace('_', ' ')}: what is {i} plus {i % 3}?",
        "subject": subject,
        "choices": [str(i + i % 3), str(i + 1), str(i + 2), str(i + 7)],
        "answer": (i * 7 + len(subject)) % 4,
    }


def mmlu_files(n_test: int = 3, n_dev: int = 2, tweak: str = "") -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    configs: dict[str, dict[str, str]] = {}
    for s in MMLU_SUBJECTS:
        test = [_mmlu_row(s, i) for i in range(n_test)]
        if tweak:
            test[0]["question"] += tweak
        files[f"{s}/test-00000-of-00001.parquet"] = _parquet(test)
        files[f"{s}/dev-00000-of-00001.parquet"] = _parquet(
            [_mmlu_row(s, 100 + i) for i in range(n_dev)]
        )
        configs[s] = {"test": f"{s}/test-*", "dev": f"{s}/dev-*"}
    files["README.md"] = _readme(configs)
    return files


def hellaswag_files(n: int = 6, tweak: str = "") -> dict[str, bytes]:
    def row(split: str, i: int) -> dict[str, Any]:
        return {
            "ind": i,
            "activity_label": "Cooking [title]" if i % 2 else "Washing dishes",
            "ctx_a": f"A person takes {i} plates.",
            "ctx_b": "then they",
            "ctx": f"A person takes {i} plates. then they",
            "endings": ["wash them.", "eat [step] them.", "fly away.", "sing loudly."],
            "source_id": f"src-{i}",
            "split": split,
            "split_type": "indomain",
            "label": str(i % 4),
        }

    files = {
        f"data/{split}-00000-of-00001.parquet": _parquet([row(split, i) for i in range(n)])
        for split in ("train", "validation")
    }
    if tweak:
        rows = [row("validation", i) for i in range(n)]
        rows[0]["ctx_a"] += tweak
        files["data/validation-00000-of-00001.parquet"] = _parquet(rows)
    files["README.md"] = _readme(
        {"default": {"train": "data/train-*", "validation": "data/validation-*"}}
    )
    return files


def gsm8k_files(n: int = 4, tweak: str = "") -> dict[str, bytes]:
    def row(i: int) -> dict[str, Any]:
        return {
            "question": f"Tom has {i} apples and buys {i + 2} more. How many?",
            "answer": f"He has {i} + {i + 2} = {2 * i + 2} apples.\n#### {2 * i + 2}",
        }

    test = [row(i) for i in range(n)]
    if tweak:
        test[0]["question"] += tweak
    files = {
        "main/test-00000-of-00001.parquet": _parquet(test),
        "main/train-00000-of-00001.parquet": _parquet([row(50 + i) for i in range(6)]),
    }
    files["README.md"] = _readme({"main": {"test": "main/test-*", "train": "main/train-*"}})
    return files


def fill_cache(hub_cache: Path, revision: str = REV_A, tweak: str = "") -> None:
    """The three datasets at one revision; ``tweak`` changes one test row of each."""
    write_repo(hub_cache, "cais/mmlu", mmlu_files(tweak=tweak), revision)
    write_repo(hub_cache, "Rowan/hellaswag", hellaswag_files(tweak=tweak), revision)
    write_repo(hub_cache, "openai/gsm8k", gsm8k_files(tweak=tweak), revision)
