"""Token-level scoring with shared prefixes, one forward pass per batch.

A multiple-choice item asks for log p(choice | context) for every choice. lm-eval's HF backend
runs ``context + choice`` once per choice and log-softmaxes the whole vocabulary at every
position. Here the requests of a batch become token tries: every distinct prefix is one node,
so a context runs once for all its choices, choices that start alike share their first tokens,
and neighbouring contexts (sorted) share a suite's fixed instruction. A row is a trie laid out
depth-first; a tree-shaped attention mask lets each node see only its ancestors, and position
ids are node depths, so the model computes exactly what ``context + choice`` alone would give.
No key/value cache is copied; one forward scores every choice of many items; the vocabulary head
and the float32 log-softmax run only on the rows whose next token is scored.

Rows are filled to about ``row_tokens`` nodes (no padding inside a row), sorted by length and
cut into batches by a padded-token budget. Batch tensors are filled with numpy slice copies,
and per-token results stay on the device until every batch has been launched: the host never
waits for the accelerator, builds batch k+1 while batch k runs, and reads all results at once.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

BASE_VARIANT = "__base__"  # peft's name for "no adapter" in a mixed-adapter batch
# Decoders already warmed up in this process (a gate run builds one HarnessLM per variant on
# the same shared model; only the first pays the warm-up).
_WARMED: weakref.WeakSet[Any] = weakref.WeakSet()


@dataclass(frozen=True)
class TokenRequest:
    """One (context, continuation) pair, already tokenised exactly as lm-eval does."""

    context: tuple[int, ...]
    continuation: tuple[int, ...]


@dataclass
class _Row:
    """One packed row: a token trie of several contexts and their continuations.

    Nodes are in depth-first order, so a node's subtree is the index range
    ``[i, ends[i])`` and its ancestors are exactly the earlier nodes whose range covers it.
    """

    tokens: list[int]
    positions: list[int]  # depth in the trie = position in the node's own sequence
    ends: list[int]
    need: list[int] = field(default_factory=list)  # row offsets whose next token is scored
    targets: list[int] = field(default_factory=list)
    owners: list[int] = field(default_factory=list)  # request index per scored token
    requests: list[int] = field(default_factory=list)


class _Trie:
    """Token trie of one row; node 0 is a virtual root, node n is row position n - 1.

    Nodes are numbered as they are created. While every new node hangs off the path to the
    newest node (always so when contexts arrive sorted, unless one context runs on into
    another's choices), creation order is depth-first order, and subtree ends are closed as
    that path is cut back, at no extra cost. Otherwise ``to_row`` walks the trie once.
    """

    def __init__(self) -> None:
        self.children: list[dict[int, int]] = [{}]
        self.token: list[int] = [-1]
        self.depth: list[int] = [-1]
        self.end: list[int] = [0]
        self.path: list[int] = [0]  # root .. newest node
        self.preorder = True
        self.size = 0  # real nodes
        # per request: (request index, node of the context's last token, continuation nodes)
        self.members: list[tuple[int, int, list[int]]] = []

    def new_nodes(self, seq: Sequence[int], node: int = 0) -> int:
        """How many nodes inserting ``seq`` below ``node`` would add."""
        children = self.children
        for i, t in enumerate(seq):
            nxt = children[node].get(t)
            if nxt is None:
                return len(seq) - i
            node = nxt
        return 0

    def insert(self, seq: Sequence[int], node: int = 0) -> list[int]:
        children = self.children
        path: list[int] = []
        i = 0
        for i, t in enumerate(seq):  # noqa: B007 - i is used after the loop
            nxt = children[node].get(t)
            if nxt is None:
                break
            path.append(nxt)
            node = nxt
        else:
            return path
        # Everything from seq[i] on is new: one chain below ``node``.
        first = len(self.token)
        self._open_below(node, first)
        d = self.depth[node]
        rest = seq[i:]
        k = len(rest)
        new_ids = list(range(first, first + k))
        children[node][rest[0]] = first
        children.extend({t: n + 1} for t, n in zip(rest[1:], new_ids[:-1], strict=True))
        children.append({})
        self.token.extend(rest)
        self.depth.extend(range(d + 1, d + 1 + k))
        self.end.extend([0] * k)
        self.path.extend(new_ids)
        self.size += k
        path.extend(new_ids)
        return path

    def _open_below(self, parent: int, new: int) -> None:
        """Cut the newest-node path back to ``parent``, closing the subtrees left behind."""
        if not self.preorder:
            return
        keep = self.depth[parent] + 2  # root sits at index 0 with depth -1
        if len(self.path) < keep or self.path[keep - 1] != parent:
            self.preorder = False
            return
        for closed in self.path[keep:]:
            self.end[closed] = new - 1
        del self.path[keep:]

    def add_group(self, ctx: tuple[int, ...], members: list[int], reqs: Sequence[Any]) -> None:
        last = self.insert(ctx)[-1]
        for ri in members:
            self.members.append((ri, last, self.insert(reqs[ri].continuation[:-1], last)))

    def group_cost(self, ctx: tuple[int, ...], members: list[int], reqs: Sequence[Any]) -> int:
        # Upper bound: continuations are counted as if nothing of them were shared yet.
        return self.new_nodes(ctx) + sum(len(reqs[ri].continuation) - 1 for ri in members)

    def _layout(self) -> tuple[list[int], list[int], list[int], list[int]]:
        """Row tokens, positions, subtree ends, and each node's row index."""
        if self.preorder:
            for open_node in self.path[1:]:
                self.end[open_node] = self.size
            return self.token[1:], self.depth[1:], self.end[1:], list(range(-1, self.size))
        order: list[int] = []
        ends_at: dict[int, int] = {}
        stack: list[tuple[int, bool]] = [(c, False) for c in reversed(self.children[0].values())]
        while stack:  # iterative pre-order walk; a node's end is known after its subtree
            node, done = stack.pop()
            if done:
                ends_at[node] = len(order)
                continue
            order.append(node)
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(self.children[node].values()))
        index = [-1] * len(self.token)
        for i, node in enumerate(order):
            index[node] = i
        return (
            [self.token[n] for n in order],
            [self.depth[n] for n in order],
            [ends_at[n] for n in order],
            index,
        )

    def to_row(self, reqs: Sequence[Any]) -> _Row:
        tokens, positions, ends, index = self._layout()
        row = _Row(tokens, positions, ends)
        for ri, last, path in self.members:
            cont = reqs[ri].continuation
            # cont[0] is predicted by the context's last token, cont[j] by cont[j-1]'s node.
            row.need.append(index[last])
            row.need.extend([index[n] for n in path])
            row.targets.extend(cont)
            row.owners.extend([ri] * len(cont))
            row.requests.append(ri)
        return row


