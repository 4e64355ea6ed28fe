"""LoRA / QLoRA training throughput on one GPU: references and the harness's path, side by side.

A 1.1B llama with random weights (hidden 2048, intermediate 5632, 22 layers, 32 heads, 4 KV
heads, vocab 32000), LoRA r=16 / alpha 32 / dropout 0.05 on all linear layers, the same
synthetic token data and seed for every configuration. Each configuration runs in its own
process (so peak memory is its own), a few warm-up steps, then timed optimizer steps.

Configurations (``--configs``, comma separated):
  seed-lora / seed-qlora    the seed guide's recipe: trl SFTTrainer, gradient checkpointing,
                            batch 4 x 2048, accumulation 4, paged 8-bit AdamW, bf16
  plain-lora / plain-qlora  a plain peft loop, no checkpointing, batches of 16 x 1024
                            (QLoRA through prepare_model_for_kbit_training)
  ours-lora-5g / ours-qlora-5g     the harness's path (harness.accel.plan_speed) with
                            the seed recipe's batch shape and memory budget
  ours-lora-fast / ours-qlora-fast the harness's path with batches of 16 x 1024
  ours-lora-5g-m8, ours-qlora-5g-m8[p]  the -5g recipe (effective batch 16 x 2048) in
                            micro-batches of 8 rows with accumulation 2 (VARIANTS below; -p:
                            only a share of the layers checkpointed). On the H200 a micro-step
                            cost ~250-300 ms whatever its size (1, 2 or 4 rows of 2048: host-
                            side launch work, not GPU work), so fewer, larger micro-steps are
                            what raises tokens/s; checkpointing keeps them within 5 GB
  ours-lora-5g-m16          the same effective batch in one micro-batch of 16 rows (no
                            accumulation), checkpointed and offloaded

ours-* configs run the harness's speed plan (harness.accel.plan_speed, as train_lora does:
on CUDA each LoRA layer through harness.accel's fused nodes, reentrant checkpointing, liger,
deferred readbacks, lean mode with checkpointing); seed-* and plain-* run with none of it.
On CPU every ours-* config fuses with --tiny, to exercise it.
Flags that change one piece of the plan (ours-* only; each was a BENCH_* variable before):
--micro N (rows per micro-batch; accumulation keeps the effective batch), --ckpt-fraction F
(share of layers checkpointed, -5g configs), --no-ckpt, --fused on|off, --lean on|off
(Triton dropout masks and the MLP's SwiGLU product recomputed; default: with checkpointing
on CUDA), --reentrant on|off, --offload on|off (checkpointed layer inputs in pinned host
memory; implies reentrant), --no-trim (keep the Trainer's per-step model walks), --no-defer
(read trl's per-micro-step metrics back at once), --blocking (blocking batch copies),
--no-liger, --sac (trl's selective checkpointing: attention outputs saved, not recomputed),
--lora-dropout P; and for any config --profile (top CUDA kernels of two steps) and --anatomy
(bench/training/step_anatomy.py: GPU time by kernel kind, idle time by host frame, memory
at the peak, after the timed steps).
Session 3's ours-* measurements ran without the step trim, session 4's and 5's with the
BENCH_* variables named beside them in docs/benchmarks.md (the flags above by another name).

Run on a GPU:   python bench/training/gpu_train.py --steps 12
                python bench/training/gpu_train.py --rounds 3 --configs seed-lora,ours-lora-5g-m8
                  (the list run three times over; medians, and paired per-round ratios)
Smoke on CPU:   python bench/training/gpu_train.py --tiny   (a tiny llama, 1 + 1 steps;
                  add --configs seed-lora,ours-lora-5g,ours-lora-5g-m8,ours-qlora-5g-m8p for more)
Prints a table last; writes $OUT/train_bench.json when OUT is set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ALL = [
    "seed-lora",
    "ours-lora-5g",
    "plain-lora",
    "ours-lora-fast",
    "seed-qlora",
    "ours-qlora-5g",
    "plain-qlora",
    "ours-qlora-fast",
]
# Named -5g variants: micro-batch rows and the share of layers checkpointed; --micro and
# --ckpt-fraction override them. Micro-batches of 1 or 2 rows with fewer layers checkpointed
# were measured slower than 4 rows fully checkpointed (docs/benchmarks.md): the cost of a
# micro-step is nearly fixed, so the variants go the other way, to 8 rows (QLoRA's 4-bit base
# leaves room for some layers to keep their activations).
VARIANTS: dict[str, dict[str, float]] = {
    "ours-lora-5g-m8": {"micro": 8, "offload": 1},
    "ours-lora-5g-m16": {"micro": 16, "offload": 1},
    "ours-qlora-5g-m8": {"micro": 8},
    "ours-qlora-5g-m8p": {"micro": 8, "fraction": 0.8},
}
TARGETS = {  # tokens/s floor, peak GB ceiling (from the issue)
    "ours-lora-5g": ("2 x seed-lora", 5.0),
    "ours-qlora-5g": ("2 x seed-qlora", 5.0),
    "ours-lora-fast": (70000.0, 31.0),
    "ours-qlora-fast": (34000.0, 38.0),
    "ours-lora-5g-m8": ("2 x seed-lora", 5.0),
    "ours-lora-5g-m16": ("2 x seed-lora", 5.0),
    "ours-qlora-5g-m8": ("2 x seed-qlora", 5.0),
    "ours-qlora-5g-m8p": ("2 x seed-qlora", 5.0),
}


def model_config(tiny: bool) -> dict[str, Any]:
    if tiny:
        return dict(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=512,
            max_position_embeddings=256,
        )
    return dict(
        hidden_size=2048,
        intermediate_size=5632,
        num_hidden_layers=22,
        num_attention_heads=32,
        num_key_value_heads=4,
        vocab_size=32000,
        max_position_embeddings=2048,
    )


def make_base(path: Path, tiny: bool, config: dict[str, Any] | None = None) -> None:
    """Random llama weights and an offline word-level tokenizer, saved once for all workers
    (``config``: other llama sizes, as bench/training/train_host.py uses)."""
    import torch
    from tokenizers import Tokenizer, models
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    cfg = LlamaConfig(**(config or model_config(tiny)), tie_word_embeddings=False)
    torch.manual_seed(0)
    model = LlamaForCausalLM(cfg).to(torch.bfloat16)
    model.save_pretrained(str(path), safe_serialization=True)
    vocab = {f"t{i}": i for i in range(cfg.vocab_size)}
    tok = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer(models.WordLevel(vocab, unk_token="t1")),
        pad_token="t0",
        eos_token="t2",
        unk_token="t1",
    )
    tok.save_pretrained(str(path))


def token_data(n: int, seq: int, vocab: int, seed: int = 0) -> list[list[int]]:
    """Learnable synthetic text: a random 64-token phrase repeated, so loss visibly falls."""
    import torch

    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        phrase = torch.randint(3, vocab, (64,), generator=g)
        rows.append(phrase.repeat(seq // 64 + 1)[:seq].tolist())
    return rows


def lora_config(dropout: float = 0.05) -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=16,
        lora_alpha=32,
        lora_dropout=dropout,
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


class _Profile:
    """--profile: the top CUDA kernels of two timed steps, to see where time goes.

    --anatomy: after the timed steps, two more steps under torch.profiler (with Python
    stacks) and one under the allocator's history, read by bench/training/step_anatomy.py:
    GPU time by kernel kind, GPU idle time by the host code it fell in, what is alive at the
    peak. Printed as ``ANATOMY {...}`` and written to $OUT/anatomy-<config>.json.
    """

    def __init__(self, warmup: int, steps: int, name: str, profile: bool, anatomy: bool) -> None:
        self.start, self.end, self.name, self.prof = warmup, warmup + steps, name, None
        self.profile, self.anatomy = profile, anatomy
        self.result: dict[str, Any] = {}
        self.baseline = 0

    @property
    def extra_steps(self) -> int:
        return 3 if self.anatomy else 0

    def step(self, step: int) -> None:
        import torch

        if not torch.cuda.is_available():
            return
        if self.anatomy:
            self._anatomy(step)
        if not self.profile:
            return
        if step == self.start:
            self.prof = torch.profiler.profile(
                activities=[
                    torch.profiler.ProfilerActivity.CPU,
                    torch.profiler.ProfilerActivity.CUDA,
                ]
            )
            self.prof.__enter__()
        elif step == self.start + 2 and self.prof is not None:
            _sync()
            self.prof.__exit__(None, None, None)
            print(self.prof.key_averages().table(sort_by="cuda_time_total", row_limit=25))
            self.prof = None

    def _anatomy(self, step: int) -> None:
        """``step`` counts finished optimizer steps; the timed ones end at ``self.end``."""
        import torch
        from step_anatomy import gpu_time, memory_at_peak  # bench/training/ is on sys.path

        if step == self.end:
            self.prof = torch.profiler.profile(
                activities=[
                    torch.profiler.ProfilerActivity.CPU,
                    torch.profiler.ProfilerActivity.CUDA,
                ],
                with_stack=True,
            )
            self.prof.__enter__()
        elif step == self.end + 2 and self.prof is not None:
            _sync()
            self.prof.__exit__(None, None, None)
            trace = Path(tempfile.mkdtemp(prefix="trace-")) / "trace.json"
            self.prof.export_chrome_trace(str(trace))
            self.prof = None
            self.result["time"] = gpu_time(trace, steps=2)
            self.baseline = torch.cuda.memory_allocated()
            torch.cuda.memory._record_memory_history(max_entries=2_000_000, stacks="python")
        elif step == self.end + 3:
            _sync()
            snap = torch.cuda.memory._snapshot()
            torch.cuda.memory._record_memory_history(enabled=None)
            self.result["memory"] = memory_at_peak(snap, self.baseline)
            print("ANATOMY " + json.dumps(self.result), flush=True)
            if os.environ.get("OUT"):
                out = Path(os.environ["OUT"], f"anatomy-{self.name}.json")
                out.write_text(json.dumps(self.result, indent=1))


def load(base: Path, quantized: bool, device: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    kw: dict[str, Any] = {"dtype": torch.bfloat16, "attn_implementation": "sdpa"}
    if quantized:
        kw["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kw["device_map"] = {"": 0} if device == "cuda" else {"": "cpu"}
    model = AutoModelForCausalLM.from_pretrained(str(base), **kw)
    if not quantized:
        model.to(device)
    return model


def _sync() -> None:
    import torch

    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _choice(value: str, default: bool) -> bool:
    """An ``auto|on|off`` flag: ``auto`` keeps what the plan decided."""
    return default if value == "auto" else value == "on"


def ours_plan(name: str, cuda: bool, tiny: bool, ckpt: bool, o: argparse.Namespace) -> Any:
    """The harness's speed plan for an ours-* config (what train_lora would use on this
    device), with the flags' changes."""
    from dataclasses import replace

    from harness.accel import plan_speed

    variant = VARIANTS.get(name, {})
    fraction = o.ckpt_fraction if o.ckpt_fraction is not None else variant.get("fraction", 1.0)
    offload = _choice(o.offload, bool(variant.get("offload"))) and ckpt
    plan = plan_speed("auto", cuda=cuda, gradient_checkpointing=ckpt, bf16=cuda)
    reentrant = cuda or offload  # offloading needs reentrant checkpointing
    return replace(
        plan,
        checkpoint_fraction=fraction if ckpt else 1.0,
        offload=offload,
        reentrant=_choice(o.reentrant, reentrant) or offload,
        fused=_choice(o.fused, plan.fused or tiny),  # on CPU too with --tiny, to exercise it
        lean=_choice(o.lean, plan.lean),
        trim=plan.trim and not o.no_trim,
        defer=plan.defer and not o.no_defer,
        non_blocking=plan.non_blocking and not o.blocking,
        liger=plan.liger and not o.no_liger,
    )


