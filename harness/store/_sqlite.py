"""Per-item results in sqlite, keyed by content so a result is reused only where it is valid.

A result set is identified by the variant's fingerprint, the suite's fingerprint, a hash of
the scoring settings and the harness scoring version. A baseline computed once is reused by
every later gate run whose key matches, and by none whose key differs.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import ItemResult

_SCHEMA = """
CREATE TABLE IF NOT EXISTS result_sets (
    variant TEXT NOT NULL,
    suite TEXT NOT NULL,
    settings TEXT NOT NULL,
    scoring_version TEXT NOT NULL,
    n_items INTEGER NOT NULL,
    complete INTEGER NOT NULL DEFAULT 0,
    provenance TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (variant, suite, settings, scoring_version)
);
CREATE TABLE IF NOT EXISTS items (
    variant TEXT NOT NULL,
    suite TEXT NOT NULL,
    settings TEXT NOT NULL,
    scoring_version TEXT NOT NULL,
    item_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (variant, suite, settings, scoring_version, item_id)
);
"""


@dataclass(frozen=True)
class ResultKey:
    """Everything that, if changed, makes a stored result invalid for comparison."""

    variant: str
    suite: str
    settings: str
    scoring_version: str

    def as_tuple(self) -> tuple[str, str, str, str]:
        return (self.variant, self.suite, self.settings, self.scoring_version)


class ResultStore:
    """A sqlite file of per-item results; safe for several processes at once (WAL, retries)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as con:
            con.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        con = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA busy_timeout=60000")
            con.execute("PRAGMA synchronous=NORMAL")
            yield con
        finally:
            con.close()

    def get(self, key: ResultKey) -> list[ItemResult] | None:
        """Items of a complete result set, or None: a partial set is never returned as whole."""
        with self._connect() as con:
            row = con.execute(
                "SELECT n_items, complete FROM result_sets WHERE variant=? AND suite=? "
                "AND settings=? AND scoring_version=?",
                key.as_tuple(),
            ).fetchone()
            if row is None or not row[1]:
                return None
            rows = con.execute(
                "SELECT payload FROM items WHERE variant=? AND suite=? AND settings=? "
                "AND scoring_version=? ORDER BY rowid",
                key.as_tuple(),
            ).fetchall()
        if len(rows) != row[0]:
            return None
        return [ItemResult.from_json(json.loads(r[0])) for r in rows]

    def provenance(self, key: ResultKey) -> dict[str, Any] | None:
        with self._connect() as con:
            row = con.execute(
                "SELECT provenance FROM result_sets WHERE variant=? AND suite=? AND settings=? "
                "AND scoring_version=?",
                key.as_tuple(),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: ResultKey, items: list[ItemResult], provenance: dict[str, Any]) -> None:
        """Write a whole result set in one transaction; a crash leaves the old state intact."""
        payloads = [
            (*key.as_tuple(), it.item_id, json.dumps(it.to_json(), allow_nan=True)) for it in items
        ]
        for attempt in range(20):
            try:
                with self._connect() as con:
                    con.execute("BEGIN IMMEDIATE")
                    con.execute(
                        "DELETE FROM items WHERE variant=? AND suite=? AND settings=? "
                        "AND scoring_version=?",
                        key.as_tuple(),
                    )
                    con.executemany(
                        "INSERT INTO items (variant, suite, settings, scoring_version, item_id, "
                        "payload) VALUES (?,?,?,?,?,?)",
                        payloads,
                    )
                    con.execute(
                        "INSERT OR REPLACE INTO result_sets VALUES (?,?,?,?,?,1,?,?)",
                        (
                            *key.as_tuple(),
                            len(items),
                            json.dumps(provenance, default=str),
                            time.time(),
                        ),
                    )
                    con.execute("COMMIT")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == 19:
                    raise
                time.sleep(0.05 * (attempt + 1))
