#!/usr/bin/env python3
"""Deterministically generate the data files of the built-in evaluation suites.

Writes the JSONL data of four lm-eval 0.4 task suites; their task YAMLs are hand-written and
committed beside the data, not generated:

* ``ticket_routing/{train,test}.jsonl`` -- the domain TASK suite: route a customer-support
  ticket to an opaque internal queue code (Q17, Q23, ...). Train and test use disjoint issue
  phrasings and partly disjoint product names, so the test split measures generalisation.
* ``general/test.jsonl`` -- the GENERAL-CAPABILITY suite used to detect catastrophic
  forgetting: 1500 easy multiple-choice items, 250 for each of six capabilities.
* ``ticket_extraction/test.jsonl`` -- a GENERATION suite: extract the product name or the
  order number from a ticket (160 items).
* ``support_replies/test.jsonl`` -- a ROLLING LOG-LIKELIHOOD suite: 120 support replies.

The content (word lists, phrasings, hand-written items) is in ``_generator/data/*.json``; the
templates and seeded draws are in the ``_generator`` package beside this script. Standard
library only, fixed seeds, so running

    python suites/generate.py            # writes next to this file
    python suites/generate.py --out DIR  # writes DIR/<suite>/*.jsonl

reproduces the committed data files byte-for-byte.
"""

from __future__ import annotations

from _generator.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