def run_sft(name: str, base: Path, o: argparse.Namespace) -> dict[str, Any]:
    """seed-* and ours-*-5g / ours-*-fast: trl SFTTrainer with the given settings."""
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from harness.accel import SpeedPlan

    steps, warmup, tiny = o.steps, o.warmup, o.tiny
    cuda = torch.cuda.is_available()
    quantized = "qlora" in name
    seed = name.startswith("seed")
    fast = name.endswith("fast")
    batch, accum, seq = (16, 1, 1024) if fast else (4, 4, 2048)
    variant = VARIANTS.get(name, {})
    if tiny:
        seq = 64
    tok = AutoTokenizer.from_pretrained(str(base))
    model = load(base, quantized, "cuda" if cuda else "cpu")
    plan = SpeedPlan()  # seed-*: none of the speed code
    if seed:
        kw: dict[str, Any] = {
            "optim": "paged_adamw_8bit" if cuda else "adamw_torch",
            "bf16": cuda,
            "gradient_checkpointing": True,
        }
        if quantized:
            from peft import prepare_model_for_kbit_training

            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    else:
        ckpt = not fast and not o.no_ckpt
        micro = o.micro or variant.get("micro")
        if micro:  # micro-batch rows, accumulation keeps the batch
            mb = int(micro)
            accum, batch = accum * batch // mb, mb
        plan = ours_plan(name, cuda, tiny, ckpt, o)
        kw = {
            "optim": "adamw_torch_fused" if cuda else "adamw_torch",
            "bf16": cuda,
            "gradient_checkpointing": ckpt,
            **plan.sft_kwargs(),
        }
        if o.sac:
            kw.setdefault("gradient_checkpointing_kwargs", {})["selective"] = True
    prof = _Profile(warmup, steps, name, o.profile, o.anatomy)
    n_rows = (steps + warmup + prof.extra_steps) * batch * accum
    data = Dataset.from_dict({"input_ids": token_data(n_rows, seq, model.config.vocab_size)})
    times: list[float] = []
    losses: list[tuple[int, float]] = []

    class _Clock(TrainerCallback):
        def on_step_end(self, args: Any, state: Any, control: Any, **k: Any) -> None:
            _sync()
            times.append(time.perf_counter())
            prof.step(len(times))

        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **k: Any) -> None:
            if logs and "loss" in logs:
                losses.append((int(state.global_step), float(logs["loss"])))

    with plan.guard(model):
        args = SFTConfig(
            output_dir=tempfile.mkdtemp(prefix="sft-"),
            per_device_train_batch_size=batch,
            gradient_accumulation_steps=accum,
            max_steps=steps + warmup + prof.extra_steps,
            learning_rate=2e-4,
            lr_scheduler_type="cosine",
            warmup_steps=0.03,
            max_grad_norm=1.0,
            max_length=seq,
            logging_steps=1,
            save_strategy="no",
            report_to=[],
            seed=0,
            data_seed=0,
            packing=False,
            dataloader_num_workers=0,
            disable_tqdm=True,
            use_cpu=not cuda,
            **kw,
        )
        trainer = SFTTrainer(
            model=model,
            args=args,
            train_dataset=data,
            processing_class=tok,
            peft_config=lora_config(o.lora_dropout),
            callbacks=[_Clock(), *plan.callbacks()],
        )
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        _sync()
        t0 = time.perf_counter()
        with plan.training(trainer, trainer.model.get_base_model().model) as applied:
            trainer.train()
    res = _result(
        name, t0, times[: warmup + steps], warmup, batch * accum * seq, losses, trainer.model
    )
    if plan.fused and plan.lean and cuda:
        from harness.accel import lora_dropout_tiles  # imports triton

        res["triton_tiles"] = lora_dropout_tiles()
    ckpt_cb = [getattr(c, "checkpointed", None) for c in trainer.callback_handler.callbacks]
    ckpt_cb = [c for c in ckpt_cb if c is not None]
    fused, moved = applied.fused, applied.offloaded
    res.update(
        micro_batch=batch,
        accum=accum,
        seq=seq,
        speed="off" if seed else "auto",
        liger=applied.liger,
        fused_layers=fused.fused if fused else 0,
        lean_mlps=fused.mlps if fused else 0,
        offloaded_gb_per_step=round((moved.bytes if moved else 0) / 2**30 / max(1, len(times)), 2),
        checkpointed_layers=ckpt_cb[0]
        if ckpt_cb
        else ("all" if kw["gradient_checkpointing"] else 0),
    )
    return res