@contextmanager
def gc_paused() -> Iterator[None]:
    """Hold Python's cyclic garbage collector off while building many small objects.

    Tokenising and packing allocate hundreds of thousands of lists, tuples and dicts; each
    allocation burst triggers collections, and a full one walks every object of the process
    (a harness run holds whole datasets), costing tenths of a second per call for nothing:
    none of these objects form cycles, so reference counting frees them. Nested uses are fine;
    the collector is switched back on only by the use that switched it off.
    """
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def _backbone_and_head(model: Any) -> tuple[Any, Any]:
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return inner.get_decoder(), inner.get_output_embeddings()


def pack_rows(requests: Sequence[TokenRequest], row_tokens: int = 256) -> list[_Row]:
    """Pack requests into token-trie rows of about ``row_tokens`` nodes, longest first.

    Contexts are taken in lexicographic token order, so neighbours in a row share their
    common prefix (a suite's fixed instruction, "Question:", ...); every context's choices
    share the context and any common leading tokens. A context longer than ``row_tokens``
    gets a row of its own.
    """
    groups: dict[tuple[int, ...], list[int]] = {}
    for i, r in enumerate(requests):
        if not r.context or not r.continuation:
            raise ValueError("a scoring request needs a non-empty context and continuation")
        groups.setdefault(r.context, []).append(i)
    rows: list[_Row] = []
    trie = _Trie()
    for ctx in sorted(groups):
        members = groups[ctx]
        if trie.size and trie.size + trie.group_cost(ctx, members, requests) > row_tokens:
            rows.append(trie.to_row(requests))
            trie = _Trie()
        trie.add_group(ctx, members, requests)
    if trie.size:
        rows.append(trie.to_row(requests))
    rows.sort(key=lambda r: len(r.tokens), reverse=True)
    return rows


