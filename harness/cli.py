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
from rich.markup import escape

from harness.config import ConfigError, load_experiment

app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Release gate for LoRA/QLoRA fine-tunes."
)
err = Console(stderr=True)

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
    from harness.pipeline import EXIT_CONFIG, EXIT_ERROR, run_gate

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    path = config or _default_experiment()
    console = Console()
    try:
        exp = load_experiment(path)
        result = run_gate(exp, console=console, retrain=retrain)
    except ConfigError as exc:
        err.print(
            f"[bold red]configuration error[/] {escape(exc.render())}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_CONFIG) from exc
    except KeyboardInterrupt:
        err.print("[bold red]interrupted[/]: no verdict")
        raise typer.Exit(EXIT_ERROR) from None
    except Exception as exc:
        err.print_exception(max_frames=8)
        err.print(f"[bold red]could not decide[/]: {type(exc).__name__}: {escape(str(exc))}")
        raise typer.Exit(EXIT_ERROR) from exc
    verdict = result.outcome.verdict
    colour = "green" if verdict == "GO" else "red"
    console.print()
    console.print(f"[bold {colour}]{verdict}[/]")
    for reason in result.outcome.reasons:
        console.print(f"  - {escape(reason)}", soft_wrap=True)
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
) -> None:
    """Validate an experiment and every suite and recipe it names, without loading a model."""
    path = config or _default_experiment()
    try:
        exp = load_experiment(path)
    except ConfigError as exc:
        err.print(
            f"[bold red]configuration error[/] {escape(exc.render())}",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from exc
    Console().print(
        f"[green]ok[/] {escape(str(exp.source))}: {len(exp.suites)} suites, "
        f"{len(exp.candidates)} candidates"
    )


def main() -> None:
    app(prog_name="harness")


if __name__ == "__main__":
    main()
    sys.exit(0)
