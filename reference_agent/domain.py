"""The bundled domain: appointments and orders, as a small deterministic model.

The reference agents need something to talk about that works offline, costs
nothing and gives the same answer every time, so that latency and WER figures
measure the voice pipeline and not an LLM's mood. This module is that "LLM":
keyword and slot extraction over the caller's turns (day, time, order number),
replayed over the whole history so that later turns can change earlier ones
("make it Wednesday instead"). `CALLER_PHRASES` is the same domain seen from
the caller's side: it trains the STT language model and provides test
sentences. Every phrase is lower-case words found in CMUdict.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import cycle
from typing import Any

DAYS = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
RELATIVE_DAYS = ["today", "tomorrow"]
HOURS = [
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
]
MINUTES = ["fifteen", "thirty", "forty five"]
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

GREETING = "Hello, thanks for calling. How can I help you today?"
SORRY = "Sorry, I did not catch that. Could you say it again?"
ANYTHING_ELSE = "Is there anything else?"
TRANSFER = "Okay. I am transferring you to a person now. Please hold."


# --------------------------------------------------------------------------- phrases


def _times() -> list[str]:
    """Spoken times: "three pm", "ten thirty am", "noon", ... (deterministic order)."""
    out: list[str] = []
    for i, hour in enumerate(HOURS):
        suffix = "am" if 7 <= i + 1 <= 11 else "pm"
        out.append(f"{hour} {suffix}")
        out.append(f"{hour} {MINUTES[i % len(MINUTES)]} {suffix}")
    out.append("noon")
    return out


def _order_numbers(n: int) -> list[str]:
    """`n` four-digit order numbers spelled digit by digit, covering every digit."""
    return [" ".join(DIGITS[int(c)] for c in f"{(1234 + 3571 * k) % 10000:04d}") for k in range(n)]


def _fill(templates: Sequence[str], slots: Mapping[str, Sequence[str]], per: int) -> list[str]:
    """Expand each template `per` times, cycling through each slot's values."""
    out: list[str] = []
    iters = {name: cycle(values) for name, values in slots.items()}
    for template in templates:
        names = [n for n in slots if "{" + n + "}" in template]
        count = per if names else 1
        for _ in range(count):
            out.append(template.format(**{n: next(iters[n]) for n in names}))
    return out


def _build_phrases() -> list[str]:
    days = DAYS + RELATIVE_DAYS
    slots: dict[str, Sequence[str]] = {
        "day": days,
        "time": _times(),
        "order": _order_numbers(24),
    }
    booking = [
        "i would like to book an appointment for {day} at {time}",
        "can i book an appointment on {day} at {time}",
        "i want to make an appointment for {day}",
        "book me in for {day} at {time}",
        "do you have anything on {day} at {time}",
        "i need an appointment at {time}",
        "is {day} at {time} free",
        "{day} at {time} please",
        "{day} please",
        "at {time}",
    ]
    changes = [
        "make it {day} instead",
        "can we move it to {day} at {time}",
        "i need to reschedule my appointment to {day}",
        "actually make it {time}",
        "can you change it to {day} at {time}",
        "please cancel my appointment on {day}",
    ]
    orders = [
        "where is my order {order}",
        "what is the status of order {order}",
        "can you check order {order}",
        "my order number is {order}",
        "i want a refund for order {order}",
        "it is {order}",
    ]
    fixed = [
        "i would like to book an appointment for tuesday at three pm",
        "where is my order one two three four",
        "can i get a refund for my order",
        "make it wednesday instead",
        "thank you goodbye",
        "hello",
        "hi",
        "yes please",
        "no thanks",
        "yes",
        "no",
        "thank you",
        "goodbye",
        "bye",
        "that is all",
        "no that is all thank you",
        "i would like to book an appointment",
        "i want to reschedule my appointment",
        "i want to cancel my appointment",
        "please cancel it",
        "can i get a refund",
        "i would like my money back",
        "where is my order",
        "has my order shipped yet",
        "i want to check on an order",
        "what time is my appointment",
        "can you say that again",
        "can i speak to a person",
        "i want to talk to a human",
        "let me talk to someone please",
        "sorry what was that",
    ]
    phrases = fixed + _fill(booking, slots, 9) + _fill(changes, slots, 7) + _fill(orders, slots, 8)
    return list(dict.fromkeys(phrases))


