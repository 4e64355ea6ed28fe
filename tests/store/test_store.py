from __future__ import annotations

import sqlite3
from pathlib import Path

from harness.config import ItemResult
from harness.store import ResultKey, ResultStore


def _items(n: int) -> list[ItemResult]:
    return [
        ItemResult(f"i{i}", {"acc": float(i % 2)}, "cap", i % 3, 0, {"ll": [-1.0]})
        for i in range(n)
    ]


def test_round_trip_preserves_items_and_order(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    key = ResultKey("v", "s", "x", "1")
    store.put(key, _items(5), {"torch": "2"})
    assert store.get(key) == _items(5)
    assert store.provenance(key) == {"torch": "2"}


def test_any_key_change_misses(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    store.put(ResultKey("v", "s", "x", "1"), _items(3), {})
    for other in (
        ResultKey("w", "s", "x", "1"),
        ResultKey("v", "t", "x", "1"),
        ResultKey("v", "s", "y", "1"),
        ResultKey("v", "s", "x", "2"),
    ):
        assert store.get(other) is None


def test_rewrite_replaces_without_duplicates(tmp_path: Path) -> None:
    store = ResultStore(tmp_path / "s.sqlite")
    key = ResultKey("v", "s", "x", "1")
    store.put(key, _items(4), {})
    store.put(key, _items(4), {})
    assert len(store.get(key) or []) == 4


def test_incomplete_set_is_not_returned(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite"
    store = ResultStore(path)
    key = ResultKey("v", "s", "x", "1")
    store.put(key, _items(4), {})
    with sqlite3.connect(path) as con:  # simulate a set whose items were lost
        con.execute("DELETE FROM items WHERE item_id='i0'")
    assert store.get(key) is None
