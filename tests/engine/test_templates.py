"""lm-eval's prompt templates compiled once: the same text as lm-eval's own rendering, the
swap confined to the harness's scoring, and lm-eval's own function outside the versions."""

from __future__ import annotations

import logging

import lm_eval.utils
import pytest

from harness.engine import _templates
from harness.engine._templates import apply_template, compiled_templates

# Shapes lm-eval's own task YAMLs use: fields, loops over choices, filters, conditionals.
TEMPLATES = [
    "{{question.strip()}}\nA. {{choices[0]}}\nB. {{choices[1]}}\nAnswer:",
    "{% for c in choices %}{{'ABCD'[loop.index0]}}. {{c}}\n{% endfor %}Answer:",
    "{{answer_text | regex_replace('[^0-9]', '')}}",
    "{{ctx_a + ' ' + ctx_b.capitalize()}}{% if label %} ({{label}}){% endif %}",
    "{{['no', 'yes'][answer % 2]}}",
]
DOC = {
    "question": "  What is 2 + 2?  ",
    "choices": ["3", "4", "5", "6"],
    "answer": 17,
    "answer_text": "The total is #### 17",
    "ctx_a": "A man",
    "ctx_b": "walks in.",
    "label": "2",
}


def test_same_text_as_lm_evals_own_rendering() -> None:
    own = lm_eval.utils.apply_template
    for template in TEMPLATES:
        assert apply_template(template, DOC) == own(template, DOC)


def test_each_template_is_compiled_once() -> None:
    _templates._compiled.cache_clear()
    for _ in range(50):
        for template in TEMPLATES:
            apply_template(template, DOC)
    info = _templates._compiled.cache_info()
    assert info.misses == len(TEMPLATES) and info.hits == 49 * len(TEMPLATES)


def test_swapped_only_while_scoring() -> None:
    own = lm_eval.utils.apply_template
    with compiled_templates():
        assert lm_eval.utils.apply_template is apply_template
        with compiled_templates():  # nested (a suite inside a suite run): still ours
            assert lm_eval.utils.apply_template is apply_template
        assert lm_eval.utils.apply_template is apply_template
    assert lm_eval.utils.apply_template is own
    with pytest.raises(RuntimeError), compiled_templates():
        raise RuntimeError("a failed batch")
    assert lm_eval.utils.apply_template is own


def test_outside_the_versions_lm_evals_own_function_runs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    own = lm_eval.utils.apply_template
    _templates._allowed.cache_clear()
    monkeypatch.setattr(_templates.metadata, "version", lambda name: "0.5.1")
    try:
        with caplog.at_level(logging.WARNING), compiled_templates():
            assert lm_eval.utils.apply_template is own
        assert "lm-eval 0.5.1 is outside >=0.4.13,<0.5" in caplog.text
    finally:
        _templates._allowed.cache_clear()
