"""pytest plugin: an experiment's gate checks as test items, and fixtures for custom gates.

Registered through the ``pytest11`` entry point, so it is loaded in every pytest run; it does
nothing unless an experiment is given (``pytest experiment.yaml`` or ``--harness-experiment``).
It imports nothing heavy at import time. It holds options, collectors and fixtures only: the
logic lives in :mod:`harness._gate_session` and the library behind it.

Exit status of a gate session: 0 GO (every selected check and custom gate passed), 1 NO-GO
(a check or custom gate failed), 2 bad experiment (collection error naming file, field, fix),
3 could not decide (the gate run raised, or a test errored instead of failing an assertion),
other pytest codes (4 usage, 5 nothing selected) decide nothing either.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr
    from _pytest.terminal import TerminalReporter

    from harness._gate_session import GateSession, Selection, VariantResults
    from harness.config import Experiment
    from harness.gates import Check
    from harness.pipeline import GateRunResult

EXIT_CONFIG, EXIT_UNDECIDED = 2, 3
_YAML = {".yaml", ".yml"}


@dataclass
class _State:
    experiment: Path | None = None
    gates: list[GateSession] = field(default_factory=list)
    config_error: bool = False
    gate_error: bool = False
    selected_checks: int = 0
    selection: Selection | None = None

    @property
    def active(self) -> bool:
        return (
            self.experiment is not None
            or bool(self.gates)
            or self.config_error
            or (self.gate_error)
        )


_STATE = pytest.StashKey[_State]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("harness", "release gate (llm-release-harness)")
    group.addoption(
        "--harness-experiment",
        dest="harness_experiment",
        metavar="PATH",
        default=None,
        help="experiment YAML whose gate checks to collect as test items "
        "(same as passing the YAML as an argument)",
    )
    group.addoption(
        "--harness-retrain",
        dest="harness_retrain",
        action="store_true",
        default=False,
        help="train adapters even if a cached one matches",
    )
    parser.addini(
        "harness_experiment",
        "experiment YAML whose gate checks are collected in addition to the test paths",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    state = _State()
    config.stash[_STATE] = state
    opt = config.getoption("harness_experiment")
    ini = str(config.getini("harness_experiment") or "")
    if not (opt or ini):
        return
    if opt:
        path = (config.invocation_params.dir / opt).resolve()
    else:
        path = (config.rootpath / ini).resolve()
    state.experiment = path
    given = {(config.invocation_params.dir / a.split("::")[0]).resolve() for a in config.args}
    if path in given:
        return
    if opt and config.args_source != pytest.Config.ArgsSource.ARGS:
        # `pytest --harness-experiment x.yaml` alone runs the gate, not the default test paths.
        config.args[:] = [str(path)]
    else:
        config.args.append(str(path))


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    # Only YAML named on the command line (or by the option): never one found by recursion.
    if file_path.suffix not in _YAML:
        return None
    state = parent.config.stash[_STATE]
    if file_path.resolve() != state.experiment and not parent.session.isinitpath(file_path):
        return None
    return ExperimentFile.from_parent(parent, path=file_path)


class CheckFailed(AssertionError):
    """A gate check did not pass; its message carries the numbers."""


class ExperimentFile(pytest.File):
    """An experiment YAML: validated, its gate run once, one test item per check."""

    def collect(self) -> Iterable[pytest.Item | pytest.Collector]:
        from harness import _gate_session
        from harness.config import ConfigError

        state = self.config.stash[_STATE]
        capman = self.config.pluginmanager.getplugin("capturemanager")
        try:
            # Progress lines stream live: a real gate run takes minutes.
            if capman is not None:
                with capman.global_and_fixture_disabled():
                    print(flush=True)
                    gate = _gate_session.start(self.path, retrain=self._retrain())
            else:
                gate = _gate_session.start(self.path, retrain=self._retrain())
        except ConfigError as exc:
            state.config_error = True
            raise self.CollectError(f"configuration error {exc.render()}") from exc
        except (Exception, KeyboardInterrupt):
            # Ctrl-C or SIGTERM (harness._signals) too: pytest would exit 2 (interrupted),
            # the code of a bad experiment; no verdict is exit 3.
            state.gate_error = True
            raise
        state.gates.append(gate)
        alpha = gate.experiment.gate.alpha
        for check in gate.checks:
            yield CheckItem.from_parent(
                self,
                name=check.name,
                check=check,
                suite_path=gate.suite_path(check.suite),
                message=_gate_session.describe_failure(check, alpha),
            )

    def _retrain(self) -> bool:
        return bool(self.config.getoption("harness_retrain"))


class CheckItem(pytest.Item):
    """One gate check; it fails with the check's evidence when the check did not pass."""

    def __init__(
        self, *, check: Check, suite_path: Path | None, message: str, **kwargs: Any
    ) -> None:
        from harness._gate_session import check_properties

        super().__init__(**kwargs)
        self.check = check
        self.suite_path = suite_path
        self.message = message
        for kw in (check.kind, check.variant, check.suite, check.capability):
            if kw:
                self.keywords[kw] = True
        self.user_properties.extend(check_properties(check))

    def runtest(self) -> None:
        if not self.check.passed and not self.check.decides:
            # A comparison arm's failure is reported (xfail, with its numbers in the reason:
            # `-rx` prints them), but it does not decide the session's exit status.
            pytest.xfail(f"comparison arm, does not decide the verdict\n{self.message}")
        if not self.check.passed:
            raise CheckFailed(self.message)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path | str, int | None, str]:
        return self.suite_path or self.path, None, self.name