def run_plain(name: str, base: Path, o: argparse.Namespace) -> dict[str, Any]:
    """plain-*: the reference loop the issue measured (peft model, AdamW, no checkpointing)."""
    import torch
    from peft import get_peft_model, prepare_model_for_kbit_training

    steps, warmup, tiny = o.steps, o.warmup, o.tiny
    cuda = torch.cuda.is_available()
    dev = "cuda" if cuda else "cpu"
    quantized = "qlora" in name
    batch, seq = 16, (64 if tiny else 1024)
    model = load(base, quantized, dev)
    if quantized:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    torch.manual_seed(0)
    model = get_peft_model(model, lora_config(o.lora_dropout))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4)
    data = torch.tensor(token_data((steps + warmup) * batch, seq, model.config.vocab_size))
    times: list[float] = []
    losses: list[tuple[int, float]] = []
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    _sync()
    t0 = time.perf_counter()
    for i in range(steps + warmup):
        ids = data[i * batch : (i + 1) * batch].to(dev)
        with torch.autocast(dev, dtype=torch.bfloat16, enabled=cuda):
            loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        losses.append((i + 1, float(loss.detach())))
        _sync()
        times.append(time.perf_counter())
    return _result(name, t0, times, warmup, batch * seq, losses, model)


def _result(
    name: str,
    t0: float,
    times: list[float],
    warmup: int,
    tokens_per_step: int,
    losses: list[tuple[int, float]],
    model: Any,
) -> dict[str, Any]:
    import torch

    steps = [b - a for a, b in zip([t0, *times[:-1]], times, strict=True)]
    timed = steps[warmup:] or steps
    med = statistics.median(timed)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {
        "config": name,
        "tokens_per_step": tokens_per_step,
        "median_step_s": round(med, 4),
        "tokens_per_s": round(tokens_per_step / med, 1),
        "peak_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2)
        if torch.cuda.is_available()
        else None,
        "losses": losses,
        "trainable_params": trainable,
        "device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
    }


