"""Self-contained HTML report (``report.html``).

The file is opened from CI artifacts, e-mail attachments or air-gapped machines, so
it embeds its CSS and draws charts as inline SVG in the template: no scripts, no fonts,
no CDN, nothing that breaks offline or leaks that someone opened the report.
"""

from __future__ import annotations

import functools

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from harness.report._format import (
    MISSING,
    fmt_ci,
    fmt_duration,
    fmt_int,
    fmt_num,
    fmt_pct,
    fmt_signed,
    pass_mark,
    verdict_mark,
)
from harness.report._model import Summary, build_view

TEMPLATE = "report.html.j2"


@functools.lru_cache(maxsize=1)
def _environment() -> Environment:
    """Build the Jinja environment once per process.

    ``select_autoescape``'s defaults only match names *ending* in ``.html``, so the
    ``.html.j2`` suffix is listed explicitly: without it autoescaping would be silently
    off and a suite name like ``<script>`` would be injected verbatim.
    """
    env = Environment(
        loader=PackageLoader("harness.report", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html", "htm", "xml", "html.j2")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        num=fmt_num,
        signed=fmt_signed,
        ci=fmt_ci,
        duration=fmt_duration,
        count=fmt_int,
        pct=fmt_pct,
        pass_mark=pass_mark,
        verdict_mark=verdict_mark,
    )
    env.globals["MISSING"] = MISSING
    return env


def render_html(summary: Summary) -> str:
    """Render the summary as one standalone HTML page (same content as report.md)."""
    view = build_view(summary)
    return _environment().get_template(TEMPLATE).render(view=view)
