"""What a goal-driven caller's brain is: one interface, the decision it returns.

A policy is given what the caller heard the agent say and returns what the
caller does next: say a line, hang up, or both (say goodbye, then hang up).
When the call's outcome becomes known (the goal is done, cannot be done, the
caller gave up) the decision carries it, so the call row can say why the call
ended. Policies keep their own memory of the call; a fresh one is made per
call (`simulator.conversation.make_policy`).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, Protocol

HeardSource = Literal["transcript", "audio", "none"]


@dataclass(frozen=True)
class Heard:
    """What the caller understood the agent to say, and from where."""

    text: str
    source: HeardSource = "transcript"
    #: True while the agent is still speaking (a barge-in decision on a partial turn).
    partial: bool = False


@dataclass(frozen=True)
class Outcome:
    """How the caller judges its call: the goal reached or not, and why."""

    success: bool
    reason: str


@dataclass(frozen=True)
class Decision:
    """The caller's next move.

    `say` is spoken (if any); then, with `hang_up`, the call ends without
    waiting for a reply. `outcome` is set once the caller knows how the call
    went. `why` is a short human-readable reason, kept in the run directory.
    """

    say: str | None
    why: str
    hang_up: bool = False
    outcome: Outcome | None = None
    #: Extra details a policy wants recorded (e.g. the model's raw reply).
    notes: dict[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """The decision as stored in a turn row."""
        out = asdict(self)
        out["outcome"] = asdict(self.outcome) if self.outcome else None
        return out


class PolicyError(Exception):
    """The policy could not decide (e.g. the model failed after its retries)."""


class Policy(Protocol):
    """A caller brain: `opening` once, then `decide` after every agent turn."""

    name: str

    async def opening(self, heard: Heard | None) -> Decision:
        """The first thing to say (after the agent's greeting, if it gave one)."""
        ...

    async def decide(self, heard: Heard) -> Decision:
        """The next move after the agent said `heard`."""
        ...

    async def on_limit(self, reason: str) -> Decision:
        """A cap was reached (max turns, max duration): how to leave the call."""
        ...


# ---------------------------------------------------------------- invented values

_DAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
_MONTHS = (
    "january february march april june july august september october november december"
).split()
_NUMBER_WORDS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty "
    "ninety hundred thousand"
).split()
_VALUE_WORDS = set(_DAYS) | set(_MONTHS) | set(_NUMBER_WORDS)


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))


def invented_values(line: str, allowed: list[str]) -> list[str]:
    """Value-like words in `line` (digits, numbers, days, months) found in none of `allowed`.

    A caller may only say values it was given (facts, goal, opening, rules):
    anything else is an invented fact, the failure that makes simulated
    callers produce false failures.
    """
    known = {w for text in allowed for w in _words(text)}
    return [
        w
        for w in _words(line)
        if (w.isdigit() or w in _VALUE_WORDS) and w not in known and w != "one"
    ]
