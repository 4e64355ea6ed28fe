"""Command line: write every suite data file (JSONL) under one output directory."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from .common import write_jsonl
from .general import build_general
from .tickets import build_extraction, build_replies, build_ticket_routing

SUITES_DIR = Path(__file__).resolve().parents[1]


def generate(out: Path) -> list[Path]:
    """Write the data files of the four built-in suites under ``out``; return their paths."""
    train, test = build_ticket_routing()
    files = {
        out / "ticket_routing" / "train.jsonl": train,
        out / "ticket_routing" / "test.jsonl": test,
        out / "general" / "test.jsonl": build_general(),
        out / "ticket_extraction" / "test.jsonl": build_extraction(),
        out / "support_replies" / "test.jsonl": build_replies(),
    }
    for path, rows in files.items():
        write_jsonl(path, rows)
    return list(files)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Deterministically generate the data files of the built-in suites."
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=SUITES_DIR,
        help="output directory (default: the suites/ directory containing generate.py)",
    )
    args = parser.parse_args(argv)
    for path in generate(args.out):
        print(path)
    return 0
