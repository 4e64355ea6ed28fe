"""Non-finite model outputs never pass (issue #18): a LoRA adapter with one ``lora_B`` tensor set
to NaN or to infinity gets NO-GO with the ``finite_outputs`` check first among the reasons, on
multiple-choice, generation and rolling log-likelihood (perplexity) suites alike, and none of
its items keeps a prediction or a finite score.

On b805b56 the NaN adapter got GO: every choice's log-likelihood was NaN, argmax picked choice 0
and accuracy stayed finite.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write_tiny_suites
from tests.engine.test_output_types import write_generation, write_rolling


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the module: the baseline is scored once for both adapters."""
    return tmp_path_factory.mktemp("finite")


def _adapter(model_dir: Path, out: Path, value: float) -> Path:
    """A saved LoRA whose first ``lora_B`` tensor is all ``value`` (the rest small, random)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from safetensors.torch import load_file, save_file
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    pm = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, target_modules=["q_proj", "v_proj"]))
    pm.save_pretrained(str(out))
    path = out / "adapter_model.safetensors"
    tensors = load_file(str(path))
    first_b = sorted(k for k in tensors if "lora_B" in k)[0]
    tensors[first_b] = torch.full_like(tensors[first_b], value)
    save_file(tensors, str(path), metadata={"format": "pt"})
    return out


def _experiment(root: Path, model_dir: Path, adapter: Path) -> Path:
    suites = write_tiny_suites(root)
    gen = write_generation(root / "suites")
    ppl = write_rolling(root / "suites")
    exp = root / f"experiment-{adapter.name}.yaml"
    exp.write_text(
        "name: tiny-finite\n"
        f"base:\n  model: {model_dir}\n  dtype: float32\n"
        "suites:\n"
        + "".join(f"  - {p.relative_to(root)}\n" for p in (suites["task"], gen, ppl))
        + f"candidates:\n  - name: {adapter.name}\n    adapter: {adapter}\n"
        "scoring:\n  batch_size: 8\n"
        "gate:\n  min_gain: 0.0\n  forgetting_margin: 1.0\n  require_change: false\n",
        encoding="utf-8",
    )
    return exp


@pytest.mark.parametrize("value", [math.nan, math.inf], ids=["nan", "inf"])
def test_nonfinite_adapter_is_no_go_with_finite_outputs_first(
    value: float,
    shared: Path,
    tiny_model_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from rich.console import Console

    from harness.config import load_experiment
    from harness.pipeline import run_gate

    monkeypatch.setenv("HARNESS_CACHE", str(shared / "cache"))
    monkeypatch.setenv("HARNESS_STORE", str(shared / "store.sqlite"))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{shared / 'mlflow.db'}")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(shared / "hf-datasets"))
    name = "nan" if math.isnan(value) else "inf"
    root = shared / name
    root.mkdir()
    monkeypatch.chdir(root)
    adapter = _adapter(tiny_model_dir, shared / f"adapters/{name}", value)
    exp = load_experiment(_experiment(root, tiny_model_dir, adapter))
    result = run_gate(exp, console=Console(quiet=True))

    summary: dict[str, Any] = result.summary
    assert summary["verdict"] == "NO-GO"
    first = result.outcome.reasons[0]
    assert first.startswith(f"{name}::all::finite_outputs: "), result.outcome.reasons
    suites = ("tickets", "rewrite_tiny", "ppl_tiny")
    counts = {s: len(result.results["base"][s]) for s in suites}
    total = sum(counts.values())
    assert first.split(": ", 1)[1].startswith(f"{total} of {total} items have non-finite")
    for s in suites:
        assert f"{s} ({counts[s]} of {counts[s]})" in first
    assert "generation logits" in first and "log-likelihood" in first
    checks = {c["name"]: c for c in summary["checks"]}
    assert "base::all::finite_outputs" not in checks  # reported only when it fails
    assert checks[f"{name}::all::finite_outputs"]["passed"] is False
    # No non-finite output became a prediction or a score a paired check could pass on.
    for s in suites:
        for it in result.results[name][s]:
            assert it.nonfinite is not None and it.prediction is None
            assert all(math.isnan(v) for v in it.scores.values())
        for it in result.results["base"][s]:
            assert it.nonfinite is None
    paired = [c for c in summary["checks"] if c["variant"] == name and c["suite"] != "all"]
    assert paired and not any(c["passed"] for c in paired)
    # The flag survives the store: the same run again reads every item from it.
    again = run_gate(load_experiment(exp.source), console=Console(quiet=True))
    assert again.outcome.reasons[0] == first


def _nan_model(model_dir: Path, prompt_tuning: bool) -> Any:
    """The tiny llama with NaN in it: a NaN LoRA-free q_proj weight, or (``prompt_tuning``) a
    prompt-tuning adapter whose virtual tokens are NaN (it generates on the plain-forward path)."""
    import torch
    from peft import PromptTuningConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    with torch.no_grad():
        if not prompt_tuning:
            model.model.layers[0].self_attn.q_proj.weight.fill_(math.nan)
            return model
        pm = get_peft_model(model, PromptTuningConfig(num_virtual_tokens=3, task_type="CAUSAL_LM"))
        for p in pm.prompt_encoder.parameters():
            p.fill_(math.nan)
        return pm.eval()


@pytest.mark.parametrize("prompt_tuning", [False, True], ids=["generate", "prompt-tuning"])
def test_generation_from_nan_logits_is_no_prediction(
    prompt_tuning: bool, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Greedy decoding over NaN logits emits token 0 as if it were an answer; both generation
    paths (transformers' generate, the prompt-learning loop) record the item instead."""
    from transformers import AutoTokenizer

    from harness.config import ScoringSettings, load_suite
    from harness.engine import HarnessLM, run_suite

    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    lm = HarnessLM(_nan_model(tiny_model_dir, prompt_tuning), tok, 4, show_progress=False)
    items = run_suite(lm, load_suite(write_generation(tmp_path)), ScoringSettings())
    assert items and all(it.nonfinite == "generation logits" for it in items)
    assert all(it.prediction is None for it in items)
    assert all(math.isnan(v) for it in items for v in it.scores.values())


def test_nonfinite_rows_tells_masked_tokens_from_no_answer() -> None:
    import torch

    from harness.engine._prompt_learning import nonfinite_rows

    inf = math.inf
    scores = torch.tensor(
        [[0.0, -inf, 1.0], [math.nan, 0.0, 0.0], [inf, 0.0, 0.0], [-inf, -inf, -inf]]
    )
    assert nonfinite_rows(scores).tolist() == [False, True, True, True]
