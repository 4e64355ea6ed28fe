"""Generator of the built-in suites' data files (``suites/*/*.jsonl``).

Content lives in ``data/*.json`` beside this package (word lists, phrasings, hand-written
items); the modules here only hold the templates and the seeded draws that turn it into rows.
The task YAMLs next to the data files are hand-written and not produced here.

This is suite content tooling, not harness code: ``harness/`` must not import it. Run it through
``python suites/generate.py``.
"""