def _batch_arrays(
    batch: list[_Row], pad_id: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A batch's inputs as int64 arrays: ``[ids, positions, ends]`` as [3, B, width]; the
    distinct flat row offsets whose next token is scored [U]; per scored token (ordered by
    offset), the index of its offset among those and its target as [2, N]; and each scored
    token's request index [N].
    Padding is ``pad_id`` at position 0 with ``ends = k + 1``.

    The choices of one item are all predicted from the context's last token: that position is
    run through the vocabulary head once, not once per choice.
    """
    width = len(batch[0].tokens)
    b = len(batch)
    host = np.empty((3, b, width), dtype=np.int64)
    host[0] = pad_id
    host[1] = 0
    host[2] = np.arange(1, width + 1, dtype=np.int64)
    need: list[np.ndarray] = []
    targets: list[int] = []
    owners: list[int] = []
    for r, row in enumerate(batch):
        n = len(row.tokens)
        host[0, r, :n] = row.tokens
        host[1, r, :n] = row.positions
        host[2, r, :n] = row.ends
        need.append(np.asarray(row.need, dtype=np.int64) + r * width)
        targets += row.targets
        owners += row.owners
    positions, slot = np.unique(np.concatenate(need), return_inverse=True)
    # Scored tokens ordered by position, so each head chunk's tokens are one slice.
    order = np.argsort(slot, kind="stable")
    picks = np.stack([slot.astype(np.int64)[order], np.asarray(targets, dtype=np.int64)[order]])
    return host, positions, picks, np.asarray(owners, dtype=np.int64)[order]


def _batches(rows: list[_Row], max_rows: int, max_tokens: int) -> Iterator[list[_Row]]:
    """Cut length-sorted rows into batches of at most ``max_rows`` and ``max_tokens`` padded.

    A row much shorter than its batch's first (the last, part-filled row of a pack, say)
    starts a batch of its own: padding it to the batch's width would cost more forward work
    than one more, smaller forward call.
    """
    start = 0
    while start < len(rows):
        width = len(rows[start].tokens)  # longest in the batch: rows are sorted descending
        n = max(1, min(max_rows, max_tokens // max(width, 1)))
        end = min(start + n, len(rows))
        short = next((i for i in range(start + 1, end) if len(rows[i].tokens) * 4 < width * 3), end)
        yield rows[start:short]
        start = short


def default_batch_tokens(device: torch.device) -> int:
    """Padded tokens per forward when the caller sets no budget: a GPU takes large batches,
    a CPU gains nothing from them and pays in memory."""
    return 65536 if device.type == "cuda" else 8192


def tree_mask(ends: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive 4D mask [B, 1, T, T]: each node sees its trie ancestors and itself.

    ``ends[b, k]`` is the end of node k's subtree, so q sees k iff ``k <= q < ends[b, k]``.
    Padding has ``ends = k + 1``: it sees only itself (no mask row is empty, which would be
    NaN in some kernels) and no real node sees it.
    """
    t = ends.shape[1]
    idx = torch.arange(t, device=ends.device)
    allowed = (idx[None, None, :] <= idx[None, :, None]) & (idx[None, :, None] < ends[:, None, :])
    zero = torch.zeros((), dtype=dtype, device=ends.device)
    blocked = torch.full((), torch.finfo(dtype).min, dtype=dtype, device=ends.device)
    return torch.where(allowed, zero, blocked)[:, None]  # one pass, no separate fill


class SharedContextScorer:
    """Computes (sum log p, is_greedy) of continuations given contexts, sharing contexts.

    ``batch_size`` caps the rows (distinct contexts) per forward and ``max_batch_tokens`` the
    padded tokens per forward; the budget is what keeps memory flat when lengths vary.
    """

    def __init__(
        self,
        model: Any,
        batch_size: int = 32,
        pad_id: int = 0,
        max_batch_tokens: int | None = None,
        head_chunk: int = 2048,
        row_tokens: int = 256,
    ) -> None:
        self.model = model
        self.batch_size = batch_size
        self.pad_id = pad_id
        self.decoder, self.head = _backbone_and_head(model)
        embed = self.decoder.get_input_embeddings().weight
        self.device = embed.device
        # The mask is added to attention scores, which have the hidden states' dtype.
        self.dtype = embed.dtype if embed.dtype.is_floating_point else torch.float32
        self.head_has_adapter = hasattr(self.head, "lora_A")
        self.max_batch_tokens = max_batch_tokens or default_batch_tokens(self.device)
        self.head_chunk = head_chunk
        self.row_tokens = row_tokens

    # -- public ---------------------------------------------------------------------------
    @torch.inference_mode()
    def warmup(self) -> None:
        """Run dummy batches of the shapes real scoring uses, once, before any timed work.

        On a GPU the first batch of each new shape pays one-off costs: kernels loaded lazily,
        matmul heuristics chosen, the caching allocator grown to the peak batch. A real
        evaluation then pays them inside its first suite. Here they are paid at load: a
        full-budget batch (the allocator's peak) and ever smaller ones (the shapes of a
        suite's tail), each through the decoder and the head.
        """
        if self.decoder in _WARMED:  # once per model and process: the costs are one-off
            return
        width = self.row_tokens
        rows = max(1, min(self.batch_size, self.max_batch_tokens // width))
        while rows >= 1:
            ids = torch.full((rows, width), self.pad_id, dtype=torch.long, device=self.device)
            pos = torch.arange(width, device=self.device).expand(rows, width)
            ends = torch.full((rows, width), width, dtype=torch.long, device=self.device)
            hidden = self.decoder(
                input_ids=ids,
                attention_mask=tree_mask(ends, self.dtype),
                position_ids=pos,
                use_cache=False,
            ).last_hidden_state
            logits = self.head(hidden[:, -1]).float()
            torch.logsumexp(logits, dim=-1)
            rows //= 4
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        _WARMED.add(self.decoder)

    def score(
        self,
        requests: Sequence[TokenRequest],
        progress: Callable[[int], None] | None = None,
    ) -> list[tuple[float, bool]]:
        """Score every request with the model as it is (its active adapter, if any)."""
        return self.score_variants(requests, [None], progress)[0]

    @torch.inference_mode()
    def score_variants(
        self,
        requests: Sequence[TokenRequest],
        variants: Sequence[str | None],
        progress: Callable[[int], None] | None = None,
    ) -> list[list[tuple[float, bool]]]:
        """Score every request under each variant in one pass over the data.

        ``variants`` are peft adapter names (``None`` or ``"__base__"`` = the base without
        adapters). With more than one, every packed row is repeated once per variant inside
        the same batch and peft's mixed-adapter forward (``adapter_names``) routes each copy
        through its adapter. One ``None`` means: the model as it is, no peft routing.
        """
        if not requests:
            return [[] for _ in variants]
        with gc_paused():
            return self._score_variants(requests, variants, progress)

    def _score_variants(
        self,
        requests: Sequence[TokenRequest],
        variants: Sequence[str | None],
        progress: Callable[[int], None] | None,
    ) -> list[list[tuple[float, bool]]]:
        mixed = len(variants) > 1 or (variants[0] not in (None,))
        names = [BASE_VARIANT if v is None else v for v in variants]
        nv = len(variants)
        lp_out = torch.zeros(nv, len(requests), dtype=torch.float64)
        miss_out = torch.zeros(nv, len(requests), dtype=torch.int64)
        rows = pack_rows(requests, self.row_tokens)
        max_rows = max(1, self.batch_size // nv) if nv > 1 else self.batch_size
        # Results stay on the device (no sync per batch); one transfer once all are launched.
        parts: list[tuple[torch.Tensor, torch.Tensor]] = []
        owner_parts: list[torch.Tensor] = []
        for batch in _batches(rows, max_rows, max(1, self.max_batch_tokens // nv)):
            lp, miss, owners = self._score_batch(batch, names if mixed else None)
            parts.append((lp, miss))
            owner_parts.append(owners)
            if progress is not None:
                progress(sum(len(r.requests) for r in batch))
        lp_all = torch.cat([lp for lp, _ in parts], dim=1).double().cpu()
        miss_all = torch.cat([miss for _, miss in parts], dim=1).cpu()
        owners_all = torch.cat(owner_parts)
        for v in range(nv):
            lp_out[v].index_add_(0, owners_all, lp_all[v])
            miss_out[v].index_add_(0, owners_all, miss_all[v])
        lps, misses = lp_out.tolist(), miss_out.tolist()
        return [[(lps[v][i], misses[v][i] == 0) for i in range(len(requests))] for v in range(nv)]

    # -- one forward ----------------------------------------------------------------------
    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        if self.device.type == "cuda":
            return t.pin_memory().to(self.device, non_blocking=True)
        return t.to(self.device)

    def _score_batch(
        self, batch: list[_Row], names: list[str] | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per scored token of ``batch``: log p and miss (0/1) per variant (on the device,
        not yet synchronised), and their owners (on the host)."""
        host, positions, picks, owners = _batch_arrays(batch, self.pad_id)
        b, width = host.shape[1], host.shape[2]
        n_scored = picks.shape[1]
        host_dev = self._to_device(torch.from_numpy(host))
        pos_dev = self._to_device(torch.from_numpy(positions))
        picks_dev = self._to_device(torch.from_numpy(picks))
        nv = len(names) if names is not None else 1
        input_ids, position_ids, node_ends = host_dev[0], host_dev[1], host_dev[2]
        if nv > 1:  # one copy of each row per variant, variant-major
            input_ids = input_ids.repeat(nv, 1)
            position_ids = position_ids.repeat(nv, 1)
            node_ends = node_ends.repeat(nv, 1)
        mask = tree_mask(node_ends, self.dtype)
        routing = (
            self._adapter_routing([n for n in names for _ in range(b)])
            if names is not None
            else nullcontext()
        )
        with routing:
            hidden = self.decoder(
                input_ids=input_ids,
                attention_mask=mask,
                position_ids=position_ids,
                use_cache=False,  # one pass; a KV cache would only cost memory and copies
            ).last_hidden_state
        hidden = hidden.reshape(nv, b * width, -1)
        slot, tgt = picks_dev[0], picks_dev[1]
        n_pos = len(positions)
        starts = list(range(0, n_pos, self.head_chunk))
        # Scored tokens are sorted by position: chunk c's tokens are bounds[c]..bounds[c + 1].
        bounds = [*np.searchsorted(picks[0], starts).tolist(), n_scored]
        lp = torch.empty(nv, n_scored, dtype=torch.float32, device=self.device)
        miss = torch.empty(nv, n_scored, dtype=torch.int64, device=self.device)
        for v in range(nv):
            h = hidden[v].index_select(0, pos_dev)
            for c, s in enumerate(starts):
                e = min(s + self.head_chunk, n_pos)
                lo, hi = bounds[c], bounds[c + 1]
                head_routing = (
                    self._adapter_routing([names[v]] * (e - s))
                    if names is not None and self.head_has_adapter
                    else nullcontext()
                )
                with head_routing:
                    logits = self.head(h[s:e]).float()
                rows, ts = slot[lo:hi] - s, tgt[lo:hi]
                lse = torch.logsumexp(logits, dim=-1)
                lp[v, lo:hi] = logits[rows, ts] - lse[rows]
                miss[v, lo:hi] = (logits.argmax(dim=-1)[rows] != ts).long()
        return lp, miss, torch.from_numpy(owners)

    @contextmanager
    def _adapter_routing(self, adapter_names: list[str]) -> Iterator[None]:
        """peft's per-row adapter routing (the ``adapter_names`` forward argument)."""
        enable = getattr(self.model, "_enable_peft_forward_hooks", None)
        if enable is None:
            if set(adapter_names) != {BASE_VARIANT}:
                raise ValueError("scoring adapters by name needs a peft model")
            yield
            return
        with enable(adapter_names=adapter_names):
            yield
