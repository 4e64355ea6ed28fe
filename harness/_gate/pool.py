"""The in-memory models of a gate run: one per (base quantisation, peft adapter type).

Candidates served the same way share one model: peft keeps several adapters on one load and
switches between them, but holds one adapter type per model, so another type gets a fresh
load of the base. Key ``(quant, None)`` is a load no adapter has touched yet; the first adapter
type attached to it takes it over. Candidates served quantised (QLoRA) therefore share one NF4
load of the base, which ``gate.quantized_bases`` also scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness._gate.scoring import Steps
from harness.config import BaseSpec

if TYPE_CHECKING:
    from harness.models import LoadedBase

Key = tuple[str, str | None]  # (quantisation, peft adapter type or None)


class ModelPool:
    """Loads the base again only when a quantisation or adapter type needs its own copy."""

    def __init__(self, spec: BaseSpec, base: LoadedBase, steps: Steps) -> None:
        self.spec, self.base, self.steps = spec, base, steps
        self._models: dict[Key, Any] = {("none", None): base.model}

    def model(self, quant: str, peft_type: str | None = None) -> Any:
        """The model that serves ``quant`` with adapters of ``peft_type`` (None: bare base)."""
        from harness.models import load_base, load_quantized_base

        key = (quant, peft_type)
        if key in self._models:
            return self._models[key]
        base, spec = self.base, self.spec
        if peft_type is not None and (quant, None) in self._models:
            self._models[key] = self._models.pop((quant, None))
        elif quant == "none":
            self._models[key] = self.steps.run(
                f"Loading a fresh copy of the base for {peft_type} adapters",
                lambda: load_base(spec, fingerprint=base.fingerprint).model,
            )
        else:
            self._models[key] = self.steps.run(
                f"Loading base quantised ({quant}, bitsandbytes)",
                lambda: (
                    load_quantized_base(
                        spec, quant, base.tokenizer, fingerprint=base.fingerprint
                    ).model
                ),
            )
        return self._models[key]

    def attach(self, quant: str, adapter_dir: Path, name: str) -> Any:
        """Attach the adapter in ``adapter_dir`` as ``name`` to the model serving its type;
        returns that (peft) model with ``name`` active, in eval mode."""
        from harness.models import attach_adapter, read_adapter_config

        peft_type = str(read_adapter_config(adapter_dir).get("peft_type"))
        model = attach_adapter(
            self.model(quant, peft_type), adapter_dir, name, base_fingerprint=self.base.fingerprint
        )
        self._models[(quant, peft_type)] = model
        model.set_adapter(name)
        model.eval()
        return model
