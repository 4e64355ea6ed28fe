"""Keep gradient checkpointing's saved layer inputs in host memory instead of on the GPU.

With every decoder layer checkpointed, what stays on the GPU between forward and backward is
each layer's input: for a 1.1B llama and a micro-batch of 8 x 2048 tokens that is 22 x 64 MB
= 1.3 GB, a quarter of a 5 GB budget (bench/training/gpu_train.py ``--anatomy``). Moving
those inputs to pinned host memory lets a larger micro-batch — fewer, longer micro-steps,
which is what made training faster on an H200 — fit the same budget. Only torch's public
hooks are used (``saved_tensors_hooks``, module forward hooks): no third-party internals.

The copies run on a side stream so the GPU keeps computing: each input leaves for the host
while its layer runs forward, and in backward the input of the layer below is brought back
while the current layer is recomputed. Only tensors saved by autograd during the decoder
stack's forward pass are moved, and only large floating-point ones; with reentrant
checkpointing (whose forward keeps nothing inside the layers) those are the layer inputs.
The values are copied exactly, so training computes the same numbers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn


@dataclass
class _Saved:
    """One tensor in host memory, and where it goes back to."""

    index: int
    host: Tensor
    device: torch.device
    back: Tensor | None = None  # prefetched copy on the device
    ready: Any = None  # the event the prefetch recorded
    used: bool = False  # unpacked once already: not worth prefetching again


@dataclass
class OffloadStats:
    """What moved: tensors and bytes sent to the host, and how many came back prefetched."""

    tensors: int = 0
    bytes: int = 0
    prefetched: int = 0
    seen: list[int] = field(default_factory=list)


class _Offloader:
    """saved_tensors_hooks pack/unpack pair for one forward pass.

    On CPU (tests) the "host" copy is a plain clone and no stream is used, so the same code
    path can be checked for exact gradients without a GPU.
    """

    def __init__(self, min_bytes: int, stats: OffloadStats) -> None:
        self.min_bytes, self.stats = min_bytes, stats
        self.saved: list[_Saved] = []
        self.stream: Any = None

    def _side(self, device: torch.device) -> Any:
        if device.type != "cuda":
            return None
        if self.stream is None:
            self.stream = torch.cuda.Stream(device)
        return self.stream

    def pack(self, t: Tensor) -> Any:
        size = t.numel() * t.element_size()
        if not t.is_floating_point() or size < self.min_bytes or isinstance(t, nn.Parameter):
            return t
        side = self._side(t.device)
        if side is None:
            host = t.detach().clone()
        else:
            side.wait_stream(torch.cuda.current_stream(t.device))
            with torch.cuda.stream(side):
                host = torch.empty(t.shape, dtype=t.dtype, pin_memory=True)
                host.copy_(t, non_blocking=True)
            t.record_stream(side)  # its memory is not reused before the copy is done
        saved = _Saved(len(self.saved), host, t.device)
        self.saved.append(saved)
        self.stats.tensors += 1
        self.stats.bytes += size
        return saved

    def _bring_back(self, saved: _Saved) -> None:
        side = self._side(saved.device)
        if side is None or saved.back is not None or saved.used:
            return
        with torch.cuda.stream(side):
            saved.back = saved.host.to(saved.device, non_blocking=True)
            saved.ready = torch.cuda.Event()
            saved.ready.record(side)

    def unpack(self, saved: Any) -> Tensor:
        if not isinstance(saved, _Saved):
            out_as_is: Tensor = saved
            return out_as_is
        self.stats.seen.append(saved.index)
        saved.used = True
        if saved.device.type != "cuda":
            return saved.host
        if saved.back is None:
            out = saved.host.to(saved.device, non_blocking=True)
        else:
            self.stats.prefetched += 1
            main = torch.cuda.current_stream(saved.device)
            main.wait_event(saved.ready)
            out = saved.back
            out.record_stream(main)
            saved.back = None
        if saved.index > 0:  # backward runs the layers in reverse: fetch the next one now
            self._bring_back(self.saved[saved.index - 1])
        return out


@contextmanager
def offload_saved_inputs(
    module: nn.Module, enabled: bool = True, min_bytes: int = 1 << 20
) -> Iterator[OffloadStats]:
    """While inside, tensors autograd saves during ``module``'s forward go to host memory.

    ``module`` is the decoder stack (e.g. ``LlamaModel``), not the whole causal LM: the loss
    head's saved tensors are used at once by backward and are not worth a round trip.
    Backward unpacks them outside any forward, so the recompute of a checkpointed layer keeps
    its activations on the device as usual.
    """
    stats = OffloadStats()
    if not enabled:
        yield stats
        return
    contexts: list[Any] = []

    def enter(_mod: nn.Module, _args: Any) -> None:
        ctx = None
        if torch.is_grad_enabled():  # nothing is saved without grad (evaluation)
            off = _Offloader(min_bytes, stats)
            ctx = torch.autograd.graph.saved_tensors_hooks(off.pack, off.unpack)
            ctx.__enter__()
        contexts.append(ctx)

    def leave(_mod: nn.Module, _args: Any, _out: Any) -> None:
        ctx = contexts.pop() if contexts else None
        if ctx is not None:
            ctx.__exit__(None, None, None)

    handles = [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    try:
        yield stats
    finally:
        for h in handles:
            h.remove()
        while contexts:  # a forward that raised left its hooks installed
            ctx = contexts.pop()
            if ctx is not None:
                ctx.__exit__(None, None, None)
