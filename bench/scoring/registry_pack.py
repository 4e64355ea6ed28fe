"""The general-capability pack of docs/suites.md, timed suite by suite as the gate scores it.

    python bench/scoring/registry_pack.py                          # CUDA: SmolLM2-135M-shaped
    python bench/scoring/registry_pack.py --model smollm2 --limit 200 --suite-limit gsm8k=32
    python bench/scoring/registry_pack.py --tiny                   # CPU smoke test

The real datasets cannot be downloaded where this runs, so it lays out a Hugging Face hub
cache in tmp (the layout of tests/engine/registry_cache.py) holding the pack's five datasets in
their real hub formats (repo ids, configs, split files, README ``configs:``, columns) at the
real split sizes, filled with seeded synthetic text of realistic length. Run time depends on
token counts, the model and the batch shapes, not on the words; the words are not English, and
the accuracies mean nothing. The splits (all written, as lm-eval loads and processes them all):

- ``cais/mmlu``: 14,042 test items over the 57 subjects (registry_mmlu.make_mmlu: spread evenly,
  not by the real per-subject sizes), 5 dev rows each; questions 8-300 words (log-normal,
  median 30), four choices of 1-12 words.
- ``allenai/ai2_arc`` ARC-Challenge: train 1,119, validation 299, test 1,172 (scored); questions
  5-120 words (median 22), 4 choices (2% 3, 1% 5; 4% labelled 1-4) of 1-20 words (median 3).
- ``Rowan/hellaswag``: train 39,905, validation 10,042 (scored), test 10,003 (no labels); half
  ActivityNet-like (context median 18 words, ``ctx_b`` 2-6 words, endings median 12 words),
  half WikiHow-like (context median 55 words with ``[header]`` and ``[title]`` marks,
  endings median 30 words); 4 endings.
- ``allenai/winogrande`` winogrande_xl: train 40,398, validation 1,267 (scored), test 1,767
  (no answers); sentences 10-40 words (median 19) with one ``_``, options of 1-3 words.
- ``openai/gsm8k`` main: train 7,473 (the 5-shot draws), test 1,319 (scored); questions of
  2-7 sentences (median about 45 words) with numbers, answers of 2-8 calculation lines
  (``... 3 * 4 = <<3*4=12>>12.``, median about 50 words) ending ``#### N``.

The pack is built exactly as docs/suites.md lists it (mmlu with ``capabilities: groups``, gsm8k
``num_fewshot: 5`` gated on ``exact_match,flexible-extract``) through ``registry_suite`` with
lm-eval's own task YAMLs unchanged, and each suite is scored by
``run_suite(HarnessLM(model, tok, batch_size=32), suite, ScoringSettings())`` as the gate does.
Timed separately: lm-eval's task index (once per process), building each suite cold (the
datasets library's parquet-to-arrow conversion plus lm-eval's task building) and warm (the
conversion cached, as on every later run), and scoring, in wall and process CPU seconds (on
shared CPUs the wall time depends on the other jobs). ``--limit N`` scores a seeded sample
through the suite's own ``limit`` (stratified by subtask, as a real run; ``--suite-limit
gsm8k=N`` for one suite); the whole-split time is then extrapolated per item and marked so.

Models: ``random-smollm2`` (default on CUDA; SmolLM2-135M's shape, bf16 on CUDA),
``smollm2`` (the embedded SmolLM2-135M-Instruct through the harness's base loader, its own
tokenizer), ``random-1b`` (scoring_gpu.py's TinyLlama shape). Random models use a byte-level
BPE trained here on the text; with the real tokenizer (``--tokenizer smollm2``) every
pseudo-word is replaced by an entry of that tokenizer's vocabulary (a whole-word token, 30% with
a suffix token), so text costs about as many tokens per word as English does. A random model
never emits gsm8k's stop sequences, so every gsm8k item generates max_gen_toks (256) tokens:
its time is an upper bound. The table gives tokens per request (a gsm8k answer: its text
re-encoded, fewer than the steps for random tokens); ``$OUT/registry_pack.json`` the figures.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import platform
import random
import re
import shutil
import sys
import time
from itertools import accumulate
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench" / "scoring"))

# registry_mmlu points HF_HOME and the hub and datasets caches at a fresh temp dir on import,
# before huggingface_hub and datasets read them; this script lays its cache out there too.
import registry_mmlu  # noqa: E402
import torch  # noqa: E402
from scoring_gpu import SYLLABLES, make_model, make_tokenizer, sync  # noqa: E402

from tests.engine.registry_cache import _parquet, _readme, write_repo  # noqa: E402

HOME: Path = registry_mmlu._HOME
REV = "d" * 40
Rows = dict[str, list[dict[str, Any]]]
SUITES: dict[str, dict[str, Any]] = {  # docs/suites.md, "A general-capability pack"
    "mmlu": {"lm_eval": "mmlu", "kind": "general", "capabilities": "groups"},
    "arc_challenge": {"lm_eval": "arc_challenge", "kind": "general"},
    "hellaswag": {"lm_eval": "hellaswag", "kind": "general"},
    "winogrande": {"lm_eval": "winogrande", "kind": "general"},
    "gsm8k": {"lm_eval": "gsm8k", "kind": "general", "num_fewshot": 5,
              "metric": "exact_match,flexible-extract"},
}  # fmt: skip
REAL_SIZES = {
    "mmlu": {"test": 14042, "dev": 5},
    "arc_challenge": {"train": 1119, "validation": 299, "test": 1172},
    "hellaswag": {"train": 39905, "validation": 10042, "test": 10003},
    "winogrande": {"train": 40398, "validation": 1267, "test": 1767},
    "gsm8k": {"train": 7473, "test": 1319},
}
TINY_SIZES = {
    "mmlu": {"test": 171, "dev": 5},
    "arc_challenge": {"train": 6, "validation": 4, "test": 8},
    "hellaswag": {"train": 6, "validation": 8, "test": 4},
    "winogrande": {"train": 6, "validation": 8, "test": 4},
    "gsm8k": {"train": 8, "test": 6},
}


class Text:
    """Seeded pseudo-words, Zipf-like as registry_mmlu's, with log-normal lengths."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        r = self.rng
        lex = {"".join(r.choice(SYLLABLES) for _ in range(r.randint(1, 4))) for _ in range(30000)}
        self.lexicon = sorted(lex)
        r.shuffle(self.lexicon)
        self.cum = list(accumulate(1.0 / (i + 10) for i in range(len(self.lexicon))))

    def n(self, median: float, sigma: float, lo: int, hi: int) -> int:
        return min(hi, max(lo, round(math.exp(self.rng.gauss(math.log(median), sigma)))))

    def words(self, k: int) -> str:
        return " ".join(self.rng.choices(self.lexicon, cum_weights=self.cum, k=k))

    def sentence(self, median: float, sigma: float = 0.4, lo: int = 3, hi: int = 60) -> str:
        w = self.words(self.n(median, sigma, lo, hi))
        return w[:1].upper() + w[1:] + "."


