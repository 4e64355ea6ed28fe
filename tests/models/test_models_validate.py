"""Refusing bad weights and adapters with a ConfigError that leaves every file untouched."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.config import BaseSpec, ConfigError
from harness.models import (
    attach_adapter,
    check_safetensors,
    confine,
    fingerprint_files,
    load_base,
    validate_adapter,
)


def _snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
    return {str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in files}


Watch = Callable[[Path], None]


@pytest.fixture
def untouched() -> Iterator[Watch]:
    """``untouched(path)`` snapshots a file or dir; afterwards its bytes and mtimes must match."""
    before: dict[Path, dict[str, tuple[bytes, int]]] = {}

    def watch(p: Path) -> None:
        before[p] = _snapshot(p)

    yield watch
    for p, snap in before.items():
        assert _snapshot(p) == snap, f"{p} was modified"


def _fresh_base(model_dir: Path) -> Any:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(model_dir), dtype="float32").eval()


def _make_adapter(
    model: Any, target: Path, targets: tuple[str, ...] = ("q_proj", "v_proj")
) -> Path:
    from peft import LoraConfig, get_peft_model

    peft_model = get_peft_model(model, LoraConfig(r=2, target_modules=list(targets)))
    peft_model.save_pretrained(str(target))
    return target


@pytest.fixture(scope="module")
def adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_adapter(_fresh_base(tiny_model_dir), tmp_path_factory.mktemp("adapter") / "a")


@pytest.fixture(scope="module")
def wide_adapter_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An adapter for another tiny llama: hidden 48 instead of 32."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(1)
    cfg = LlamaConfig(
        vocab_size=400,
        hidden_size=48,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
    )
    return _make_adapter(LlamaForCausalLM(cfg), tmp_path_factory.mktemp("wide") / "a")


@pytest.fixture
def base(tiny_model_dir: Path) -> Any:
    return _fresh_base(tiny_model_dir)


def _copy(src: Path, tmp_path: Path, name: str = "copy") -> Path:
    dst = tmp_path / name
    shutil.copytree(src, dst)
    return dst


def _edit_config(adapter: Path, **changes: Any) -> None:
    p = adapter / "adapter_config.json"
    cfg = json.loads(p.read_text(encoding="utf-8"))
    cfg.update(changes)
    p.write_text(json.dumps(cfg), encoding="utf-8")


# --- safetensors -------------------------------------------------------------------------------


def test_truncated_base_safetensors_is_refused(
    tiny_model_dir: Path, tmp_path: Path, untouched: Watch
) -> None:
    d = _copy(tiny_model_dir, tmp_path)
    w = d / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    untouched(d)
    with pytest.raises(ConfigError) as e:
        load_base(BaseSpec(model=str(d), dtype="float32"))
    assert e.value.file == str(w) and e.value.field == "base.model"
    assert "truncated" in e.value.problem and "re-download" in e.value.fix


def test_garbage_header_is_refused(tiny_model_dir: Path, tmp_path: Path, untouched: Watch) -> None:
    d = _copy(tiny_model_dir, tmp_path)
    w = d / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[8:40] = b"\xff\xfe garbage \x00\x01\x02 not json at all"[:32]
    w.write_bytes(bytes(data))
    untouched(d)
    with pytest.raises(ConfigError) as e:
        load_base(BaseSpec(model=str(d), dtype="float32"))
    assert e.value.file == str(w) and "not UTF-8 JSON" in e.value.problem


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x01\x02",
        (10**9).to_bytes(8, "little") + b"{}",
        b"\x02\x00\x00\x00\x00\x00\x00\x00[]",
    ],
    ids=["empty", "short", "huge-length", "not-object"],
)
def test_malformed_prefix_is_refused(tmp_path: Path, content: bytes) -> None:
    w = tmp_path / "x.safetensors"
    w.write_bytes(content)
    with pytest.raises(ConfigError) as e:
        check_safetensors(w)
    assert "corrupt or truncated" in e.value.problem
    assert w.read_bytes() == content


def test_offsets_outside_data_are_refused(tmp_path: Path) -> None:
    header = json.dumps({"t": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}).encode()
    w = tmp_path / "x.safetensors"
    w.write_bytes(len(header).to_bytes(8, "little") + header + b"\x00" * 8)
    with pytest.raises(ConfigError) as e:
        check_safetensors(w, "adapter")
    assert "outside the data section" in e.value.problem and e.value.field == "adapter"


def test_intact_safetensors_pass(tiny_model_dir: Path) -> None:
    check_safetensors(tiny_model_dir / "model.safetensors")


def test_truncated_adapter_weights_are_refused(
    adapter_dir: Path, base: Any, tmp_path: Path, untouched: Watch
) -> None:
    a = _copy(adapter_dir, tmp_path)
    w = a / "adapter_model.safetensors"
    w.write_bytes(w.read_bytes()[:-10])
    untouched(a)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.file == str(w) and e.value.field == "adapter"


# --- adapters ----------------------------------------------------------------------------------


def test_valid_adapter_attaches(
    adapter_dir: Path, base: Any, tiny_model_dir: Path, tmp_path: Path, untouched: Watch
) -> None:
    from peft import PeftModel

    a = _copy(adapter_dir, tmp_path)
    fp = fingerprint_files(tiny_model_dir)
    (a / "harness_adapter.json").write_text(json.dumps({"base_fingerprint": fp}))
    untouched(a)
    model = attach_adapter(base, a, "cand", base_fingerprint=fp)
    assert isinstance(model, PeftModel)
    # a second adapter on the same PeftModel is validated against the wrapped base
    model = attach_adapter(model, a, "cand2", base_fingerprint=fp)
    assert set(model.peft_config) == {"cand", "cand2"}


def test_validate_adapter_returns_the_config(adapter_dir: Path, base: Any) -> None:
    cfg = validate_adapter(adapter_dir, base)
    assert cfg["peft_type"] == "LORA" and sorted(cfg["target_modules"]) == ["q_proj", "v_proj"]


def test_adapter_of_wider_base_names_module_and_shapes(
    wide_adapter_dir: Path, base: Any, untouched: Watch
) -> None:
    untouched(wide_adapter_dir)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, wide_adapter_dir, "cand")
    assert e.value.file == str(wide_adapter_dir / "adapter_model.safetensors")
    assert "another base" in e.value.problem
    assert "model.layers.0.self_attn." in e.value.problem and "[2, 48]" in e.value.problem
    assert "Linear(32" in e.value.problem


def test_adapter_of_same_shape_other_base_is_caught_by_fingerprint(
    adapter_dir: Path, base: Any, tiny_model_dir: Path, tmp_path: Path, untouched: Watch
) -> None:
    a = _copy(adapter_dir, tmp_path)
    (a / "harness_adapter.json").write_text(json.dumps({"base_fingerprint": "0" * 32}))
    untouched(a)
    fp = fingerprint_files(tiny_model_dir)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand", base_fingerprint=fp)
    assert e.value.field == "base_fingerprint" and "trained on another base" in e.value.problem
    assert e.value.file == str(a / "harness_adapter.json")
    # without a fingerprint to compare against, shapes alone cannot tell: it loads
    validate_adapter(a, base)


def test_partial_target_match_names_the_unmatched(
    adapter_dir: Path, base: Any, tmp_path: Path, untouched: Watch
) -> None:
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, target_modules=["q_proj", "nonexistent_proj"])
    untouched(a)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.field == "target_modules"
    assert "['nonexistent_proj']" in e.value.problem and "only ['q_proj']" in e.value.problem


def test_regex_targets(adapter_dir: Path, base: Any, tmp_path: Path) -> None:
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, target_modules=r".*\.(q_proj|v_proj)")
    validate_adapter(a, base)
    _edit_config(a, target_modules=r".*\.nothing_here")
    with pytest.raises(ConfigError) as e:
        validate_adapter(a, base)
    assert e.value.field == "target_modules" and "regex" in e.value.problem


def test_unknown_peft_type_is_refused(
    adapter_dir: Path, base: Any, tmp_path: Path, untouched: Watch
) -> None:
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, peft_type="HYPERLORA")
    untouched(a)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.field == "peft_type" and "'HYPERLORA'" in e.value.problem


def _installed_peft() -> str:
    import peft

    return str(peft.__version__)


def test_active_unknown_key_explains_version_skew(
    adapter_dir: Path, base: Any, tmp_path: Path, untouched: Watch
) -> None:
    # peft itself ignores unknown keys with a warning; an unknown feature switched on would
    # silently score another model than the one trained, so it is refused.
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, use_hyper_lora=True, peft_version="9.9.0")
    untouched(a)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    msg = str(e.value)
    assert e.value.field == "use_hyper_lora" and "version skew" in msg
    assert "peft 9.9.0" in msg and f"peft {_installed_peft()}" in msg
    assert "peft==9.9.0" in e.value.fix and "re-save" in e.value.fix


def test_inactive_unknown_key_is_tolerated(adapter_dir: Path, base: Any, tmp_path: Path) -> None:
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, use_hyper_lora=False, hyper_config=None)
    validate_adapter(a, base)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"r": "two"}, "r"),
        ({"target_modules": 5}, "target_modules"),
        ({"task_type": "CAUSAL_LM_V2"}, "adapter_config.json"),  # peft's own parse fails
    ],
)
def test_wrong_types_explain_version_skew(
    adapter_dir: Path,
    base: Any,
    tmp_path: Path,
    untouched: Watch,
    change: dict[str, Any],
    field: str,
) -> None:
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, **change, peft_version="9.9.0")
    untouched(a)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.field == field and "version skew" in e.value.problem
    assert f"peft {_installed_peft()} is installed" in e.value.problem
    assert "saved with peft" in e.value.problem  # the adapter's own peft_version


def test_wrong_type_saved_by_the_installed_peft_is_not_called_skew(
    adapter_dir: Path, base: Any, tmp_path: Path
) -> None:
    """Saved by the installed peft: advising to install that same peft misleads (issue #18)."""
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, r="two", peft_version=_installed_peft())
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.field == "r" and "version skew" not in e.value.problem
    assert "edited after saving" in e.value.problem and "install" not in e.value.fix


