"""The goal-driven caller listening to one agent turn, as a person on the line would.

Why a module of its own: listening is where the caller's timing comes from.
The turn starts at the agent's first voiced audio after the caller's
reference point and ends once the agent has been silent for the persona's
`end_of_turn_ms`. While it plays the caller may cut in (a `barge_in` rule
matched the agent's words, or the persona interrupts a long monologue),
say a backchannel into a pause, and, from `SPECULATE_MS` of silence on,
understand and decide on a copy of its policy, so that a quick brain can
answer on time; the speculation is kept only if the agent did not go on.
What the caller heard and decided comes back as a `Reply` for the driver
(driver.py) to act on.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from simulator.audio import SAMPLE_RATE, SPEECH_THRESHOLD
from simulator.conversation.policy import Decision, Heard, Policy
from simulator.metrics.latency import MIN_PRECEDING_SILENCE, find_reply_onset
from simulator.rows import TurnRow

if TYPE_CHECKING:
    from simulator.conversation.driver import GoalCaller
    from simulator.session import Session

_MS = SAMPLE_RATE // 1000
#: The caller starts understanding the agent's turn after this much silence.
SPECULATE_MS = 250
#: A backchannel only goes into an agent turn that has lasted this long.
BACKCHANNEL_MIN_TURN_MS = 1500


@dataclass
class Reply:
    """One agent turn as the caller experienced it (sample indices on the call timeline)."""

    onset: int | None
    end: int | None
    heard: Heard | None = None
    barge_in: bool = False
    #: A decision already taken while listening (a barge-in).
    decision: Decision | None = None
    #: (decision, ears ms, brain ms, policy copy, heard) prepared during a pause.
    prepared: tuple[Decision, float, float, Policy, Heard] | None = None
    ears_ms: float = 0.0
    brain_ms: float = 0.0
    backchannels: list[float] = field(default_factory=list)


class TurnListener:
    """Listens to one agent turn after `reference` for `caller` (see the module docstring)."""

    def __init__(
        self, caller: GoalCaller, s: Session, row: TurnRow, reference: int, *, allow_barge: bool
    ) -> None:
        persona = caller.c.persona
        self.caller = caller
        self.s = s
        self.row = row
        self.reference = reference
        self.allow_barge = allow_barge
        self.long_ms = persona.long_reply_ms * _MS
        self.eot = persona.end_of_turn_ms * _MS
        self.timeout = caller.c.end.silence_timeout_ms * _MS
        self.cut_in = allow_barge and caller.rng.random() < persona.interruption
        self.chat_back = caller.rng.random() < persona.backchannel_rate
        self.onset: int | None = None
        self.scanned = reference
        self.last_voice = reference
        self.prepared_for: int | None = None
        self.task: asyncio.Future[Any] | None = None
        self.reply = Reply(onset=None, end=None)

    async def listen(self) -> Reply:
        """Wait for the agent's turn and until it has ended.

        Returns early for a barge-in (a `barge_in` rule matched the agent's
        words, or the persona cut in on a long monologue).
        """
        s, reply = self.s, self.reply
        try:
            while True:
                await s.wait_progress()
                view = s.agent.view()
                now = s.now_samples()
                if self.onset is None and not self._started(view):
                    if now - self.reference > self.timeout or self.caller.limit(s):
                        reply.heard = Heard("", "none")
                        return reply
                    continue
                loud = np.flatnonzero(
                    np.abs(view[self.last_voice :].astype(np.int32)) > SPEECH_THRESHOLD
                )
                if len(loud):
                    self.last_voice += int(loud[-1]) + 1
                playing = s.agent_cursor > now
                silent = 0 if playing else now - self.last_voice
                if self.allow_barge and silent < 100 * _MS and await self._barged(view, now):
                    return reply
                self._backchannel(silent)
                self._speculate(silent)
                if silent >= self.eot:
                    break
                if now - self.reference > self.timeout + 120 * SAMPLE_RATE:
                    self.row["error"] = "agent turn did not end within 120 s"
                    break
            return await self._ended(view)
        finally:
            if self.task is not None:
                self.task.cancel()

    def _started(self, view: np.ndarray) -> bool:
        """Look for the agent's reply onset in what arrived since the last look."""
        self.onset = find_reply_onset(view, self.scanned)
        self.scanned = max(self.scanned, len(view) - MIN_PRECEDING_SILENCE)
        if self.onset is None:
            return False
        self.last_voice = self.onset
        self.reply.onset = self.onset
        return True

    async def _barged(self, view: np.ndarray, now: int) -> bool:
        """While the agent speaks: cut in if a `barge_in` rule matches its words, or
        (once) if the persona interrupts a turn heard for `long_reply_ms`."""
        assert self.onset is not None
        decision = self._rule()
        heard = Heard(" ".join(transcripts(self.row)), partial=True)
        # How long the caller has *heard* the agent (queued audio has not played).
        heard_for = min(self.last_voice, now) - self.onset
        if decision is None and self.cut_in and heard_for >= self.long_ms:
            self.cut_in = False
            decision, heard = await self._interrupt(view)
        if decision is None:
            return False
        self.reply.barge_in = True
        self.reply.decision = decision
        self.reply.heard = heard
        return True

    def _rule(self) -> Decision | None:
        """A `do: barge_in` rule matching the agent's words so far (rules policy only)."""
        rule = getattr(self.caller.policy, "barge_in_rule", None)
        text = " ".join(transcripts(self.row))
        if rule is None or not text:
            return None
        line: str | None = rule(text)
        return None if line is None else Decision(say=line, why="a barge_in rule matched")

    async def _interrupt(self, view: np.ndarray) -> tuple[Decision | None, Heard]:
        """Understand the turn so far and decide whether to cut in on it (a line to say)."""
        caller, reply = self.caller, self.reply
        t = time.perf_counter()
        audio = view[self.onset : self.last_voice].copy()
        heard = await caller.ears.hear(transcripts(self.row), audio, partial=True)
        reply.ears_ms = (time.perf_counter() - t) * 1000
        t = time.perf_counter()
        decision = await caller.brain(caller.policy.decide, heard)
        reply.brain_ms = (time.perf_counter() - t) * 1000
        if decision.say is None:
            return None, heard
        return replace(decision, why=f"cut in on a long turn: {decision.why}"), heard

    def _backchannel(self, silent: int) -> None:
        """Say the persona's backchannel (once) into a pause of a long enough turn."""
        line = self.caller.backchannel_turn
        if (
            self.chat_back
            and line is not None
            and 200 * _MS <= silent < self.eot
            and self.onset is not None
            and self.last_voice - self.onset >= BACKCHANNEL_MIN_TURN_MS * _MS
        ):
            self.chat_back = False
            s = self.s
            pos = max(s.sent_samples, s.caller.length)
            s.place(line, pos)
            at = (pos + line.speech_start) / SAMPLE_RATE
            self.reply.backchannels.append(round(at, 3))

    def _speculate(self, silent: int) -> None:
        """In a pause of `SPECULATE_MS`, start understanding and deciding (again, if the
        agent spoke since the last start)."""
        if silent >= SPECULATE_MS * _MS and self.prepared_for != self.last_voice:
            assert self.onset is not None
            if self.task is not None:
                self.task.cancel()
            self.prepared_for = self.last_voice
            prepare = self.caller.prepare(self.s, self.row, self.onset, self.last_voice)
            self.task = asyncio.ensure_future(prepare)

    async def _ended(self, view: np.ndarray) -> Reply:
        """The turn ended: keep the speculation if its input still holds, else hear it now."""
        reply, row = self.reply, self.row
        reply.end = self.last_voice
        if self.task is not None and self.prepared_for == self.last_voice:
            decision, ears_ms, brain_ms, fork, heard = await self.task
            self.task = None
            # A transcript event that arrived after the speculation began changes its input.
            if heard.source != "transcript" or heard.text == " ".join(transcripts(row)):
                reply.prepared = (decision, ears_ms, brain_ms, fork, heard)
                reply.heard = heard
                return reply
        t = time.perf_counter()
        audio = view[self.onset : self.last_voice].copy()
        reply.heard = await self.caller.ears.hear(transcripts(row), audio)
        reply.ears_ms = (time.perf_counter() - t) * 1000
        return reply


def transcripts(row: TurnRow) -> list[str]:
    """The agent's words in the turn row so far (its transcript events), if any."""
    text = row.get("agent_reply_text")
    return [str(text)] if text else []
