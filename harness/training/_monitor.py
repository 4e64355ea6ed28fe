"""Per-step training record and the detectors that stop a run that cannot give a useful adapter.

The record (loss, learning rate, gradient norm, tokens/s, peak memory per logged step; validation
loss per evaluation) goes into the training result, and from there into MLflow through
``harness.tracking``; this module never imports mlflow.

Detectors raise ``TrainingFailed`` (a ``ConfigError`` naming the recipe field to change) for:
a NaN or infinite loss or gradient norm; a gradient norm stuck at zero, or adapter tensors
that stop receiving gradient; a loss that does not move at all. Overfitting (train loss falling
while validation loss rises) stops the run instead, keeping the best checkpoint.
"""

from __future__ import annotations

import math
import resource
import sys
import time
from typing import Any

from transformers import TrainerCallback

from harness.config import MonitorSettings
from harness.training._failed import TrainingFailed

#: A gradient norm at or below this is zero for the dead-adapter detector.
ZERO_GRAD = 1e-12
#: Two logged losses closer than this (relative) count as "the loss did not move".
FLAT_LOSS = 1e-7


def peak_memory_mb() -> float:
    """Peak accelerator memory on CUDA, else this process's peak resident memory."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # bytes on macOS, else KiB


class TrainingMonitor(TrainerCallback):
    """Records every logged step and evaluation; raises or stops when a detector fires."""

    def __init__(self, settings: MonitorSettings, recipe: str, *, has_eval: bool) -> None:
        self.settings = settings
        self.recipe = recipe
        self.has_eval = has_eval
        self.history: list[dict[str, Any]] = []
        self.val_curve: list[tuple[int, float]] = []
        self.stop_reason: str | None = None
        self.zero_grad_run = 0
        self.flat_run = 0
        self.rising_run = 0
        self._names: list[str] = []
        self._params: list[Any] = []
        self._zero_counts: list[int] = []
        self._train_at_eval: list[float] = []
        self._losses_since_eval: list[float] = []
        self._t_last = 0.0
        self._tokens_last = 0

    # -- bookkeeping ----------------------------------------------------------------------
    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        import torch

        model = kw.get("model")
        if model is not None:
            named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
            self._names = [n for n, _ in named]
            self._params = [p for _, p in named]
            self._zero_counts = [0] * len(named)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
        self._t_last = time.perf_counter()
        self._tokens_last = int(getattr(state, "num_input_tokens_seen", 0) or 0)

    def _fail(self, step: int, field: str, problem: str, fix: str) -> TrainingFailed:
        return TrainingFailed(self.recipe, field, step, problem, fix)

    # -- gradients: every adapter tensor must keep receiving them --------------------------
    def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if not self._params:
            return
        import torch

        step = int(state.global_step) + 1
        zero = torch.zeros((), dtype=torch.float32)
        norms = torch.stack(
            [zero if p.grad is None else p.grad.detach().float().norm().cpu() for p in self._params]
        ).tolist()
        if not all(math.isfinite(n) for n in norms):
            bad = [n for n, v in zip(self._names, norms, strict=True) if not math.isfinite(v)]
            raise self._fail(
                step,
                "train.learning_rate",
                f"the gradient of {len(bad)} adapter tensors is NaN or infinite (e.g. {bad[0]})",
                "lower train.learning_rate, keep train.max_grad_norm at 1.0 or below, "
                "or train in dtype float32",
            )
        dead = self.settings.dead_grad_steps
        if all(n <= ZERO_GRAD for n in norms):
            self.zero_grad_run += 1
        else:
            self.zero_grad_run = 0
        if self.zero_grad_run >= dead:
            raise self._fail(
                step,
                "train.learning_rate",
                f"the gradient norm has been 0 for {self.zero_grad_run} optimizer steps: "
                "the adapter does not learn (every label masked, frozen adapter, or an "
                "underflowing dtype)",
                "check that completions survive train.max_seq_len, that the method's "
                "target modules exist in this base, and try dtype float32",
            )
        for i, n in enumerate(norms):
            self._zero_counts[i] = self._zero_counts[i] + 1 if n <= ZERO_GRAD else 0
        # LoRA's A matrices get no gradient on the very first step (B starts at zero), so a
        # tensor counts as cut off only after dead_grad_steps + 1 zero steps in a row.
        stuck = [n for n, c in zip(self._names, self._zero_counts, strict=True) if c > dead]
        if stuck:
            raise self._fail(
                step,
                "lora.target_modules",
                f"{len(stuck)} of {len(self._names)} adapter tensors received no gradient for "
                f"{dead + 1} optimizer steps in a row (e.g. {', '.join(stuck[:3])}): those "
                "layers do not learn",
                "target modules that the forward pass uses, or raise monitor.dead_grad_steps "
                "for mixture-of-experts bases whose experts are rarely routed",
            )

    # -- logged steps ------------------------------------------------------------------------
    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if not logs:
            return
        step = int(state.global_step)
        if "eval_loss" in logs:
            self._on_eval(step, float(logs["eval_loss"]), control)
        if "loss" not in logs:
            return
        loss = float(logs["loss"])
        grad = logs.get("grad_norm")
        grad_norm = float(grad) if grad is not None else None
        now = time.perf_counter()
        tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
        dt = now - self._t_last
        tps = (tokens - self._tokens_last) / dt if dt > 0 and tokens > self._tokens_last else 0.0
        self._t_last, self._tokens_last = now, tokens
        self.history.append(
            {
                "step": step,
                "loss": loss,
                "learning_rate": float(logs.get("learning_rate", 0.0)),
                "grad_norm": grad_norm,
                "tokens_per_second": round(tps, 1),
                "peak_memory_mb": round(peak_memory_mb(), 1),
            }
        )
        if not math.isfinite(loss) or (grad_norm is not None and not math.isfinite(grad_norm)):
            first = len(self.history) == 1
            what = "loss" if not math.isfinite(loss) else "gradient norm"
            seen = "loss" if not math.isfinite(loss) else f"gradient norm {grad_norm}"
            raise self._fail(
                step,
                "train.learning_rate" if not first else "train.dtype",
                f"the {what} is {loss if what == 'loss' else grad_norm} "
                + (
                    "at the first logged step, before any learning: the base model or the "
                    "data give a non-finite forward pass"
                    if first
                    else f"after finite losses (last {self.history[-2]['loss']:.4g}): "
                    f"training diverged ({seen})"
                ),
                "check the base weights and train in dtype float32"
                if first
                else "lower train.learning_rate, keep train.max_grad_norm at 1.0 or below, "
                "or train in dtype float32",
            )
        self._losses_since_eval.append(loss)
        if len(self.history) >= 2:
            prev = self.history[-2]["loss"]
            moved = abs(loss - prev) > FLAT_LOSS * max(1.0, abs(prev))
            self.flat_run = 0 if moved else self.flat_run + 1
        if self.flat_run + 1 >= self.settings.flat_loss_steps:
            raise self._fail(
                step,
                "train.learning_rate",
                f"the training loss stayed at {loss:.6g} for {self.flat_run + 1} logged steps: "
                "the adapter's updates do not change the model",
                "raise train.learning_rate or check that the adapter's target modules are used; "
                "monitor.flat_loss_steps sets the patience",
            )

    # -- evaluations: overfitting ------------------------------------------------------------
    def _on_eval(self, step: int, val: float, control: Any) -> None:
        if not math.isfinite(val):
            raise self._fail(
                step,
                "train.learning_rate",
                f"the validation loss is {val}",
                "lower train.learning_rate or train in dtype float32",
            )
        train = (
            sum(self._losses_since_eval) / len(self._losses_since_eval)
            if self._losses_since_eval
            else (self._train_at_eval[-1] if self._train_at_eval else math.nan)
        )
        self._losses_since_eval = []
        if self.val_curve and self._train_at_eval:
            rising = val > self.val_curve[-1][1] and train < self._train_at_eval[-1]
            self.rising_run = self.rising_run + 1 if rising else 0
        self.val_curve.append((step, val))
        self._train_at_eval.append(train)
        if self.rising_run >= self.settings.overfit_patience and self.stop_reason is None:
            first = self.val_curve[-1 - self.rising_run]
            self.stop_reason = (
                f"overfitting: validation loss rose for {self.rising_run} evaluations "
                f"({first[1]:.4f} at step {first[0]} -> {val:.4f} at step {step}) while the "
                "training loss fell"
            )
            control.should_training_stop = True
