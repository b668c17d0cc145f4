"""The `llm` policy: a caller brain on any OpenAI-compatible chat endpoint.

The model plays the CALLER: the agent's words are the `user` turns and the
caller's own lines the `assistant` turns, under a system prompt built from the
scenario (persona, goal, facts, what the caller does not know, rules of
conduct, examples made from the scenario's own facts). It answers with one
JSON object, constrained by `response_format` (json_schema), or by calling the
`end_call(success, reason)` tool it is offered:

    {"about": <a reading of the agent's turn>, "say": str, "end_call": bool,
     "success": bool, "reason": str}

`about` is a closed choice (an enum in the schema): the facts the agent asked
for ("day and time", "day", ...), something the caller does not know ("name"),
or a move of the call ("help", "done", "anything else", "goodbye", ...). A
strong model fills every field well. A very small one (SmolLM2-135M, offline)
cannot write a reliable line, but with the enum's words taken from what agents
say it reads the agent's turn well. So the reading decides the move, and the
model's `say` is spoken when it fits that move (it has the asked facts'
values, invents no value; `notes.path == "model"`); otherwise the line is
composed from the reading and the facts (`"composed"`). An answer without a
reading (a server that ignores the schema) is taken as the model wrote it.

The caller leaves on an ending reading (goodbye, done, cannot), when the goal
is done, or on an `end_call` tool call. Its verdict (success) is "the agent
confirmed the goal": the scenario's `done_when` (by default a confirmation
such as "I have booked you") matched a turn of the agent, or the model read
the turn as done and said so in every field (about, end_call, success). A
confirmation naming a day or month the caller never gave is not done: the
caller corrects it ("No, Wednesday at ten am, please.").

Every reply is checked. An HTTP error, a timeout, empty content, non-JSON, a
wrong shape, a refusal, or a line with a value the caller was never given (and
no reading to compose from) is retried, with a short correction when the
reply itself was wrong, up to `llm.retries` times; then `PolicyError` ends the
call as a caller error. The whole decision is bounded by (retries + 1) *
timeout_s. The model's raw reply, the attempts and the time taken go into
`Decision.notes`.

The brief the model gets (prompt, answer schema, `end_call` tool) and the lines
composed from facts are in simulator/conversation/caller_prompt.py; a reply is
checked against it in simulator/conversation/answer_check.py.

One `AsyncOpenAI` client per (event loop, base_url, key) (simulator/llm_client.py,
shared with the call judge) is shared by every
call, and by the driver's speculative copies of a policy (`copy.deepcopy`
copies only the call's small memory). A server on this machine is sent the
system prompt while the caller speaks its opening, so its prompt cache is warm
when the first real decision is asked for (a 135M model on one thread needs
seconds for a cold prompt).
"""

from __future__ import annotations

import asyncio
import copy
import re
from typing import Any

from simulator.conversation.answer_check import check_answer
from simulator.conversation.caller_prompt import (
    ANYTHING_ELSE,
    BYE,
    CANNOT,
    DONE,
    END_CALL_TOOL,
    GOODBYE,
    HELP,
    MOVES,
    REPEAT,
    SAY_MAX,
    YES_NO,
    answer_schema,
    content_words,
    fact_readings,
    facts_line,
    phrase,
    system_prompt,
    words,
)
from simulator.conversation.policy import Decision, Heard, Outcome, PolicyError, invented_values
from simulator.conversation.rules import DONE as CONFIRMED
from simulator.conversation.rules import first_person
from simulator.llm_client import NoValidReply, ask, completions, is_local
from simulator.llm_client import short as _short
from simulator.scenario import Conversation

_DATES = set(
    "monday tuesday wednesday thursday friday saturday sunday january february march april "
    "june july august september october november december".split()
)
_background: set[asyncio.Task[Any]] = set()