def worker(name: str, base: Path, o: argparse.Namespace) -> None:
    fn = run_plain if name.startswith("plain") else run_sft
    res = fn(name, base, o)
    print("RESULT " + json.dumps(res), flush=True)


def _table(results: list[dict[str, Any]]) -> str:
    by = {r["config"]: r for r in results}
    lines = ["config            tokens/s   peak GB  step s   first->last loss   target"]
    for r in results:
        tgt = TARGETS.get(r["config"])
        verdict = ""
        if tgt and "error" not in r:
            floor, cap = tgt
            if isinstance(floor, str):
                ref = by.get(floor.split(" x ")[1])
                floor = 2 * ref["tokens_per_s"] if ref and "error" not in ref else float("nan")
            ok = r["tokens_per_s"] >= floor and (r["peak_gb"] or 0) <= cap
            verdict = f">= {floor:,.0f} tok/s within {cap} GB: {'MET' if ok else 'missed'}"
        if "error" in r:
            lines.append(f"{r['config']:<16} ERROR {r['error'][-300:]}")
            continue
        ls = r["losses"]
        lines.append(
            f"{r['config']:<16} {r['tokens_per_s']:>9,.0f} {r['peak_gb'] or 0:>8.2f} "
            f"{r['median_step_s']:>7.3f}   {ls[0][1]:.3f}->{ls[-1][1]:.3f}   {verdict}"
        )
    return "\n".join(lines)


