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
_TALK = {"talk", "speak", "transfer", "put"}
_ORDER = {"order", "package", "parcel", "delivery"}


_TEENS = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINALS = (
    "first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth "
    "thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth"
).split()
#: Minutes after an hour word, longest first: "ten forty five", "ten oh five".
_MINUTE_WORDS = (
    [f"{tens} {one}" for tens in ("twenty", "thirty", "forty", "fifty") for one in DIGITS[1:]]
    + [f"oh {d}" for d in DIGITS[1:]]
    + _TEENS[1:]
    + ["twenty", "thirty", "forty", "fifty"]
)
#: "ten in the morning", "three this afternoon": spoken day parts that settle am / pm.
_DAY_PARTS = {"morning": "am", "afternoon": "pm", "evening": "pm", "night": "pm", "tonight": "pm"}
#: Words before a bare hour that make it a time ("at ten", "around three").
_TIME_PREFIX = {"at", "around", "about", "for", "by"}
#: "quarter past ten", "twenty to four": minutes said before the hour.
_MINUTES_BEFORE = {"quarter": 15, "half": 30, "five": 5, "ten": 10, "twenty": 20}


def _number(n: int) -> str:
    """0-99 in words: 10 -> "ten", 45 -> "forty five"."""
    if n < 10:
        return DIGITS[n]
    if n < 20:
        return _TEENS[n - 10]
    tens, ones = divmod(n, 10)
    return _TENS[tens] + (f" {DIGITS[ones]}" if ones else "")


def _ordinal(n: int) -> str:
    """1-39 as an ordinal: 15 -> "fifteenth", 21 -> "twenty first"."""
    if n <= 20:
        return _ORDINALS[n - 1]
    if n == 30:
        return "thirtieth"
    tens, ones = divmod(n, 10)
    return f"{_TENS[tens]} {_ORDINALS[ones - 1]}"


def _spell_clock(m: re.Match[str]) -> str:
    hour, minute = int(m.group(1)), int(m.group(2))
    said = _number(hour)
    if minute:
        said += f" oh {DIGITS[minute]}" if minute < 10 else f" {_number(minute)}"
    return f" {said} "


def _spell_number(m: re.Match[str]) -> str:
    """Digits as a caller says them: 1-2 digits as a number, longer runs digit by digit."""
    run = m.group()
    if len(run) <= 2 and not (len(run) == 2 and run[0] == "0"):
        return f" {_number(int(run))} "
    return " " + " ".join(DIGITS[int(c)] for c in run) + " "


def normalize(text: str) -> list[str]:
    """Lower-case words, punctuation dropped, numbers spelled out.

    Clock times are spoken ("10:30" -> "ten thirty", "10am" -> "ten am"),
    ordinals too ("15th" -> "fifteenth"), one- and two-digit numbers are words
    ("10" -> "ten") and longer runs are read digit by digit, as callers read
    order numbers ("5512" -> "five five one two"). "a m" / "p m" (how a
    recogniser may spell them) become "am" / "pm".
    """
    text = text.lower().replace("a.m.", "am").replace("p.m.", "pm").replace("'", "")
    text = re.sub(r"\b(\d{1,2}):(\d{2})(?!\d)", _spell_clock, text)
    text = re.sub(
        r"\b(\d{1,2})(?:st|nd|rd|th)\b",
        lambda m: f" {_ordinal(int(m.group(1)))} " if 1 <= int(m.group(1)) <= 31 else m.group(),
        text,
    )
    text = re.sub(r"\d+", _spell_number, text)
    words = re.findall(r"[a-z]+", text)
    out: list[str] = []
    for w in words:
        if w == "m" and out and out[-1] in ("a", "p"):
            out[-1] += "m"
            continue
        out.append(w)
    return out


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


def _day_of_month(words: Sequence[str], i: int) -> tuple[str, int] | None:
    """An ordinal at `words[i]` ("fifteenth", "twenty first") and how many words it took."""
    w = words[i]
    if w in _ORDINALS:
        return w, 1
    if w == "thirtieth":
        return w, 1
    nxt = words[i + 1] if i + 1 < len(words) else ""
    if w in ("twenty", "thirty") and nxt in _ORDINALS[:9]:
        return f"{w} {nxt}", 2
    return None


def _day(words: Sequence[str]) -> str | None:
    """The last day named: a weekday, today / tomorrow, or "the fifteenth".

    A day of the month counts after "on the" / "for the" / a weekday + "the",
    or opening the turn ("the fifteenth please"), so "the first thing" does not.
    """
    found: str | None = None
    for i, w in enumerate(words):
        stem = w[:-1] if w.endswith("s") and w[:-1] in DAYS else w
        if stem in DAYS or stem in RELATIVE_DAYS:
            found = stem
            continue
        if w != "the" or i + 1 >= len(words):
            continue
        ordinal = _day_of_month(words, i + 1)
        before = words[i - 1] if i else ""
        if ordinal is None or not (i == 0 or before in ("on", "for") or before in DAYS):
            continue
        date = f"the {ordinal[0]}"
        found = f"{before} {date}" if before in DAYS else date
    return found


