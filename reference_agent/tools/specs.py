"""OpenAI `tools` definitions of the bundled domain, sent with every LLM request.

A real LLM (or the bundled domain model) picks from these and answers with
`tool_calls`; `reference_agent.tools.store` carries them out.
"""

from __future__ import annotations

from typing import Any


def _function(name: str, description: str, **params: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {k: {"type": "string", "description": v} for k, v in params.items()},
                "required": list(params),
            },
        },
    }


TOOLS: list[dict[str, Any]] = [
    _function(
        "book_appointment",
        "Book an appointment.",
        day="weekday or today/tomorrow",
        time="spoken time, e.g. 'three pm'",
    ),
    _function(
        "reschedule_appointment",
        "Move the caller's appointment.",
        day="new day",
        time="new time",
    ),
    _function(
        "cancel_appointment", "Cancel the caller's appointment.", day="its day", time="its time"
    ),
    _function("get_order_status", "Look up an order.", order="order number, digits"),
    _function("start_refund", "Start a refund for an order.", order="order number, digits"),
    _function("cancel_order", "Cancel an order.", order="order number, digits"),
    _function("transfer_to_human", "Transfer the call to a person.", reason="why"),
]

TOOL_NAMES = frozenset(t["function"]["name"] for t in TOOLS)
