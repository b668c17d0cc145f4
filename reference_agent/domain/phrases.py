"""The bundled domain's phrases: what the agent says, and what callers say to it.

`REPLIES` is every reply the agent makes, by name, as a template: the
dialogue policy (policy.py) picks a name and fills the slots, so wording
changes here and nowhere else. `CALLER_PHRASES` is the same domain seen from
the caller's side: it trains the STT language model and provides test
sentences. Every caller phrase is lower-case words found in CMUdict.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import cycle

from reference_agent.domain.words import DAYS, DIGITS, HOURS, MINUTES, RELATIVE_DAYS, digits_of

GREETING = "Hello, thanks for calling. How can I help you today?"
SORRY = "Sorry, I did not catch that. Could you say it again?"
ANYTHING_ELSE = "Is there anything else?"
TRANSFER = "Okay. I am transferring you to a person now. Please hold."

#: The agent's replies by name; `{slots}` are filled by `say`.
REPLIES: dict[str, str] = {
    "greeting": GREETING,
    "sorry": SORRY,
    "transfer": TRANSFER,
    "goodbye": "Thank you for calling. Goodbye.",
    "no_more": "Okay. Thank you for calling. Goodbye.",
    "yes": "Okay. How can I help you?",
    "hello": "Hello. How can I help you today?",
    "welcome": f"You are welcome. {ANYTHING_ELSE}",
    "ask_order": "Sure. What is your order number?",
    "refund_started": f"Okay. I have started a refund for order {{order}}. {ANYTHING_ELSE}",
    "order_cancelled": f"Okay. I have cancelled order {{order}}. {ANYTHING_ELSE}",
    "order_status": f"Okay. Order {{order}} {{status}}. {ANYTHING_ELSE}",
    "booked": f"Sure. I have booked you for {{when}}. {ANYTHING_ELSE}",
    "moved": f"Sure. I have moved your appointment to {{when}}. {ANYTHING_ELSE}",
    "ask_time": "Sure. What time on {when}?",
    "ask_day": "Sure. Which day would you like at {time}?",
    "ask_day_and_time": "Sure. Which day and time would you like?",
    "appointment_is": f"Okay. Your appointment is on {{when}}. {ANYTHING_ELSE}",
    "appointment_cancelled": (
        f"Okay. I have cancelled your appointment on {{when}}. {ANYTHING_ELSE}"
    ),
    "nothing_to_cancel": f"Okay. You have no appointment to cancel. {ANYTHING_ELSE}",
    "tool_failed": f"Sorry, I could not do that just now. {ANYTHING_ELSE}",
}


def say(name: str, **slots: str) -> str:
    """The reply `name` with its slots filled."""
    return REPLIES[name].format(**slots)


def when(day: str | None, time: str | None) -> str:
    """A day and time as the agent says them: "Tuesday at three pm", "the fifteenth"."""
    d = day.capitalize() if day and day.split()[0] in DAYS else day
    if d and time:
        return f"{d} at {time}"
    return d or f"{time}"


_STATUSES = [
    "has shipped and should arrive on Friday",
    "is being packed and ships tomorrow",
    "was delivered on Monday",
]


def status_of(order: str) -> str:
    """A spoken order number's status: the same order always has the same one."""
    total = sum(int(c) for c in digits_of(order))
    return _STATUSES[total % len(_STATUSES)]


# --------------------------------------------------------------------------- caller phrases


def _times() -> list[str]:
    """Spoken times: "three pm", "ten thirty am", "noon", ... (deterministic order)."""
    out: list[str] = []
    for i, hour in enumerate(HOURS):
        suffix = "am" if 7 <= i + 1 <= 11 else "pm"
        out.append(f"{hour} {suffix}")
        out.append(f"{hour} {MINUTES[i % len(MINUTES)]} {suffix}")
    out.append("noon")
    return out


def order_numbers(n: int) -> list[str]:
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


#: What callers say, as templates over the slots {day}, {time}, {order} (expanded by
#: _build_phrases, cycling through the slot values).
_BOOKING = (
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
)
_CHANGES = (
    "make it {day} instead",
    "can we move it to {day} at {time}",
    "i need to reschedule my appointment to {day}",
    "actually make it {time}",
    "can you change it to {day} at {time}",
    "please cancel my appointment on {day}",
)
_ORDERS = (
    "where is my order {order}",
    "what is the status of order {order}",
    "can you check order {order}",
    "my order number is {order}",
    "i want a refund for order {order}",
    "it is {order}",
)
#: Said as they are.
_FIXED = (
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
)


def _build_phrases() -> list[str]:
    slots: dict[str, Sequence[str]] = {
        "day": DAYS + RELATIVE_DAYS,
        "time": _times(),
        "order": order_numbers(24),
    }
    expanded = _fill(_BOOKING, slots, 9) + _fill(_CHANGES, slots, 7) + _fill(_ORDERS, slots, 8)
    return list(dict.fromkeys([*_FIXED, *expanded]))


CALLER_PHRASES: list[str] = _build_phrases()
