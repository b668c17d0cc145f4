"""The bundled domain's dialogue policy: one caller turn in, the new state and a reply out.

A turn is read once (its words and the day, time and order number in it),
then `INTENTS` is tried in order: the first intent whose test holds answers
the turn, with a reply named in phrases.REPLIES and, when the caller asked
for something done, the tool call (`Action`) that does it. Slots persist in
`State` across turns, so "make it Wednesday instead" changes an earlier
booking.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from reference_agent.domain.phrases import say, status_of, when
from reference_agent.domain.words import (
    digits_of,
    has_phrase,
    normalize,
    order_number,
    spoken_day,
    spoken_time,
)

_BYE = {"goodbye", "bye"}
_YES = {"yes", "yeah", "sure", "okay", "please", "yep"}
_NO = {"no", "nope"}
_GREET = {"hello", "hi", "hey"}
_TALK = {"talk", "speak", "transfer", "put"}
_ORDER = {"order", "package", "parcel", "delivery"}
#: what the agent asked for and waits on: "book", "reschedule", "status", "refund", "cancel_order"
_ORDER_PENDING = ("status", "refund", "cancel_order")


@dataclass(frozen=True)
class Action:
    """A tool call the domain model wants made: a name and string arguments."""

    name: str
    args: tuple[tuple[str, str], ...] = ()

    def arguments(self) -> dict[str, str]:
        """The arguments as the JSON object a `tool_calls` entry carries."""
        return dict(self.args)


@dataclass(frozen=True)
class State:
    """What the conversation has established so far."""

    day: str | None = None
    time: str | None = None
    booked: bool = False
    order: str | None = None
    pending: str | None = None  # see _ORDER_PENDING, plus "book" and "reschedule"
    action: Action | None = None  # the tool call this turn asks for, if any


@dataclass(frozen=True)
class Turn:
    """One caller turn as the policy reads it, with the state before it."""

    state: State
    words: list[str]
    order: str | None  # the order number said in this turn
    day: str | None
    time: str | None

    @property
    def wordset(self) -> set[str]:
        """The turn's words as a set."""
        return set(self.words)

    def has(self, *phrases: str) -> bool:
        """True when any of `phrases` occurs as whole words."""
        return has_phrase(self.words, *phrases)


Reply = tuple[State, str]


def _read(state: State, text: str) -> Turn | None:
    words = normalize(text)
    if not words:
        return None
    # Right after "What time on Friday?" a bare hour ("ten works") is the answer.
    asked_time = state.pending in ("book", "reschedule") and state.day is not None
    time = spoken_time(words, bare_hour=asked_time and not state.time)
    return Turn(state, words, order_number(words), spoken_day(words), time)


def _refund(state: State, order: str) -> Reply:
    action = Action("start_refund", (("order", digits_of(order)),))
    new = replace(state, order=order, pending=None, action=action)
    return new, say("refund_started", order=order)


def _cancel_order(state: State, order: str) -> Reply:
    action = Action("cancel_order", (("order", digits_of(order)),))
    new = replace(state, order=order, pending=None, action=action)
    return new, say("order_cancelled", order=order)


def _order_status(state: State, order: str) -> Reply:
    action = Action("get_order_status", (("order", digits_of(order)),))
    new = replace(state, order=order, pending=None, action=action)
    return new, say("order_status", order=order, status=status_of(order))


def _book(state: State, day: str | None, time: str | None, moved: bool) -> Reply:
    day = day or state.day
    time = time or state.time
    if day and time:
        name = "reschedule_appointment" if moved else "book_appointment"
        action = Action(name, (("day", day), ("time", time)))
        new = replace(state, day=day, time=time, booked=True, pending=None, action=action)
        return new, say("moved" if moved else "booked", when=when(day, time))
    new = replace(state, day=day, time=time, pending="reschedule" if moved else "book")
    if day:
        return new, say("ask_time", when=when(day, None))
    if time:
        return new, say("ask_day", time=time)
    return new, say("ask_day_and_time")


# --------------------------------------------------------------------------- intents