class LlmPolicy:
    """A caller brain driven by a chat model (see the module docstring)."""

    name = "llm"

    def __init__(self, conversation: Conversation) -> None:
        self.c = conversation
        self.cfg = conversation.llm
        self.opening_line = conversation.opening or first_person(conversation.goal)
        #: reading -> the fact keys it asks for
        self.fact_readings = fact_readings(list(conversation.facts))
        #: reading -> the unknown key it asks for
        self.unknown_readings = {phrase(k): k for k in conversation.unknown}
        taken = set(self.fact_readings) | set(self.unknown_readings)
        self.readings = [
            *self.fact_readings,
            *self.unknown_readings,
            *(m for m in MOVES if m not in taken),
        ]
        self.allowed = [
            *conversation.facts.values(),
            conversation.goal,
            self.opening_line,
            *(r.say for r in conversation.when if r.say),
        ]
        self.system = system_prompt(conversation, self.opening_line, self.readings)
        self.schema = answer_schema(self.readings)
        # The call's memory (what a speculative copy copies).
        self.history: list[dict[str, str]] = []
        self.done = False
        self.given: set[str] = set()
        self.failed = 0
        self.asked_for_human = False
        self.last_line: str | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> LlmPolicy:
        """A speculative fork: its own memory; the scenario, prompt and schema are shared."""
        fork = copy.copy(self)
        fork.history = list(self.history)
        fork.given = set(self.given)
        return fork

    # ------------------------------------------------------------ the protocol
    async def opening(self, heard: Heard | None) -> Decision:
        """The scenario's opening (or its goal in the first person): the call's first
        words are the author's, whatever the model."""
        if heard is not None and heard.text.strip():
            self.history.append({"role": "user", "content": heard.text.strip()})
        line = self.opening_line
        if self.c.persona.verbosity == "chatty" and self.c.facts:
            line = f"{line} {facts_line(self.c, list(self.c.facts))}"
        decision = self._say(line, "opening: state the goal", {"path": "scripted"})
        if is_local(self.cfg.base_url):
            task = asyncio.ensure_future(self._warm())
            _background.add(task)
            task.add_done_callback(_background.discard)
        return decision

    async def decide(self, heard: Heard) -> Decision:
        """Ask the model what to do after the agent said `heard`."""
        text = heard.text.strip()
        self.history.append({"role": "user", "content": text or "(silence)"})
        answer = await self._ask()
        confirmed = any(re.search(p, text, re.IGNORECASE) for p in self.c.done_when or CONFIRMED)
        return self._move(answer, confirmed, self._wrong_dates(text))

    async def on_limit(self, reason: str) -> Decision:
        """A cap ends the call as failed, whatever was done."""
        return Decision(
            say="Sorry, I have to go. Goodbye.",
            why=reason,
            hang_up=True,
            outcome=Outcome(False, reason),
        )

    # ------------------------------------------------------------ the model
    async def _warm(self) -> None:
        """Have a local server read the system prompt now (its prefix cache), answer unused."""
        messages = [{"role": "system", "content": self.system}, *self.history]
        try:
            await asyncio.wait_for(
                completions(self.cfg).create(
                    model=self.cfg.model, messages=messages, max_tokens=1, temperature=0
                ),
                self.cfg.timeout_s,
            )
        except Exception:  # noqa: BLE001 - a warm-up only; the real request reports errors
            pass

    async def _ask(self) -> dict[str, Any]:
        """One valid answer from the model, after at most `retries` retries, or PolicyError."""
        cfg = self.cfg
        messages: list[dict[str, Any]] = [{"role": "system", "content": self.system}, *self.history]
        try:
            answer, notes = await ask(
                cfg, messages, "caller_reply", self.schema, self._check, tools=[END_CALL_TOOL]
            )
        except NoValidReply as exc:
            raise PolicyError(f"llm caller ({cfg.model} at {cfg.base_url}): {exc}") from None
        answer["_notes"] = notes
        return answer

    def _check(self, reply: Any) -> tuple[str, dict[str, Any] | None, str, str | None]:
        """(raw reply, answer or None, what is wrong, correction to send or None)."""
        return check_answer(reply, self.readings, self.allowed)

    def _invented(self, line: str) -> list[str]:
        return invented_values(line, self.allowed)

    # ------------------------------------------------------------ the move
    def _move(self, answer: dict[str, Any], confirmed: bool, wrong: list[str]) -> Decision:
        """The caller's next move from a valid answer (see the module docstring).

        `confirmed`: the agent's turn says the goal is done (the scenario's
        `done_when`); `wrong`: days or months it names that are not the caller's.
        """
        notes: dict[str, Any] = answer.pop("_notes")
        about: str | None = answer.get("about")
        say = " ".join(str(answer.get("say") or "").split())[:SAY_MAX]
        notes["about"] = about
        notes["model"] = {k: answer.get(k) for k in ("end_call", "success", "reason")}
        if "invented" in answer:
            notes["invented"] = answer["invented"]
        if confirmed:
            notes["confirmed"] = True
        if answer.get("tool"):
            notes["path"] = "tool"
            outcome = Outcome(bool(answer["success"]), _short(str(answer["reason"]), 200))
            why = f"the model called end_call: {outcome.reason}"
            return self._leave(say or None, why, outcome, notes)
        claimed = confirmed
        if wrong:
            notes["wrong"] = wrong
            confirmed = False  # a confirmation of a day the caller never gave is not one
        if confirmed:
            self.done = True
        if about is None:
            return self._free(say, answer, notes)
        if wrong and about != GOODBYE and (claimed or about in (DONE, YES_NO)):
            # The agent confirms (or asks to confirm) a day the caller never gave: correct it.
            line = "No, " + facts_line(self.c, list(self.c.facts))
            return self._failed_attempt(f"the agent got {', '.join(wrong)} wrong", notes, line)
        if about == DONE and answer["end_call"] and answer["success"] and not wrong:
            self.done = True
        return self._reply_to(self._move_for_reading(about, confirmed), about, say, notes)

    def _move_for_reading(self, about: str, confirmed: bool) -> str:
        """The move to make of reading `about`: DONE when the agent confirmed the goal in a
        turn that only asks again for what the caller already gave."""
        if confirmed and about not in (GOODBYE, YES_NO, *self.unknown_readings):
            asks = self.fact_readings.get(about)
            if asks is None or set(asks) <= self.given:
                # Asking again for facts already given, in the very turn that confirms
                # the goal, is the confirmation: wrap up.
                return DONE
        return about

    def _reply_to(self, move: str, about: str, say: str, notes: dict[str, Any]) -> Decision:
        """The caller's line for `move`: the model's `say` where it fits the move, else one
        composed from the facts; leaving on an ending move, trying again on no progress."""
        if move in self.fact_readings:
            keys = self.fact_readings[move]
            self.given.update(keys)
            fits = self._has_values(say, keys)
            why = f"the agent asked for {', '.join(keys)}: answer from facts"
            return self._answer(say if fits else "", facts_line(self.c, keys), why, notes)
        if move in self.unknown_readings:
            key = self.unknown_readings[move]
            fits = re.search(r"\b(know|sure|remember|have)\b", say.lower()) is not None
            line = f"Sorry, I don't know my {phrase(key)}."
            why = f"the agent asked for {key}, which the caller does not know"
            return self._answer(say if fits else "", line, why, notes)
        if move == YES_NO:
            fits = re.search(r"\b(yes|yeah|no|correct|right|sure)\b", say.lower()) is not None
            return self._answer(say if fits else "", "Yes, please.", "asked to confirm", notes)
        if move == HELP or (move == ANYTHING_ELSE and not self.done):
            fits = bool(set(content_words(say)) & set(content_words(self.opening_line)))
            why = "the agent asked how it can help: state the goal"
            return self._answer(say if fits else "", self.opening_line, why, notes)
        if move in (DONE, ANYTHING_ELSE):
            own = about in (DONE, ANYTHING_ELSE) and self._fits_leaving(say)
            notes["path"] = "model" if own else "composed"
            outcome = (
                Outcome(True, "goal done; the agent confirmed it")
                if self.done
                else Outcome(False, "the caller took the goal as done; the agent never confirmed")
            )
            return self._leave(say if own else BYE, "the goal is done: wrap up", outcome, notes)
        if move == GOODBYE:
            notes["path"] = "composed"
            outcome = (
                Outcome(True, "goal done; the agent said goodbye")
                if self.done
                else Outcome(False, "the agent said goodbye before the goal was done")
            )
            return self._leave(None, "the agent said goodbye: hang up", outcome, notes)
        if move == CANNOT:
            own = self._fits_leaving(say)
            notes["path"] = "model" if own else "composed"
            outcome = Outcome(False, "the agent cannot do what the caller asked")
            line = say if own else "Okay, thank you. Goodbye."
            return self._leave(line, "the agent cannot do it: hang up", outcome, notes)
        why = "the agent did not understand" if move == REPEAT else "no progress towards the goal"
        return self._failed_attempt(why, notes)

    def _answer(self, say: str, composed: str, why: str, notes: dict[str, Any]) -> Decision:
        """Say the model's line when it fits the move, else the composed one."""
        self.failed = 0
        own = bool(say) and say.lower().strip(" .") not in self.readings
        notes["path"] = "model" if own else "composed"
        return self._say(say if own else composed, why, notes)

    def _free(self, say: str, answer: dict[str, Any], notes: dict[str, Any]) -> Decision:
        """An answer without a reading (a server that ignores the schema): the model's move."""
        notes["path"] = "model"
        reason = str(answer["reason"]) or "the model's choice"
        if answer["end_call"]:
            outcome = Outcome(bool(answer["success"]), _short(reason, 200))
            return self._leave(say or None, f"the model ended the call: {reason}", outcome, notes)
        if not say:
            return self._failed_attempt("the model said nothing", notes)
        return self._say(say, reason, notes)

    def _failed_attempt(self, why: str, notes: dict[str, Any], line: str | None = None) -> Decision:
        """One more failed attempt of the agent's: say `line` (default: the last line
        again), or give up when the persona's patience is spent."""
        self.failed += 1
        patience = self.c.persona.patience
        notes["path"] = "composed"
        if self.failed >= patience:
            reason = f"gave up after {self.failed} failed attempts ({why})"
            if self.c.persona.when_impatient == "ask_for_human" and not self.asked_for_human:
                self.asked_for_human = True
                self.failed = 0
                return self._say("Can I speak to a person, please?", reason, notes)
            return self._leave("Never mind. Goodbye.", reason, Outcome(False, reason), notes)
        line = line or self.last_line or self.opening_line
        return self._say(line, f"{why}: say it again ({self.failed}/{patience})", notes)

    # ------------------------------------------------------------ lines
    def _say(self, line: str, why: str, notes: dict[str, Any]) -> Decision:
        self.last_line = line
        self.history.append({"role": "assistant", "content": line})
        return Decision(say=line, why=why, notes=notes)

    def _leave(
        self, line: str | None, why: str, outcome: Outcome, notes: dict[str, Any]
    ) -> Decision:
        if line:
            self.history.append({"role": "assistant", "content": line})
        return Decision(say=line, why=why, hang_up=True, outcome=outcome, notes=notes)

    def _wrong_dates(self, text: str) -> list[str]:
        """Days and months the agent names that are in none of the caller's facts."""
        return [w for w in self._invented(text) if w in _DATES]

    def _fits_leaving(self, say: str) -> bool:
        return len(words(say)) >= 2 and say.lower().strip(" .") not in self.readings

    def _has_values(self, say: str, keys: list[str]) -> bool:
        """True when `say` has every (significant) word of the facts `keys`' values."""
        said = set(words(say))
        return all(
            w in said for k in keys for w in words(self.c.facts[k]) if len(w) > 2 or w.isdigit()
        )
