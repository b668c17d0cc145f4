"""Is one reply of the `llm` caller's model an answer the caller can act on?

Why a module of its own: a small model's replies fail in many ways, and
each way needs its own note and its own correction. A reply is checked
here, apart from what the caller then does with it (llm.py): an `end_call`
tool call needs a boolean success; otherwise the content must be one JSON
object of the answer schema's shape (caller_prompt.py) whose reading, if
any, is one of the offered ones. A line with a value the caller was never
given is refused when there is no reading to compose from; with a reading,
the reading stands and the line is dropped. The result is `llm_client.ask`'s
(raw reply, answer or None, what is wrong, correction to send or None).
"""

from __future__ import annotations

from typing import Any

from simulator.conversation.caller_prompt import SHAPE_HINT, invented_message
from simulator.conversation.policy import invented_values
from simulator.llm_client import Checked
from simulator.llm_client import loads as _loads
from simulator.llm_client import short as _short

Answer = dict[str, Any]


def check_answer(reply: Any, readings: list[str], allowed: list[str]) -> Checked[Answer]:
    """(raw reply, answer or None, what is wrong, correction to send or None); `readings`
    are the offered readings, `allowed` the texts whose values the caller may say."""
    choices = getattr(reply, "choices", None)
    if not choices:
        return "", None, "a reply without choices", None
    message = choices[0].message
    content = (message.content or "").strip()
    calls = [
        c
        for c in message.tool_calls or []
        if getattr(c, "function", None) is not None and c.function.name == "end_call"
    ]
    if calls:
        return _end_call(calls[0].function.arguments or "{}", content, allowed)
    if getattr(message, "refusal", None):
        return f"refusal: {message.refusal}", None, f"refused: {_short(message.refusal)}", None
    if not content:
        return "", None, "empty content", SHAPE_HINT
    value = _loads(content)
    if value is None:
        return content, None, f"not JSON: {_short(content)}", SHAPE_HINT
    wrong = _shape(value, readings)
    if wrong:
        return content, None, wrong, SHAPE_HINT
    answer = dict(value)
    invented = invented_values(answer["say"], allowed)
    if invented and answer.get("about") is None:
        return content, None, f"invented {', '.join(invented)}", invented_message(invented)
    if invented:  # the reading stands: the line is composed from it
        answer["invented"] = invented
        answer["say"] = ""
    return content, answer, "", None


def _end_call(arguments: str, content: str, allowed: list[str]) -> Checked[Answer]:
    """An `end_call(success, reason)` tool call as an answer; a line beside it is kept
    unless it invents a value."""
    raw = f"end_call({arguments})" + (f" {content}" if content else "")
    args = _loads(arguments)
    if not isinstance(args, dict) or not isinstance(args.get("success"), bool):
        return raw, None, "end_call without a boolean success", SHAPE_HINT
    said = _loads(content)
    say = said.get("say") if isinstance(said, dict) else None
    say = say if isinstance(say, str) and not invented_values(say, allowed) else ""
    answer = {
        "tool": True,
        "say": say,
        "end_call": True,
        "success": args["success"],
        "reason": str(args.get("reason") or "the caller ended the call"),
    }
    return raw, answer, "", None


def _shape(value: Any, readings: list[str]) -> str:
    """What is wrong with an answer's shape ('' when nothing is)."""
    if not isinstance(value, dict):
        return "the JSON is not an object"
    for key, kind in (("say", str), ("end_call", bool), ("success", bool), ("reason", str)):
        if not isinstance(value.get(key), kind):
            return f"'{key}' missing or not a {kind.__name__}"
    about = value.get("about")
    if about is not None and about not in readings:
        return f"'about' is {_short(str(about), 30)!r}, not one of the readings"
    return ""
