"""The ``harness`` command: thin glue over the library.

Exit codes are a contract: 0 = GO, 1 = NO-GO, anything else = could not decide (the reason is
printed). ``typer`` would exit 2 on a usage error, which fits: a bad command line decided nothing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

from harness.config import (
    BaseSpec,
    ConfigError,
    Experiment,
    load_experiment,
    recipe_guide_notes,
    recipe_warnings,
)

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Release gate for LoRA/QLoRA fine-tunes."
)


def make_console(*, stderr: bool = False) -> Console:
    """A console that never rewrites user text: no emoji codes (rich turned the ``:100:`` of
    ``test.jsonl:100: ...`` into an emoji, losing the line number). User-derived text is printed
    as ``Text`` (never parsed as markup) or with ``markup=False``."""
    return Console(stderr=stderr, emoji=False)


err = make_console(stderr=True)


def _label(label: str, style: str, text: str) -> Text:
    """``label`` styled, then ``text`` verbatim (no markup, no emoji, no highlighting)."""
    return Text.assemble((label, style), " ", text)


def print_config_error(exc: ConfigError, label: str = "configuration error") -> None:
    err.print(_label(label, "bold red", exc.render()), highlight=False, soft_wrap=True)


def _print_notes(console: Console, exp: Experiment) -> None:
    for note in exp.notes:
        console.print(_label("note", "yellow", note), highlight=False, soft_wrap=True)


DEFAULT_EXPERIMENT = "experiment.yaml"


def _default_experiment() -> Path:
    """``./experiment.yaml`` when present, else the one shipped beside the package sources."""
    here = Path.cwd() / DEFAULT_EXPERIMENT
    if here.is_file():
        return here
    shipped = Path(__file__).resolve().parent.parent / DEFAULT_EXPERIMENT
    return shipped


@app.command()
def evaluate(
    config: Annotated[
        Path | None, typer.Argument(help="Experiment YAML (default: experiment.yaml).")
    ] = None,
    retrain: Annotated[
        bool, typer.Option(help="Train adapters even if a cached one matches.")
    ] = False,
) -> None:
    """Run the release gate: baseline, candidates, checks, MLflow, reports. Exit 0 GO, 1 NO-GO."""
    from harness._signals import Terminated, sigterm_as_interrupt
    from harness.pipeline import EXIT_CONFIG, EXIT_ERROR, run_gate

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    # TOKENIZERS_PARALLELISM is left alone: scoring tokenises whole suites in one batched
    # call, and on a many-core GPU host the Rust tokenizer's threads matter (H200 host, 1M
    # tokens: first call 2.36 s with them, 5.44 s with TOKENIZERS_PARALLELISM=false).
    path = config or _default_experiment()
    console = make_console()
    try:
        with sigterm_as_interrupt():  # SIGTERM unwinds like Ctrl-C (see harness._signals)
            exp = load_experiment(path)
            _print_notes(console, exp)
            if exp.gate.require_power and print_power_plan(exp, console):
                raise ConfigError(
                    exp.source,
                    "gate.require_power",
                    "the power plan above flags checks that would fail a harmless adapter "
                    "more often than alpha allows; nothing was scored",
                    "give the flagged suites the items or margins the plan names, or set "
                    "gate.require_power: false",
                )
            result = run_gate(exp, console=console, retrain=retrain)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(EXIT_CONFIG) from exc
    except KeyboardInterrupt as exc:
        what = "terminated (SIGTERM)" if isinstance(exc, Terminated) else "interrupted"
        err.print(f"[bold red]{what}[/]: no verdict; scored batches are kept, run again to resume")
        raise typer.Exit(EXIT_ERROR) from None
    except Exception as exc:
        err.print_exception(max_frames=8)
        err.print(
            _label("could not decide:", "bold red", f"{type(exc).__name__}: {exc}"),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_ERROR) from exc
    verdict = result.outcome.verdict
    colour = "green" if verdict == "GO" else "red"
    console.print()
    console.print(f"[bold {colour}]{verdict}[/]")
    for reason in result.outcome.reasons:
        console.print(Text(f"  - {reason}"), highlight=False, soft_wrap=True)
    for line in (
        f"report: {result.run_dir / 'report.html'}",
        f"        {result.run_dir / 'report.md'}",
        f"mlflow: run {result.summary['mlflow_run_id']} in {result.summary['mlflow_tracking_uri']}",
    ):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        with open(summary_path, "a", encoding="utf-8") as fh:
            fh.write((result.run_dir / "job_summary.md").read_text(encoding="utf-8"))
    raise typer.Exit(result.exit_code)


@app.command()
def validate(
    config: Annotated[Path | None, typer.Argument(help="Experiment YAML to check.")] = None,
    no_data: Annotated[
        bool,
        typer.Option(
            "--no-data",
            help="Check the files without reading suite data (e.g. registry suites in CI "
            "without the Hugging Face cache).",
        ),
    ] = False,
) -> None:
    """Validate an experiment and every suite and recipe it names, without loading a model.

    Each suite's data is read and checked row by row (fields, choices, encoding) here, so a
    bad row is reported in seconds rather than after the model has loaded.
    """
    path = config or _default_experiment()
    try:
        exp = load_experiment(path, check_data=not no_data)
        from harness.engine import build_task

        n_items = None if no_data else sum(len(build_task(suite).eval_docs) for suite in exp.suites)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from exc
    out = make_console()
    out.print(
        _label(
            "ok",
            "green",
            f"{exp.source}: {len(exp.suites)} suites "
            + ("(data not read)" if n_items is None else f"({n_items} evaluation items)")
            + ", "
            f"{len(exp.candidates)} candidates",
        ),
        highlight=False,
        soft_wrap=True,
    )
    _print_notes(out, exp)
    # Outside the guide's ranges is allowed (a CPU demo, a stress recipe), so warn, exit 0;
    # a deviation the recipe explains (outside_guide) is a note.
    for name, recipe in exp.recipes.items():
        for w in recipe_warnings(recipe):
            out.print(
                _label("warning", "yellow", f"recipe {name} ({recipe.source}): {w}"),
                highlight=False,
                soft_wrap=True,
            )
        for n in recipe_guide_notes(recipe):
            out.print(
                _label("note", "dim", f"recipe {name} ({recipe.source}): {n}"),
                highlight=False,
                soft_wrap=True,
            )


@app.command()
def plan(
    config: Annotated[Path | None, typer.Argument(help="Experiment YAML to plan.")] = None,
    require_power: Annotated[
        bool | None,
        typer.Option(
            "--require-power/--no-require-power",
            help="Exit 2 on a flagged check (default: gate.require_power).",
        ),
    ] = None,
) -> None:
    """Plan power before scoring: per suite and capability the items, the stored baseline, the
    drop each check can detect and how often it would fail a harmless adapter.

    Flags a check that would fail a harmless adapter more often than alpha allows (and says
    how many items or what margin would do); with gate.require_power (or --require-power) a
    flag exits 2. Reads suite data and the result store; loads no model.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    path = config or _default_experiment()
    try:
        exp = load_experiment(path)
        flagged = print_power_plan(exp, make_console())
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(2) from exc
    strict = exp.gate.require_power if require_power is None else require_power
    if flagged and strict:
        err.print(
            _label("underpowered", "bold red", f"{flagged} check(s) flagged (gate.require_power)"),
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2)