def _wants_person(t: Turn) -> bool:
    # "talk to someone" is a transfer; "see someone on Wednesday" is a booking.
    return t.has("person", "human") or ("someone" in t.wordset and bool(t.wordset & _TALK))


def _transfer(t: Turn) -> Reply:
    action = Action("transfer_to_human", (("reason", " ".join(t.words)),))
    return replace(t.state, pending=None, action=action), say("transfer")


def _refund_turn(t: Turn) -> Reply:
    order = t.order or t.state.order
    if order:
        return _refund(t.state, order)
    return replace(t.state, pending="refund"), say("ask_order")


def _cancel_turn(t: Turn) -> Reply:
    state = t.state
    if t.wordset & _ORDER:
        order = t.order or state.order
        if order:
            return _cancel_order(state, order)
        return replace(state, pending="cancel_order"), say("ask_order")
    if state.booked:
        action = Action("cancel_appointment", (("day", str(state.day)), ("time", str(state.time))))
        reply = say("appointment_cancelled", when=when(state.day, state.time))
        return State(order=state.order, action=action), reply
    return replace(state, pending=None), say("nothing_to_cancel")


def _about_order(t: Turn) -> bool:
    return bool(t.wordset & _ORDER) or bool(t.order and t.state.pending in _ORDER_PENDING)


def _order_turn(t: Turn) -> Reply:
    order = t.order or t.state.order
    if not order:
        return replace(t.state, pending="status"), say("ask_order")
    if t.state.pending == "refund":
        return _refund(t.state, order)
    if t.state.pending == "cancel_order":
        return _cancel_order(t.state, order)
    return _order_status(t.state, order)


def _changing(t: Turn) -> bool:
    moving = t.has("reschedule", "instead", "move", "change", "make it")
    return moving or (t.state.booked and bool(t.day or t.time))


def _change_turn(t: Turn) -> Reply:
    time = t.time
    if t.day is not None and time is None and t.day != t.state.day:
        time = t.state.time
    return _book(t.state, t.day, time, moved=t.state.booked)


def _about_booking(t: Turn) -> bool:
    return t.has("book", "appointment", "schedule") or bool(t.day or t.time)


def _booking_turn(t: Turn) -> Reply:
    state = t.state
    if "what" in t.wordset and state.booked and not (t.day or t.time):
        return state, say("appointment_is", when=when(state.day, state.time))
    return _book(state, t.day, t.time, moved=state.pending == "reschedule")


def _answer(name: str, *, clear_pending: bool = False) -> Callable[[Turn], Reply]:
    """An intent answered by a fixed reply, leaving the state (or only its pending ask)."""

    def handle(t: Turn) -> Reply:
        return (replace(t.state, pending=None) if clear_pending else t.state), say(name)

    return handle


#: The dialogue policy, in order: (does this turn mean it?, how the agent answers).
INTENTS: tuple[tuple[Callable[[Turn], bool], Callable[[Turn], Reply]], ...] = (
    (_wants_person, _transfer),
    (
        lambda t: bool(t.wordset & _BYE) or t.has("that is all", "thats all"),
        _answer("goodbye", clear_pending=True),
    ),
    (lambda t: "refund" in t.wordset or t.has("money back"), _refund_turn),
    (lambda t: "cancel" in t.wordset, _cancel_turn),
    (_about_order, _order_turn),
    (_changing, _change_turn),
    (_about_booking, _booking_turn),
    (lambda t: bool(t.wordset & _NO), _answer("no_more", clear_pending=True)),
    (lambda t: bool(t.wordset & _YES), _answer("yes")),
    (lambda t: bool(t.wordset & _GREET), _answer("hello")),
    (lambda t: "thank" in t.wordset or "thanks" in t.wordset, _answer("welcome")),
)


def step(state: State, text: str) -> Reply:
    """Apply one caller turn; return the new state and the agent's reply."""
    state = replace(state, action=None)
    turn = _read(state, text)
    if turn is None:
        return state, say("sorry")
    for means, answer in INTENTS:
        if means(turn):
            return answer(turn)
    return state, say("sorry")
