"""Data-parallel scoring over the processes ``accelerate launch`` (or torchrun) starts.

Every process holds the whole model on its own device and receives the same requests (lm-eval
builds them identically everywhere). Each scores a disjoint shard, and ``gather_object`` hands
every process all results, so whatever runs after scoring sees the same numbers in every
process. With one process (a plain ``python`` run, CPU or one GPU) nothing is split or sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

T = TypeVar("T")


def process_state() -> Any:
    """accelerate's ``PartialState``: rank, world size and this process's device.

    Without a GPU, several processes (torchrun or ``accelerate launch --multi_cpu``) form a
    gloo group: accelerate only joins CPU processes when asked with ``cpu=True``.
    """
    import torch
    from accelerate import PartialState

    return PartialState(cpu=not torch.cuda.is_available())


def shard_by_context(
    contexts: Sequence[Any], lengths: Sequence[int], rank: int, world: int
) -> list[int]:
    """Indices of the requests process ``rank`` scores.

    Requests sharing a context stay together (the context is computed once per process), and
    groups are dealt out longest first, round robin, so every process gets a similar token load.
    """
    groups: dict[Any, list[int]] = {}
    size: dict[Any, int] = {}
    for i, (ctx, n) in enumerate(zip(contexts, lengths, strict=True)):
        groups.setdefault(ctx, []).append(i)
        size[ctx] = size.get(ctx, 0) + n
    order = sorted(groups, key=lambda c: size[c], reverse=True)
    return [i for ctx in order[rank::world] for i in groups[ctx]]


def score_data_parallel(
    requests: Sequence[Any],
    score: Callable[[list[Any]], list[T]],
    context_of: Callable[[Any], Any],
    length_of: Callable[[Any], int],
) -> list[T]:
    """Score ``requests`` across all processes; every process returns the full, ordered list."""
    state = process_state()
    if state.num_processes == 1:
        return score(list(requests))
    from accelerate.utils import gather_object

    mine = shard_by_context(
        [context_of(r) for r in requests],
        [length_of(r) for r in requests],
        state.process_index,
        state.num_processes,
    )
    local = score([requests[i] for i in mine])
    gathered = gather_object([(mine, local)])
    out: list[T | None] = [None] * len(requests)
    for idx, res in gathered:
        for i, r in zip(idx, res, strict=True):
            out[i] = r
    missing = [i for i, r in enumerate(out) if r is None]
    if missing:
        raise RuntimeError(f"data-parallel scoring lost {len(missing)} of {len(out)} requests")
    return out  # type: ignore[return-value]