def test_non_utf8_adapter_config_is_refused(
    adapter_dir: Path, base: Any, tmp_path: Path, untouched: Watch
) -> None:
    a = _copy(adapter_dir, tmp_path)
    (a / "adapter_config.json").write_bytes(b'{"peft_type": "LORA", "r": "\xff\xfe"}')
    untouched(a)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.file == str(a / "adapter_config.json")
    with pytest.raises(ConfigError) as e2:
        validate_adapter(a, base)
    assert "UTF-8" in e2.value.problem and "re-save" in e2.value.fix


# --- confine -----------------------------------------------------------------------------------


def test_confine_keeps_paths_inside_root(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.jsonl").write_text("{}\n")
    assert (
        confine(Path("sub/d.jsonl"), tmp_path, "s.yaml", "data")
        == (tmp_path / "sub" / "d.jsonl").resolve()
    )
    assert confine(tmp_path / "sub" / ".." / "sub" / "d.jsonl", tmp_path, None, None).is_file()


def test_confine_refuses_dotdot_escape(tmp_path: Path, untouched: Watch) -> None:
    root = tmp_path / "suites"
    root.mkdir()
    untouched(tmp_path)
    with pytest.raises(ConfigError) as e:
        confine(Path("../../etc/passwd"), root, root / "s.yaml", "dataset_kwargs.data_files.test")
    assert e.value.file == str(root / "s.yaml")
    assert e.value.field == "dataset_kwargs.data_files.test"
    assert "outside" in e.value.problem and "inside" in e.value.fix


def test_confine_refuses_symlink_escape(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "secret.txt"
    outside.write_text("x")
    (root / "link.txt").symlink_to(outside)
    with pytest.raises(ConfigError):
        confine(Path("link.txt"), root, "s.yaml", "data")
    with pytest.raises(ConfigError):
        confine(Path("/etc/passwd"), root, "s.yaml", "data")
    assert outside.read_text() == "x"


# --- adapter integrity after attach (issue #18) ------------------------------------------------


@pytest.fixture(scope="module")
def four_target_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_adapter(
        _fresh_base(tiny_model_dir),
        tmp_path_factory.mktemp("four") / "a",
        ("q_proj", "v_proj", "up_proj", "down_proj"),
    )


def _drop_tensors(adapter: Path, needle: str) -> None:
    from safetensors.torch import load_file, save_file

    w = adapter / "adapter_model.safetensors"
    tensors = {k: v for k, v in load_file(str(w)).items() if needle not in k}
    save_file(tensors, str(w), metadata={"format": "pt"})


def test_narrowed_target_modules_drop_no_tensor_silently(
    four_target_adapter: Path, base: Any, tmp_path: Path, untouched: Watch
) -> None:
    """b805b56 scored another model: peft dropped the up/down tensors without a word."""
    a = _copy(four_target_adapter, tmp_path)
    _edit_config(a, target_modules=["q_proj", "v_proj"])
    untouched(a)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.field == "target_modules" and e.value.file == str(a / "adapter_config.json")
    assert "model.layers.0.mlp.up_proj" in e.value.problem and "dropped" in e.value.problem


def test_deleted_tensors_of_a_target_module_are_refused(
    four_target_adapter: Path, base: Any, tmp_path: Path
) -> None:
    a = _copy(four_target_adapter, tmp_path)
    _drop_tensors(a, "layers.1.mlp.up_proj")
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.field == "adapter"
    assert "model.layers.1.mlp.up_proj (lora_A/lora_B)" in e.value.problem


def test_deleted_lora_b_alone_is_refused(adapter_dir: Path, base: Any, tmp_path: Path) -> None:
    a = _copy(adapter_dir, tmp_path)
    _drop_tensors(a, "layers.0.self_attn.q_proj.lora_B")
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert "model.layers.0.self_attn.q_proj (lora_B)" in e.value.problem


def test_intact_adapter_with_a_substring_name_attaches_twice(
    adapter_dir: Path, four_target_adapter: Path, base: Any
) -> None:
    """Names like 'lora' (inside 'lora_A') and 'qlora' must not confuse the integrity check."""
    model = attach_adapter(base, adapter_dir, "lora")
    model = attach_adapter(model, four_target_adapter, "qlora")
    assert set(model.peft_config) == {"lora", "qlora"}


def test_ia3_config_on_lora_tensors_says_so(
    adapter_dir: Path, base: Any, tmp_path: Path, untouched: Watch
) -> None:
    """b805b56 blamed 'bias' and peft version skew, and advised installing the installed peft."""
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, peft_type="IA3")
    untouched(a)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.field == "peft_type"
    assert "does not match the tensors" in e.value.problem and "LORA" in e.value.problem
    assert "skew" not in e.value.problem and "install" not in e.value.fix


def test_rank_mismatch_names_config_r_and_tensor_shape(
    adapter_dir: Path, base: Any, tmp_path: Path
) -> None:
    a = _copy(adapter_dir, tmp_path)
    _edit_config(a, r=8)
    with pytest.raises(ConfigError) as e:
        attach_adapter(base, a, "cand")
    assert e.value.field == "r" and "r is 8" in e.value.problem and "[2, 32]" in e.value.problem
    assert "set r to 2" in e.value.fix and "another base" not in e.value.fix


def test_failed_load_keeps_torch_size_detail() -> None:
    from harness.models._load import _load_detail

    exc = RuntimeError(
        "Error(s) in loading state_dict for PeftModel:\n"
        "\tsize mismatch for a.lora_A.cand.weight: copying a param with shape "
        "torch.Size([2, 32]) from checkpoint, the shape in current model is torch.Size([8, 32])."
    )
    detail = _load_detail(exc)
    assert "size mismatch for a.lora_A.cand.weight" in detail and "[8, 32]" in detail
