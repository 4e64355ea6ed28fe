"""lm-eval's prompt templates compiled once per template instead of once per document.

lm-eval 0.4.13 renders every ``doc_to_text`` / ``doc_to_target`` / ``doc_to_choice`` through
``lm_eval.utils.apply_template``, which compiles the Jinja template from its string on every
call (``env.from_string``; Jinja's template cache serves only ``get_template``). On an
mmlu-sized group that compile is most of lm-eval's own time: profiled on the CPU, 77 s of the
87 s spent building requests for 14,000 items (bench/scoring/registry_mmlu.py), and on an H200
it is what a run waits for once the model is fast. Compiling is a pure function of the
template string and the module's one ``Environment``, so a compiled template is reused and
the rendered text is the same string (tests/engine/test_templates.py).

Written against lm-eval 0.4.13 (it reads ``lm_eval.utils.env`` and replaces the module
attribute ``apply_template``, through which ``lm_eval.api.task`` calls it); with lm-eval
outside ``WRITTEN_AGAINST`` lm-eval's own function runs and one warning says so. Swapped in
only while the harness scores (:func:`compiled_templates`) and put back after, so a caller's
own lm-eval runs are untouched.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import metadata
from typing import Any

from packaging.specifiers import SpecifierSet

log = logging.getLogger(__name__)

WRITTEN_AGAINST = ">=0.4.13,<0.5"


@functools.cache
def _allowed() -> bool:
    version = metadata.version("lm-eval")
    if version in SpecifierSet(WRITTEN_AGAINST):
        return True
    log.warning(
        "lm-eval %s is outside %s, which harness.engine._templates was written against: "
        "prompts are compiled per document, as lm-eval does (slower, same text)",
        version,
        WRITTEN_AGAINST,
    )
    return False


@functools.lru_cache(maxsize=4096)
def _compiled(env: Any, template: str) -> Any:
    return env.from_string(template)


def apply_template(template: str, doc: dict[str, Any]) -> str:
    """``lm_eval.utils.apply_template`` with the compiled template kept."""
    import lm_eval.utils

    return str(_compiled(lm_eval.utils.env, template).render(**doc))


@contextmanager
def compiled_templates() -> Iterator[None]:
    """Within the block, lm-eval renders prompts through :func:`apply_template`."""
    import lm_eval.utils

    own = lm_eval.utils.apply_template
    if own is apply_template or not _allowed():
        yield
        return
    lm_eval.utils.apply_template = apply_template
    try:
        yield
    finally:
        lm_eval.utils.apply_template = own