CALLER_PHRASES: list[str] = _build_phrases()


# --------------------------------------------------------------------------- parsing

_DIGIT_WORD = {d: i for i, d in enumerate(DIGITS)}
_HOMOPHONES = {"oh": "zero", "to": "two", "too": "two", "for": "four", "ate": "eight"}
_HOUR = {h: i + 1 for i, h in enumerate(HOURS)}
_BYE = {"goodbye", "bye"}
_YES = {"yes", "yeah", "sure", "okay", "please", "yep"}
_NO = {"no", "nope"}
_GREET = {"hello", "hi", "hey"}


def normalize(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, digits spelled out one by one."""
    text = text.lower().replace("a.m.", "am").replace("p.m.", "pm").replace("'", "")
    text = re.sub(r"\d", lambda m: f" {DIGITS[int(m.group())]} ", text)
    return re.findall(r"[a-z]+", text)


def _order_number(words: Sequence[str]) -> str | None:
    """The first run of three or more spoken digits.

    Between two digits, "oh" is zero and STT homophones ("to", "for") are digits.
    """
    run: list[str] = []
    best: list[str] = []
    padded = [*words, ""]
    for i, w in enumerate(padded):
        between = bool(run) and i + 1 < len(padded) and padded[i + 1] in _DIGIT_WORD
        if w in _DIGIT_WORD or (between and w in _HOMOPHONES):
            run.append(_HOMOPHONES.get(w, w))
            continue
        if len(run) >= 3 and not best:
            best = run
        run = []
    return " ".join(best) if best else None


def _day(words: Sequence[str]) -> str | None:
    days = [w for w in words if w in DAYS or w in RELATIVE_DAYS]
    return days[-1] if days else None


def _time(words: Sequence[str]) -> str | None:
    """A spoken time: an hour word after "at" or before minutes / am / pm, or noon."""
    found: str | None = None
    for i, w in enumerate(words):
        if w == "noon":
            found = "noon"
            continue
        if w not in _HOUR:
            continue
        nxt = words[i + 1 : i + 4]
        parts = [w]
        j = 0
        if nxt[:2] == ["forty", "five"]:
            parts += ["forty", "five"]
            j = 2
        elif nxt[:1] and nxt[0] in ("fifteen", "thirty"):
            parts.append(nxt[0])
            j = 1
        suffix = nxt[j] if j < len(nxt) and nxt[j] in ("am", "pm") else None
        if suffix:
            parts.append(suffix)
        preceded_by_at = i > 0 and words[i - 1] == "at"
        if suffix or j or preceded_by_at:
            found = " ".join(parts)
    return found


def _has(words: Iterable[str], *keys: str) -> bool:
    text = " " + " ".join(words) + " "
    return any(f" {k} " in text for k in keys)


# --------------------------------------------------------------------------- state


@dataclass(frozen=True)
class _State:
    """What the conversation has established so far."""

    day: str | None = None
    time: str | None = None
    booked: bool = False
    order: str | None = None
    pending: str | None = None  # "book", "reschedule", "status", "refund"
    action: Action | None = None  # the tool call this turn asks for, if any


@dataclass(frozen=True)
class Action:
    """A tool call the domain model wants made: a name and string arguments."""

    name: str
    args: tuple[tuple[str, str], ...] = ()

    def arguments(self) -> dict[str, str]:
        """The arguments as the JSON object a `tool_calls` entry carries."""
        return dict(self.args)


def _digits(order: str) -> str:
    """ "one two three four" -> "1234" (tools store order numbers as digits)."""
    return "".join(str(_DIGIT_WORD[d]) for d in order.split())


def _when(day: str | None, time: str | None) -> str:
    d = day.capitalize() if day in DAYS else day
    if d and time:
        return f"{d} at {time}"
    return d or f"{time}"


_STATUSES = [
    "has shipped and should arrive on Friday",
    "is being packed and ships tomorrow",
    "was delivered on Monday",
]


def _status(order: str) -> str:
    total = sum(_DIGIT_WORD[d] for d in order.split())
    return _STATUSES[total % len(_STATUSES)]


def _book(state: _State, day: str | None, time: str | None, verb: str) -> tuple[_State, str]:
    day = day or state.day
    time = time or state.time
    if day and time:
        name = "reschedule_appointment" if verb == "moved" else "book_appointment"
        action = Action(name, (("day", day), ("time", time)))
        new = replace(state, day=day, time=time, booked=True, pending=None, action=action)
        if verb == "moved":
            done = f"I have moved your appointment to {_when(day, time)}."
        else:
            done = f"I have booked you for {_when(day, time)}."
        return new, f"Sure. {done} {ANYTHING_ELSE}"
    pending = "reschedule" if verb == "moved" else "book"
    new = replace(state, day=day, time=time, pending=pending)
    if day:
        return new, f"Sure. What time on {_when(day, None)}?"
    if time:
        return new, f"Sure. Which day would you like at {time}?"
    return new, "Sure. Which day and time would you like?"


def _step(state: _State, text: str) -> tuple[_State, str]:
    """Apply one caller turn; return the new state and the agent's reply."""
    state = replace(state, action=None)
    words = normalize(text)
    if not words:
        return state, SORRY
    order = _order_number(words)
    day = _day(words)
    time = _time(words)
    wordset = set(words)

    if _has(words, "person", "human", "someone"):
        transfer = Action("transfer_to_human", (("reason", " ".join(words)),))
        return replace(state, pending=None, action=transfer), TRANSFER
    if wordset & _BYE or _has(words, "that is all", "thats all"):
        return replace(state, pending=None), "Thank you for calling. Goodbye."
    if "refund" in wordset or _has(words, "money back"):
        order = order or state.order
        if order:
            reply = f"Okay. I have started a refund for order {order}. {ANYTHING_ELSE}"
            refund = Action("start_refund", (("order", _digits(order)),))
            return replace(state, order=order, pending=None, action=refund), reply
        return replace(state, pending="refund"), "Sure. What is your order number?"
    if "cancel" in wordset:
        if "order" in wordset:
            order = order or state.order
            if order:
                reply = f"Okay. I have cancelled order {order}. {ANYTHING_ELSE}"
                cancel = Action("cancel_order", (("order", _digits(order)),))
                return replace(state, order=order, pending=None, action=cancel), reply
            return replace(state, pending="cancel_order"), "Sure. What is your order number?"
        if state.booked:
            when = _when(state.day, state.time)
            reply = f"Okay. I have cancelled your appointment on {when}. {ANYTHING_ELSE}"
            cancel = Action(
                "cancel_appointment", (("day", str(state.day)), ("time", str(state.time)))
            )
            return _State(order=state.order, action=cancel), reply
        return replace(
            state, pending=None
        ), f"Okay. You have no appointment to cancel. {ANYTHING_ELSE}"
    if "order" in wordset or (order and state.pending in ("status", "refund", "cancel_order")):
        order = order or state.order
        if order and state.pending == "refund":
            reply = f"Okay. I have started a refund for order {order}. {ANYTHING_ELSE}"
            refund = Action("start_refund", (("order", _digits(order)),))
            return replace(state, order=order, pending=None, action=refund), reply
        if order and state.pending == "cancel_order":
            reply = f"Okay. I have cancelled order {order}. {ANYTHING_ELSE}"
            cancel = Action("cancel_order", (("order", _digits(order)),))
            return replace(state, order=order, pending=None, action=cancel), reply
        if order:
            reply = f"Okay. Order {order} {_status(order)}. {ANYTHING_ELSE}"
            look = Action("get_order_status", (("order", _digits(order)),))
            return replace(state, order=order, pending=None, action=look), reply
        return replace(state, pending="status"), "Sure. What is your order number?"
    changing = _has(words, "reschedule", "instead", "move", "change", "make it")
    if changing or (state.booked and (day or time)):
        if day is not None and time is None and day != state.day:
            time = state.time
        return _book(state, day, time, "moved" if state.booked else "booked")
    if _has(words, "book", "appointment", "schedule") or day or time:
        if "what" in wordset and state.booked and not (day or time):
            when = _when(state.day, state.time)
            return state, f"Okay. Your appointment is on {when}. {ANYTHING_ELSE}"
        verb = "moved" if state.pending == "reschedule" else "booked"
        return _book(state, day, time, verb)
    if wordset & _NO:
        return replace(state, pending=None), "Okay. Thank you for calling. Goodbye."
    if wordset & _YES:
        return state, "Okay. How can I help you?"
    if wordset & _GREET:
        return state, "Hello. How can I help you today?"
    if "thank" in wordset or "thanks" in wordset:
        return state, f"You are welcome. {ANYTHING_ELSE}"
    return state, SORRY


def _content(message: Mapping[str, Any]) -> str:
    """Text of a chat message whose content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [p.get("text", "") for p in content if isinstance(p, dict)]
        return " ".join(t for t in texts if isinstance(t, str))
    return ""


def reply(history: Sequence[Mapping[str, Any]]) -> str:
    """The assistant's next reply to OpenAI-style chat `history` (role/content dicts).

    Every user turn is replayed in order, so slots from earlier turns persist
    and later turns may change them. With no user turn yet, the greeting.
    """
    state = _State()
    text = GREETING
    for message in history:
        if message.get("role") == "user":
            state, text = _step(state, _content(message))
        elif _is_facts(message):
            state = _from_facts(_content(message))
    return text


def respond(history: Sequence[Mapping[str, Any]]) -> tuple[str, Action | None]:
    """The next assistant message with tools: (text, None) or ("", the tool call to make).

    Like `reply`, but when the caller's last turn needs a tool and no tool
    result follows it yet, the answer is that tool call; once results follow,
    the text is built from them (an order's status comes from the database).
    """
    state = _State()
    text = GREETING
    results: list[dict[str, Any]] = []
    for message in history:
        role = message.get("role")
        if role == "user":
            state, text = _step(state, _content(message))
            results = []
        elif role == "tool":
            results.append(_tool_result(message))
        elif _is_facts(message):
            state = _from_facts(_content(message))
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
        return "Sorry, I could not do that just now. " + ANYTHING_ELSE
    if action.name == "get_order_status":
        spoken = " ".join(DIGITS[int(c)] for c in action.arguments()["order"])
        return f"Okay. Order {spoken} {result['status']}. {ANYTHING_ELSE}"
    return text


def order_status(order_digits: str) -> str:
    """The status the seeded orders table gives a four-digit order number."""
    return _status(" ".join(DIGITS[int(c)] for c in order_digits))


def seeded_orders() -> list[str]:
    """Order numbers (digits) the tools database starts with: the phrases' ones and 1234."""
    spoken = _order_numbers(24) + ["one two three four"]
    return sorted({_digits(o) for o in spoken})


# --------------------------------------------------------------------------- facts

FACTS_PREFIX = "Known facts:"
_FACT_FIELDS = ("day", "time", "booked", "order", "pending")


def facts(history: Sequence[Mapping[str, Any]]) -> str:
    """What the conversation in `history` established, as one summary line.

    The summariser (reference_agent.state.context) puts this line in place of
    old turns; `reply`/`respond` read it back as their starting state, so a
    fact from turn 2 still drives turn 38 after turn 2 itself is gone.
    """
    state = _State()
    for message in history:
        if message.get("role") == "user":
            state, _ = _step(state, _content(message))
        elif _is_facts(message):
            state = _from_facts(_content(message))
    parts = [
        f"{k}={getattr(state, k)}" for k in _FACT_FIELDS if getattr(state, k) not in (None, False)
    ]
    return f"{FACTS_PREFIX} " + ("; ".join(parts) if parts else "none")


def _is_facts(message: Mapping[str, Any]) -> bool:
    return message.get("role") == "system" and _content(message).startswith(FACTS_PREFIX)


def _from_facts(text: str) -> _State:
    values: dict[str, Any] = {}
    for part in text.splitlines()[0][len(FACTS_PREFIX) :].split(";"):
        key, _, value = part.strip().partition("=")
        if key in _FACT_FIELDS and value:
            values[key] = value == "True" if key == "booked" else value
    return _State(**values)
