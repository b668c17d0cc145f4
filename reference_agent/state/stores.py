"""Where call sessions live: in memory (default), Redis during a call, SQLite after it.

A session is a JSON-able dict (history, tool calls, turn state, summary). The
store interface is the same three calls for every backend, so the agent does
not know which one it has; with Redis no agent instance holds call state of
its own, and a second instance can take over a live call.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any, Protocol

Session = dict[str, Any]


class SessionStore(Protocol):
    """Load, save and end call sessions."""

    async def load(self, call_id: str) -> Session | None:
        """The stored session of `call_id`, or None."""
        ...

    async def save(self, call_id: str, session: Session) -> None:
        """Replace the stored session of `call_id`."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryStore:
    """Sessions in this process's memory (the default; lost when it exits).

    Keeps the `limit` most recently saved sessions, so a long-running agent
    under load does not grow without bound.
    """

    def __init__(self, limit: int = 1000) -> None:
        self._sessions: dict[str, str] = {}
        self._limit = limit

    async def load(self, call_id: str) -> Session | None:
        raw = self._sessions.get(call_id)
        return json.loads(raw) if raw is not None else None

    async def save(self, call_id: str, session: Session) -> None:
        self._sessions.pop(call_id, None)
        self._sessions[call_id] = json.dumps(session)
        while len(self._sessions) > self._limit:
            del self._sessions[next(iter(self._sessions))]

    async def close(self) -> None:
        return None


#: how long an instance keeps trying to open a sessions database others hold
OPEN_TIMEOUT_S = 10.0


class SqliteArchive:
    """Durable sessions in SQLite, written when a call ends (one row per call)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # A fleet's instances open one database at the same moment; turning it to
        # WAL while another connection does is SQLITE_BUSY at once (SQLite calls
        # no busy handler there), so that step is retried for a while.
        deadline = time.monotonic() + OPEN_TIMEOUT_S
        while True:
            try:
                self._create()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)

    def _create(self) -> None:
        with sqlite3.connect(self.path, timeout=OPEN_TIMEOUT_S) as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS sessions ("
                " call_id TEXT PRIMARY KEY, ended_at REAL NOT NULL, session TEXT NOT NULL)"
            )

    def _save(self, call_id: str, session: Session) -> None:
        with sqlite3.connect(self.path, timeout=10) as db:
            db.execute(
                "INSERT OR REPLACE INTO sessions(call_id, ended_at, session) VALUES (?, ?, ?)",
                (call_id, time.time(), json.dumps(session)),
            )

    def _load(self, call_id: str) -> Session | None:
        with sqlite3.connect(self.path, timeout=10) as db:
            row = db.execute(
                "SELECT session FROM sessions WHERE call_id = ?", (call_id,)
            ).fetchone()
        return json.loads(row[0]) if row else None

    async def load(self, call_id: str) -> Session | None:
        return await asyncio.to_thread(self._load, call_id)

    async def save(self, call_id: str, session: Session) -> None:
        await asyncio.to_thread(self._save, call_id, session)

    async def close(self) -> None:
        return None


class RedisStore:
    """Sessions in Redis during the call: any agent instance can pick a call up.

    A live session expires after `ttl_s` without a save (an abandoned call);
    an ended one after `ended_ttl_s`, by which time it is in the SQLite archive.
    """

    def __init__(self, url: str, ttl_s: int = 3600, ended_ttl_s: int = 60) -> None:
        import redis.asyncio as aioredis

        self.url = url
        self._redis = aioredis.from_url(url)
        self._ttl = ttl_s
        self._ended_ttl = ended_ttl_s

    @staticmethod
    def key(call_id: str) -> str:
        """The Redis key of a call's session."""
        return f"voxsim:session:{call_id}"

    async def load(self, call_id: str) -> Session | None:
        raw = await self._redis.get(self.key(call_id))
        return json.loads(raw) if raw is not None else None

    async def save(self, call_id: str, session: Session) -> None:
        ttl = self._ended_ttl if session.get("ended") else self._ttl
        await self._redis.set(self.key(call_id), json.dumps(session), ex=ttl)

    async def close(self) -> None:
        await self._redis.aclose()
