"""LoRA vs QLoRA on real bitsandbytes 4-bit layers, the NF4 base against the base, and the
merged LoRA against the unmerged one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_tiny_experiment


def test_qlora_candidate_and_nf4_base_get_quantization_gap_checks(
    tiny_model_dir_64: Path, isolated_env: Path
) -> None:
    exp = write_tiny_experiment(
        isolated_env / "p",
        tiny_model_dir_64,
        gate="gate:\n  min_gain: 0.0\n  forgetting_margin: 1.0\n  capability_margin: 1.0\n"
        "  quantization_margin: 1.0\n  quantized_bases: [nf4]\n  merge_check: true\n",
    )
    recipe = (exp.parent / "training" / "lora.yaml").read_text()
    (exp.parent / "training" / "qlora.yaml").write_text(
        recipe.replace("name: tiny-lora\nmethod: lora", "name: tiny-qlora\nmethod: qlora").replace(
            "dtype: float32", "dtype: bfloat16"
        )
    )
    exp.write_text(
        exp.read_text().replace(
            "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n",
            "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n"
            "  - name: qlora\n    recipe: training/qlora.yaml\n    compare_to: lora\n",
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "evaluate", str(exp)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads((exp.parent / "reports" / "latest" / "summary.json").read_text())
    quant = {v["name"]: v["quantization"] for v in summary["variants"]}
    assert quant == {"base": "none", "base-nf4": "nf4", "lora": "none", "qlora": "nf4"}
    gaps = {c["name"] for c in summary["checks"] if c["kind"] == "quantization_gap"}
    assert gaps == {
        "base-nf4::tickets::quantization_gap",
        "base-nf4::general::quantization_gap",
        "qlora::tickets::quantization_gap",
        "qlora::general::quantization_gap",
    }
    merges = {c["name"]: c for c in summary["checks"] if c["kind"] == "merge_equivalence"}
    assert set(merges) == {"lora::tickets::merge_equivalence", "lora::general::merge_equivalence"}
    assert all(c["passed"] and c["n"] > 0 for c in merges.values())  # fp32: merging is exact
    noops = {c["variant"]: c for c in summary["checks"] if c["kind"] == "not_a_noop"}
    assert set(noops) == {"lora", "qlora"}
    # The QLoRA adapter was trained on, and is served on, real 4-bit layers.
    meta = json.loads(
        (Path(summary["variants"][3]["adapter"]) / "harness_adapter.json").read_text()
    )
    assert meta["recipe"]["method"] == "qlora"
    assert meta["recipe"]["quantization"]["quant_type"] == "nf4"
