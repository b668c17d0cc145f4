"""The `rules` policy: an offline, deterministic caller that answers what it is asked.

It reads the agent's turn for what a phone agent asks (a name, a day, a time,
a number, a yes/no confirmation, "anything else?"), answers from the
scenario's `facts`, says it does not know anything else (it never invents a
value), applies the author's `when:` rules first, counts the agent's failed
attempts against the persona's patience, and ends the call when its goal is
done (the agent confirmed it), cannot be done (the agent said goodbye or
transferred first), or its patience ran out. Same words heard -> same
decision: the only randomness (barge-ins, backchannels, gaps) is drawn by the
session from the call's seeded generator, never here.
"""

from __future__ import annotations

import re

from simulator.conversation.policy import Decision, Heard, Outcome
from simulator.scenario import Conversation

#: The agent confirming it did the thing (the default `done_when`).
DONE = [
    r"\b(i have|i've|i|we have|we've|you are|you're|youre|it is|it's|that is|that's)"
    r"( now| all| just)? (booked|scheduled|confirmed|cancell?ed|moved|rescheduled|started|"
    r"placed|processed|issued|updated|changed)\b",
    r"\bbooked you\b",
    r"\b(refund|booking|appointment|order)( has been| is)? (started|confirmed|booked|issued)\b",
]
_BYE = r"\b(goodbye|good bye|bye|have a (good|nice|great) day)\b"
#: A closing that ends the call once the goal is done (a greeting can say it too).
_CLOSING = r"\b(thanks|thank you) for (calling|your call)\b"
_TRANSFER = r"\b(transferr?ing you|connect you (to|with)|put you through|hold for)\b"
_ANYTHING_ELSE = r"\b(anything else|something else|any other|else (i|we) can)\b"
_SORRY = (
    r"\b(sorry|did not catch|didn't catch|didnt catch|say (that|it) again|repeat that|"
    r"could not understand|couldn't understand|did not understand|didn't understand|pardon)\b"
)
_HELP = r"\b(how can i help|how may i help|what can i do for you|how can i assist)\b"
_CONFIRM = (
    r"\b(is that (right|correct|ok|okay)|shall i|should i|do you want me to|would you like me to|"
    r"can you confirm|please confirm|to confirm|correct\?|right\?)"
)
#: Words that point at a fact when the fact's own name is not said.
_SYNONYMS = {
    "name": ["name", "who am i speaking", "who is calling", "speaking with"],
    "day": ["day", "date", "when"],
    "time": ["time", "when", "what hour"],
    "phone": ["phone", "number to reach", "callback"],
    "email": ["email", "e-mail"],
}
_FILLER_KEYS = {"number", "id", "code"}


def _has(pattern: str, text: str) -> bool:
    return re.search(pattern, text, re.IGNORECASE) is not None


def _key_words(key: str) -> list[str]:
    return key.split("_")


def _asked(key: str, text: str) -> bool:
    """True when the agent's words ask for the fact named `key` (e.g. order_number)."""
    words = _key_words(key)
    main = [w for w in words if w not in _FILLER_KEYS] or words
    if all(re.search(rf"\b{re.escape(w)}s?\b", text) for w in main):
        return True
    return any(re.search(rf"\b{re.escape(s)}\b", text) for s in _SYNONYMS.get(key, []))


def first_person(goal: str) -> str:
    """The goal as the caller would say it: "Book a table" -> "Hi, I would like to book a table."""
    goal = goal.strip().rstrip(".")
    if re.match(r"^(i|i'm|i'd|i've|hi|hello)\b", goal, re.IGNORECASE):
        return goal + "."
    return f"Hi, I would like to {goal[0].lower()}{goal[1:]}."


