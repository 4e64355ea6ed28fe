from __future__ import annotations

import subprocess
import sys


def test_report_package_stays_light() -> None:
    code = (
        "import sys, harness.report\n"
        "heavy = {'torch', 'mlflow', 'lm_eval', 'trl', 'transformers', 'peft', 'numpy'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_template_shipped_with_package() -> None:
    from importlib import resources

    assert resources.files("harness.report").joinpath("templates/report.html.j2").is_file()