def arc_row(t: Text, i: int) -> dict[str, Any]:
    r = t.rng.random()
    k = 3 if r < 0.02 else 5 if r < 0.03 else 4
    labels = list("1234"[:k] if t.rng.random() < 0.04 else "ABCDE"[:k])
    return {
        "id": f"Mercury_{7000000 + i}",
        "question": t.sentence(22, 0.5, 5, 120)[:-1] + "?",
        "choices": {"text": [t.words(t.n(3, 0.7, 1, 20)) for _ in labels], "label": labels},
        "answerKey": t.rng.choice(labels),
    }


def hellaswag_row(t: Text, i: int, split: str) -> dict[str, Any]:
    wikihow = t.rng.random() < 0.5
    if wikihow:
        steps = " [title] ".join(t.sentence(14, 0.5) for _ in range(t.rng.randint(2, 5)))
        ctx_a = " ".join(f"[header] {steps}".split()[: t.n(55, 0.4, 15, 160)])
        ctx_b, ending = "", (30.0, 0.4, 6, 90)
    else:
        ctx_a, ctx_b = t.sentence(18, 0.4, 5, 60), t.words(t.rng.randint(2, 6))
        ending = (12.0, 0.4, 3, 60)
    return {
        "ind": i,
        "activity_label": t.words(t.rng.randint(1, 4)).title(),
        "ctx_a": ctx_a,
        "ctx_b": ctx_b,
        "ctx": f"{ctx_a} {ctx_b}".strip(),
        "endings": [t.sentence(*ending) for _ in range(4)],
        "source_id": f"{'wikihow' if wikihow else 'activitynet'}~{i}",
        "split": {"validation": "val"}.get(split, split),
        "split_type": "indomain" if t.rng.random() < 0.5 else "zeroshot",
        "label": "" if split == "test" else str(t.rng.randrange(4)),
    }


