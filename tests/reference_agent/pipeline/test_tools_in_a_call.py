"""Tools in a real call: the LLM streams tool_calls, the agent runs them on SQLite."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from reference_agent.pipeline.agent import PipelineAgent
from reference_agent.tools.store import ToolStore
from simulator.session import CallRecord

Call = Callable[..., Awaitable[CallRecord]]

BOOKING = """
name: booking
turns:
  - wait: true
  - say: "I would like to book an appointment"
  - say: "Tuesday at three pm please"
  - say: "Thank you goodbye"
"""


async def test_a_scripted_call_books_an_appointment_end_to_end(
    agent: PipelineAgent, call: Call
) -> None:
    record = await call(BOOKING, call_id="booking-1")

    assert record.ok, record.error
    tool_calls = [e for e in record.events if e["type"] == "tool_call"]
    assert [(e["name"], e["arguments"]) for e in tool_calls] == [
        ("book_appointment", {"day": "tuesday", "time": "three pm"})
    ]
    assert tool_calls[0]["result"]["ok"] is True
    assert agent.settings.tools_db is not None
    rows = ToolStore(agent.settings.tools_db).rows("appointments")
    assert [(r["call_id"], r["day"], r["time"], r["status"]) for r in rows] == [
        ("booking-1", "tuesday", "three pm", "booked")
    ]
    confirmed = record.turns[2]["agent_reply_text"]
    assert "booked you for Tuesday at three pm" in confirmed
    # The event reaches the caller before the confirmation that depends on it.
    spoken = next(e for e in record.events if "booked you" in str(e.get("text", "")))
    assert tool_calls[0]["_at_s"] < spoken["_at_s"]


async def test_an_order_status_comes_from_the_database(agent: PipelineAgent, call: Call) -> None:
    assert agent.settings.tools_db is not None
    store = ToolStore(agent.settings.tools_db)
    store.execute_sync("cancel_order", {"order": "1234"}, "setup")

    record = await call(
        "name: status\nturns:\n  - say: Where is my order one two three four\n", greeting=False
    )

    assert record.ok, record.error
    (event,) = [e for e in record.events if e["type"] == "tool_call"]
    assert event["name"] == "get_order_status" and event["arguments"] == {"order": "1234"}
    assert "Order one two three four was cancelled" in record.turns[0]["agent_reply_text"]
