"""Training examples formatted by the suite's own lm-eval prompt, so train and test agree."""

from __future__ import annotations

from harness.config import ConfigError, SuiteSpec
from harness.engine._suite_runner import build_task


def training_examples(
    suite: SuiteSpec, split: str = "train", limit: int | None = None
) -> list[dict[str, str]]:
    """Prompt/completion pairs from a suite split: prompt = doc_to_text, completion = target."""
    task = build_task(suite)
    has = task.has_training_docs() if split == "train" else task.has_validation_docs()
    if not has:
        raise ConfigError(
            suite.path,
            f"{split}_split" if split == "train" else "validation_split",
            f"the suite has no {split} split to train on",
            f"add 'training_split: train' and a train data file to {suite.path.name}",
        )
    docs = task.training_docs() if split == "train" else task.validation_docs()
    out: list[dict[str, str]] = []
    delim = task.config.target_delimiter or " "
    for i, doc in enumerate(docs):
        if limit is not None and i >= limit:
            break
        prompt = task.doc_to_text(doc)
        target = task.doc_to_target(doc)
        if task.OUTPUT_TYPE == "multiple_choice" or task.config.output_type == "multiple_choice":
            choices = task.doc_to_choice(doc)
            if isinstance(target, int):
                if not 0 <= target < len(choices):
                    raise ConfigError(
                        suite.path,
                        f"{split} row {i}",
                        f"target index {target} outside {len(choices)} choices",
                        "fix the row's label",
                    )
                target = choices[target]
        if isinstance(target, list):
            target = target[0]
        out.append({"prompt": str(prompt), "completion": f"{delim}{target}"})
    if not out:
        raise ConfigError(suite.path, split, f"the {split} split is empty", "add training rows")
    return out
