"""Release gate for LoRA/QLoRA fine-tunes.

Heavy libraries (torch, mlflow, lm-eval, trl, bitsandbytes) are imported only inside the
modules that adapt them, so ``import harness`` stays fast for the CLI and the pytest plugin.
"""

__version__ = "0.1.0"

# Bumped whenever a change alters per-item scores, so stored results from older scoring
# code are never compared with new ones.
SCORING_VERSION = "2"  # 2: generation follows HFLM (EOS stop, per-request settings); bpb per item
