"""The bundled domain as a chat model: OpenAI-style messages in, the next assistant turn out.

Every user turn is replayed through the dialogue policy (policy.py) in order,
so slots from earlier turns persist; a "Known facts:" system line written by
the summariser stands in for turns it dropped. `respond` adds tools: the
tool call a turn needs, then the reply built from the tool's result.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from reference_agent.domain.phrases import GREETING, order_numbers, say, status_of
from reference_agent.domain.policy import Action, State, step
from reference_agent.domain.words import DIGITS, digits_of


def _content(message: Mapping[str, Any]) -> str:
    """Text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(t for t in texts if isinstance(t, str))
    return ""


def _replay(history: Sequence[Mapping[str, Any]]) -> tuple[State, str, list[dict[str, Any]]]:
    """Every user turn replayed in order (a facts line resets the state to its facts): the
    state, the last reply (the greeting before any user turn), and the tool results that
    followed the last user turn."""
    state = State()
    text = GREETING
    results: list[dict[str, Any]] = []
    for message in history:
        role = message.get("role")
        if role == "user":
            state, text = step(state, _content(message))
            results = []
        elif role == "tool":
            results.append(_tool_result(message))
        elif _is_facts(message):
            state = _from_facts(_content(message))
    return state, text, results


def reply(history: Sequence[Mapping[str, Any]]) -> str:
    """The assistant's next reply to OpenAI-style chat `history` (role/content dicts).

    Every user turn is replayed in order, so slots from earlier turns persist
    and later turns may change them. With no user turn yet, the greeting.
    """
    return _replay(history)[1]


def respond(history: Sequence[Mapping[str, Any]]) -> tuple[str, Action | None]:
    """The next assistant message with tools: (text, None) or ("", the tool call to make).

    Like `reply`, but when the caller's last turn needs a tool and no tool
    result follows it yet, the answer is that tool call; once results follow,
    the text is built from them (an order's status comes from the database).
    """
    state, text, results = _replay(history)
    action = state.action
    if action is None:
        return text, None
    if not results:
        return "", action
    return _with_result(text, action, results[-1]), None


def _tool_result(message: Mapping[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(_content(message))
    except ValueError:
        return {"ok": False}
    return value if isinstance(value, dict) else {"ok": False}


def _with_result(text: str, action: Action, result: Mapping[str, Any]) -> str:
    """The reply once the tool answered: its facts when it found them, an apology if not."""
    if not result.get("ok", False):
        return say("tool_failed")
    if action.name == "get_order_status":
        spoken = " ".join(DIGITS[int(c)] for c in action.arguments()["order"])
        return say("order_status", order=spoken, status=str(result["status"]))
    return text


def order_status(order_digits: str) -> str:
    """The status the seeded orders table gives a four-digit order number."""
    return status_of(" ".join(DIGITS[int(c)] for c in order_digits))


def seeded_orders() -> list[str]:
    """Order numbers (digits) the tools database starts with: the phrases' ones and 1234."""
    spoken = order_numbers(24) + ["one two three four"]
    return sorted({digits_of(o) for o in spoken})


# --------------------------------------------------------------------------- facts

FACTS_PREFIX = "Known facts:"
_FACT_FIELDS = ("day", "time", "booked", "order", "pending")


def facts(history: Sequence[Mapping[str, Any]]) -> str:
    """What the conversation in `history` established, as one summary line.

    The summariser (reference_agent.state.context) puts this line in place of
    old turns; `reply`/`respond` read it back as their starting state, so a
    fact from turn 2 still drives turn 38 after turn 2 itself is gone.
    """
    state = _replay(history)[0]
    parts = [
        f"{k}={getattr(state, k)}" for k in _FACT_FIELDS if getattr(state, k) not in (None, False)
    ]
    return f"{FACTS_PREFIX} " + ("; ".join(parts) if parts else "none")


def _is_facts(message: Mapping[str, Any]) -> bool:
    return message.get("role") == "system" and _content(message).startswith(FACTS_PREFIX)


def _from_facts(text: str) -> State:
    values: dict[str, Any] = {}
    for part in text.splitlines()[0][len(FACTS_PREFIX) :].split(";"):
        key, _, value = part.strip().partition("=")
        if key in _FACT_FIELDS and value:
            values[key] = value == "True" if key == "booked" else value
    return State(**values)
