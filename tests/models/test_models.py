from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from harness.config import BaseSpec, ConfigError
from harness.models import fingerprint_files, load_base, variant_fingerprint


def test_loads_safetensors_base(tiny_model_dir: Path) -> None:
    base = load_base(BaseSpec(model=str(tiny_model_dir), dtype="float32"))
    assert not any(p.requires_grad for p in base.model.parameters())
    assert base.fingerprint == fingerprint_files(tiny_model_dir)


def test_pickle_only_weights_are_refused_by_default(tiny_model_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "pickled"
    shutil.copytree(tiny_model_dir, d)
    (d / "model.safetensors").rename(d / "pytorch_model.bin")
    with pytest.raises(ConfigError) as e:
        load_base(BaseSpec(model=str(d)))
    assert e.value.field == "base.allow_pickle"


def test_changed_weights_change_the_fingerprint(tiny_model_dir: Path, tmp_path: Path) -> None:
    d = tmp_path / "copy"
    shutil.copytree(tiny_model_dir, d)
    before = fingerprint_files(d)
    w = d / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    assert fingerprint_files(d) != before


def test_variant_fingerprint_depends_on_every_part() -> None:
    a = variant_fingerprint("b", "a", "none", "bfloat16")
    assert a != variant_fingerprint("b", None, "none", "bfloat16")
    assert a != variant_fingerprint("b", "a", "nf4", "bfloat16")
    assert a != variant_fingerprint("b", "a", "none", "float32")
