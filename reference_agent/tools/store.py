"""The tools' database: appointments, orders, refunds and transfers in SQLite.

Every tool call is a short transaction on its own connection (run in a worker
thread), so many calls and several agent processes can share one file; WAL
mode keeps readers from blocking the writer. Orders are seeded on creation so
status look-ups have something to find.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from reference_agent.domain import order_status, seeded_orders

_SCHEMA = """
CREATE TABLE IF NOT EXISTS appointments (
  id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, day TEXT NOT NULL, time TEXT NOT NULL,
  status TEXT NOT NULL DEFAULT 'booked', updated_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
  number TEXT PRIMARY KEY, status TEXT NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS refunds (
  id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, order_number TEXT NOT NULL,
  created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS transfers (
  id INTEGER PRIMARY KEY, call_id TEXT NOT NULL, reason TEXT NOT NULL, created_at REAL NOT NULL);
"""

Result = dict[str, Any]


class ToolError(Exception):
    """A tool call the store cannot carry out (unknown tool, bad arguments)."""


class ToolStore:
    """Executes the domain's tool calls against one SQLite file."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.executemany(
                "INSERT OR IGNORE INTO orders(number, status) VALUES (?, ?)",
                [(n, order_status(n)) for n in seeded_orders()],
            )
        self._tools: dict[str, Callable[[sqlite3.Connection, str, dict[str, str]], Result]] = {
            "book_appointment": _book,
            "reschedule_appointment": _reschedule,
            "cancel_appointment": _cancel_appointment,
            "get_order_status": _order_status,
            "start_refund": _refund,
            "cancel_order": _cancel_order,
            "transfer_to_human": _transfer,
        }

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10, isolation_level=None)

    def execute_sync(self, name: str, args: dict[str, Any], call_id: str) -> Result:
        """Run tool `name` in one transaction; ToolError if it cannot be run."""
        tool = self._tools.get(name)
        if tool is None:
            raise ToolError(f"unknown tool {name!r}")
        clean = {str(k): str(v) for k, v in args.items()}
        db = self._connect()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = tool(db, call_id, clean)
            except KeyError as exc:
                db.execute("ROLLBACK")
                raise ToolError(f"{name}: missing argument {exc}") from None
            db.execute("COMMIT")
        finally:
            db.close()
        return result

    async def execute(self, name: str, args: dict[str, Any], call_id: str) -> Result:
        """`execute_sync` on a worker thread, so the call's audio keeps flowing."""
        return await asyncio.to_thread(self.execute_sync, name, args, call_id)

    def rows(self, table: str) -> list[dict[str, Any]]:
        """Every row of `table`, for checks after a call."""
        if table not in ("appointments", "orders", "refunds", "transfers"):
            raise ToolError(f"unknown table {table!r}")
        db = self._connect()
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute(f"SELECT * FROM {table} ORDER BY rowid")]
        finally:
            db.close()


def _book(db: sqlite3.Connection, call_id: str, a: dict[str, str]) -> Result:
    cur = db.execute(
        "INSERT INTO appointments(call_id, day, time, updated_at) VALUES (?, ?, ?, ?)",
        (call_id, a["day"], a["time"], time.time()),
    )
    return {"ok": True, "appointment_id": cur.lastrowid, "day": a["day"], "time": a["time"]}


def _current(db: sqlite3.Connection, call_id: str) -> int | None:
    row = db.execute(
        "SELECT id FROM appointments WHERE call_id = ? AND status = 'booked' ORDER BY id DESC",
        (call_id,),
    ).fetchone()
    return int(row[0]) if row else None


def _reschedule(db: sqlite3.Connection, call_id: str, a: dict[str, str]) -> Result:
    current = _current(db, call_id)
    if current is None:
        return _book(db, call_id, a)
    db.execute(
        "UPDATE appointments SET day = ?, time = ?, updated_at = ? WHERE id = ?",
        (a["day"], a["time"], time.time(), current),
    )
    return {"ok": True, "appointment_id": current, "day": a["day"], "time": a["time"]}


def _cancel_appointment(db: sqlite3.Connection, call_id: str, a: dict[str, str]) -> Result:
    current = _current(db, call_id)
    if current is None:
        return {"ok": False, "reason": "no appointment"}
    db.execute(
        "UPDATE appointments SET status = 'cancelled', updated_at = ? WHERE id = ?",
        (time.time(), current),
    )
    return {"ok": True, "appointment_id": current}


def _order(db: sqlite3.Connection, number: str) -> tuple[str, int] | None:
    row = db.execute("SELECT status, cancelled FROM orders WHERE number = ?", (number,)).fetchone()
    return (str(row[0]), int(row[1])) if row else None


def _order_status(db: sqlite3.Connection, call_id: str, a: dict[str, str]) -> Result:
    found = _order(db, a["order"])
    if found is None:
        return {"ok": False, "reason": "no such order"}
    status, cancelled = found
    return {"ok": True, "order": a["order"], "status": "was cancelled" if cancelled else status}


def _refund(db: sqlite3.Connection, call_id: str, a: dict[str, str]) -> Result:
    if _order(db, a["order"]) is None:
        return {"ok": False, "reason": "no such order"}
    cur = db.execute(
        "INSERT INTO refunds(call_id, order_number, created_at) VALUES (?, ?, ?)",
        (call_id, a["order"], time.time()),
    )
    return {"ok": True, "refund_id": cur.lastrowid, "order": a["order"]}


def _cancel_order(db: sqlite3.Connection, call_id: str, a: dict[str, str]) -> Result:
    if _order(db, a["order"]) is None:
        return {"ok": False, "reason": "no such order"}
    db.execute("UPDATE orders SET cancelled = 1 WHERE number = ?", (a["order"],))
    return {"ok": True, "order": a["order"]}


def _transfer(db: sqlite3.Connection, call_id: str, a: dict[str, str]) -> Result:
    db.execute(
        "INSERT INTO transfers(call_id, reason, created_at) VALUES (?, ?, ?)",
        (call_id, a.get("reason", ""), time.time()),
    )
    return {"ok": True, "transferred": True}
