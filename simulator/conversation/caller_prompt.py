"""What the `llm` caller policy tells its model, and the lines it composes itself.

The system prompt (persona, goal, facts, unknowns, rules, examples built from the
scenario's own facts), the JSON schema of an answer (`about` a closed choice of
readings), the `end_call` tool, and the caller lines composed from facts when the
model's own line does not fit (`facts_line`). simulator/conversation/llm.py asks
the model and decides; this module only builds text and schemas, so it can be read
(and changed) as the caller's brief.
"""

from __future__ import annotations

import json
import re
from typing import Any

from simulator.scenario import Conversation

#: Readings of the agent's turn that are moves of the call (besides facts and unknowns).
HELP = "help"
DONE = "done"
ANYTHING_ELSE = "anything else"
YES_NO = "yes or no"
REPEAT = "repeat"
GOODBYE = "goodbye"
CANNOT = "cannot"
OTHER = "other"
MOVES = [HELP, DONE, ANYTHING_ELSE, YES_NO, REPEAT, GOODBYE, CANNOT, OTHER]
SAY_MAX = 160
REASON_MAX = 60
BYE = "No, that's all. Thank you, goodbye."

END_CALL_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "end_call",
        "description": "Hang up: the goal is done, cannot be done, or the agent said goodbye.",
        "parameters": {
            "type": "object",
            "properties": {
                "success": {"type": "boolean", "description": "true if the goal was done"},
                "reason": {"type": "string", "description": "why the call ends"},
            },
            "required": ["success", "reason"],
            "additionalProperties": False,
        },
    },
}

_STOP = set(
    "a an and the to of for in on at my i im id would like want need please hi hello with "
    "is are be it this that you your me".split()
)


# ---------------------------------------------------------------- lines from facts


def facts_line(c: Conversation, keys: list[str]) -> str:
    """The facts `keys` in the persona's verbosity ("Wednesday at ten am, please.")."""
    facts = c.facts
    rest = list(keys)
    parts: list[str] = []
    if "day" in rest and "time" in rest:
        parts.append(f"{facts['day']} at {facts['time']}")
        rest = [k for k in rest if k not in ("day", "time")]
    terse = c.persona.verbosity == "terse"
    for key in rest:
        if terse or key in ("day", "time"):
            parts.append(facts[key])
        else:
            parts.append(f"my {phrase(key)} is {facts[key]}")
    text = sentence(join_words(parts))
    return text + ("." if terse else ", please.")


# ---------------------------------------------------------------- the prompt


def fact_readings(keys: list[str]) -> dict[str, list[str]]:
    """Readings that ask for facts: all of them, each pair (up to 5 facts), each one."""
    out: dict[str, list[str]] = {}
    if len(keys) > 1:
        out[join_words([phrase(k) for k in keys])] = list(keys)
    if 2 < len(keys) <= 5:
        for i, a in enumerate(keys):
            for b in keys[i + 1 :]:
                out[f"{phrase(a)} and {phrase(b)}"] = [a, b]
    for k in keys:
        out[phrase(k)] = [k]
    return out


def answer_schema(readings: list[str]) -> dict[str, Any]:
    """The JSON the model answers with (`about` first: the reading guides the line)."""
    return {
        "type": "object",
        "properties": {
            "about": {"type": "string", "enum": readings},
            "say": {"type": "string", "maxLength": SAY_MAX},
            "end_call": {"type": "boolean"},
            "success": {"type": "boolean"},
            "reason": {"type": "string", "maxLength": REASON_MAX},
        },
        "required": ["about", "say", "end_call", "success", "reason"],
        "additionalProperties": False,
    }


_VERBOSITY = {
    "terse": "You say only what was asked, in as few words as you can.",
    "normal": "You answer what was asked, politely.",
    "chatty": "You are talkative, but you still give only your facts.",
}
SHAPE_HINT = (
    'Answer again with one JSON object only: {"about": ..., "say": ..., "end_call": ..., '
    '"success": ..., "reason": ...}.'
)


def invented_message(values: list[str]) -> str:
    return (
        f"You said {', '.join(values)}, which is not one of your facts. Never invent a value: "
        "answer again with only your facts, or say you don't know."
    )


def system_prompt(c: Conversation, opening: str, readings: list[str]) -> str:
    """The caller's brief: persona, goal, facts, unknowns, rules of conduct, examples.

    Kept short (every token is read before the first decision) and its examples
    are JSON built from the scenario's own facts: a small model copies them.
    """
    facts = "\n".join(f"- {phrase(k)}: {v}" for k, v in c.facts.items()) or "- (none)"
    lines = [
        "You are a CALLER on a phone call to a business. The user is the business's AGENT. "
        "You are not the agent.",
        f"Your goal: {c.goal.strip().rstrip('.')}.",
        f"Your facts:\n{facts}",
    ]
    if c.unknown:
        unknown = ", ".join(phrase(k) for k in c.unknown)
        lines.append(f"You do not know: {unknown}. If the agent asks, say you don't know.")
    lines += [
        f"{_VERBOSITY[c.persona.verbosity]} You give up after {c.persona.patience} failed "
        "attempts.",
        "Rules: speak one short sentence. Give only your facts. Never invent a day, time, "
        "number or name. End the call (end_call) when the goal is done, when it cannot be "
        "done, or after the agent says goodbye.",
        'Reply with JSON. "about" is what the agent\'s last words are about, one of: '
        + "; ".join(readings)
        + '. "say" is your reply. "end_call": you hang up; "success": your goal is done; '
        '"reason": why.',
        "Examples:",
        *_examples(c, opening),
    ]
    return "\n".join(lines)


def _examples(c: Conversation, opening: str) -> list[str]:
    """Agent lines -> the caller's reading and line, from the scenario's own facts."""
    keys = list(c.facts)
    pairs = [
        ("How can I help you?", HELP, opening),
        ("What can I do for you today?", HELP, opening),
    ]
    if len(keys) > 1:
        every = join_words([phrase(k) for k in keys])
        pairs.append((f"Can I have the {every}?", every, facts_line(c, keys)))
    for k in keys:
        pairs.append((f"What {phrase(k)} would you like?", phrase(k), facts_line(c, [k])))
    for k in c.unknown:
        pairs.append(
            (f"What is your {phrase(k)}?", phrase(k), f"Sorry, I don't know my {phrase(k)}.")
        )
    values = join_words(list(c.facts.values())) if c.facts else "you"
    pairs += [
        ("Sorry, could you say that again?", REPEAT, opening),
        ("Shall I go ahead?", YES_NO, "Yes, please."),
        (f"Okay, that is all done for {values}. Is there anything else?", DONE, BYE),
        ("Thanks for calling, goodbye.", GOODBYE, "Goodbye."),
    ]
    return [f'"{agent}" -> ' + json.dumps({"about": a, "say": s}) for agent, a, s in pairs]


# ---------------------------------------------------------------- helpers


def phrase(key: str) -> str:
    return key.replace("_", " ")


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))


def content_words(text: str) -> list[str]:
    return [w for w in words(text) if w not in _STOP and len(w) > 2]


def join_words(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def sentence(text: str) -> str:
    text = text.strip()
    return text[0].upper() + text[1:] if text else text
