"""Rendering a gate run's summary into the files people and CI systems read.

Deliberately light (stdlib + jinja2 only): reports are re-rendered from a stored
``summary.json`` on machines that have none of the training/eval stack installed.
"""

from harness.report._html import render_html
from harness.report._junit import render_junit
from harness.report._markdown import render_job_summary, render_markdown
from harness.report._samples import changed_samples
from harness.report._write import (
    ReportFiles,
    json_safe,
    update_latest_link,
    write_report_files,
)

__all__ = [
    "ReportFiles",
    "changed_samples",
    "json_safe",
    "render_html",
    "render_job_summary",
    "render_junit",
    "render_markdown",
    "update_latest_link",
    "write_report_files",
]