def _rounds_summary(results: list[dict[str, Any]]) -> str:
    """``--rounds N``: each config's median over the rounds, and ratio targets as the median of
    the per-round ratios (each round's config against that round's reference, run minutes
    apart on the same machine), since the seed reference itself moved by a third between
    machines and by several percent between runs."""
    ok = [r for r in results if "error" not in r]
    names = list(dict.fromkeys(r["config"] for r in ok))
    lines = ["config            median tok/s  (rounds)          max peak GB   target"]
    for name in names:
        runs = [r for r in ok if r["config"] == name]
        tps = [r["tokens_per_s"] for r in runs]
        peak = max(r["peak_gb"] or 0 for r in runs)
        verdict = ""
        tgt = TARGETS.get(name)
        if tgt:
            floor, cap = tgt
            if isinstance(floor, str):
                ref_name = floor.split(" x ")[1]
                refs = {r["round"]: r["tokens_per_s"] for r in ok if r["config"] == ref_name}
                ratios = [r["tokens_per_s"] / refs[r["round"]] for r in runs if r["round"] in refs]
                if ratios:
                    med = statistics.median(ratios)
                    met = med >= 2.0 and peak <= cap
                    shown = ", ".join(f"{x:.2f}" for x in ratios)
                    verdict = f"2x {ref_name}: ratios {shown}, median {med:.2f}x within {cap} GB: "
                    verdict += "MET" if met else "missed"
            else:
                met = statistics.median(tps) >= floor and peak <= cap
                verdict = f">= {floor:,.0f} within {cap} GB: {'MET' if met else 'missed'}"
        shown = "/".join(f"{x / 1000:.1f}k" for x in tps)
        lines.append(
            f"{name:<16} {statistics.median(tps):>12,.0f}  ({shown})  {peak:>8.2f}   {verdict}"
        )
    return "\n".join(lines)


