"""summary.json (its typed model) and rendering it into the files people and CI systems read.

Deliberately light (stdlib, pydantic and jinja2 only, nothing else from harness): reports are
re-rendered from a stored ``summary.json`` on machines that have none of the training/eval
stack installed. The gate imports the summary model from here.
"""

from harness.report._html import render_html
from harness.report._junit import render_junit
from harness.report._markdown import render_job_summary, render_markdown
from harness.report._samples import changed_samples
from harness.report._summary import (
    ChampionRecord,
    CheckKindInfo,
    CheckRecord,
    GateSummary,
    RegisteredModel,
    SampleBlock,
    SuiteRecord,
    TrainingRecord,
    VariantRecord,
    summary_json_schema,
)
from harness.report._write import (
    ReportFiles,
    json_safe,
    summary_json_text,
    update_latest_link,
    write_report_files,
)

__all__ = [
    "ChampionRecord",
    "CheckKindInfo",
    "CheckRecord",
    "GateSummary",
    "RegisteredModel",
    "ReportFiles",
    "SampleBlock",
    "SuiteRecord",
    "TrainingRecord",
    "VariantRecord",
    "changed_samples",
    "json_safe",
    "render_html",
    "render_job_summary",
    "render_junit",
    "render_markdown",
    "summary_json_schema",
    "summary_json_text",
    "update_latest_link",
    "write_report_files",
]
