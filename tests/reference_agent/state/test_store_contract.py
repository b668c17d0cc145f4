"""The session store contract: every `SessionStore` keeps a call's session alike.

Run over every implementation in `reference_agent.state.stores`: `MemoryStore`,
`SqliteArchive` (a file in tmp_path) and `RedisStore` (a real redis-server on
loopback, from this folder's conftest). Each one:

- loads None for a call it never saw;
- gives back what was saved, as JSON would (nested objects, lists, unicode,
  floats, booleans, null), and a copy: changing the dict after saving, or the
  loaded one, changes nothing stored;
- replaces a session on a second save (no merge) and keeps calls apart, also
  under concurrent saves;
- shows a session to a second handle over the same backing (for memory, the
  process's one store);
- refuses a session that is not JSON with TypeError and stores nothing.

A new implementation is added by passing this contract: add its name to
`KINDS` and a branch to `Backing.open` that opens a fresh handle on the backing
the test owns. What only one store does (the memory store's size limit, the
archive surviving a reopen, Redis expiry) stays in that store's own tests.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from reference_agent.state.stores import MemoryStore, RedisStore, SessionStore, SqliteArchive

KINDS = ("memory", "sqlite", "redis")

SESSION: dict[str, Any] = {
    "history": [
        {"role": "user", "content": "Où est ma commande 1234 ?"},
        {"role": "assistant", "content": "It ships on Tuesday."},
    ],
    "tools": [{"name": "order_status", "args": {"order": 1234}, "ok": True}],
    "turn": {"state": "listening", "barge_ins": 0, "score": 0.25, "summary": None},
    "ended": False,
}


@dataclass
class Backing:
    """Where one kind of store keeps sessions; `open` gives a new handle on it."""

    kind: str
    where: str
    handles: list[SessionStore] = field(default_factory=list)

    def open(self) -> SessionStore:
        store: SessionStore
        if self.kind == "memory":
            store = self.handles[0] if self.handles else MemoryStore()
        elif self.kind == "sqlite":
            store = SqliteArchive(self.where)
        else:
            store = RedisStore(self.where)
        self.handles.append(store)
        return store


@pytest.fixture(params=KINDS)
async def backing(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backing]:
    kind = request.param
    where = {
        "memory": "",
        "sqlite": str(tmp_path / "sessions.db"),
        "redis": request.getfixturevalue("redis_url") if kind == "redis" else "",
    }[kind]
    backing = Backing(kind, where)
    try:
        yield backing
    finally:
        for store in {id(s): s for s in backing.handles}.values():
            await store.close()


def call_id() -> str:
    """A call id no other test uses (the redis-server is shared by the module)."""
    return f"contract-{uuid.uuid4().hex[:12]}"


async def test_an_unknown_call_has_no_session(backing: Backing) -> None:
    assert await backing.open().load(call_id()) is None


async def test_a_saved_session_comes_back_as_json_would(backing: Backing) -> None:
    store, call = backing.open(), call_id()
    await store.save(call, SESSION)
    assert await store.load(call) == SESSION


async def test_the_store_keeps_a_copy_not_the_callers_dict(backing: Backing) -> None:
    store, call = backing.open(), call_id()
    session: dict[str, Any] = {"history": ["hello"], "ended": False}
    await store.save(call, session)
    session["history"].append("changed after saving")
    loaded = await store.load(call)
    assert loaded == {"history": ["hello"], "ended": False}
    assert loaded is not None
    loaded["ended"] = True
    assert await store.load(call) == {"history": ["hello"], "ended": False}


async def test_a_second_save_replaces_the_session(backing: Backing) -> None:
    store, call = backing.open(), call_id()
    await store.save(call, {"history": [1], "summary": "first"})
    await store.save(call, {"history": [1, 2]})
    assert await store.load(call) == {"history": [1, 2]}


async def test_calls_are_kept_apart_under_concurrent_saves(backing: Backing) -> None:
    store = backing.open()
    calls = [call_id() for _ in range(20)]
    await asyncio.gather(*(store.save(c, {"call_id": c, "n": k}) for k, c in enumerate(calls)))
    loaded = await asyncio.gather(*(store.load(c) for c in calls))
    assert loaded == [{"call_id": c, "n": k} for k, c in enumerate(calls)]


async def test_a_second_handle_on_the_same_backing_sees_the_session(backing: Backing) -> None:
    call = call_id()
    await backing.open().save(call, SESSION)
    assert await backing.open().load(call) == SESSION


async def test_a_session_that_is_not_json_is_refused_and_not_stored(backing: Backing) -> None:
    store, call = backing.open(), call_id()
    with pytest.raises(TypeError):
        await store.save(call, {"history": [object()]})
    assert await store.load(call) is None
