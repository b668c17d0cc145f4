"""Session stores: the same interface in memory and in the durable SQLite archive."""

from __future__ import annotations

from pathlib import Path

from reference_agent.state.stores import MemoryStore, SqliteArchive


async def test_memory_store_keeps_only_the_most_recent_sessions() -> None:
    store = MemoryStore(limit=2)
    for call in ("a", "b", "a", "c"):
        await store.save(call, {"call_id": call})
    assert await store.load("b") is None
    assert await store.load("a") == {"call_id": "a"} and await store.load("c") == {"call_id": "c"}


async def test_the_archive_survives_reopening(tmp_path: Path) -> None:
    await SqliteArchive(tmp_path / "s.db").save("x", {"history": [1, 2], "ended": True})
    assert await SqliteArchive(tmp_path / "s.db").load("x") == {"history": [1, 2], "ended": True}
    assert await SqliteArchive(tmp_path / "s.db").load("missing") is None
