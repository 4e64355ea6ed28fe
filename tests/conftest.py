"""Shared fixtures: a tiny random llama with a real (tiny) BPE tokenizer, and a tiny experiment.

Everything is made here, offline, in a second or two, so the whole pipeline can run end to end
in the fast test suite.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

QUEUES = ["Q17", "Q23", "Q38"]
TOPICS = {
    "Q17": ["I was charged twice", "please refund my payment", "my invoice is wrong"],
    "Q23": ["my parcel has not arrived", "the delivery is late", "tracking shows nothing"],
    "Q38": ["I cannot log in", "reset my password please", "my account is locked"],
}


def _corpus() -> list[str]:
    words = [p for ps in TOPICS.values() for p in ps]
    extra = [
        "Route this support ticket to its queue.",
        "Ticket:",
        "Queue:",
        "Question:",
        "Answer:",
        "What is",
        "plus",
        "the capital of",
        "yes",
        "no",
        "France",
        "Paris",
        "Berlin",
        "Germany",
        "Rome",
        "Italy",
        *QUEUES,
        *[str(i) for i in range(20)],
    ]
    return [*words, *extra] * 20


def make_tiny_model(target: Path, seed: int = 0, hidden: int = 32) -> Path:
    """Save a 2-layer random llama and a 400-token BPE tokenizer (with a chat template)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(_corpus(), trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|im_start|>",
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        unk_token="<unk>",
    )
    fast.chat_template = (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}"
        "<|im_end|>\n{% endfor %}"
    )
    torch.manual_seed(seed)
    cfg = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    model = LlamaForCausalLM(cfg)
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(target), safe_serialization=True)
    fast.save_pretrained(str(target))
    return target


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def tiny_sft(tiny_model_dir: Path) -> Any:
    """A builder of seeded SFTTrainers over the tiny llama with LoRA (r 4, dropout 0.3, all
    linear layers) on CPU: ``tiny_sft(out_dir, train_rows, eval_rows=None, **sft_config)``."""

    def build(out: Path, rows: list[dict[str, str]], eval_rows: Any = None, **kw: Any) -> Any:
        import torch
        from datasets import Dataset
        from peft import LoraConfig
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from trl import SFTConfig, SFTTrainer

        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_pretrained(str(tiny_model_dir), dtype=torch.float32)
        settings: dict[str, Any] = dict(
            per_device_train_batch_size=2,
            gradient_accumulation_steps=2,
            learning_rate=1e-2,
            save_strategy="no",
            report_to=[],
            use_cpu=True,
            seed=0,
            data_seed=0,
            disable_tqdm=True,
            dataloader_num_workers=0,
            max_length=32,
        )
        settings.update(kw)
        return SFTTrainer(
            model=model,
            args=SFTConfig(output_dir=str(out), **settings),
            train_dataset=Dataset.from_list(rows),
            eval_dataset=Dataset.from_list(eval_rows) if eval_rows else None,
            processing_class=AutoTokenizer.from_pretrained(str(tiny_model_dir)),
            peft_config=LoraConfig(r=4, lora_dropout=0.3, target_modules="all-linear"),
        )

    return build