# ---- verdict and exit status -------------------------------------------------------------


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    state = config.stash[_STATE]
    if state.active:
        from harness._gate_session import Selection

        state.selection = Selection()


def pytest_collection_finish(session: pytest.Session) -> None:
    state = session.config.stash[_STATE]
    state.selected_checks = sum(isinstance(i, CheckItem) for i in session.items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    state = item.config.stash[_STATE]
    arm = isinstance(item, CheckItem) and hasattr(report, "wasxfail") and call.when == "call"
    if state.selection is not None and arm and report.skipped:
        state.selection.add(item.name, "comparison")
    if state.selection is None or report.skipped:
        return report
    name = item.name if isinstance(item, CheckItem) else item.nodeid
    if report.failed:
        exc = call.excinfo
        asserted = (
            call.when == "call"
            and exc is not None
            and exc.errisinstance((AssertionError, pytest.fail.Exception))
        )
        state.selection.add(name, "failed" if asserted else "error")
    elif call.when == "call":
        state.selection.add(name, "passed")
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    state = session.config.stash.get(_STATE, None)
    if state is None or not state.active:
        return
    from harness._gate_session import append_job_summary

    append_job_summary(state.gates)
    if state.config_error:
        session.exitstatus = EXIT_CONFIG
    elif state.gate_error or (
        state.selection is not None and state.selection.errors and exitstatus in (0, 1)
    ):
        session.exitstatus = EXIT_UNDECIDED


def pytest_terminal_summary(
    terminalreporter: TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    state = config.stash.get(_STATE, None)
    if state is None or not state.gates or state.selection is None:
        return
    if config.getoption("collectonly"):
        return
    from harness._gate_session import summary_lines

    terminalreporter.write_sep("=", "release gate")
    lines = summary_lines(state.gates, state.selection, state.selected_checks)
    colour = {"GO": {"green": True}, "NO-GO": {"red": True}}.get(lines[0], {"yellow": True})
    terminalreporter.write_line(lines[0], bold=True, **colour)
    for line in lines[1:]:
        terminalreporter.write_line(line)


# ---- fixtures for custom gates written in Python -------------------------------------------


def _gate(request: pytest.FixtureRequest) -> GateSession:
    state = request.config.stash[_STATE]
    if not state.gates:
        pytest.skip(
            "no harness experiment in this session: run `pytest experiment.yaml this_test.py` "
            "or pass --harness-experiment PATH"
        )
    if len(state.gates) > 1:
        names = ", ".join(str(g.experiment.source) for g in state.gates)
        pytest.fail(f"harness fixtures need exactly one experiment per session, got: {names}")
    return state.gates[0]


@pytest.fixture(scope="session")
def harness_gate(request: pytest.FixtureRequest) -> GateRunResult:
    """The gate run of the session's experiment: ``.summary`` (the summary.json dict),
    ``.gate_summary`` (the same, typed: ``harness.report.GateSummary``), ``.outcome``,
    ``.run_dir``."""
    return _gate(request).result


@pytest.fixture(scope="session")
def harness_experiment(request: pytest.FixtureRequest) -> Experiment:
    """The validated experiment of the session."""
    return _gate(request).experiment


@pytest.fixture(scope="session")
def harness_results(request: pytest.FixtureRequest) -> dict[str, VariantResults]:
    """variant (``base`` included) -> suite -> per-item results (``ItemResult``)."""
    return _gate(request).results()


@pytest.fixture(scope="session")
def harness_baseline(request: pytest.FixtureRequest) -> VariantResults:
    """The baseline's suite -> per-item results."""
    return _gate(request).baseline()


@pytest.fixture(scope="session")
def harness_variant(request: pytest.FixtureRequest) -> Callable[[str], VariantResults]:
    """A factory: ``harness_variant("lora")`` -> suite -> per-item results of that variant."""
    return _gate(request).variant
