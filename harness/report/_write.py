"""Writing a run's report files to disk and pointing ``reports/latest`` at it.

Files are written atomically (temp file in the same directory + ``os.replace``) so a
CI step, a file watcher or a person opening ``report.html`` never sees a half-written
file, even if the gate is killed mid-write.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import math
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import Any, overload

from harness.report._html import render_html
from harness.report._junit import render_junit
from harness.report._markdown import render_job_summary, render_markdown
from harness.report._summary import GateSummary, SummaryInput, as_summary

LATEST = "latest"
LATEST_TXT = "latest.txt"


@dataclass(frozen=True)
class ReportFiles:
    """Paths of the files written for one gate run."""

    summary_json: Path
    report_md: Path
    report_html: Path
    junit_xml: Path
    job_summary_md: Path

    def all(self) -> tuple[Path, ...]:
        """All paths, e.g. for logging them as MLflow artifacts in one loop."""
        return (
            self.summary_json,
            self.report_md,
            self.report_html,
            self.junit_xml,
            self.job_summary_md,
        )


@overload
def json_safe(value: Mapping[str, Any]) -> dict[str, Any]: ...
@overload
def json_safe(value: object) -> Any: ...
def json_safe(value: object) -> Any:
    """Return a copy of ``value`` that strict JSON can hold.

    NaN and ±inf become None: ``allow_nan=False`` then guarantees ``summary.json`` is
    valid JSON for every consumer (browsers and ``jq`` reject ``NaN``). Tuples become
    lists, paths and datetimes strings, and numpy-like scalars are unwrapped via
    ``.item()`` without importing numpy. Unknown types raise instead of being
    stringified, so a contract slip is caught rather than silently stored.
    """
    if value is None or isinstance(value, (bool, str, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    item = getattr(value, "item", None)
    if callable(item):
        return json_safe(item())
    raise TypeError(
        f"summary value of type {type(value).__name__} is not JSON-serialisable: {value!r}"
    )


def atomic_write_text(path: Path, content: str) -> None:
    """Write ``content`` to ``path`` atomically (same-dir temp file + ``os.replace``)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def summary_json_text(summary: SummaryInput) -> str:
    """summary.json's text: strict JSON (NaN as null), keys sorted, indented, newline-ended."""
    safe = json_safe(as_summary(summary).to_dict())
    return json.dumps(safe, indent=2, sort_keys=True, allow_nan=False, ensure_ascii=False) + "\n"


def write_report_files(summary: SummaryInput, out_dir: Path) -> ReportFiles:
    """Write summary.json, report.md, report.html, junit.xml and job_summary.md.

    ``summary`` is a :class:`GateSummary` (a plain dict is read through it first).
    ``summary.json`` is written first: it is the source of truth, so if a renderer ever
    fails the run's data is still on disk and the reports can be re-rendered from it.
    All renderers read the stored, NaN-free copy, so every output shows the same values.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = ReportFiles(
        summary_json=out_dir / "summary.json",
        report_md=out_dir / "report.md",
        report_html=out_dir / "report.html",
        junit_xml=out_dir / "junit.xml",
        job_summary_md=out_dir / "job_summary.md",
    )
    text = summary_json_text(summary)
    atomic_write_text(files.summary_json, text)
    # Render from what was stored, so the reports are exactly a view of summary.json.
    stored = GateSummary.read(json.loads(text))
    atomic_write_text(files.report_md, render_markdown(stored))
    atomic_write_text(files.report_html, render_html(stored))
    atomic_write_text(files.junit_xml, render_junit(stored))
    atomic_write_text(files.job_summary_md, render_job_summary(stored))
    return files


def update_latest_link(reports_dir: Path, run_dir: Path) -> Path:
    """Point ``reports_dir/latest`` at ``run_dir`` and return the path written.

    The link is relative so the reports directory can be moved, zipped or mounted
    elsewhere and still resolve. It is swapped in atomically (temp symlink +
    ``os.replace``) so readers never see a missing ``latest``. Where symlinks are not
    available (Windows without developer mode, some network filesystems), or ``latest``
    is a real directory we must not clobber, ``latest.txt`` holds the run dir name.
    """
    reports_dir = Path(reports_dir)
    run_dir = Path(run_dir)
    reports_dir.mkdir(parents=True, exist_ok=True)
    target = os.path.relpath(run_dir.resolve(), reports_dir.resolve())
    link = reports_dir / LATEST
    tmp = reports_dir / f".{LATEST}.{os.getpid()}.{os.urandom(4).hex()}.tmp"
    try:
        os.symlink(target, tmp, target_is_directory=True)
        try:
            os.replace(tmp, link)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except (OSError, NotImplementedError):
        txt = reports_dir / LATEST_TXT
        atomic_write_text(txt, target + "\n")
        return txt
    # A stale latest.txt from an earlier fallback would contradict the link.
    with contextlib.suppress(FileNotFoundError):
        (reports_dir / LATEST_TXT).unlink()
    return link
