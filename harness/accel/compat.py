"""Every place the speed code reaches into a third-party library's internals, and for which
versions that was read and tested.

``PATCHES`` is the one table of them: what is patched (or read, or called) and how, the
library, the version range the code was written against, and why no public API or hook does
the job. ``harness/accel/patches/`` applies each row only through ``allowed(name)``: with the
library installed at a version outside the row's range the patch is not applied, that
library's own code runs instead (training is then as fast as plain trl/peft, and computes what
they compute) and one warning names the row. ``check_versions()`` raises for any installed
version outside the table; ``tests/accel/test_compat.py`` calls it, so a dependency upgrade
fails the fast tests loudly instead of switching a speed-up off in silence. Widening a range
means reading the new release's source for the row's ``reads`` and re-running
``tests/accel`` (and ``nox -s gpu`` on a CUDA machine).

This module imports neither torch nor any patched library: the versions come from the
installed distributions' metadata.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass
from importlib import metadata

from packaging.specifiers import SpecifierSet
from packaging.version import Version

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Patch:
    """One reach into a library's internals.

    ``how``: ``replace`` (an attribute or method swapped on an instance, put back on exit),
    ``hook`` (an entry registered into a library's own private extension point), ``restore``
    (library state snapshotted and put back), ``write`` (a private attribute set) or ``call``
    (a private function called). ``reads``: the library internals the code reads or relies on.
    ``public``: why no public API serves (for peft's layer forwards: why peft's ``LoraVariant``
    hook does not, or that it is used).
    """

    name: str
    library: str  # distribution name, as pip knows it
    target: str
    how: str
    versions: str  # PEP 440 specifier set the code was written against
    written_against: str
    module: str  # where in harness/accel/patches it is applied
    reads: str
    public: str


_TRANSFORMERS = ">=5.0,<6"
_TRANSFORMERS_SEEN = "5.17.0 (H200 runs), 5.24.0 (CPU CI)"
_PEFT = ">=0.21,<0.22"
_PEFT_SEEN = "0.21.0 (H200 runs), 0.21.2 (CPU CI)"
_TRL = ">=1.16,<1.17"
_TRL_SEEN = "1.16.0"
_LIGER = ">=0.8.5,<0.9"
_LIGER_SEEN = "0.8.5 (H200 runs)"

PATCHES: tuple[Patch, ...] = (
    Patch(
        name="peft-lora-linear-forward",
        library="peft",
        target="peft.tuners.lora.layer.Linear.forward (per layer instance)",
        how="replace",
        versions=_PEFT,
        written_against=_PEFT_SEEN,
        module="harness.accel.patches.lora_layers",
        reads="base_layer, lora_A, lora_B, lora_dropout, scaling, active_adapters, "
        "disable_adapters, merged, lora_variant, use_dora, cast_input_dtype_enabled; "
        "the forward's dispatch (adapter_names, disabled, merged) is reproduced per call",
        public="LoraVariant does not serve: peft calls variant.forward(module, adapter, x, "
        "result) after it has computed result = base_layer(x) as its own autograd node, so a "
        "variant can only add a delta. LoraLinear exists to make the frozen 16-bit GEMM and "
        "the delta one node (delta added in the base GEMM's epilogue, the LoRA input gradient "
        "accumulated into the base GEMM, a bool mask kept), which needs the whole forward.",
    ),
    Patch(
        name="peft-lora-bnb-variant",
        library="peft",
        target="peft.tuners.lora.bnb.Linear4bit / Linear8bitLt .lora_variant[adapter] "
        "(per layer instance)",
        how="hook",
        versions=_PEFT,
        written_against=_PEFT_SEEN,
        module="harness.accel.patches.lora_layers",
        reads="lora_variant (the LoraVariant protocol: forward, merge_safe, merge_unsafe, "
        "unmerge; peft's docstring calls it private and prone to change), lora_A, lora_B, "
        "lora_dropout, scaling, active_adapters, cast_input_dtype_enabled, get_delta_weight",
        public="LoraVariant serves and is used: over a bitsandbytes base only the delta is "
        "ours (LoraDelta), and peft's own forward keeps its dispatch (disabled, merged, "
        "adapter_names batches) and its dtype handling. It costs peft's defensive clone of "
        "the 4-bit output, which the earlier forward swap skipped.",
    ),
    Patch(
        name="llama-mlp-forward",
        library="transformers",
        target="transformers.models.llama.modeling_llama.LlamaMLP.forward (per instance; "
        "also liger's LigerSwiGLUMLP.forward bound to the instance)",
        how="replace",
        versions=_TRANSFORMERS,
        written_against=_TRANSFORMERS_SEEN,
        module="harness.accel.patches.lora_layers",
        reads="gate_proj, up_proj, down_proj, config.hidden_act; the forward is "
        "down_proj(silu(gate_proj(x)) * up_proj(x)) (source read for LlamaMLP and liger's "
        "LigerSwiGLUMLP)",
        public="no hook lets a module keep fewer activations; the MLP's forward is the unit "
        "whose saved tensors change (lean mode only, CUDA with checkpointing)",
    ),
    Patch(
        name="liger-swiglu-ops",
        library="liger-kernel",
        target="liger_kernel.ops.swiglu.swiglu_forward / swiglu_backward",
        how="call",
        versions=_LIGER,
        written_against=_LIGER_SEEN,
        module="harness.accel.patches.lora_layers",
        reads="return values (a, b, c) of swiglu_forward; swiglu_backward writes the gate and "
        "up gradients into the gate and up buffers",
        public="liger's LigerSiLUMulFunction returns the product as a tensor, which the down "
        "projection then keeps for its A gradient; not keeping it means making the product "
        "inside the down projection's own node, with the raw kernels",
    ),
    Patch(
        name="liger-apply-to-instance",
        library="transformers",
        target="transformers.integrations.liger.apply_liger_kernel",
        how="call",
        versions=_TRANSFORMERS,
        written_against=_TRANSFORMERS_SEEN,
        module="harness.accel.patches.trainer",
        reads="the function the Trainer calls at the start of train() for "
        "use_liger_kernel=True, called here with trl's setting (no fused linear cross "
        "entropy) before the lean MLP is swapped in, so nothing rebinds the MLP afterwards",
        public="use_liger_kernel=True applies liger inside train(), after the speed contexts "
        "are entered, and rebinds each MLP's forward; the flag is also deprecated in trl 1.16",
    ),
    Patch(
        name="modeling-module-globals",
        library="transformers",
        target="transformers.models.<arch>.modeling_<arch> module attributes and each "
        "class's forward",
        how="restore",
        versions=_TRANSFORMERS,
        written_against=_TRANSFORMERS_SEEN,
        module="harness.accel.patches.modeling",
        reads="vars() of every transformers.models.* module the model's classes come from",
        public="liger-kernel patches those modules for the whole process and offers no undo",
    ),
    Patch(
        name="trl-sft-compute-loss",
        library="trl",
        target="trl.SFTTrainer.compute_loss (per trainer instance)",
        how="replace",
        versions=_TRL,
        written_against=_TRL_SEEN + " (its plain branch, source checked by hash)",
        module="harness.accel.patches.trainer",
        reads="_metrics, _total_train_tokens, _tp_size, aux_loss_enabled, compute_loss_func, "
        "label_smoother, args.loss_type, accelerator.parallelism_config, the model output's "
        "log_probs / entropy / is_top1 / label_mask",
        public="trl reads its metrics back with .item() inside compute_loss; there is no "
        "option to keep them on the device",
    ),
    Patch(
        name="trainer-log",
        library="transformers",
        target="transformers.Trainer.log (per trainer instance)",
        how="replace",
        versions=_TRANSFORMERS,
        written_against=_TRANSFORMERS_SEEN,
        module="harness.accel.patches.trainer",
        reads="that log() is where trl averages its _metrics and the callbacks' on_log runs",
        public="on_log callbacks run after trl has read its metrics; pending values must be "
        "in place before",
    ),
    Patch(
        name="trainer-track-num-input-tokens",
        library="transformers",
        target="transformers.Trainer._track_num_input_tokens (per trainer instance)",
        how="replace",
        versions=_TRANSFORMERS,
        written_against=_TRANSFORMERS_SEEN,
        module="harness.accel.patches.trainer",
        reads="args.include_num_input_tokens_seen, state.num_input_tokens_seen, accelerator.gather",
        public="a private method; the Trainer reads the count back per micro-step",
    ),
    Patch(
        name="trainer-floating-point-ops",
        library="transformers",
        target="transformers.Trainer.floating_point_ops (per trainer instance)",
        how="replace",
        versions=_TRANSFORMERS,
        written_against=_TRANSFORMERS_SEEN,
        module="harness.accel.patches.trainer",
        reads="main_input_name, num_parameters(exclude_embeddings=True); the 6 * tokens * "
        "parameters formula of PreTrainedModel.floating_point_ops",
        public="the Trainer recounts parameters (two model walks) on every micro-step",
    ),
    Patch(
        name="trainer-model-train",
        library="transformers",
        target="model.train (per model instance), relied on: the Trainer calls "
        "model.train() before every micro-step",
        how="replace",
        versions=_TRANSFORMERS,
        written_against=_TRANSFORMERS_SEEN,
        module="harness.accel.patches.trainer",
        reads="Trainer.training_step's model.train() call; eval() going through train(False)",
        public="no setting skips the per-micro-step train() walk",
    ),
    Patch(
        name="checkpointing-layer-flag",
        library="transformers",
        target="transformers.modeling_layers.GradientCheckpointingLayer.gradient_checkpointing "
        "(per layer instance)",
        how="write",
        versions=_TRANSFORMERS,
        written_against=_TRANSFORMERS_SEEN,
        module="harness.accel.patches.trainer",
        reads="the per-layer flag the model's checkpointing switch sets on each decoder layer",
        public="gradient_checkpointing_enable() switches every layer; no public option "
        "checkpoints a share of them",
    ),
)

BY_NAME: dict[str, Patch] = {p.name: p for p in PATCHES}


class VersionOutsideTable(RuntimeError):
    """An installed library is outside the version range a patch was written against."""


def installed_version(library: str) -> str | None:
    """The installed version of distribution ``library``, or None when it is not installed.

    The one version lookup of this module (tests replace it to fake a version)."""
    try:
        return metadata.version(library)
    except metadata.PackageNotFoundError:
        return None


def _inside(version: str, versions: str) -> bool:
    # local parts (+cpu, +cu130) are not releases: compare the public version
    return Version(Version(version).public) in SpecifierSet(versions, prereleases=True)


def outside_table() -> list[str]:
    """One line for every patch whose library is installed at a version outside its range."""
    out = []
    for p in PATCHES:
        have = installed_version(p.library)
        if have is not None and not _inside(have, p.versions):
            out.append(
                f"{p.name}: {p.library} {have} is outside {p.versions} "
                f"(written against {p.written_against}; {p.target})"
            )
    return out


def check_versions() -> None:
    """Raise ``VersionOutsideTable`` naming every patch whose installed library is outside the
    range in ``PATCHES`` (libraries not installed are skipped: their patches never apply)."""
    bad = outside_table()
    if bad:
        raise VersionOutsideTable(
            "installed versions outside harness/accel/compat.py's PATCHES table; those "
            "patches are not applied (plain library code runs). Read the new release's "
            "source for each row's `reads`, then widen its range:\n  " + "\n  ".join(bad)
        )


@functools.cache
def _allowed(name: str) -> bool:
    patch = BY_NAME[name]
    have = installed_version(patch.library)
    if have is None:
        return False
    if not _inside(have, patch.versions):
        log.warning(
            "speed patch %s not applied: %s %s is outside %s, the range it was written "
            "against (harness/accel/compat.py); %s's own code runs instead",
            name,
            patch.library,
            have,
            patch.versions,
            patch.library,
        )
        return False
    return True


def allowed(name: str) -> bool:
    """Whether patch ``name`` may be applied: its library is installed at a version inside its
    range. Asked once per process per patch; a refusal logs one warning."""
    return _allowed(name)


def forget() -> None:
    """Ask the versions again on the next ``allowed`` (tests that fake a version)."""
    _allowed.cache_clear()
