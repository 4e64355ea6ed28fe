"""Per-item results in sqlite, keyed by content so a result is reused only where it is valid.

A result set is identified by the variant's fingerprint, the suite's fingerprint, a hash of
the scoring settings and the harness scoring version. A baseline computed once is reused by
every later gate run whose key matches, and by none whose key differs.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Iterator
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

    def _write(self, fn: Callable[[sqlite3.Connection], None]) -> None:
        """Run ``fn`` in one IMMEDIATE transaction, retrying while another writer holds the lock.

        sqlite's busy timeout covers most contention; the retry loop covers the rest (a
        writer that starts while another is checkpointing the WAL).
        """
        for attempt in range(40):
            try:
                with self._connect() as con:
                    con.execute("BEGIN IMMEDIATE")
                    try:
                        fn(con)
                    except BaseException:
                        con.execute("ROLLBACK")
                        raise
                    con.execute("COMMIT")
                return
            except sqlite3.OperationalError as exc:
                if ("locked" not in str(exc) and "busy" not in str(exc)) or attempt == 39:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def add_items(self, key: ResultKey, items: list[ItemResult]) -> None:
        """Commit a batch of items of a result set that is still being scored.

        Re-adding an item replaces it, so a batch repeated after a crash never duplicates.
        """
        payloads = [
            (*key.as_tuple(), it.item_id, json.dumps(it.to_json(), allow_nan=True)) for it in items
        ]

        def _do(con: sqlite3.Connection) -> None:
            con.executemany(
                "INSERT OR REPLACE INTO items (variant, suite, settings, scoring_version, "
                "item_id, payload) VALUES (?,?,?,?,?,?)",
                payloads,
            )

        self._write(_do)

    def partial(self, key: ResultKey) -> dict[str, ItemResult]:
        """Items already committed for a result set, complete or not (for resuming)."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT payload FROM items WHERE variant=? AND suite=? AND settings=? "
                "AND scoring_version=?",
                key.as_tuple(),
            ).fetchall()
        items = [ItemResult.from_json(json.loads(r[0])) for r in rows]
        return {it.item_id: it for it in items}

    def complete(self, key: ResultKey, n_items: int, provenance: dict[str, Any]) -> None:
        """Mark a result set whole once all its items are committed."""

        def _do(con: sqlite3.Connection) -> None:
            (have,) = con.execute(
                "SELECT COUNT(*) FROM items WHERE variant=? AND suite=? AND settings=? "
                "AND scoring_version=?",
                key.as_tuple(),
            ).fetchone()
            if have != n_items:
                raise RuntimeError(f"result set has {have} items, expected {n_items}")
            con.execute(
                "INSERT OR REPLACE INTO result_sets VALUES (?,?,?,?,?,1,?,?)",
                (*key.as_tuple(), n_items, json.dumps(provenance, default=str), time.time()),
            )

        self._write(_do)

    def put(self, key: ResultKey, items: list[ItemResult], provenance: dict[str, Any]) -> None:
        """Write a whole result set at once (replacing any partial one)."""
        payloads = [
            (*key.as_tuple(), it.item_id, json.dumps(it.to_json(), allow_nan=True)) for it in items
        ]

        def _do(con: sqlite3.Connection) -> None:
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
                (*key.as_tuple(), len(items), json.dumps(provenance, default=str), time.time()),
            )

        self._write(_do)

    def why_not_reused(self, key: ResultKey, suite_name: str, current: dict[str, Any]) -> list[str]:
        """Reasons a stored result set for the same variant and suite name does not match.

        Keys make a stale baseline unreachable; this says why, so a re-score is never a
        surprise and never silent.
        """
        with self._connect() as con:
            rows = con.execute(
                "SELECT suite, settings, scoring_version, provenance FROM result_sets "
                "WHERE variant=? AND complete=1 ORDER BY created_at DESC",
                (key.variant,),
            ).fetchall()
        reasons: list[str] = []
        for suite_fp, settings, version, prov_json in rows:
            prov = json.loads(prov_json)
            if prov.get("suite") != suite_name:
                continue
            if version != key.scoring_version:
                reasons.append(f"scoring version {version} -> {key.scoring_version}")
            if suite_fp != key.suite:
                old_v, new_v = prov.get("suite_version"), current.get("suite_version")
                reasons.append(
                    f"suite version {old_v} -> {new_v}"
                    if old_v != new_v
                    else "suite YAML or data changed (same version)"
                )
            if settings != key.settings:
                old_s, new_s = prov.get("scoring_settings", {}), current.get("scoring_settings", {})
                diff = sorted(k for k in set(old_s) | set(new_s) if old_s.get(k) != new_s.get(k))
                reasons.append(f"scoring settings changed: {', '.join(diff) or 'unknown'}")
            if reasons:
                break
        return reasons
