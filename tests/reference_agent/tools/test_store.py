"""The tools' SQLite store: each tool call is one transaction on a real file."""

from __future__ import annotations

from pathlib import Path

import pytest

from reference_agent.domain import order_status
from reference_agent.tools.specs import TOOL_NAMES
from reference_agent.tools.store import ToolError, ToolStore


def test_every_offered_tool_is_implemented(tmp_path: Path) -> None:
    store = ToolStore(tmp_path / "t.db")
    args = {"day": "friday", "time": "noon", "order": "1234", "reason": "x"}
    for name in sorted(TOOL_NAMES):
        assert isinstance(store.execute_sync(name, args, "c1"), dict)


def test_rescheduling_moves_the_calls_own_appointment(tmp_path: Path) -> None:
    store = ToolStore(tmp_path / "t.db")
    store.execute_sync("book_appointment", {"day": "tuesday", "time": "three pm"}, "a")
    store.execute_sync("book_appointment", {"day": "monday", "time": "noon"}, "b")
    store.execute_sync("reschedule_appointment", {"day": "wednesday", "time": "three pm"}, "a")
    rows = {r["call_id"]: (r["day"], r["time"]) for r in store.rows("appointments")}
    assert rows == {"a": ("wednesday", "three pm"), "b": ("monday", "noon")}


def test_orders_are_seeded_and_unknown_ones_are_not_found(tmp_path: Path) -> None:
    store = ToolStore(tmp_path / "t.db")
    found = store.execute_sync("get_order_status", {"order": "1234"}, "c")
    assert found == {"ok": True, "order": "1234", "status": order_status("1234")}
    assert store.execute_sync("get_order_status", {"order": "9999"}, "c")["ok"] is False
    assert store.execute_sync("start_refund", {"order": "9999"}, "c")["ok"] is False


def test_the_database_survives_reopening(tmp_path: Path) -> None:
    ToolStore(tmp_path / "t.db").execute_sync("start_refund", {"order": "1234"}, "c")
    assert [r["order_number"] for r in ToolStore(tmp_path / "t.db").rows("refunds")] == ["1234"]


def test_unknown_tools_and_missing_arguments_are_errors(tmp_path: Path) -> None:
    store = ToolStore(tmp_path / "t.db")
    with pytest.raises(ToolError, match="unknown tool"):
        store.execute_sync("drop_tables", {}, "c")
    with pytest.raises(ToolError, match="missing argument"):
        store.execute_sync("book_appointment", {"day": "friday"}, "c")
