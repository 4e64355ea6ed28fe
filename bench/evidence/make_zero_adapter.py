"""Write a LoRA adapter at its initialisation (lora_B = 0) for the builtin base.

python bench/evidence/make_zero_adapter.py [OUT_DIR]   (default .harness/zero-adapter)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main() -> None:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from harness.models import builtin_base_dir, fingerprint_files

    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / ".harness" / "zero-adapter"
    base_dir = builtin_base_dir()
    model = AutoModelForCausalLM.from_pretrained(str(base_dir))
    targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    peft_model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules=targets))
    peft_model.save_pretrained(str(out))
    (out / "harness_adapter.json").write_text(
        json.dumps({"base_fingerprint": fingerprint_files(base_dir), "note": "zero init"}),
        encoding="utf-8",
    )
    print(out)


if __name__ == "__main__":
    main()
