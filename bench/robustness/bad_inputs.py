"""Bad-input catalogue: every case must be refused with exit 2, a precise message, no damage.

Each case starts from a fresh copy of a tiny valid project (a tiny random llama made here,
offline, and the tiny experiment of the test suite), breaks one thing the way a user could, and
runs the real user path ``python -m harness evaluate <experiment.yaml>`` in a subprocess with
every store isolated. A case counts as *rejected* only when

- the exit code is 2 (bad input),
- stderr names the offending file (its basename at least),
- stderr names the field or line, where one applies,
- stderr contains ``fix:``,
- the user's files (project dir, model dir, adapter dirs) are byte-for-byte unchanged
  (what the run itself creates -- reports/, mlflow.db, .harness/, caches -- is ignored).

    python bench/robustness/bad_inputs.py [--jobs 1] [--only SUBSTRING] [--keep]
    python bench/robustness/bad_inputs.py --tiny   (smoke: two cases)

Prints a Markdown table and ``bad inputs rejected: N/N``; exits 0 when every case is rejected.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tests.conftest import make_tiny_model, write_tiny_experiment  # noqa: E402

CASE_TIMEOUT_S = 240
# What a run creates on its own; never counted as a change to the user's files.
RUN_ARTEFACTS = {"reports", ".harness", "mlflow.db", "mlruns", "cache", "hf-datasets"}
RECIPE_CANDIDATE = "candidates:\n  - name: lora\n    recipe: training/lora.yaml\n"


@dataclass(frozen=True)
class Assets:
    """Made once, copied into each case that needs them (never edited in place)."""

    model: Path  # the tiny llama (hidden 32)
    adapter: Path  # a valid LoRA adapter for it (q_proj, v_proj)
    wide_adapter: Path  # a LoRA adapter for a hidden-48 llama


@dataclass
class Setup:
    """What a case hands back: the experiment to run and what the message must name."""

    experiment: Path
    files: tuple[str, ...]  # any of these basenames must appear in stderr
    fields: tuple[str, ...] | None  # any of these must appear too (None: no field applies)
    watched: list[Path] = field(default_factory=list)  # user dirs besides project and model
    mentions: tuple[str, ...] = ()  # each must appear verbatim (e.g. the bad value as written)


@dataclass(frozen=True)
class Case:
    name: str
    wrong: str
    apply: Callable[[Path, Assets], Setup]


@dataclass
class Outcome:
    case: Case
    rc: int | None
    rejected: bool
    why: str
    first_line: str
    stderr: str
    seconds: float


# --- helpers -----------------------------------------------------------------------------------


def _project(case_dir: Path, model: Path) -> Path:
    """A fresh tiny valid project under ``case_dir/project``; returns experiment.yaml."""
    return write_tiny_experiment(case_dir / "project", model)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _write_rows(path: Path, rows: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _with_adapter(exp: Path, adapter_src: Path, name: str = "given") -> Path:
    """Copy an adapter into the project and make it the only candidate (no training)."""
    dst = exp.parent / "adapters" / name
    shutil.copytree(adapter_src, dst)
    _edit(exp, RECIPE_CANDIDATE, f"candidates:\n  - name: {name}\n    adapter: adapters/{name}\n")
    return dst


def _general_data(exp: Path) -> Path:
    return exp.parent / "suites" / "general" / "test.jsonl"


def _model_copy(case_dir: Path, assets: Assets) -> Path:
    dst = case_dir / "user-model"
    shutil.copytree(assets.model, dst)
    return dst


# --- the cases ---------------------------------------------------------------------------------


def c_missing_file(d: Path, a: Assets) -> Setup:
    _project(d, a.model)
    return Setup(d / "project" / "nowhere.yaml", ("nowhere.yaml",), None)


def c_unknown_key(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp, "name: tiny-experiment\n", "name: tiny-experiment\nbogus: 1\n")
    return Setup(exp, ("experiment.yaml",), ("bogus",))


def c_wrong_type(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp, "scoring:\n  batch_size: 8", "scoring:\n  batch_size: many")
    return Setup(exp, ("experiment.yaml",), ("scoring.batch_size",))


def c_unknown_suite(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp, "suites/general/general.yaml", "suites/nope/nope.yaml")
    return Setup(exp, ("experiment.yaml",), ("suites.1",))


def c_alpha(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp, "gate:\n", "gate:\n  alpha: 1.5\n")
    return Setup(exp, ("experiment.yaml",), ("gate.alpha",))


def c_nan_margin(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp, "forgetting_margin: 1.0", "forgetting_margin: .nan")
    return Setup(exp, ("experiment.yaml",), ("gate.forgetting_margin",))


def c_negative_margin(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp, "capability_margin: 1.0", "capability_margin: -0.05")
    return Setup(exp, ("experiment.yaml",), ("gate.capability_margin",))


def c_yaml_syntax(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp, "scoring:\n  batch_size: 8\n", "scoring:\n  batch_size: [8\n")
    return Setup(exp, ("experiment.yaml",), ("line",))


def c_suite_no_kind(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp.parent / "suites" / "tickets" / "tickets.yaml", "  kind: task\n", "")
    return Setup(exp, ("tickets.yaml",), ("metadata.kind", "kind"))


def c_suite_hub_path(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(
        exp.parent / "suites" / "general" / "general.yaml",
        "dataset_path: json\n",
        "dataset_path: some-org/general-knowledge\n",
    )
    return Setup(exp, ("general.yaml",), ("dataset_path",))


def c_row_missing_field(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    data = _general_data(exp)
    rows = _rows(data)
    rows[4] = {k: v for k, v in rows[4].items() if k != "question"}
    _write_rows(data, rows)
    return Setup(exp, ("test.jsonl",), ("question",))


def c_non_utf8(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    data = _general_data(exp)
    lines = data.read_bytes().splitlines(keepends=True)
    lines[6] = lines[6].replace(b"What is", b"Qu'est-ce que c'\xe9tait", 1)
    data.write_bytes(b"".join(lines))
    return Setup(exp, ("test.jsonl",), ("test.jsonl:7", "line 7"))


def c_empty_data(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _general_data(exp).write_bytes(b"")
    return Setup(exp, ("test.jsonl",), None)


def c_target_outside(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    data = _general_data(exp)
    rows = _rows(data)
    rows[9] = {**rows[9], "answer": 7}
    _write_rows(data, rows)
    return Setup(exp, ("test.jsonl", "general.yaml"), ("row 10", "test.jsonl:10", "g-9"))


def c_duplicate_ids(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    data = _general_data(exp)
    rows = _rows(data)
    rows[12] = {**rows[12], "id": rows[3]["id"]}
    _write_rows(data, rows)
    return Setup(exp, ("test.jsonl", "general.yaml"), ("g-3",))


def c_path_escape(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    # a real file outside the suite dir, so only the escape itself is wrong
    shutil.copy(_general_data(exp), d / "outside.jsonl")
    _edit(
        exp.parent / "suites" / "general" / "general.yaml",
        "    test: test.jsonl\n",
        "    test: ../../../outside.jsonl\n",
    )
    return Setup(
        exp, ("general.yaml",), ("dataset_kwargs.data_files.test",), watched=[d / "outside.jsonl"]
    )


def c_truncated_base(d: Path, a: Assets) -> Setup:
    model = _model_copy(d, a)
    w = model / "model.safetensors"
    w.write_bytes(w.read_bytes()[: w.stat().st_size // 2])
    exp = _project(d, model)
    return Setup(exp, ("model.safetensors",), ("base.model",))


def c_pickle_base(d: Path, a: Assets) -> Setup:
    model = _model_copy(d, a)
    (model / "model.safetensors").rename(model / "pytorch_model.bin")
    exp = _project(d, model)
    # the fix names base.allow_pickle, the switch that accepts pickle weights on purpose
    return Setup(exp, ("pytorch_model.bin", "user-model"), ("base.model", "base.allow_pickle"))


def c_wide_adapter(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _with_adapter(exp, a.wide_adapter)
    return Setup(exp, ("adapter_model.safetensors",), ("adapter", "q_proj"))


def c_partial_targets(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    ad = _with_adapter(exp, a.adapter)
    cfg_path = ad / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["target_modules"] = ["q_proj", "nonexistent_proj"]
    cfg_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")
    return Setup(exp, ("adapter_config.json",), ("target_modules",))


def c_corrupt_adapter(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    ad = _with_adapter(exp, a.adapter)
    w = ad / "adapter_model.safetensors"
    data = bytearray(w.read_bytes())
    data[8:40] = b"\xff\xfe garbage \x00\x01 not a header at all"[:32]
    w.write_bytes(bytes(data))
    return Setup(exp, ("adapter_model.safetensors",), ("adapter",))


def c_negative_lr(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp.parent / "training" / "lora.yaml", "learning_rate: 0.005", "learning_rate: -1")
    return Setup(exp, ("lora.yaml",), ("train.learning_rate",))


def c_recipe_missing_suite(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(
        exp.parent / "training" / "lora.yaml",
        "suite: ../suites/tickets/tickets.yaml",
        "suite: ../suites/tickets/ticket.yaml",
    )
    return Setup(exp, ("lora.yaml",), ("data.suite",))


def c_recipe_and_adapter(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    shutil.copytree(a.adapter, exp.parent / "adapters" / "given")
    _edit(exp, RECIPE_CANDIDATE, RECIPE_CANDIDATE + "    adapter: adapters/given\n")
    return Setup(exp, ("experiment.yaml",), ("candidates.0",))


def c_duplicate_names(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    shutil.copytree(a.adapter, exp.parent / "adapters" / "given")
    _edit(exp, RECIPE_CANDIDATE, RECIPE_CANDIDATE + "  - name: lora\n    adapter: adapters/given\n")
    return Setup(exp, ("experiment.yaml",), ("candidates",))


def c_malformed_json_line(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    data = _general_data(exp)
    lines = data.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[5] = lines[5].rstrip("}\n") + "\n"  # a line cut short: not JSON any more
    data.write_text("".join(lines), encoding="utf-8")
    return Setup(exp, ("test.jsonl",), ("test.jsonl:6", "line 6"))


def c_missing_base_dir(d: Path, a: Assets) -> Setup:
    exp = _project(d, d / "no-such-model")
    return Setup(exp, ("experiment.yaml", "no-such-model"), ("base.model",))


def c_missing_adapter_dir(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp, RECIPE_CANDIDATE, "candidates:\n  - name: given\n    adapter: adapters/v7\n")
    return Setup(exp, ("experiment.yaml",), ("candidates.0.adapter",))


def c_markup_suite_path(d: Path, a: Assets) -> Setup:
    # brackets are legal in directory names; the message must show the path as written
    exp = _project(d, a.model)
    _edit(exp, "suites/general/general.yaml", "suites/general[v2]/general.yaml")
    return Setup(exp, ("experiment.yaml",), ("suites.1",), mentions=("general[v2]",))


def c_markup_suite_yaml(d: Path, a: Assets) -> Setup:
    # a Llama-2 style prompt left unquoted: '[' opens a YAML flow list, a syntax error, and
    # YAML's message quotes the line back, '[/INST]' included
    exp = _project(d, a.model)
    _edit(
        exp.parent / "suites" / "general" / "general.yaml",
        'doc_to_text: "Question: {{question}}\\nAnswer:"\n',
        "doc_to_text: [INST] Question: {{question}} [/INST]\n",
    )
    return Setup(exp, ("general.yaml",), ("line",))


def c_recipe_unknown_key(d: Path, a: Assets) -> Setup:
    exp = _project(d, a.model)
    _edit(exp.parent / "training" / "lora.yaml", "  dropout: 0.0\n", "  dropuot: 0.0\n")
    return Setup(exp, ("lora.yaml",), ("lora.dropuot",))


CASES = [
    Case(name, wrong, fn)
    for name, wrong, fn in [
        ("missing-file", "experiment file does not exist", c_missing_file),
        ("unknown-key", "unknown top-level key `bogus`", c_unknown_key),
        ("wrong-type", "`scoring.batch_size: many`", c_wrong_type),
        ("unknown-suite", "suite path does not exist", c_unknown_suite),
        ("alpha-range", "`gate.alpha: 1.5`", c_alpha),
        ("nan-margin", "`gate.forgetting_margin: .nan`", c_nan_margin),
        ("negative-margin", "`gate.capability_margin: -0.05`", c_negative_margin),
        ("yaml-syntax", "unclosed `[` in experiment YAML", c_yaml_syntax),
        ("suite-no-kind", "task suite lacks `metadata.kind`", c_suite_no_kind),
        ("suite-hub-path", "suite `dataset_path` is a hub dataset", c_suite_hub_path),
        (
            "row-missing-field",
            "data row 5 lacks `question` (used by the prompt)",
            c_row_missing_field,
        ),
        ("non-utf8-line", "data line 7 is Latin-1, not UTF-8", c_non_utf8),
        ("empty-data", "suite data file is empty (0 bytes)", c_empty_data),
        ("target-outside", "row 10 target 7 with 2 choices", c_target_outside),
        ("duplicate-ids", "two rows share id `g-3`", c_duplicate_ids),
        ("path-escape", "data file `../../../outside.jsonl` escapes suite dir", c_path_escape),
        ("truncated-base", "base model.safetensors cut in half", c_truncated_base),
        ("pickle-base", "base has only pytorch_model.bin", c_pickle_base),
        ("wide-adapter", "adapter for a hidden-48 base (base is 32)", c_wide_adapter),
        ("partial-targets", "adapter target_modules only partly match", c_partial_targets),
        ("corrupt-adapter", "adapter_model.safetensors header garbled", c_corrupt_adapter),
        ("negative-lr", "recipe `learning_rate: -1`", c_negative_lr),
        ("recipe-missing-suite", "recipe `data.suite` does not exist", c_recipe_missing_suite),
        ("recipe-and-adapter", "candidate has both recipe and adapter", c_recipe_and_adapter),
        ("duplicate-names", "two candidates named `lora`", c_duplicate_names),
        ("malformed-json", "data line 6 is cut-short JSON", c_malformed_json_line),
        ("missing-base", "`base.model` directory does not exist", c_missing_base_dir),
        ("missing-adapter", "candidate adapter dir does not exist", c_missing_adapter_dir),
        ("recipe-typo", "recipe key `lora.dropuot` (typo)", c_recipe_unknown_key),
        ("markup-suite-path", "missing suite dir `general[v2]/`", c_markup_suite_path),
        (
            "markup-suite-yaml",
            "unquoted `[INST] … [/INST]` prompt in suite YAML",
            c_markup_suite_yaml,
        ),
    ]
]


TINY_CASES = ("missing-file", "recipe-typo")  # --tiny: one experiment file, one recipe file

# --- running and judging -----------------------------------------------------------------------


def _snapshot(paths: list[Path]) -> dict[str, bytes]:
    snap: dict[str, bytes] = {}
    for root in paths:
        if root.is_file():
            snap[str(root)] = root.read_bytes()
            continue
        if not root.is_dir():
            continue
        for p in sorted(root.rglob("*")):
            rel = p.relative_to(root).parts
            if any(part in RUN_ARTEFACTS or part.startswith("mlflow.db") for part in rel):
                continue
            if p.is_file() or p.is_symlink():
                snap[str(p)] = p.read_bytes() if p.is_file() else b"-> " + bytes(p.readlink())
    return snap


def _diff(before: dict[str, bytes], after: dict[str, bytes]) -> str:
    changed = sorted(k for k in before.keys() & after.keys() if before[k] != after[k])
    gone = sorted(before.keys() - after.keys())
    new = sorted(after.keys() - before.keys())
    parts = [
        f"{w}: {', '.join(Path(p).name for p in ps)}"
        for w, ps in (("changed", changed), ("removed", gone), ("added", new))
        if ps
    ]
    return "; ".join(parts)


def _env(case_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "HARNESS_CACHE": str(case_dir / "cache"),
        "HARNESS_STORE": str(case_dir / "store.sqlite"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{case_dir / 'mlflow.db'}",
        "HF_DATASETS_CACHE": str(case_dir / "hf-datasets"),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
        "NO_COLOR": "1",
        "COLUMNS": "120",
    }


def run_case(case: Case, work: Path, assets: Assets) -> Outcome:
    case_dir = work / case.name
    case_dir.mkdir()
    setup = case.apply(case_dir, assets)
    project = case_dir / "project"
    model = case_dir / "user-model" if (case_dir / "user-model").exists() else assets.model
    watched = [project, model, *setup.watched]
    before = _snapshot(watched)
    t0 = time.perf_counter()
    try:
        p = subprocess.run(
            [sys.executable, "-m", "harness", "evaluate", str(setup.experiment)],
            capture_output=True,
            text=True,
            timeout=CASE_TIMEOUT_S,
            check=False,
            cwd=case_dir,
            env=_env(case_dir),
        )
        rc: int | None = p.returncode
        stderr, stdout = p.stderr, p.stdout
    except subprocess.TimeoutExpired as exc:
        rc = None
        stderr = exc.stderr.decode() if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        stdout = ""
    seconds = time.perf_counter() - t0
    damage = _diff(before, _snapshot(watched))
    flat = " ".join(stderr.split())
    misses = []
    if rc != 2:
        misses.append(f"exit {rc}")
    if not any(f in flat for f in setup.files):
        misses.append(f"no file ({' / '.join(setup.files)})")
    if setup.fields is not None and not any(f in flat for f in setup.fields):
        misses.append(f"no field/line ({' / '.join(setup.fields)})")
    missing = [m for m in setup.mentions if m not in flat]
    if missing:
        misses.append(f"does not show {' / '.join(missing)}")
    if "fix:" not in flat:
        misses.append("no 'fix:'")
    if damage:
        misses.append(f"user files touched ({damage})")
    stderr = stderr.replace(f"{work}/", "")  # shorter, and the same from run to run
    lines = [ln.strip() for ln in (stderr or stdout).splitlines() if ln.strip()]
    # mlflow logs INFO lines to stderr first; the message is the harness's own line
    ours = [ln for ln in lines if ln.startswith(("configuration error", "could not decide"))]
    # else an uncaught exception: its last line names it
    ours += [ln for ln in lines if re.match(r"^[A-Za-z_.]*(Error|Exception)\b.*:", ln)][-1:]
    first = (ours or lines or [""])[0]
    return Outcome(case, rc, not misses, "; ".join(misses), first, stderr, seconds)


def make_assets(work: Path) -> Assets:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    def adapter_for(model_dir: Path, target: Path) -> Path:
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
        peft_model = get_peft_model(base, LoraConfig(r=2, target_modules=["q_proj", "v_proj"]))
        peft_model.save_pretrained(str(target))
        return target

    model = make_tiny_model(work / "assets" / "model")
    wide = make_tiny_model(work / "assets" / "wide-model", seed=1, hidden=48)
    return Assets(
        model=model,
        adapter=adapter_for(model, work / "assets" / "adapter"),
        wide_adapter=adapter_for(wide, work / "assets" / "wide-adapter"),
    )


def _cell(text: str, limit: int = 160) -> str:
    text = text.replace("|", "\\|")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--tiny", action="store_true", help=f"smoke: only {', '.join(TINY_CASES)}")
    ap.add_argument("--jobs", type=int, default=1, help="cases run at once (default 1: serial)")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--messages", action="store_true", help="also print every case's full message")
    ap.add_argument("--keep", action="store_true", help="keep the work dir and print its path")
    args = ap.parse_args()
    cases = [c for c in CASES if args.only in c.name and (not args.tiny or c.name in TINY_CASES)]
    tmp = tempfile.mkdtemp(prefix="bad-inputs-")
    work = Path(tmp)
    try:
        t0 = time.perf_counter()
        assets = make_assets(work)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            outcomes = list(pool.map(lambda c: run_case(c, work, assets), cases))
        elapsed = time.perf_counter() - t0
    finally:
        if args.keep:
            print(f"work dir: {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    print("| case | what was wrong | exit | rejected | first line of the message |")
    print("| --- | --- | --- | --- | --- |")
    for o in outcomes:
        verdict = "yes" if o.rejected else f"**no** ({_cell(o.why, 300)})"
        print(
            f"| {o.case.name} | {o.case.wrong} | {o.rc if o.rc is not None else 'timeout'} "
            f"| {verdict} | {_cell(o.first_line)} |"
        )
    failed = [o for o in outcomes if not o.rejected]
    if args.messages:
        for o in outcomes:
            msg = o.stderr[o.stderr.find(o.first_line) :] if o.first_line else o.stderr
            print(f"\n**{o.case.name}** (exit {o.rc}, {o.seconds:.0f} s)\n```\n{msg.strip()}\n```")
    for o in failed:
        print(f"\n<details><summary>{o.case.name}: stderr (exit {o.rc})</summary>\n")
        print("```")
        print(o.stderr.strip()[-4000:])
        print("```\n</details>")
    slowest = max(outcomes, key=lambda o: o.seconds, default=None)
    if slowest is not None:
        print(f"\n({elapsed:.0f} s; slowest case {slowest.case.name}: {slowest.seconds:.0f} s)")
    n = len(outcomes)
    print(f"bad inputs rejected: {n - len(failed)}/{n}")
    sys.exit(0 if not failed else 1)


if __name__ == "__main__":
    main()