@pytest.fixture(scope="session")
def tiny_model_dir_64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Hidden size 64: bitsandbytes' CPU 4-bit layers need a dimension of at least one block."""
    return make_tiny_model(tmp_path_factory.mktemp("tiny-llama-64"), hidden=64)


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_tiny_suites(root: Path, n_train: int = 24, n_test: int = 30) -> dict[str, Path]:
    rng = random.Random(0)
    task_dir = root / "suites" / "tickets"
    task_dir.mkdir(parents=True)
    for split, n in (("train", n_train), ("test", n_test)):
        rows = []
        for i in range(n):
            label = i % len(QUEUES)
            rows.append(
                {"id": f"{split}-{i}", "ticket": rng.choice(TOPICS[QUEUES[label]]), "label": label}
            )
        _write_jsonl(task_dir / f"{split}.jsonl", rows)
    (task_dir / "tickets.yaml").write_text(
        "task: tiny_tickets\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n  data_files:\n    train: train.jsonl\n    test: test.jsonl\n"
        "training_split: train\ntest_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "Route this support ticket to its queue.\\nTicket: {{ticket}}\\nQueue:"\n'
        f"doc_to_choice: {json.dumps(QUEUES)}\n"
        "doc_to_target: label\n"
        "metric_list:\n  - metric: acc\n"
        "metadata:\n  version: 1.0\n  kind: task\n  name: tickets\n  capability: tickets\n",
        encoding="utf-8",
    )
    gen_dir = root / "suites" / "general"
    gen_dir.mkdir(parents=True)
    rows = []
    caps = {
        "arithmetic": [
            (f"What is {a} plus {b}?", [str(a + b), str(a + b + 1)])
            for a in range(4)
            for b in range(5)
        ],
        "factual": [
            ("What is the capital of France?", ["Paris", "Berlin", "Rome"]),
            ("What is the capital of Germany?", ["Berlin", "Paris", "Rome"]),
            ("What is the capital of Italy?", ["Rome", "Berlin", "Paris"]),
        ]
        * 7,
    }
    for cap, qs in caps.items():
        for q, choices in qs:
            rows.append(
                {
                    "id": f"g-{len(rows)}",
                    "capability": cap,
                    "question": q,
                    "choices": choices,
                    "answer": 0,
                }
            )
    _write_jsonl(gen_dir / "test.jsonl", rows)
    (gen_dir / "general.yaml").write_text(
        "task: tiny_general\n"
        "dataset_path: json\n"
        "dataset_kwargs:\n  data_files:\n    test: test.jsonl\n"
        "test_split: test\noutput_type: multiple_choice\n"
        'doc_to_text: "Question: {{question}}\\nAnswer:"\n'
        'doc_to_choice: "{{choices}}"\n'
        "doc_to_target: answer\n"
        "metric_list:\n  - metric: acc\n  - metric: acc_norm\n"
        "metadata:\n  version: 1.0\n  kind: general\n  name: general\n"
        "  capability_field: capability\n",
        encoding="utf-8",
    )
    return {"task": task_dir / "tickets.yaml", "general": gen_dir / "general.yaml"}


def write_tiny_experiment(
    root: Path, model_dir: Path, *, max_steps: int = 4, learning_rate: float = 5e-3, gate: str = ""
) -> Path:
    suites = write_tiny_suites(root)
    (root / "training").mkdir()
    (root / "training" / "lora.yaml").write_text(
        "name: tiny-lora\nmethod: lora\n"
        "data:\n  suite: ../suites/tickets/tickets.yaml\n  split: train\n"
        "lora:\n  r: 4\n  alpha: 8\n  dropout: 0.0\n  target_modules: [q_proj, v_proj]\n"
        f"train:\n  learning_rate: {learning_rate}\n  batch_size: 8\n  max_steps: {max_steps}\n"
        "  max_seq_len: 64\n  dtype: float32\n",
        encoding="utf-8",
    )
    exp = root / "experiment.yaml"
    exp.write_text(
        "name: tiny-experiment\n"
        f"base:\n  model: {model_dir}\n  dtype: float32\n"
        f"suites:\n  - {suites['task'].relative_to(root)}\n"
        f"  - {suites['general'].relative_to(root)}\n"
        "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n"
        "scoring:\n  batch_size: 8\n"
        + (gate or "gate:\n  min_gain: 0.0\n  forgetting_margin: 1.0\n  capability_margin: 1.0\n"),
        encoding="utf-8",
    )
    return exp


@pytest.fixture
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every store (results, MLflow, caches) into the test's temp dir."""
    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HARNESS_STORE", str(tmp_path / "store.sqlite"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf-datasets"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tiny_experiment(tmp_path: Path, tiny_model_dir: Path, isolated_env: Path) -> Path:
    return write_tiny_experiment(tmp_path / "project", tiny_model_dir)
