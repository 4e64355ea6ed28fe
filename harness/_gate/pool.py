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
        # quantisation -> how its layers run (harness.models._nf4_cpu's EXECUTION_* names)
        self.executions: dict[str, str] = {}

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
                lambda: self._quantized(
                    load_quantized_base(
                        spec, quant, base.tokenizer, fingerprint=base.fingerprint
                    ).model,
                    quant,
                ),
            )
        return self._models[key]

    def _own_load(self, quant: str, name: str) -> Any:
        """A fresh load of the base (quantised ``quant``) that only candidate ``name`` uses."""
        from harness.models import load_base, load_quantized_base

        base, spec = self.base, self.spec
        if quant == "none":
            return self.steps.run(
                f"Loading a copy of the base for {name} alone (its own vocabulary)",
                lambda: load_base(spec, fingerprint=base.fingerprint).model,
            )
        return self.steps.run(
            f"Loading base quantised ({quant}) for {name} alone (its own vocabulary)",
            lambda: self._quantized(
                load_quantized_base(
                    spec, quant, base.tokenizer, fingerprint=base.fingerprint
                ).model,
                quant,
            ),
        )

    def execution(self, quant: str) -> str | None:
        """How the base quantised ``quant`` runs in this pool (None: not quantised/loaded)."""
        return self.executions.get(quant)

    def _quantized(self, model: Any, quant: str) -> Any:
        """On CPU an NF4 base runs from its NF4 values dequantized once (the arithmetic of
        bitsandbytes' CPU path, without dequantizing on every forward); on CUDA, or with
        ``HARNESS_NF4_EXECUTION=bitsandbytes``, the real 4-bit layers stay."""
        from harness.models._nf4_cpu import (
            EXECUTION_BNB,
            EXECUTION_DEQUANTIZED,
            cpu_execution,
            dequantize_4bit_layers,
        )

        if quant != "nf4":
            self.executions[quant] = "bitsandbytes-8bit"
            return model
        device = next(model.parameters()).device.type
        execution = cpu_execution(device)
        if execution == EXECUTION_DEQUANTIZED and dequantize_4bit_layers(model) == 0:
            execution = EXECUTION_BNB  # nothing 4-bit to replace: say what really ran
        self.executions[quant] = execution
        return model

    def attach(
        self, quant: str, adapter_dir: Path, name: str, notes: list[str] | None = None
    ) -> Any:
        """Attach the adapter in ``adapter_dir`` as ``name`` to the model serving its type;
        returns that (peft) model with ``name`` active, in eval mode.

        An adapter that changes the base itself (its own vocabulary: a resized embedding, or
        saved embedding layers) gets a base load of its own, never shared: resizing a shared
        load would change what the other candidates are scored on. What the report should say
        about it is appended to ``notes``."""
        from harness.models import attach_adapter, needs_own_base, read_adapter_config

        peft_type = str(read_adapter_config(adapter_dir).get("peft_type"))
        own = needs_own_base(adapter_dir, self.base.model)
        target = self._own_load(quant, name) if own else self.model(quant, peft_type)
        model = attach_adapter(
            target,
            adapter_dir,
            name,
            base_fingerprint=self.base.fingerprint,
            base_tokenizer=self.base.tokenizer,
            notes=notes,
        )
        if not own:  # an own load is dropped once its candidate is scored
            self._models[(quant, peft_type)] = model
        model.set_adapter(name)
        model.eval()
        return model