def print_power_plan(exp: Experiment, console: Console) -> int:
    """Print ``exp``'s power plan; the number of flagged checks."""
    from harness._gate.plan import plan_experiment, plan_lines, plan_table

    result = plan_experiment(exp)
    rows, lines = plan_lines(result)
    console.print(plan_table(f"Power plan: {exp.name}", rows, console.width))
    for line in lines:
        console.print(Text(line), highlight=False, soft_wrap=True)
    return len(result.plan.flagged)


@app.command()
def train(
    recipe: Annotated[Path, typer.Argument(help="Recipe YAML, e.g. training/qlora.yaml.")],
    base: Annotated[
        str,
        typer.Option(help="Base model, as experiment.yaml's base.model: builtin:... or a dir."),
    ] = BaseSpec().model,
    out: Annotated[
        Path | None, typer.Option(help="Also copy the adapter here (it is cached either way).")
    ] = None,
    retrain: Annotated[bool, typer.Option(help="Train even if a cached adapter matches.")] = False,
) -> None:
    """Train one recipe into the adapter cache, so a gate run afterwards reuses it.

    Runs under `accelerate launch -m harness train ...` or torchrun too (DDP, or FSDP with an
    accelerate config); only the main process writes the adapter and prints.
    """
    from harness.engine import training_examples
    from harness.training import TrainingFailed, is_main_process, train_recipe

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        run = train_recipe(
            recipe, BaseSpec(model=base), out, suite_examples=training_examples, retrain=retrain
        )
    except ConfigError as exc:
        label = "training failed" if isinstance(exc, TrainingFailed) else "configuration error"
        print_config_error(exc, label)
        raise typer.Exit(2) from exc
    if not is_main_process():
        return
    r = run.result
    lines = [
        f"adapter: {run.adapter_dir}" + (" (reused from the cache)" if r.cached else ""),
        *([f"copied to: {run.copied_to}"] if run.copied_to else []),
        f"steps: {r.steps}   final loss: {r.final_loss:.4f}"
        + (f"   validation loss: {r.val_loss:.4f}" if r.val_loss is not None else ""),
        f"tokens/s: {r.tokens_per_second:.1f} (all processes)   "
        f"peak memory: {r.peak_memory_mb:.0f} MB (main process)",
    ]
    if r.stop_reason:
        lines.append(f"stopped early: {r.stop_reason}")
    out_console = make_console()
    for line in lines:
        out_console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def runs(
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="Only this experiment (default: every one)."),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many of the newest gate runs.")] = 10,
    compare: Annotated[
        tuple[str, str] | None,
        typer.Option(
            metavar="RUN_A RUN_B",
            help="Compare two gate runs (MLflow run id or gate run name) metric by metric.",
        ),
    ] = None,
    changed: Annotated[
        bool, typer.Option("--changed", help="With --compare: only metrics that differ.")
    ] = False,
    tracking_uri: Annotated[
        str | None,
        typer.Option(help="MLflow store (default: MLFLOW_TRACKING_URI, else ./mlflow.db)."),
    ] = None,
) -> None:
    """List recent gate runs from MLflow, or compare two of them."""
    from harness.tracking import (
        RunNotFound,
        compare_gate_runs,
        comparison_tables,
        list_gate_runs,
        runs_table,
    )

    console = make_console()
    try:
        if compare is not None:
            head, body = comparison_tables(
                compare_gate_runs(compare[0], compare[1], tracking_uri), changed
            )
            console.print(head)
            console.print(body)
            return
        found = list_gate_runs(experiment, limit, tracking_uri)
    except RunNotFound as exc:
        err.print(_label("not found", "bold red", str(exc)), highlight=False, soft_wrap=True)
        raise typer.Exit(2) from exc
    if not found:
        console.print("no gate runs yet: `harness evaluate` logs one", markup=False)
        return
    console.print(runs_table(found, show_experiment=experiment is None, width=console.width))


def main() -> None:
    app(prog_name="harness")


if __name__ == "__main__":
    main()
    sys.exit(0)