def winogrande_row(t: Text, split: str) -> dict[str, Any]:
    words = t.words(t.n(19, 0.25, 10, 40)).split()
    words[t.rng.randint(max(1, len(words) // 3), len(words) - 2)] = "_"
    return {
        "sentence": " ".join(words).capitalize() + ".",
        "option1": t.words(t.rng.randint(1, 3)).title(),
        "option2": t.words(t.rng.randint(1, 3)).title(),
        "answer": "" if split == "test" else t.rng.choice("12"),
    }


def gsm8k_row(t: Text) -> dict[str, Any]:
    r = t.rng
    facts = [f"{t.sentence(9, 0.4)[:-1]} {r.randint(2, 120)} {t.words(2)}." for _ in range(6)]
    question = " ".join(facts[: r.randint(1, 6)]) + " " + t.sentence(8)[:-1] + "?"
    lines, c = [], 0
    for _ in range(t.n(3.5, 0.4, 2, 8)):
        a, b, op = r.randint(2, 99), r.randint(2, 40), r.choice("+-*/")
        c = {"+": a + b, "-": a - b, "*": a * b, "/": a}[op]
        a = a * b if op == "/" else a
        lines.append(f"{t.sentence(8, 0.5)[:-1]} {a} {op} {b} = <<{a}{op}{b}={c}>>{c}.")
    return {"question": question, "answer": "\n".join([*lines, f"#### {c}"])}


def make_rows(name: str, sizes: dict[str, int], t: Text, seed: int, tiny: bool) -> Rows:
    """``config/split`` -> rows, in the dataset's own columns."""
    if name == "mmlu":
        return registry_mmlu.make_mmlu(sizes["test"], sizes["dev"], seed, 60 if tiny else 300)
    out: Rows = {}
    for split, n in sizes.items():
        if name == "arc_challenge":
            out[f"ARC-Challenge/{split}"] = [arc_row(t, i) for i in range(n)]
        elif name == "hellaswag":
            out[f"data/{split}"] = [hellaswag_row(t, i, split) for i in range(n)]
        elif name == "winogrande":
            out[f"winogrande_xl/{split}"] = [winogrande_row(t, split) for _ in range(n)]
        else:
            out[f"main/{split}"] = [gsm8k_row(t) for _ in range(n)]
    return out


KEEP = {"subject", "id", "source_id", "split", "split_type", "label", "answerKey"}
REPOS = {"mmlu": "cais/mmlu", "arc_challenge": "allenai/ai2_arc", "hellaswag": "Rowan/hellaswag",
         "winogrande": "allenai/winogrande", "gsm8k": "openai/gsm8k"}  # fmt: skip


def write_dataset(name: str, rows: Rows) -> None:
    """One repo in the hub cache: ``<config>/<split>-00000-of-00001.parquet`` and its README."""
    configs: dict[str, dict[str, str]] = {}
    files: dict[str, bytes] = {}
    for key, r in rows.items():
        folder, split = key.rsplit("/", 1)
        files[f"{key}-00000-of-00001.parquet"] = _parquet(r)
        config = "default" if folder == "data" else folder
        configs.setdefault(config, {})[split] = f"{key}-*"
    files["README.md"] = _readme(configs)
    write_repo(HOME / "hub", REPOS[name], files, REV)


def real_lexicon(tok: Any, seed: int) -> list[str]:
    """Whole words of a byte-level BPE's vocabulary (``Ġ``: word start), 30% with a suffix: 1.3
    SmolLM2 tokens per word, as English costs (the pseudo-words cost it 3.6)."""
    vocab = sorted(tok.get_vocab().items(), key=lambda kv: kv[1])
    heads = [w[1:] for w, _ in vocab if re.fullmatch("Ġ[a-z]{2,}", w)]
    tails = [w for w, _ in vocab if re.fullmatch("[a-z]{3,}", w)]
    rng = random.Random(seed)
    return [h + (rng.choice(tails) if rng.random() < 0.3 else "") for h in heads[:30000]]


def reword(rows: Rows, lexicon: list[str]) -> Rows:
    """Every pseudo-word replaced by a fixed lexicon entry, capitals kept; hellaswag's
    ``[marks]``, labels, ids and numbers untouched."""
    memo: dict[str, str] = {}

    def word(m: re.Match[str]) -> str:
        w = m.group()
        low = w.lower()
        if low not in memo:
            memo[low] = lexicon[int(hashlib.sha1(low.encode()).hexdigest(), 16) % len(lexicon)]
        new = memo[low]
        return new[:1].upper() + new[1:] if w[:1].isupper() else new

    def conv(v: Any) -> Any:
        if isinstance(v, str):
            return re.sub(r"(?<!\[)\b[A-Za-z]+\b(?!\])", word, v)
        if isinstance(v, list):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: x if k in KEEP else conv(x) for k, x in v.items()}
        return v

    return {key: [conv(r) for r in rs] for key, rs in rows.items()}


def smollm2_shape(vocab: int, dtype: torch.dtype, device: str, seed: int) -> Any:
    """A random model of SmolLM2-135M's shape (its config.json's sizes)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config: Any = LlamaConfig
    cfg = config(
        vocab_size=vocab, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
        num_attention_heads=9, num_key_value_heads=3, max_position_embeddings=8192,
        rope_parameters={"rope_theta": 100000.0, "rope_type": "default"}, rms_norm_eps=1e-5,
        tie_word_embeddings=True, bos_token_id=0, eos_token_id=1, pad_token_id=1,
        attn_implementation="sdpa",
    )  # fmt: skip
    torch.manual_seed(seed)
    with torch.device(device):
        model: Any = LlamaForCausalLM(cfg)
    return model.to(dtype).eval().requires_grad_(False)


def load_model(args: argparse.Namespace, device: str, texts: list[str]) -> tuple[Any, Any]:
    """(model, tokenizer) for ``--model``; random models get a BPE trained on ``texts``."""
    dtype = getattr(torch, args.dtype)
    if args.model == "smollm2" and not args.tiny:
        from harness.config import BaseSpec
        from harness.models import load_base

        base = load_base(BaseSpec(), dtype=args.dtype)
        model: Any = base.model
        return model.to(device), base.tokenizer
    if args.tokenizer == "smollm2":
        from transformers import AutoTokenizer

        from harness.models._builtin import builtin_base_dir

        tok = AutoTokenizer.from_pretrained(str(builtin_base_dir()))
    else:
        vocab = 1000 if args.tiny else 32000 if args.model == "random-1b" else 49152
        tok = make_tokenizer([(x, []) for x in texts], vocab=vocab)
    if args.model == "random-smollm2" and not args.tiny:
        return smollm2_shape(max(49152, len(tok)), dtype, device, args.seed), tok
    vocab = max(len(tok), 256) if args.tiny else max(32000, len(tok))
    return make_model(args.tiny, vocab, dtype, device, args.seed), tok


def counting_lm(model: Any, tok: Any, batch: int, max_gen: int) -> Any:
    """HarnessLM that keeps references to its requests (counted after the timing)."""
    from harness.engine import HarnessLM

    class Counting(HarnessLM):
        seen: list[tuple[str, str, str]]

        def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> Any:
            self.seen.extend(("ll", *r.args) for r in requests)
            return super().loglikelihood(requests, disable_tqdm)

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> Any:
            out = super().generate_until(requests, disable_tqdm)
            self.seen.extend(("gen", r.args[0], o) for r, o in zip(requests, out, strict=True))
            return out

    lm = Counting(model, tok, batch_size=batch, max_gen_toks=max_gen, show_progress=False)
    lm.seen = []
    return lm


def tokens(tok: Any, seen: list[tuple[str, str, str]]) -> dict[str, Any]:
    """Mean tokens per request: context, continuation (log-likelihood) or generated text."""
    sample = random.Random(0).sample(seen, min(len(seen), 400))
    gen = any(r[0] == "gen" for r in sample)
    out: dict[str, Any] = {"requests": len(seen)}
    for key, col in (
        {"prompt": 1, "generated": 2} if gen else {"context": 1, "continuation": 2}
    ).items():
        ids = tok([r[col] for r in sample], add_special_tokens=False)["input_ids"] if sample else []
        out[key] = sum(map(len, ids)) / max(1, len(ids))
    return out


def build(name: str, limit: int | None) -> tuple[Any, float]:
    from harness.config import ScoringSettings
    from harness.config._registry_suite import registry_suite
    from harness.engine._registry_data import _BUILT

    _BUILT.clear()  # lm-eval builds the tasks again, as a fresh process would
    raw = {**SUITES[name], **({"limit": limit} if limit else {})}
    t0 = time.perf_counter()
    suite = registry_suite(
        raw, HOME / "exp.yaml", f"suites.{list(SUITES).index(name)}", ScoringSettings()
    )
    return suite, time.perf_counter() - t0


def measure(name: str, limit: int | None, lm: Any, tok: Any) -> dict[str, Any]:
    """Build the suite cold and warm, score it, and count its tokens."""
    from harness.config import ScoringSettings
    from harness.engine import run_suite

    _, cold = build(name, limit)
    suite, warm = build(name, limit)
    full = sum(suite.state.sizes.values())
    lm.seen.clear()
    sync()
    t0, c0 = time.perf_counter(), time.process_time()  # CPU time: all of the process's threads
    items = run_suite(lm, suite, ScoringSettings())
    sync()
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    rate, share = len(items) / secs, full / len(items)
    return {
        "suite": name, "items_in_split": full, "items_scored": len(items),
        "build_cold_s": round(cold, 2), "build_warm_s": round(warm, 2), "score_s": round(secs, 2),
        "score_cpu_s": round(cpu, 1), "items_per_s": round(rate, 2),
        "full_split_s": round(full / rate, 1), "full_split_cpu_s": round(cpu * share, 1),
        "extrapolated": len(items) < full, "tokens_per_request": tokens(tok, lm.seen),
        "mean_score": sum(float(it.scores.get(suite.metric, 0.0)) for it in items) / len(items),
    }  # fmt: skip


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help="tiny random model, few items, CPU")
    ap.add_argument("--model", choices=["random-smollm2", "smollm2", "random-1b"], default=None)
    ap.add_argument("--tokenizer", choices=["trained", "smollm2"], default=None,
                    help="default: smollm2's own with --model smollm2, else trained")  # fmt: skip
    ap.add_argument("--dtype", choices=["bfloat16", "float32", "float16"], default=None,
                    help="default: float32 --tiny, else bfloat16 (the gate's)")  # fmt: skip
    ap.add_argument("--limit", type=int, default=None, help="items per suite (stratified)")
    ap.add_argument("--suite-limit", action="append", default=[], metavar="SUITE=N",
                    help="a limit for one suite, over --limit (repeatable)")  # fmt: skip
    ap.add_argument("--suites", default=",".join(SUITES), help="comma-separated subset")
    ap.add_argument("--batch-size", type=int, default=32, help="HarnessLM's (the gate's)")
    ap.add_argument("--max-gen-toks", type=int, default=None, help="default 256 (16 --tiny)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    args.model = args.model or ("random-smollm2" if torch.cuda.is_available() else "smollm2")
    if args.tiny:  # scoring_gpu.py's tiny llama, a BPE trained here
        args.model, args.tokenizer, args.limit = "tiny", "trained", args.limit or 4
    args.tokenizer = args.tokenizer or ("smollm2" if args.model == "smollm2" else "trained")
    args.dtype = args.dtype or ("float32" if args.tiny else "bfloat16")
    args.max_gen_toks = args.max_gen_toks or (16 if args.tiny else 256)
    args.suites = [s.strip() for s in args.suites.split(",") if s.strip()]
    bad = [s for s in args.suites if s not in SUITES]
    per = dict(x.split("=", 1) for x in args.suite_limit)
    if bad or set(per) - set(SUITES):
        ap.error(
            f"--suites/--suite-limit: unknown {bad or sorted(set(per) - set(SUITES))}; "
            f"the pack's suites are {', '.join(SUITES)}"
        )
    args.limits = {s: int(per[s]) if s in per else args.limit for s in args.suites}
    return args


def setup(args: argparse.Namespace, device: str) -> tuple[Any, Any]:
    """Write the datasets into the hub cache; load the model and tokenizer."""
    sizes = TINY_SIZES if args.tiny else REAL_SIZES
    t = Text(args.seed + 1)
    rows = {s: make_rows(s, sizes[s], t, args.seed, args.tiny) for s in args.suites}
    texts = [  # the words and numbers of each row, for a trained tokenizer
        " ".join(re.findall(r"[A-Za-z]+|\d+", json.dumps(r)))
        for rs in rows.values() for x in rs.values() for r in x[:4000]
    ]  # fmt: skip
    model, tok = load_model(args, device, texts)
    if args.tokenizer == "smollm2":
        lexicon = real_lexicon(tok, args.seed)
        rows = {s: reword(r, lexicon) for s, r in rows.items()}
    for s, r in rows.items():
        write_dataset(s, r)
    return model, tok


def report(fig: dict[str, Any]) -> None:
    gen = (
        "real weights: generation stops at gsm8k's stop sequences or max_gen_toks"
        if fig["model"] == "smollm2"
        else "random weights never emit gsm8k's stop sequences: every item generates "
        "max_gen_toks tokens, an upper bound"
    )
    print(f"\n{fig['model']} ({fig['dtype']}) on {fig['machine']}, {fig['torch_threads']} torch "
          f"threads, HarnessLM batch {fig['batch_size']}; lm-eval task index "
          f"{fig['task_index_s']:.1f} s once a process\n")  # fmt: skip
    print("| suite | items in split | items scored | build cold / warm (s) | scoring, wall (CPU) "
          "s | items/s | whole split, wall (CPU) s | tokens per request |")  # fmt: skip
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in fig["results"]:
        tk = r["tokens_per_request"]
        tks = (f"prompt {tk['prompt']:.0f}, answer {tk['generated']:.0f}" if "prompt" in tk
               else f"context {tk['context']:.0f} + continuation {tk['continuation']:.1f}"
               )  # fmt: skip
        full = f"{r['full_split_s']:.0f} ({r['full_split_cpu_s']:.0f})" + (
            ", extrapolated" if r["extrapolated"] else "")  # fmt: skip
        print(f"| {r['suite']} | {r['items_in_split']:,} | {r['items_scored']:,} | "
              f"{r['build_cold_s']:.1f} / {r['build_warm_s']:.1f} | {r['score_s']:.1f} "
              f"({r['score_cpu_s']:.0f}) | {r['items_per_s']:.2f} | {full} | {tks}, "
              f"{tk['requests']:,} requests |")  # fmt: skip
    total = sum(r["full_split_s"] + r["build_warm_s"] for r in fig["results"])
    cpu = sum(r["full_split_cpu_s"] for r in fig["results"])
    n = sum(r["items_in_split"] for r in fig["results"])
    print(f"| one variant, whole splits | {n:,} | | | | | {total:.0f} ({cpu:.0f}): "
          f"{total / 60:.1f} min | warm builds in the wall time |\n")  # fmt: skip
    print(f"gsm8k: {gen}.")
    print("Synthetic text in the real formats and sizes: scores mean nothing; time does.")


def main() -> None:
    args = parse_args()
    import lm_eval
    import transformers

    from harness.engine._registry import task_manager

    device = "cuda" if torch.cuda.is_available() and not args.tiny else "cpu"
    t0 = time.perf_counter()
    try:
        model, tok = setup(args, device)
        print(f"setup {time.perf_counter() - t0:.1f} s: {', '.join(args.suites)}", flush=True)
        t0 = time.perf_counter()
        task_manager()
        index_s = time.perf_counter() - t0
        lm = counting_lm(model, tok, args.batch_size, args.max_gen_toks)
        rows = []
        for s in args.suites:
            rows.append(measure(s, args.limits[s], lm, tok))
            print(json.dumps(rows[-1]), flush=True)
    finally:
        shutil.rmtree(HOME, ignore_errors=True)
    load = f"load average {os.getloadavg()[0]:.1f} at the end"  # other jobs sharing the CPUs
    cpu = f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, {load}"
    fig = {
        "machine": torch.cuda.get_device_name(0) if device == "cuda" else cpu,
        "task_index_s": round(index_s, 2), "torch_threads": torch.get_num_threads(),
        "results": rows,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "lm_eval": lm_eval.__version__},
        **{k: v for k, v in vars(args).items() if k not in ("suite_limit", "limit")},
    }  # fmt: skip
    report(fig)
    out = os.environ.get("OUT")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "registry_pack.json").write_text(json.dumps(fig, indent=2, default=str))
    print("registry_pack: done")


if __name__ == "__main__":
    main()
