"""One gate run with candidates of different adapter types (LoRA, IA3, prefix tuning).

peft keeps one adapter type per model, so the gate gives each type its own load of the base;
a prefix-tuning candidate is scored through PeftModel.forward (its virtual tokens apply).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import write_tiny_experiment


def test_lora_ia3_and_prefix_candidates_gate_in_one_run(
    tiny_model_dir: Path, isolated_env: Path
) -> None:
    exp = write_tiny_experiment(isolated_env / "p", tiny_model_dir, max_steps=2)
    training = exp.parent / "training"
    recipe = (training / "lora.yaml").read_text()
    lora_block = "lora:\n  r: 4\n  alpha: 8\n  dropout: 0.0\n  target_modules: [q_proj, v_proj]\n"
    assert lora_block in recipe
    for method, block in (("ia3", ""), ("prefix", "prefix:\n  num_virtual_tokens: 4\n")):
        (training / f"{method}.yaml").write_text(
            recipe.replace(
                "name: tiny-lora\nmethod: lora", f"name: tiny-{method}\nmethod: {method}"
            )
            .replace(lora_block, block)
            .replace("learning_rate: 0.005", "learning_rate: 0.05")
        )
    exp.write_text(
        exp.read_text().replace(
            "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n",
            "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n"
            "  - name: ia3\n    recipe: training/ia3.yaml\n"
            "  - name: prefix\n    recipe: training/prefix.yaml\n",
        )
    )
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "evaluate", str(exp)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode in (0, 1), out[-3000:]
    # The first type takes over the base load; each other type gets its own fresh load.
    assert out.count("Loading a fresh copy of the base for") == 2, out[-3000:]
    summary = json.loads((exp.parent / "reports" / "latest" / "summary.json").read_text())
    methods = {
        v["name"]: json.loads((Path(v["adapter"]) / "harness_adapter.json").read_text())["recipe"][
            "method"
        ]
        for v in summary["variants"]
        if v["role"] == "candidate"
    }
    assert methods == {"lora": "lora", "ia3": "ia3", "prefix": "prefix"}
    # Every candidate, the prefix-tuning one included, changed the base's outputs.
    noops = {c["variant"]: c for c in summary["checks"] if c["kind"] == "not_a_noop"}
    assert set(noops) == set(methods) and all(c["passed"] for c in noops.values())
    for name in methods:
        assert {c["suite"] for c in summary["checks"] if c["variant"] == name} >= {
            "tickets",
            "general",
        }
