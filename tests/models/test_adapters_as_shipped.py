"""Adapters as other tools ship them (issue #17, part 2), built with peft on the tiny llama.

Each is attached to the base, scored through ``HarnessLM`` on a small suite, merged (same
predictions) and, where it applies, served on the NF4 base. An adapter with its own tokenizer
and resized embeddings is scored with that tokenizer on a base resized for it alone.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from harness.config import BaseSpec, ConfigError, ItemResult, ScoringSettings, load_suite
from harness.models import (
    adapter_tokenizer,
    attach_adapter,
    chat_template_mismatch,
    embedding_rows,
    needs_own_base,
)
from tests.conftest import write_tiny_suites

ADDED = ["<|tool|>", "<|think|>"]
OWN_TEMPLATE = "{% for m in messages %}<|tool|>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
LORA_KINDS: dict[str, dict[str, Any]] = {
    "dora": {"use_dora": True},
    "rslora": {"use_rslora": True},
    "patterns": {"rank_pattern": {"q_proj": 4}, "alpha_pattern": {"v_proj": 16}},
    "layers": {"layers_to_transform": [1]},
    "trainable_tokens": {"trainable_token_indices": [5, 9, 17]},
}


def _fresh(model_dir: Path) -> Any:
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    return model


def _save(model: Any, out: Path, tokenizer: Any = None, **lora: Any) -> Path:
    """get_peft_model with ``lora``, every adapter weight nudged (so predictions move), saved."""
    import torch
    from peft import LoraConfig, get_peft_model

    lora.setdefault("target_modules", ["q_proj", "v_proj"])
    pm = get_peft_model(model, LoraConfig(r=2, lora_alpha=4, **lora))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in pm.named_parameters():
            if any(k in name for k in ("lora_", "modules_to_save", "trainable_tokens")):
                p.add_(torch.randn(p.shape, generator=gen) * 0.2)
    pm.save_pretrained(str(out))
    if tokenizer is not None:
        tokenizer.save_pretrained(str(out))
    return out


def _own_tokenizer(model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(model_dir))
    tok.add_special_tokens({"additional_special_tokens": ADDED})
    tok.chat_template = OWN_TEMPLATE
    return tok


def _resizing_adapter(model_dir: Path, out: Path, how: str) -> Path:
    """The trainer's view: tokens added, embeddings resized, then LoRA with the new rows."""
    tok = _own_tokenizer(model_dir)
    model = _fresh(model_dir)
    model.resize_token_embeddings(len(tok), mean_resizing=False)
    if how == "modules_to_save":
        return _save(model, out, tok, modules_to_save=["embed_tokens", "lm_head"])
    new = list(range(len(tok) - len(ADDED), len(tok)))
    return _save(model, out, tok, trainable_token_indices={"embed_tokens": new})


