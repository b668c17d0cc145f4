"""Run one call: a `Session` plays the caller's plan against an agent and records it.

A call in progress is in parts under simulator/live/: the line, paced on one
clock (live/pacing.py, which explains the timeline), the turn rows
(live/turnrows.py) and the listening for replies (live/replies.py). A session
starts the line's two loops and the plan as three tasks, executes the plan turn
by turn (wait, barge in, pause, silence), hands over to a goal-driven caller
if there is one, and returns a `CallRecord`; it is also the surface that caller
drives (simulator/conversation/driver.py). What it plays and returns
(`PlannedTurn`, `SessionOptions`, `CallRecord`) is imported from here.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from simulator.audio import SAMPLE_RATE, Pcm
from simulator.errors import AgentError
from simulator.live.pacing import Line, ms_samples, seconds
from simulator.live.plan import PlannedTurn, SessionOptions, TurnKind
from simulator.live.record import CallRecord
from simulator.live.replies import Replies
from simulator.live.turnrows import TurnRows, place_speech
from simulator.metrics.latency import active_between
from simulator.rows import TurnRow
from simulator.transports.base import StartInfo, Transport

if TYPE_CHECKING:
    from simulator.conversation.driver import GoalCaller

__all__ = ["CallRecord", "PlannedTurn", "Session", "SessionOptions", "TurnKind"]

#: How long a failed send waits for the receiver to say why the link failed.
RECEIVER_GRACE_S = 2.0


class Session:
    """One call against one agent through one transport."""

    def __init__(
        self,
        transport: Transport,
        turns: list[PlannedTurn],
        start: StartInfo,
        *,
        scenario: str = "",
        options: SessionOptions | None = None,
        on_turn: Callable[[TurnRow], None] | None = None,
        background: Pcm | None = None,
        conversation: GoalCaller | None = None,
    ) -> None:
        self.transport = transport
        #: The goal-driven caller that takes over after the scripted turns (if any).
        self.conversation = conversation
        self.turns = turns
        self.start = start
        self.scenario = scenario
        self.opt = options or SessionOptions()
        self.on_turn = on_turn
        self.turn_rows = TurnRows(start, scenario, on_turn)
        self.line = Line(transport, start.call_id, self.opt, background, self.turn_rows.apply_event)
        self.replies = Replies(self.line, self.opt)
        #: The line's tracks (what the caller said, the agent's audio where the caller
        #: heard it) and the agent's events, all on the call's timeline.
        self.caller, self.agent, self.events = self.line.caller, self.line.agent, self.line.events
        self._last_turn_end = 0  # caller-timeline sample where the previous turn finished

    @property
    def t0(self) -> float:
        """The event loop's monotonic time of call sample 0 (set when the call starts)."""
        return self.line.t0

    # -- the call ---------------------------------------------------------
    async def run(self) -> CallRecord:
        """Play the whole plan; never raises for agent failures (they land in `error`)."""
        loop = asyncio.get_running_loop()
        wall_start = time.time()
        error: str | None = None
        try:
            await self.transport.connect(self.start)
        except AgentError as exc:
            return self._record(exc.one_line(), wall_start, 0.0)
        self.line.t0 = loop.time()
        call_id = self.start.call_id
        sender = asyncio.create_task(self.line.send_loop(), name=f"send-{call_id}")
        receiver = asyncio.create_task(self.line.receive_loop(), name=f"recv-{call_id}")
        plan = asyncio.create_task(self._run_plan(), name=f"plan-{call_id}")
        try:
            done, _ = await asyncio.wait(
                {sender, receiver, plan}, return_when=asyncio.FIRST_COMPLETED
            )
            if plan not in done:
                # The sender or receiver ended first: the link failed or the agent hung up.
                if receiver not in done:
                    # A send failed: the receiving side knows why the link went (an
                    # oversize message, a close frame) and ends soon after; prefer it.
                    await asyncio.wait({receiver}, timeout=RECEIVER_GRACE_S)
                ended = receiver if receiver.done() else next(iter(done))
                failure = ended.exception()
                error = _describe(failure) if failure else "agent hung up before the plan finished"
                if self._caller_was_done():
                    error = None  # the agent hung up after the goal-driven caller had finished
                plan.cancel()
            else:
                failure = plan.exception()
                if failure is not None:
                    error = _describe(failure)
        finally:
            for task in (plan, sender, receiver):
                task.cancel()
            for task in (plan, sender, receiver):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            with contextlib.suppress(Exception):
                await self.transport.close()
        return self._record(error, wall_start, loop.time() - self.line.t0)

    def _caller_was_done(self) -> bool:
        """True when a goal-driven caller had its outcome (e.g. after the agent's goodbye)."""
        return self.conversation is not None and self.conversation.outcome is not None

    def _record(self, error: str | None, wall_start: float, duration: float) -> CallRecord:
        if self.conversation is not None:
            if self.turn_rows.current is not None:
                # a line cut short by the agent hanging up
                self.turn_rows.finish(self.turn_rows.current)
            if self.conversation.outcome is None and self.conversation.ended_by == "":
                self.conversation.ended_by = "agent" if error else "call"
        return CallRecord(
            call_id=self.start.call_id,
            turns=list(self.turn_rows.rows),
            caller=self.line.caller.array(),
            agent=self.line.agent.array(),
            events=self.line.events,
            error=error,
            started_at=wall_start,
            duration_s=duration,
            max_send_lateness_ms=self.line.max_late * 1000,
            conversation=self.conversation.summary() if self.conversation else None,
        )

    # -- the plan, turn by turn -------------------------------------------
    async def _run_plan(self) -> None:
        await self.line.sleep_samples(ms_samples(self.opt.lead_in_ms))
        for i, turn in enumerate(self.turns):
            nxt = self.turns[i + 1] if i + 1 < len(self.turns) else None
            row = self.turn_rows.open(turn)
            if turn.kind == "hangup":
                await self.replies.hang_up(row, turn)
                self.turn_rows.finish(row)
                return
            await self._play_turn(row, turn, nxt)
            self.finish_turn(row)
        if self.conversation is not None:
            await self.conversation.run(self)
        await self.line.sleep_samples(ms_samples(self.opt.hangup_grace_ms))

    async def _play_turn(self, row: TurnRow, turn: PlannedTurn, nxt: PlannedTurn | None) -> None:
        """Play `turn`'s own part, then listen for the reply it waits for (only for its
        onset when the next turn acts in that reply)."""
        reference = await self._act(row, turn)
        if turn.waits_for_reply:
            onset_only = nxt is not None and nxt.in_reply
            await self.replies.await_reply(row, reference, turn, onset_only=onset_only)
            if not onset_only:
                await self.line.sleep_samples(ms_samples(self.opt.think_ms))
        else:
            row["latency_ms"] = None
        if turn.kind == "say" and row["speech_start_s"] is not None:
            s0 = int(row["speech_start_s"] * SAMPLE_RATE)
            row["agent_overlap"] = active_between(self.line.agent.view(), s0, reference)
            row["agent_took_over"] = self.replies.took_over(turn, s0 - turn.speech_start, reference)

    async def _act(self, row: TurnRow, turn: PlannedTurn) -> int:
        """Say, stay silent or wait as `turn` plans; return the sample its reply's
        latency is measured from."""
        if turn.kind in ("say", "backchannel"):
            return await self._speak(row, turn)
        if turn.kind == "silence":
            reference = max(self.line.caller.length, self.line.sent)
            silent = ms_samples(turn.silence_ms)
            row["silence_s"] = [seconds(reference), seconds(reference + silent)]
            await self.line.sleep_samples(silent)
            return reference
        # Waiting for the agent to speak first (a greeting): measured from
        # where the previous turn ended, the call start for the first turn.
        return self._last_turn_end

    async def _speak(self, row: TurnRow, turn: PlannedTurn) -> int:
        """Say `turn` (at its moment in the agent's reply, if it acts in one) and wait
        until it has been sent; return where its speech ends."""
        start = max(self.line.caller.length, self.line.sent)
        if turn.in_reply:
            start = self.replies.place_in_reply(row, turn)
        self.line.write_caller(start, turn.pcm)
        place_speech(row, turn, start)
        await self.line.wait_sent(start + len(turn.pcm))
        if turn.kind == "backchannel":
            speech_start = start + turn.speech_start
            row["agent_speaking_at_action"] = active_between(
                self.line.agent.view(), speech_start - 1600, speech_start + 1600
            )
            await self.replies.await_reply_end(row, turn)
        return start + turn.speech_end

    # -- the surface a goal-driven caller drives (simulator/conversation/driver.py) --
    @property
    def rows(self) -> list[TurnRow]:
        """Turn rows finished so far, in order."""
        return self.turn_rows.rows

    @property
    def sent_samples(self) -> int:
        """Caller samples already sent to the agent."""
        return self.line.sent

    @property
    def agent_cursor(self) -> int:
        """Where agent audio received so far ends on the caller's timeline (playout)."""
        return self.line.agent_cursor

    @property
    def last_turn_end(self) -> int:
        """Caller-timeline sample where the scripted plan's last turn ended."""
        return self._last_turn_end

    def now_samples(self) -> int:
        """The call timeline's current sample."""
        return self.line.now_samples()

    async def wait_progress(self) -> None:
        """Wake on the next sent frame or received message (at most 50 ms)."""
        await self.line.wait_progress()

    async def wait_sent(self, sample: int) -> None:
        """Return once caller audio up to `sample` has been sent."""
        await self.line.wait_sent(sample)

    def begin_row(self, kind: TurnKind, turn: PlannedTurn | None = None) -> TurnRow:
        """Open the next turn row (it receives the agent's events until finished)."""
        index = len(self.turn_rows.rows)
        turn = PlannedTurn(index=index, kind=kind) if turn is None else turn
        return self.turn_rows.open(turn, number=index)

    def place(self, turn: PlannedTurn, pos: int) -> int:
        """Write a rendered line into the caller's audio at sample `pos` (>= what was sent);
        fill the current row's speech bounds; return where it was placed."""
        pos = max(pos, self.line.sent)
        self.line.write_caller(pos, turn.pcm)
        row = self.turn_rows.current
        if row is not None and turn.kind == "say":
            place_speech(row, turn, pos)
        return pos

    def finish_turn(self, row: TurnRow) -> None:
        """Close a row opened with `begin_row`: WER, then streamed to the run directory."""
        self.turn_rows.finish(row)
        self._last_turn_end = max(self.line.caller.length, self.line.sent)


def _describe(exc: BaseException) -> str:
    return exc.one_line() if isinstance(exc, AgentError) else repr(exc)
