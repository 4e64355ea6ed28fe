"""The compatibility table: every patch of a third-party internal, its library's version range,
and what happens outside it."""

from __future__ import annotations

import ast
import logging
from pathlib import Path

import pytest

from harness.accel import compat

PATCHES_DIR = Path(compat.__file__).parent / "patches"


def test_installed_versions_are_inside_the_table() -> None:
    # Fails (loudly, naming each row) when a dependency upgrade leaves a patch's range: read
    # the new release's source for the row's `reads`, then widen it in harness/accel/compat.py.
    compat.check_versions()
    installed = {p.library for p in compat.PATCHES if compat.installed_version(p.library)}
    assert {"transformers", "trl", "peft"} <= installed


def test_a_version_outside_the_table_fails_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = compat.installed_version
    fake = {"peft": "0.99.0", "trl": "2.0.0"}
    monkeypatch.setattr(compat, "installed_version", lambda lib: fake.get(lib) or real(lib))
    with pytest.raises(compat.VersionOutsideTable) as e:
        compat.check_versions()
    message = str(e.value)
    for row in ("peft-lora-linear-forward", "peft-lora-bnb-variant", "trl-sft-compute-loss"):
        assert row in message
    assert "peft 0.99.0 is outside >=0.21,<0.22" in message
    assert "trl 2.0.0 is outside >=1.16,<1.17" in message
    assert "transformers" not in message.split("\n", 1)[1]  # rows of other libraries pass


def test_local_version_labels_are_the_release(monkeypatch: pytest.MonkeyPatch) -> None:
    real = compat.installed_version
    monkeypatch.setattr(
        compat, "installed_version", lambda lib: "0.21.2+local" if lib == "peft" else real(lib)
    )
    compat.check_versions()


def test_outside_its_range_a_patch_is_not_applied_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # peft outside its range: fused_lora leaves every layer on peft's own forward.
    import torch
    from peft import LoraConfig, get_peft_model

    from harness.accel import fused_lora

    real = compat.installed_version
    monkeypatch.setattr(
        compat, "installed_version", lambda lib: "0.99.0" if lib == "peft" else real(lib)
    )
    compat.forget()
    try:
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.ReLU(), torch.nn.Linear(8, 4))
        model = get_peft_model(net, LoraConfig(r=2, target_modules=["0", "2"]))
        with caplog.at_level(logging.WARNING), fused_lora(model, True) as report:
            assert report.fused == 0 and sum(report.left.values()) == 2
            assert not any("forward" in vars(m) for m in model.modules())
        assert "peft-lora-linear-forward not applied: peft 0.99.0" in caplog.text
    finally:
        compat.forget()


def test_every_patch_has_a_row_and_every_row_a_use() -> None:
    # Each allowed("...") in the patches names a row, and each row is checked somewhere there:
    # nothing reaches into a library's internals without a version check.
    used: set[str] = set()
    for path in PATCHES_DIR.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", None) == "allowed"
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                used.add(node.args[0].value)
    names = {p.name for p in compat.PATCHES}
    assert used == names
    assert len(names) == len(compat.PATCHES)
    for p in compat.PATCHES:
        assert p.how in {"replace", "hook", "restore", "write", "call"}, p.name
        assert p.module.startswith("harness.accel.patches."), p.name
        assert p.reads and p.public and p.written_against, p.name
        if p.library == "peft":  # for peft's layers: why LoraVariant does (not) serve
            assert "LoraVariant" in p.public, p.name


def test_the_kernels_import_no_patched_library() -> None:
    # ops/ holds kernels only: no peft, trl, transformers or liger import there.
    ops = PATCHES_DIR.parent / "ops"
    for path in ops.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert root not in {"peft", "trl", "transformers", "liger_kernel"}, (path, name)
                assert not name.startswith("harness.accel.patches"), (path, name)