class RulesPolicy:
    """The default caller brain (see the module docstring)."""

    name = "rules"

    def __init__(self, conversation: Conversation) -> None:
        self.c = conversation
        self.done = False
        self.failed = 0
        self.given: set[str] = set()
        self.last_line: str | None = None
        self.last_heard = ""
        self.used: dict[int, int] = {}
        self.asked_for_human = False
        self.stated = False  # the goal has been said once
        self.answers: dict[str, int] = {}  # times each fact was given

    # ---------------------------------------------------------------- answers
    def _phrase(self, keys: list[str]) -> str:
        """Answer with the facts `keys`, in the persona's verbosity."""
        facts = self.c.facts
        terse = self.c.persona.verbosity == "terse"
        parts: list[str] = []
        rest = list(keys)
        if "day" in rest and "time" in rest:
            parts.append(f"{facts['day']} at {facts['time']}")
            rest = [k for k in rest if k not in ("day", "time")]
        for key in rest:
            value = facts[key]
            if terse or key in ("day", "time"):
                parts.append(value)
            else:
                parts.append(f"my {' '.join(_key_words(key))} is {value}")
        self.given.update(keys)
        text = ", and ".join(parts)
        if self.c.persona.verbosity == "terse":
            return text[0].upper() + text[1:] + "."
        return text[0].upper() + text[1:] + ", please."

    def _dont_know(self, keys: list[str]) -> str:
        what = " or ".join("my " + " ".join(_key_words(k)) for k in keys)
        return f"Sorry, I don't know {what}."

    def _goodbye(self, outcome: Outcome, say: str | None, why: str) -> Decision:
        return Decision(say=say, why=why, hang_up=True, outcome=outcome)

    def _say(self, line: str, why: str, outcome: Outcome | None = None) -> Decision:
        self.last_line = line
        return Decision(say=line, why=why, outcome=outcome)

    # ---------------------------------------------------------------- the brain
    async def opening(self, heard: Heard | None) -> Decision:
        """State the goal (and, when chatty, every fact at once); but when the agent's
        greeting already asks for something ("can I have your name first?"), answer it."""
        text = " ".join(heard.text.lower().split()) if heard else ""
        if any(_asked(k, text) for k in [*self.c.facts, *self.c.unknown]) and not _has(_HELP, text):
            return await self.decide(heard or Heard(""))
        line = self.c.opening or first_person(self.c.goal)
        if self.c.persona.verbosity == "chatty" and self.c.facts:
            line = f"{line} {self._phrase(list(self.c.facts))}"
        greeting = f"the agent said {heard.text!r}" if heard and heard.text else "no greeting"
        self.stated = True
        return self._say(line, f"opening ({greeting})")

    async def decide(self, heard: Heard) -> Decision:
        """The next move after the agent's turn `heard` (rules first, then the defaults):
        correct a wrong fact, react to the goal done or the call ending, to not being
        understood, then answer what was asked."""
        text = " ".join(heard.text.lower().split())
        rule = self._rule(text)
        if rule is not None:
            return rule
        repeated = bool(text) and text == self.last_heard
        self.last_heard = text
        for move in (
            lambda: self._correction(text),
            lambda: self._ending(text),
            lambda: self._not_understood(text, repeated),
        ):
            decision = move()
            if decision is not None:
                return decision
        return self._answer(heard.text, text)

    def _correction(self, text: str) -> Decision | None:
        """The agent got a fact wrong ("What time on Tuesday?"): correct it, as a person
        would, before anything else; it is a failed attempt of the agent's."""
        wrong = [] if self.done else self._contradicted(text)
        if not wrong or _has(_BYE, text) or _has(_TRANSFER, text):
            return None
        asked = [k for k in self.c.facts if _asked(k, text) and k not in wrong]
        line = f"No, {self._phrase([*wrong, *asked])}"
        return self._failed_attempt(f"the agent got {', '.join(wrong)} wrong", line)

    def _ending(self, text: str) -> Decision | None:
        """The goal done, a transfer, a goodbye or a closing: thank, or hang up."""
        if any(_has(p, text) for p in (self.c.done_when or DONE)) and not self.done:
            self.done = True
            self.failed = 0
            if _has(_ANYTHING_ELSE, text) or _has(_BYE, text):
                return self._after_done(text)
            return self._say("Great, thank you.", "the agent confirmed the goal is done")
        if _has(_TRANSFER, text):
            outcome = (
                Outcome(True, "goal done; the agent transferred the call")
                if self.done
                else Outcome(
                    self.asked_for_human,
                    "the agent transferred the call to a person"
                    + (" as asked" if self.asked_for_human else " before the goal was done"),
                )
            )
            return self._goodbye(outcome, None, "the agent is transferring the call: hang up")
        if _has(_BYE, text):
            outcome = (
                Outcome(True, "goal done; the agent said goodbye")
                if self.done
                else Outcome(False, "the agent said goodbye before the goal was done")
            )
            return self._goodbye(outcome, None, "the agent said goodbye: hang up")
        if self.done and _has(_CLOSING, text) and not _has(_ANYTHING_ELSE, text):
            return self._goodbye(
                Outcome(True, "goal done; the agent closed the call"), None, "closing: hang up"
            )
        if self.done and _has(_ANYTHING_ELSE, text):
            return self._after_done(text)
        return None

    def _not_understood(self, text: str, repeated: bool) -> Decision | None:
        """Silence, an apology or the same words again: the agent did not get it."""
        if text and not _has(_SORRY, text) and not repeated:
            return None
        return self._failed_attempt(
            "the agent did not understand"
            if text
            else "heard nothing from the agent"
            if not repeated
            else "the agent repeated itself"
        )

    def _answer(self, raw: str, text: str) -> Decision:
        """Confirm, answer what was asked from the facts (or say it is not known), state
        the goal when asked how to help; anything else made no progress."""
        if _has(_CONFIRM, text):
            return self._say("Yes, please.", "the agent asked to confirm and got the facts right")
        asked = [k for k in self.c.facts if _asked(k, text)]
        unknown = [k for k in self.c.unknown if _asked(k, text)]
        if asked:
            for k in asked:
                self.answers[k] = self.answers.get(k, 0) + 1
            again = [k for k in asked if self.answers[k] > 1]
            if again:
                # Asked once more for what it was already told: the agent did not get it.
                return self._failed_attempt(
                    f"the agent asked again for {', '.join(again)}", self._phrase(asked)
                )
            why = f"the agent asked for {', '.join(asked)}: answer from facts"
            return self._say(self._phrase(asked), why)
        if unknown:
            return self._say(self._dont_know(unknown), f"the agent asked for unknown {unknown}")
        if _has(_HELP, text) or _has(_ANYTHING_ELSE, text):
            goal = self.c.opening or first_person(self.c.goal)
            if self.stated:
                return self._failed_attempt("the agent asked again how it can help", goal)
            self.stated = True
            return self._say(goal, "asked how to help")
        if "?" in raw or _has(r"^(what|which|when|who|where|how|can|could|may)\b", text):
            return self._failed_attempt("the agent asked something the caller cannot answer")
        return self._failed_attempt("the agent's turn made no progress towards the goal")

    def _after_done(self, text: str) -> Decision:
        if _has(_BYE, text):
            return self._goodbye(
                Outcome(True, "goal done; the agent said goodbye"), None, "goal done: hang up"
            )
        return self._say("No, that's all. Thank you, goodbye.", "goal done: wrap up")

    def _failed_attempt(self, why: str, line: str | None = None) -> Decision:
        self.failed += 1
        patience = self.c.persona.patience
        if self.failed >= patience:
            reason = f"gave up after {self.failed} failed attempts ({why})"
            if self.c.persona.when_impatient == "ask_for_human" and not self.asked_for_human:
                self.asked_for_human = True
                self.failed = 0
                return self._say("Can I speak to a person, please?", reason)
            return self._goodbye(Outcome(False, reason), "Never mind. Goodbye.", reason)
        line = line or self.last_line or self.c.opening or first_person(self.c.goal)
        return self._say(line, f"{why}: say it again ({self.failed}/{patience})")

    def _contradicted(self, text: str) -> list[str]:
        """Facts the agent stated differently (e.g. it says Tuesday, the caller said Wednesday)."""
        wrong: list[str] = []
        day = self.c.facts.get("day")
        if day:
            days = "monday tuesday wednesday thursday friday saturday sunday".split()
            said = [d for d in days if re.search(rf"\b{d}\b", text)]
            if said and day.lower().split()[0] not in said:
                wrong.append("day")
        return wrong

    def _rule(self, text: str) -> Decision | None:
        for i, rule in enumerate(self.c.when):
            if self.used.get(i, 0) >= rule.times or not re.search(rule.when, text, re.I):
                continue
            self.used[i] = self.used.get(i, 0) + 1
            why = f"rule {i} (when {rule.when!r}): {rule.do}"
            if rule.do in ("say", "barge_in"):
                assert rule.say is not None
                return self._say(rule.say, why)
            if rule.do == "silent":
                return Decision(say=None, why=why)
            if rule.do == "ask_for_human":
                self.asked_for_human = True
                return self._say("Can I speak to a person, please?", why)
            if rule.do == "done":
                self.done = True
                return self._say("Great, thank you.", why)
            return self._goodbye(Outcome(self.done, f"rule {i} hung up"), "Goodbye.", why)
        return None

    async def on_limit(self, reason: str) -> Decision:
        """A cap ends the call as failed, whatever was done."""
        return self._goodbye(Outcome(False, reason), "Sorry, I have to go. Goodbye.", reason)

    def barge_in_rule(self, text: str) -> str | None:
        """The line of a `do: barge_in` rule matching the agent's words so far, if any."""
        for i, rule in enumerate(self.c.when):
            if rule.do != "barge_in" or self.used.get(i, 0) >= rule.times:
                continue
            if re.search(rule.when, text.lower(), re.I):
                self.used[i] = self.used.get(i, 0) + 1
                self.last_line = rule.say
                return rule.say
        return None
