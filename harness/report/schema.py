"""Print the JSON Schema of summary.json.

Regenerate the published copy with ``python -m harness.report.schema > docs/summary.schema.json``;
it must equal what the model generates (tests/report/test_summary_model.py checks).
"""

from __future__ import annotations

import json

from harness.report._summary import summary_json_schema

SCHEMA_PATH = "docs/summary.schema.json"


def schema_text() -> str:
    """The schema as published: indented, keys sorted, one trailing newline."""
    return json.dumps(summary_json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    print(schema_text(), end="")