# Flags passed on to each worker process as given (the plan's pieces, profiling)
PLAN_FLAGS = [
    ("--micro", {"type": int, "default": None, "help": "rows per micro-batch (ours-*)"}),
    ("--ckpt-fraction", {"type": float, "default": None, "help": "share of layers checkpointed"}),
    ("--no-ckpt", {"action": "store_true", "help": "no gradient checkpointing (ours-*)"}),
    ("--fused", {"choices": ["auto", "on", "off"], "default": "auto"}),
    ("--lean", {"choices": ["auto", "on", "off"], "default": "auto"}),
    ("--reentrant", {"choices": ["auto", "on", "off"], "default": "auto"}),
    ("--offload", {"choices": ["auto", "on", "off"], "default": "auto"}),
    ("--no-trim", {"action": "store_true", "help": "keep the Trainer's per-step model walks"}),
    ("--no-defer", {"action": "store_true", "help": "read metrics back every micro-step"}),
    ("--blocking", {"action": "store_true", "help": "blocking batch copies to the GPU"}),
    ("--no-liger", {"action": "store_true"}),
    ("--sac", {"action": "store_true", "help": "trl's selective activation checkpointing"}),
    ("--lora-dropout", {"type": float, "default": 0.05}),
    ("--profile", {"action": "store_true", "help": "top CUDA kernels of two timed steps"}),
    ("--anatomy", {"action": "store_true", "help": "step_anatomy.py after the timed steps"}),
]


def _passed_on(argv: list[str]) -> list[str]:
    """The plan and profiling flags of this command line, for the workers."""
    names = {f for f, _ in PLAN_FLAGS}
    out: list[str] = []
    args = iter(argv)
    for a in args:
        flag = a.split("=", 1)[0]
        if flag in names:
            out.append(a)
            spec = dict(PLAN_FLAGS)[flag]
            if "=" not in a and spec.get("action") != "store_true":
                out.append(next(args))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--configs", default=None, help=f"comma separated (default: {','.join(ALL)})")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default 12; tiny 1)")
    ap.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 3; tiny 1)")
    ap.add_argument(
        "--tiny", action="store_true", help="smoke: a tiny llama on the CPU, seed-lora and "
        "ours-lora-5g-m8 (unless --configs), 1 + 1 steps of 64 tokens; timings mean nothing"
    )  # fmt: skip
    ap.add_argument("--base", type=Path, default=None)
    ap.add_argument("--worker", default=None)
    ap.add_argument("--rounds", type=int, default=1, help="run the config list this many times")
    for flag, spec in PLAN_FLAGS:
        ap.add_argument(flag, **spec)  # type: ignore[arg-type]
    a = ap.parse_args()
    a.steps = a.steps if a.steps is not None else (1 if a.tiny else 12)
    a.warmup = a.warmup if a.warmup is not None else (1 if a.tiny else 3)
    if a.worker:
        worker(a.worker, a.base, a)
        return
    configs = a.configs or ("seed-lora,ours-lora-5g-m8" if a.tiny else ",".join(ALL))
    base = a.base or Path(tempfile.mkdtemp(prefix="bench-base-"))
    if not (base / "config.json").exists():
        make_base(base, a.tiny)
    results = []
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    env.setdefault("HF_HUB_OFFLINE", "1")
    names = configs.split(",")
    extra = _passed_on(sys.argv[1:])
    for rnd, name in ((r, n) for r in range(a.rounds) for n in names):
        cmd = [sys.executable, __file__, "--worker", name, "--base", str(base), *extra]
        cmd += ["--steps", str(a.steps), "--warmup", str(a.warmup)] + (["--tiny"] if a.tiny else [])
        t = time.perf_counter()
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if a.profile:
            print(p.stdout[-6000:])
        for x in p.stdout.splitlines():
            if x.startswith("ANATOMY "):
                print(f"{name} {x}")
        line = next((x for x in p.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            res = {"config": name, "error": (p.stderr or p.stdout)[-2000:]}
        else:
            res = json.loads(line[7:])
        res["wall_s"] = round(time.perf_counter() - t, 1)
        res["round"] = rnd
        results.append(res)
        print(f"{name}: {json.dumps({k: v for k, v in res.items() if k != 'losses'})[:400]}")
        sys.stdout.flush()
    if os.environ.get("OUT"):
        Path(os.environ["OUT"], "train_bench.json").write_text(json.dumps(results, indent=1))
    print(_table(results) if a.rounds == 1 else _rounds_summary(results))
    failed = [r["config"] for r in results if "error" in r]
    if failed:
        sys.exit(f"configs failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