def _minutes_after(words: Sequence[str], j: int) -> tuple[str | None, int]:
    """Minutes spoken at `words[j:]` after an hour ("thirty", "forty five"): (words, count)."""
    for phrase in _MINUTE_WORDS:
        parts = phrase.split()
        if list(words[j : j + len(parts)]) == parts:
            return phrase, len(parts)
    return None, 0


def _day_part(words: Sequence[str], j: int) -> tuple[str | None, int]:
    """am / pm at `words[j:]`: "am", "pm", "in the morning", "this afternoon", "at night"."""
    w = words[j] if j < len(words) else ""
    if w in ("am", "pm"):
        return w, 1
    if w in ("in", "this", "at"):
        k = j + 1 + (words[j + 1 : j + 2] == ["the"])
        part = words[k] if k < len(words) else ""
        if part in _DAY_PARTS and (part == "night") == (w == "at"):
            return _DAY_PARTS[part], k + 1 - j
    if w == "tonight":
        return "pm", 1
    return None, 0


def _minutes_before(words: Sequence[str], i: int) -> int | None:
    """Minutes past (+) or to (-) the hour at `words[i]`: "half past", "quarter to", "half"."""
    if i >= 2 and words[i - 1] in ("past", "after", "to") and words[i - 2] in _MINUTES_BEFORE:
        minutes = _MINUTES_BEFORE[words[i - 2]]
        if i >= 3 and words[i - 3] == "twenty" and words[i - 2] == "five":
            minutes = 25
        if words[i - 1] == "to":
            return None if words[i - 2] == "half" else -minutes
        return minutes
    if i >= 1 and words[i - 1] == "half":  # "half ten" (British): half past ten
        return 30
    return None


def _time(words: Sequence[str], bare_hour: bool = False) -> str | None:
    """A spoken time, as the domain says it: "ten am", "ten thirty", "three fifteen pm", "noon".

    An hour word counts as a time when minutes, "o'clock", am / pm or a day
    part ("in the morning") go with it, or "at" / "around" / ... come before
    it, or (`bare_hour`, when the agent just asked for a time) on its own.
    """
    found: str | None = None
    for i, w in enumerate(words):
        if w in ("noon", "midday"):
            found = "noon"
            continue
        if w not in _HOUR:
            continue
        hour = _HOUR[w]
        j = i + 1
        before = _minutes_before(words, i)
        minutes: str | None = None
        if before is not None:
            if before < 0:
                hour = (hour - 2) % 12 + 1
                before += 60
            minutes = f"oh {DIGITS[before]}" if before < 10 else _number(before)
        else:
            minutes, taken = _minutes_after(words, j)
            j += taken
        oclock = j < len(words) and words[j] == "oclock"
        j += oclock
        suffix, taken = _day_part(words, j)
        nxt = words[j + taken] if j + taken < len(words) else ""
        prev = words[i - 1] if i > 0 else ""
        if nxt in _DIGIT_WORD or (prev in _DIGIT_WORD and before is None):
            continue  # inside a spoken number ("five oh five two"), not a time
        if minutes or oclock or suffix or prev in _TIME_PREFIX or bare_hour:
            parts = [
                HOURS[hour - 1],
                *([minutes] if minutes else []),
                *([suffix] if suffix else []),
            ]
            found = " ".join(parts)
    if found and found != "noon" and found.split()[-1] not in ("am", "pm"):
        # "nine fifteen tomorrow morning": the day part need not follow the hour
        # ("good morning" is a greeting, not a day part).
        parts_of_day = [
            _DAY_PARTS[w]
            for k, w in enumerate(words)
            if w in _DAY_PARTS and w != "night" and (k == 0 or words[k - 1] != "good")
        ]
        if parts_of_day:
            found += " " + parts_of_day[-1]
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
    d = day.capitalize() if day and day.split()[0] in DAYS else day
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
    # Right after "What time on Friday?" a bare hour ("ten works") is the answer.
    asked_time = state.pending in ("book", "reschedule") and state.day is not None
    time = _time(words, bare_hour=asked_time and not state.time)
    wordset = set(words)

    # "talk to someone" is a transfer; "see someone on Wednesday" is a booking.
    if _has(words, "person", "human") or ("someone" in wordset and wordset & _TALK):
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
        if wordset & _ORDER:
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
    if wordset & _ORDER or (order and state.pending in ("status", "refund", "cancel_order")):
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