@pytest.fixture(scope="module")
def suite(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The tiny general suite with an added special token in every prompt."""
    root = tmp_path_factory.mktemp("suites")
    path = write_tiny_suites(root)["general"]
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('"Question:', '"<|tool|> Question:'), encoding="utf-8")
    return load_suite(path)


@pytest.fixture(autouse=True)
def _hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))


SETTINGS = ScoringSettings(limit=10)


def _score(model: Any, tok: Any, suite: Any, settings: ScoringSettings = SETTINGS) -> list[Any]:
    from harness.engine import HarnessLM, run_suite

    return run_suite(HarnessLM(model, tok, show_progress=False, device=None), suite, settings)


def _lls(items: list[ItemResult]) -> list[float]:
    return [x for it in items for x in it.extra["loglikelihoods"]]


def _assert_same(a: list[ItemResult], b: list[ItemResult], tol: float = 1e-4) -> None:
    assert [x.prediction for x in a] == [x.prediction for x in b]
    assert _lls(a) == pytest.approx(_lls(b), abs=tol)


# --- 1. own tokenizer, resized embeddings ----------------------------------------------------


@pytest.fixture(scope="module", params=["modules_to_save", "trainable_tokens"])
def resizing(request: Any, tiny_model_dir: Path, tmp_path_factory: Any) -> Path:
    out = tmp_path_factory.mktemp("resizing") / request.param
    return _resizing_adapter(tiny_model_dir, out, request.param)


def test_resizing_adapter_is_scored_with_its_tokenizer_and_merges(
    resizing: Path, tiny_model_dir: Path, suite: Any
) -> None:
    from transformers import AutoTokenizer

    base_tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    base = _fresh(tiny_model_dir)
    baseline = _score(base, base_tok, suite)  # the base's own tokenizer and size
    assert needs_own_base(resizing, base)
    tok = adapter_tokenizer(resizing)
    assert tok is not None and tok.convert_tokens_to_ids("<|tool|>") == 400
    notes: list[str] = []
    model = attach_adapter(base, resizing, "cand", base_tokenizer=base_tok, notes=notes)
    assert notes == [
        "scored with the adapter's tokenizer (402 tokens, +2 over the base's 400); "
        "base embeddings resized from 400 to 402 rows"
    ]
    assert embedding_rows(model) == 402
    cand = _score(model, tok, suite)
    assert len(cand) == len(baseline) == 10
    assert _lls(cand) != pytest.approx(_lls(baseline), abs=1e-3)
    merged = attach_adapter(_fresh(tiny_model_dir), resizing, "cand").merge_and_unload()
    _assert_same(_score(merged, tok, suite), cand)


def test_resized_load_serves_no_other_adapter(
    resizing: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    plain = _save(_fresh(tiny_model_dir), tmp_path / "plain")
    shared = attach_adapter(_fresh(tiny_model_dir), plain, "plain")
    with pytest.raises(ConfigError, match="fresh load of the base") as err:
        attach_adapter(shared, resizing, "cand")
    assert err.value.field == "adapter"
    resized = attach_adapter(_fresh(tiny_model_dir), resizing, "cand")
    with pytest.raises(ConfigError, match="resized or rewritten for adapter 'cand'"):
        attach_adapter(resized, plain, "plain")


def test_resizing_adapter_on_the_nf4_base(
    tiny_model_dir_64: Path, tmp_path: Path, suite: Any
) -> None:
    pytest.importorskip("bitsandbytes")
    from harness.models import load_quantized_base

    adapter = _resizing_adapter(tiny_model_dir_64, tmp_path / "a", "modules_to_save")
    nf4 = load_quantized_base(BaseSpec(model=str(tiny_model_dir_64), dtype="bfloat16"), "nf4")
    assert needs_own_base(adapter, nf4.model)
    notes: list[str] = []
    model = attach_adapter(nf4.model, adapter, "cand", base_tokenizer=nf4.tokenizer, notes=notes)
    assert "resized from 400 to 402 rows" in notes[0]
    items = _score(model, adapter_tokenizer(adapter), suite)
    assert len(items) == 10 and all(it.prediction is not None for it in items)


# --- 2. DoRA, rsLoRA, rank/alpha patterns, layers_to_transform, trainable tokens --------------


@pytest.fixture(scope="module", params=sorted(LORA_KINDS))
def lora_kind(request: Any, tiny_model_dir: Path, tmp_path_factory: Any) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("kinds") / request.param
    return request.param, _save(_fresh(tiny_model_dir), out, **LORA_KINDS[request.param])


def test_lora_kind_passes_checks_scores_and_merges(
    lora_kind: tuple[str, Path], tiny_model_dir: Path, suite: Any
) -> None:
    from transformers import AutoTokenizer

    from harness.config._preflight import (
        check_adapter_tensors,
        llama_module_names,
        read_adapter_json,
        read_adapter_weights,
        read_base_layout,
    )

    kind, adapter = lora_kind
    cfg_path, cfg = read_adapter_json(adapter)
    weights, header = read_adapter_weights(adapter)
    names = llama_module_names(read_base_layout(tiny_model_dir))
    assert names is not None
    check_adapter_tensors(cfg_path, cfg, weights, header, names)  # model-free preflight
    tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    base = _fresh(tiny_model_dir)
    assert not needs_own_base(adapter, base)
    baseline = _score(base, tok, suite)
    notes: list[str] = []
    model = attach_adapter(base, adapter, "cand", notes=notes)
    assert notes == []
    if kind == "layers":  # layers_to_transform: only layer 1 adapted
        assert not hasattr(model.base_model.model.model.layers[0].self_attn.q_proj, "lora_A")
    if kind == "patterns":
        assert (
            model.base_model.model.model.layers[0].self_attn.q_proj.lora_A["cand"].out_features == 4
        )
    cand = _score(model, tok, suite)
    assert _lls(cand) != pytest.approx(_lls(baseline), abs=1e-4)
    merged = attach_adapter(_fresh(tiny_model_dir), adapter, "cand").merge_and_unload()
    _assert_same(_score(merged, tok, suite), cand)


def test_dora_on_the_nf4_base(tiny_model_dir_64: Path, tmp_path: Path, suite: Any) -> None:
    pytest.importorskip("bitsandbytes")
    from harness.models import load_quantized_base

    adapter = _save(_fresh(tiny_model_dir_64), tmp_path / "dora", use_dora=True)
    nf4 = load_quantized_base(BaseSpec(model=str(tiny_model_dir_64), dtype="bfloat16"), "nf4")
    assert not needs_own_base(adapter, nf4.model)
    model = attach_adapter(nf4.model, adapter, "cand")
    items = _score(model, nf4.tokenizer, suite)
    assert len(items) == 10


# --- 3. base_model_name_or_path naming another copy of the same weights -----------------------


def test_adapter_recording_another_name_of_the_base(
    tiny_model_dir: Path, tmp_path: Path, suite: Any
) -> None:
    from harness.models import fingerprint_files

    adapter = _save(_fresh(tiny_model_dir), tmp_path / "a")
    cfg_path = adapter / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg["base_model_name_or_path"] = "HuggingFaceTB/tiny-llama-mirror"
    cfg_path.write_text(json.dumps(cfg))
    fp = fingerprint_files(tiny_model_dir)
    (adapter / "harness_adapter.json").write_text(json.dumps({"base_fingerprint": fp}))
    model = attach_adapter(_fresh(tiny_model_dir), adapter, "cand", base_fingerprint=fp)
    assert len(_score(model, adapter_tokenizer(tiny_model_dir), suite)) == 10  # the base's
    with pytest.raises(ConfigError, match="trained on another base") as err:
        attach_adapter(_fresh(tiny_model_dir), adapter, "cand", base_fingerprint="0" * 32)
    assert err.value.field == "base_fingerprint"


# --- 4. chat-formatted training against scoring.apply_chat_template ---------------------------


def _meta(adapter: Path, data: dict[str, Any]) -> None:
    (adapter / "harness_adapter.json").write_text(json.dumps({"recipe": {"data": data}}))


def test_chat_template_mismatch_names_the_setting(tmp_path: Path, tiny_model_dir: Path) -> None:
    ad = tmp_path / "a"
    ad.mkdir()
    assert chat_template_mismatch(ad, False) is None and chat_template_mismatch(ad, True) is None
    _meta(ad, {"path": "chat.jsonl", "format": "chat"})
    warn = chat_template_mismatch(ad, False)
    assert warn and "set scoring.apply_chat_template: true" in warn and "'chat'" in warn
    assert chat_template_mismatch(ad, True) is None
    _meta(ad, {"suite": "../suites/tickets/tickets.yaml"})
    warn = chat_template_mismatch(ad, True)
    assert warn and "set scoring.apply_chat_template: false" in warn
    assert chat_template_mismatch(ad, False) is None
    shipped = tmp_path / "shipped"
    _own_tokenizer(tiny_model_dir).save_pretrained(str(shipped))
    warn = chat_template_mismatch(shipped, False)
    assert warn and "ships a chat template" in warn and "apply_chat_template: true" in warn


def test_adapter_chat_template_is_used_when_scoring_with_templates(
    tiny_model_dir: Path, tmp_path: Path, suite: Any
) -> None:
    from harness.engine import HarnessLM

    adapter = _resizing_adapter(tiny_model_dir, tmp_path / "a", "modules_to_save")
    tok = adapter_tokenizer(adapter)
    model = attach_adapter(_fresh(tiny_model_dir), adapter, "cand")
    lm = HarnessLM(model, tok, show_progress=False, device=None)
    rendered = lm.apply_chat_template([{"role": "user", "content": "hi"}])
    assert rendered.startswith("<|tool|>user: hi")
    items = _score(model, tok, suite, ScoringSettings(limit=10, apply_chat_template=True))
    assert len(items) == 10
    assert chat_template_mismatch(adapter, True) is None


# --- 5. malformed: ConfigError with file, field and fix ---------------------------------------


def _copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def mts_adapter(tiny_model_dir: Path, tmp_path_factory: Any) -> Path:
    out = tmp_path_factory.mktemp("mts") / "a"
    return _resizing_adapter(tiny_model_dir, out, "modules_to_save")


def test_modules_to_save_edited_out_of_the_config(
    mts_adapter: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    ad = _copy(mts_adapter, tmp_path / "a")
    cfg = json.loads((ad / "adapter_config.json").read_text())
    cfg["modules_to_save"] = None
    (ad / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError, match="did not load") as err:
        attach_adapter(_fresh(tiny_model_dir), ad, "cand")
    assert err.value.field == "modules_to_save" and "restore modules_to_save" in err.value.fix


def test_tokenizer_larger_than_the_saved_rows(tiny_model_dir: Path, tmp_path: Path) -> None:
    ad = _copy(_save(_fresh(tiny_model_dir), tmp_path / "plain"), tmp_path / "a")
    _own_tokenizer(tiny_model_dir).save_pretrained(str(ad))  # 402 tokens, no saved rows
    notes: list[str] = []
    attach_adapter(_fresh(tiny_model_dir), ad, "cand", notes=notes)  # new rows, initialised
    assert "resized from 400 to 402" in notes[0]
    mts = _copy(
        _resizing_adapter(tiny_model_dir, tmp_path / "m", "modules_to_save"), tmp_path / "b"
    )
    tok = _own_tokenizer(tiny_model_dir)
    tok.add_special_tokens({"additional_special_tokens": [*ADDED, "<|late|>"]})
    tok.save_pretrained(str(mts))
    with pytest.raises(ConfigError, match="402 rows but its tokenizer has 403") as err:
        attach_adapter(_fresh(tiny_model_dir), mts, "cand")
    assert err.value.field == "adapter" and "save the tokenizer" in err.value.fix


def test_unreadable_adapter_tokenizer(
    mts_adapter: Path, tmp_path: Path, tiny_model_dir: Path
) -> None:
    ad = _copy(mts_adapter, tmp_path / "a")
    (ad / "tokenizer.json").write_text("{not json")
    with pytest.raises(ConfigError, match="tokenizer cannot be loaded") as err:
        attach_adapter(_fresh(tiny_model_dir), ad, "cand")
    assert err.value.field == "tokenizer" and str(err.value.file).endswith("tokenizer.json")


def test_modules_to_save_tensors_missing_from_the_file(
    mts_adapter: Path, tiny_model_dir: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file, save_file

    ad = _copy(mts_adapter, tmp_path / "a")
    tensors = load_file(str(ad / "adapter_model.safetensors"))
    kept = {k: v for k, v in tensors.items() if "lm_head.modules_to_save" not in k}
    assert len(kept) < len(tensors)
    save_file(kept, str(ad / "adapter_model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ConfigError, match="not in the file") as err:
        attach_adapter(_fresh(tiny_model_dir), ad, "cand")
    assert "lm_head.modules_to_save" in err.value.problem
    assert str(err.value.file).endswith("adapter_model.safetensors")


def test_a_copy_of_the_base_tokenizer_needs_no_note(tiny_model_dir: Path, tmp_path: Path) -> None:
    """trl saves the tokenizer with every checkpoint: a copy of the base's is nothing to report."""
    from transformers import AutoTokenizer

    base_tok = AutoTokenizer.from_pretrained(str(tiny_model_dir))
    ad = _save(_fresh(tiny_model_dir), tmp_path / "a", base_tok)
    base = _fresh(tiny_model_dir)
    assert not needs_own_base(ad, base)
    notes: list[str] = []
    attach_adapter(base, ad, "cand", base_tokenizer=base_tok, notes=notes)
    assert notes == []


EDITS = [
    ("trainable_tokens", "trainable_token_indices", [5, 9, 999], "trainable_token_indices"),
    ("trainable_tokens", "trainable_token_indices", [5], "adapter"),
    ("trainable_tokens", "trainable_token_indices", "5", "trainable_token_indices"),
    ("layers", "layers_to_transform", [7], "adapter"),
    ("layers", "layers_to_transform", [0], "target_modules"),
    ("layers", "layers_to_transform", "x", "layers_to_transform"),
    ("patterns", "rank_pattern", {}, "r"),
    ("patterns", "rank_pattern", {"q_proj": "x"}, "rank_pattern"),
    ("patterns", "alpha_pattern", [1], "alpha_pattern"),
    ("dora", "use_dora", False, "use_dora"),
]


@pytest.mark.parametrize(("kind", "key", "value", "field"), EDITS)
def test_edited_configs_are_refused_with_the_field(
    kind: str, key: str, value: Any, field: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """Every edit either fails to load or would load part of the adapter: a ConfigError
    naming the field, never a traceback in scoring and never a silently partial load."""
    import torch

    ad = _save(_fresh(tiny_model_dir), tmp_path / "a", **LORA_KINDS[kind])
    cfg = json.loads((ad / "adapter_config.json").read_text())
    cfg[key] = value
    (ad / "adapter_config.json").write_text(json.dumps(cfg))
    with pytest.raises(ConfigError) as err:
        model = attach_adapter(_fresh(tiny_model_dir), ad, "cand")
        model(torch.tensor([[1, 2, 3]]))
    assert err.value.field == field, str(err.value)
    assert err.value.fix


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("rank_pattern", {"q_proj": "x"}),
        ("alpha_pattern", [1]),
        ("layers_to_transform", "x"),
        ("modules_to_save", "embed_tokens"),
        ("trainable_token_indices", {"embed_tokens": [1, -2]}),
    ],
)
def test_preflight_refuses_mistyped_lora_options(key: str, value: Any, tmp_path: Path) -> None:
    """harness validate finds them in milliseconds, before any model loads."""
    from harness.config._preflight import check_adapter_tensors, llama_module_names

    names = llama_module_names({"model_type": "llama", "num_hidden_layers": 2})
    assert names is not None
    cfg = {"peft_type": "LORA", "target_modules": ["q_proj"], key: value}
    cfg_path = tmp_path / "adapter_config.json"
    with pytest.raises(ConfigError) as err:
        check_adapter_tensors(cfg_path, cfg, tmp_path / "adapter_model.safetensors", {}, names)
    assert err.value.field == key and "restore adapter_config.json" in err.value.fix


@pytest.mark.parametrize("first", ["lora", "champion"])
def test_an_adapter_named_lora_loads_every_value_without_peft_s_alarm(
    first: str, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """peft warns that an adapter named inside its prefix ("lora" in "lora_", the default
    candidate's name) "may" be reinitialized on load. The harness silences that warning
    because the values do arrive: every tensor of the file is in the attached model."""
    import warnings

    import torch
    from safetensors.torch import load_file

    plain = _save(_fresh(tiny_model_dir), tmp_path / "plain")
    model = _fresh(tiny_model_dir)
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        if first == "champion":  # "lora" then goes through load_adapter, where peft warns
            model = attach_adapter(model, plain, "champion")
        model = attach_adapter(model, plain, "lora")
    assert not [w for w in seen if "should not be contained in the prefix" in str(w.message)]
    assert not [w for w in seen if "is_gradient_checkpointing" in str(w.message)]
    params = dict(model.named_parameters())
    tensors = load_file(str(plain / "adapter_model.safetensors"))
    assert tensors
    for key, value in tensors.items():
        part = next(p for p in ("lora_A", "lora_B") if f".{p}." in key)
        loaded = params[key.replace(f".{part}.", f".{part}.lora.")]
        assert torch.equal(loaded.detach(), value), key
