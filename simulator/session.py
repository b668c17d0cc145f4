"""Drive one call: pace caller frames in real time, listen full duplex, run the plan.

Timeline: t0 is the loop's monotonic time when the call starts. Caller sample
n is "spoken" at t0 + n/16000; frame k (samples [320k, 320k+320)) leaves when
it has been fully spoken, at t0 + (k+1)*20 ms, always computed from t0, never
after a sleep, so pacing does not drift. Agent audio is placed on the same
timeline where the caller would hear it: at its arrival time, or right after
the previous agent audio if it arrived early (a playout buffer). Latency is
then a difference of two sample indices on one clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np

from simulator.audio import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, SPEECH_THRESHOLD, Pcm
from simulator.errors import AgentError, ProtocolError, TransportError
from simulator.metrics.latency import (
    MIN_PRECEDING_SILENCE,
    active_between,
    find_reply_onset,
    latency_ms,
)
from simulator.metrics.wer import score, score_intended
from simulator.rows import TurnRow
from simulator.track import Track
from simulator.transports.base import AudioIn, StartInfo, Transport

if TYPE_CHECKING:
    from simulator.conversation.driver import GoalCaller

#: How long a failed send waits for the receiver to say why the link failed.
RECEIVER_GRACE_S = 2.0

TurnKind = Literal["say", "silence", "wait", "backchannel", "hangup"]


@dataclass(frozen=True)
class PlannedTurn:
    """One rendered step of the caller's plan; speech bounds are indices into `pcm`."""

    index: int
    kind: TurnKind
    text: str | None = None
    pcm: Pcm = field(default_factory=lambda: np.zeros(0, dtype=np.int16))
    speech_start: int = 0
    speech_end: int = 0
    silence_ms: int = 0
    waits_for_reply: bool = False
    reply_timeout_ms: int = 10_000
    #: What was actually said (disfluencies included); `text` is what was meant.
    spoken_text: str | None = None
    #: Planned silences inside the speech, (start, end) indices into `pcm`.
    pauses: tuple[tuple[int, int], ...] = ()
    #: Per-stage measurements of the render (e.g. snr_db), copied into the turn row.
    notes: dict[str, float] = field(default_factory=dict)
    #: Dynamics: act this many ms into the agent's reply to the previous turn
    #: (a barge-in `say`, a `backchannel`, or a `hangup`).
    at_ms: int | None = None
    #: Filler words this caller may say; removed from the transcript before WER.
    fillers: tuple[str, ...] = ()

    @property
    def in_reply(self) -> bool:
        """True when this turn acts during the agent's reply to the previous turn."""
        return self.at_ms is not None


class _Progress:
    """Something happened, for the plan's waits: a frame went out or a message came in.

    Each caller waits on it ~twice per 20 ms frame, so it is cheap: one future and one
    timer per wait (asyncio.wait_for on an Event made a Task per wait, the largest
    Python-side cost per frame of a call under load; benchmarks/harness_capacity.py).
    """

    def __init__(self) -> None:
        self._waiters: list[asyncio.Future[None]] = []

    def set(self) -> None:
        """Wake every current waiter."""
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters.clear()

    async def wait(self, at_most_s: float) -> None:
        """Until the next `set` or `at_most_s` seconds, whichever comes first."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[None] = loop.create_future()
        self._waiters.append(fut)
        timer = loop.call_later(at_most_s, _wake, fut)
        try:
            await fut
        finally:
            timer.cancel()


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


@dataclass(frozen=True)
class SessionOptions:
    """Timing knobs of the caller's behaviour."""

    lead_in_ms: int = 200  # silence on the line before the plan starts
    reply_gap_ms: int = 900  # agent silence that ends its reply
    think_ms: int = 300  # caller's pause after the agent's reply, before the next turn
    hangup_grace_ms: int = 200
    #: A reply still going this long after the turn's reply timeout is cut short (a row
    #: error); an agent that never stops talking cannot hold the call forever.
    max_reply_ms: int = 60_000
    #: Agent audio queued ahead of real time beyond this ends the call (a protocol
    #: error): an agent flooding audio cannot exhaust the harness's memory.
    max_buffered_ms: int = 120_000


@dataclass
class CallRecord:
    """Everything one call produced, measured at the caller side."""

    call_id: str
    turns: list[TurnRow]
    caller: Pcm
    agent: Pcm
    events: list[dict[str, Any]]
    error: str | None
    started_at: float
    duration_s: float
    max_send_lateness_ms: float
    #: How a goal-driven caller's conversation went (None for scripted calls).
    conversation: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the call ran its whole plan without an agent or transport failure."""
        return self.error is None


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
        #: Caller-side background noise looped under everything the caller sends
        #: outside its turns' own audio (which already carries its noise).
        self.background = background if background is not None and len(background) else None
        self._covered: list[tuple[int, int]] = []  # caller-timeline spans of turn audio
        self.turns = turns
        self.start = start
        self.scenario = scenario
        self.opt = options or SessionOptions()
        self.on_turn = on_turn
        self.caller = Track()
        self.agent = Track()
        self.events: list[dict[str, Any]] = []
        self._t0 = 0.0
        self._sent = 0  # caller samples already sent
        self._agent_cursor = 0  # playout position after the last agent frame
        self._progress = _Progress()
        self._hung_up = False
        self._max_late = 0.0
        self._current: TurnRow | None = None
        self._rows: list[TurnRow] = []
        self._pending: list[dict[str, Any]] = []
        self._last_turn_end = 0  # caller-timeline sample where the previous turn finished
        self._reply_onset: int | None = None  # onset of the agent reply last waited for
        self._fillers: dict[int, tuple[str, ...]] = {}

    @property
    def t0(self) -> float:
        """The event loop's monotonic time of call sample 0 (set when the call starts)."""
        return self._t0

    # -- timeline helpers -------------------------------------------------
    def _now_samples(self) -> int:
        return int((asyncio.get_running_loop().time() - self._t0) * SAMPLE_RATE)

    @overload
    def _s(self, samples: int) -> float: ...
    @overload
    def _s(self, samples: int | None) -> float | None: ...
    def _s(self, samples: int | None) -> float | None:
        return None if samples is None else samples / SAMPLE_RATE

    async def _wait_progress(self) -> None:
        """Wake on the next sent frame or received message (at most 50 ms)."""
        await self._progress.wait(0.05)

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
        self._t0 = loop.time()
        sender = asyncio.create_task(self._send_loop(), name=f"send-{self.start.call_id}")
        receiver = asyncio.create_task(self._receive_loop(), name=f"recv-{self.start.call_id}")
        plan = asyncio.create_task(self._run_plan(), name=f"plan-{self.start.call_id}")
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
        return self._record(error, wall_start, loop.time() - self._t0)

    def _caller_was_done(self) -> bool:
        """True when a goal-driven caller had its outcome (e.g. after the agent's goodbye)."""
        return self.conversation is not None and self.conversation.outcome is not None

    def _record(self, error: str | None, wall_start: float, duration: float) -> CallRecord:
        if self.conversation is not None:
            if self._current is not None:
                self._finish_row(self._current)  # a line cut short by the agent hanging up
            if self.conversation.outcome is None and self.conversation.ended_by == "":
                self.conversation.ended_by = "agent" if error else "call"
        return CallRecord(
            call_id=self.start.call_id,
            turns=list(self._rows),
            caller=self.caller.array(),
            agent=self.agent.array(),
            events=self.events,
            error=error,
            started_at=wall_start,
            duration_s=duration,
            max_send_lateness_ms=self._max_late * 1000,
            conversation=self.conversation.summary() if self.conversation else None,
        )

    async def _send_loop(self) -> None:
        loop = asyncio.get_running_loop()
        k = 0
        while True:
            due = self._t0 + (k + 1) * FRAME_SECONDS
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                self._max_late = max(self._max_late, -delay)
            frame = self.caller.read(k * FRAME_SAMPLES, FRAME_SAMPLES)
            if self.background is not None:
                frame = self._with_background(k * FRAME_SAMPLES, frame)
            await self.transport.send_audio(frame)
            k += 1
            self._sent = k * FRAME_SAMPLES
            self._progress.set()

    def _with_background(self, pos: int, frame: Pcm) -> Pcm:
        """Fill the samples of `frame` no turn covers with the looped noise bed (and record it)."""
        assert self.background is not None
        n = len(frame)
        free = np.ones(n, dtype=bool)
        for a, b in reversed(self._covered):
            if b <= pos:
                break
            free[max(0, a - pos) : max(0, min(n, b - pos))] = False
        if not free.any():
            return frame
        idx = (np.arange(pos, pos + n) % len(self.background))[free]
        out = frame.copy()
        out[free] = self.background[idx]
        self.caller.write(pos, out)
        return out

    async def _receive_loop(self) -> None:
        async for item in self.transport.receive():
            if isinstance(item, AudioIn):
                arrival = int(round((item.at - self._t0) * SAMPLE_RATE))
                pos = max(arrival, self._agent_cursor)
                ahead_ms = (pos + len(item.pcm) - arrival) * 1000 // SAMPLE_RATE
                if ahead_ms > self.opt.max_buffered_ms:
                    raise ProtocolError(
                        f"agent audio {ahead_ms / 1000:.0f} s ahead of real time: more than "
                        f"the {self.opt.max_buffered_ms / 1000:g} s the caller buffers",
                        where=self.start.call_id,
                        fix="send audio at about real time (a reply may run ahead a little)",
                    )
                self.agent.write(pos, item.pcm)
                self._agent_cursor = pos + len(item.pcm)
            else:
                event = dict(item.event)
                if event.get("type") == "metrics" and "stages" in event:
                    event["stages"] = _stages(event["stages"], self.start.call_id)
                event["_at_s"] = item.at - self._t0
                self.events.append(event)
                if event.get("type") == "clear":
                    self.drop_queued_agent_audio(item.at)
                self._apply_event(event)
            self._progress.set()
        self._hung_up = True
        raise TransportError("agent closed the connection", where=self.start.call_id)

    def drop_queued_agent_audio(self, at: float) -> int:
        """The agent's `clear`: silence agent audio not yet played out at `at`; return samples.

        Audio that arrived early waits in the playout buffer (placed after the
        cursor); a real phone drops it on `clear`, so the caller never hears it.
        """
        now = max(0, int(round((at - self._t0) * SAMPLE_RATE)))
        dropped = max(0, self._agent_cursor - now)
        if dropped:
            self.agent.write(now, np.zeros(dropped, dtype=np.int16))
            self._agent_cursor = now
        return dropped

    def _apply_event(self, event: dict[str, Any]) -> None:
        row = self._current
        if row is None:
            # Between turns (e.g. a greeting before the first one): keep it for the next row.
            self._pending.append(event)
            return
        kind = event.get("type")
        if kind == "transcript" and event.get("final", True):
            key: Literal["agent_heard_text", "agent_reply_text"] = (
                "agent_heard_text" if event.get("role") == "user" else "agent_reply_text"
            )
            text = str(event.get("text", "")).strip()
            row[key] = f"{row[key]} {text}".strip() if row.get(key) else text
        elif kind == "metrics" and isinstance(event.get("stages"), dict):
            row["stages"] = _stages(event["stages"], self.start.call_id)
        elif kind == "error":
            row["error"] = str(event.get("message", "agent error"))

    async def _run_plan(self) -> None:
        await self._sleep_samples(int(self.opt.lead_in_ms * SAMPLE_RATE / 1000))
        for i, turn in enumerate(self.turns):
            nxt = self.turns[i + 1] if i + 1 < len(self.turns) else None
            row = self._new_row(turn)
            self._current = row
            pending, self._pending = self._pending, []
            for event in pending:
                self._apply_event(event)
            if turn.kind == "hangup":
                await self._hang_up(row, turn)
                self._finish_row(row)
                return
            if turn.kind in ("say", "backchannel"):
                start = max(self.caller.length, self._sent)
                if turn.in_reply:
                    start = self._place_in_reply(row, turn)
                self.caller.write(start, turn.pcm)
                self._covered.append((start, start + len(turn.pcm)))
                speech_start = start + turn.speech_start
                speech_end = start + turn.speech_end
                row["speech_start_s"] = self._s(speech_start)
                row["speech_end_s"] = self._s(speech_end)
                row["pauses_s"] = [[self._s(start + a), self._s(start + b)] for a, b in turn.pauses]
                while self._sent < start + len(turn.pcm):
                    await self._wait_progress()
                reference = speech_end
                if turn.kind == "backchannel":
                    row["agent_speaking_at_action"] = active_between(
                        self.agent.view(), speech_start - 1600, speech_start + 1600
                    )
                    await self._await_reply_end(row, turn)
            elif turn.kind == "silence":
                reference = max(self.caller.length, self._sent)
                silent = int(turn.silence_ms * SAMPLE_RATE / 1000)
                row["silence_s"] = [self._s(reference), self._s(reference + silent)]
                await self._sleep_samples(silent)
            else:
                # Waiting for the agent to speak first (a greeting): measured from
                # where the previous turn ended, the call start for the first turn.
                reference = self._last_turn_end
            if turn.waits_for_reply:
                onset_only = nxt is not None and nxt.in_reply
                await self._await_reply(row, reference, turn, onset_only=onset_only)
                if not onset_only:
                    await self._sleep_samples(int(self.opt.think_ms * SAMPLE_RATE / 1000))
            else:
                row["latency_ms"] = None
            if turn.kind == "say" and row["speech_start_s"] is not None:
                s0 = int(row["speech_start_s"] * SAMPLE_RATE)
                row["agent_overlap"] = active_between(self.agent.view(), s0, reference)
                row["agent_took_over"] = self._took_over(turn, s0 - turn.speech_start, reference)
            self._finish_row(row)
            self._last_turn_end = max(self.caller.length, self._sent)
        if self.conversation is not None:
            await self.conversation.run(self)
        await self._sleep_samples(int(self.opt.hangup_grace_ms * SAMPLE_RATE / 1000))

    # -- the surface a goal-driven caller drives (simulator/conversation/driver.py) --
    @property
    def rows(self) -> list[TurnRow]:
        """Turn rows finished so far, in order."""
        return self._rows

    @property
    def sent_samples(self) -> int:
        """Caller samples already sent to the agent."""
        return self._sent

    @property
    def agent_cursor(self) -> int:
        """Where agent audio received so far ends on the caller's timeline (playout)."""
        return self._agent_cursor

    @property
    def last_turn_end(self) -> int:
        """Caller-timeline sample where the scripted plan's last turn ended."""
        return self._last_turn_end

    def now_samples(self) -> int:
        """The call timeline's current sample."""
        return self._now_samples()

    async def wait_progress(self) -> None:
        """Wake on the next sent frame or received message (at most 50 ms)."""
        await self._wait_progress()

    async def wait_sent(self, sample: int) -> None:
        """Return once caller audio up to `sample` has been sent."""
        while self._sent < sample:
            await self._wait_progress()

    def begin_row(self, kind: TurnKind, turn: PlannedTurn | None = None) -> TurnRow:
        """Open the next turn row (it receives the agent's events until finished)."""
        index = len(self._rows)
        turn = PlannedTurn(index=index, kind=kind) if turn is None else turn
        row = self._new_row(turn)
        row["turn"] = index
        self._fillers[index] = turn.fillers
        self._current = row
        pending, self._pending = self._pending, []
        for event in pending:
            self._apply_event(event)
        return row

    def place(self, turn: PlannedTurn, pos: int) -> int:
        """Write a rendered line into the caller's audio at sample `pos` (>= what was sent);
        fill the current row's speech bounds; return where it was placed."""
        pos = max(pos, self._sent)
        self.caller.write(pos, turn.pcm)
        self._covered.append((pos, pos + len(turn.pcm)))
        row = self._current
        if row is not None and turn.kind == "say":
            row["speech_start_s"] = self._s(pos + turn.speech_start)
            row["speech_end_s"] = self._s(pos + turn.speech_end)
            row["pauses_s"] = [[self._s(pos + a), self._s(pos + b)] for a, b in turn.pauses]
        return pos

    def finish_turn(self, row: TurnRow) -> None:
        """Close a row opened with `begin_row`: WER, then streamed to the run directory."""
        self._finish_row(row)
        self._last_turn_end = max(self.caller.length, self._sent)

    # -- conversation dynamics -------------------------------------------
    def _action_target(self, row: TurnRow, turn: PlannedTurn) -> int:
        """The caller-timeline sample `turn.at_ms` into the agent's last reply."""
        at = int(round((turn.at_ms or 0) * SAMPLE_RATE / 1000))
        if self._reply_onset is None:
            row["error"] = "no agent reply to act in; acted at once"
            return max(self.caller.length, self._sent)
        return self._reply_onset + at

    def _place_in_reply(self, row: TurnRow, turn: PlannedTurn) -> int:
        """Where to write a barge-in or backchannel so its speech starts at the target."""
        target = self._action_target(row, turn)
        pos = max(target - turn.speech_start, self._sent, self.caller.length)
        row["action"] = "barge_in" if turn.kind == "say" else "backchannel"
        row["action_planned_s"] = self._s(target)
        row["action_at_s"] = self._s(pos + turn.speech_start)
        return pos

    async def _hang_up(self, row: TurnRow, turn: PlannedTurn) -> None:
        """Stay on the line until the target sample has been sent, then end the call."""
        target = self._action_target(row, turn)
        while self._sent < target:
            await self._wait_progress()
        row["action"] = "hangup"
        row["action_planned_s"] = self._s(target)
        row["action_at_s"] = self._s(self._sent)
        row["agent_speaking_at_action"] = active_between(
            self.agent.view(), target - 1600, min(target, self.agent.length)
        )

    def _took_over(self, turn: PlannedTurn, base: int, speech_end: int) -> bool:
        """True when the agent started a reply inside one of the turn's planned pauses
        or later before the caller had finished (a false endpoint)."""
        view = self.agent.view()
        for a, _ in turn.pauses:
            onset = find_reply_onset(view, base + a)
            if onset is not None and onset < speech_end:
                return True
        return False

    async def _await_reply_end(self, row: TurnRow, turn: PlannedTurn) -> None:
        """Keep listening until the reply a backchannel was said over has ended."""
        gap = int(self.opt.reply_gap_ms * SAMPLE_RATE / 1000)
        timeout = int(turn.reply_timeout_ms * SAMPLE_RATE / 1000)
        start = self._now_samples()
        last_voice = self._reply_onset if self._reply_onset is not None else start
        while True:
            await self._wait_progress()
            view = self.agent.view()
            loud = np.flatnonzero(np.abs(view[last_voice:].astype(np.int32)) > SPEECH_THRESHOLD)
            if len(loud):
                last_voice += int(loud[-1]) + 1
            now = self._now_samples()
            if (now - last_voice >= gap and self._agent_cursor <= now) or now - start > timeout:
                break
        row["agent_end_s"] = self._s(last_voice)

    async def _sleep_samples(self, n: int) -> None:
        target = max(self._sent, self.caller.length) + n
        while self._sent < target:
            await self._wait_progress()

    async def _await_reply(
        self, row: TurnRow, reference: int, turn: PlannedTurn, onset_only: bool = False
    ) -> None:
        """Wait for the agent's reply after sample `reference`; measure its onset and end.

        With `onset_only` it returns as soon as the onset is known (the next
        turn acts during the reply), leaving the reply's end unmeasured.
        """
        self._reply_onset = None
        gap = int(self.opt.reply_gap_ms * SAMPLE_RATE / 1000)
        timeout = int(turn.reply_timeout_ms * SAMPLE_RATE / 1000)
        onset: int | None = None
        scanned = reference
        last_voice = reference
        while True:
            await self._wait_progress()
            view = self.agent.view()
            if onset is None:
                onset = find_reply_onset(view, scanned)
                # Rescan the last 150 ms next time: an onset there may still qualify.
                scanned = max(scanned, len(view) - MIN_PRECEDING_SILENCE)
                if onset is None:
                    if self._now_samples() - reference > timeout:
                        row["error"] = row.get("error") or "no reply before timeout"
                        break
                    continue
                last_voice = onset
                self._reply_onset = onset
                if onset_only:
                    break
            tail = view[last_voice:]
            loud = np.flatnonzero(np.abs(tail.astype(np.int32)) > SPEECH_THRESHOLD)
            if len(loud):
                last_voice += int(loud[-1]) + 1
            now = self._now_samples()
            if now - last_voice >= gap and self._agent_cursor <= now:
                break
            if now - reference > timeout + self.opt.max_reply_ms * SAMPLE_RATE // 1000:
                row["error"] = f"agent reply did not end within {self.opt.max_reply_ms / 1000:g} s"
                break
        row["agent_onset_s"] = self._s(onset)
        ended = onset is not None and not onset_only
        row["agent_end_s"] = self._s(last_voice) if ended else None
        row["latency_ms"] = latency_ms(reference, onset)

    def _new_row(self, turn: PlannedTurn) -> TurnRow:
        self._fillers[turn.index] = turn.fillers
        return {
            "call_id": self.start.call_id,
            "scenario": self.scenario,
            "turn": turn.index,
            "kind": turn.kind,
            "caller_text": turn.text,
            "caller_spoken_text": turn.spoken_text,
            "caller_notes": dict(turn.notes),
            "pauses_s": [],
            "silence_s": None,
            "action": None,
            "action_planned_s": None,
            "action_at_s": None,
            "agent_speaking_at_action": None,
            "agent_took_over": False,
            "speech_start_s": None,
            "speech_end_s": None,
            "agent_onset_s": None,
            "agent_end_s": None,
            "latency_ms": None,
            "agent_overlap": False,
            "agent_heard_text": None,
            "agent_reply_text": None,
            "wer": None,
            "wer_ref_words": None,
            "wer_subs": 0,
            "wer_dels": 0,
            "wer_ins": 0,
            "stages": {},
            "trace_id": self.start.traceparent.split("-")[1] if self.start.traceparent else None,
            "error": None,
        }

    def _finish_row(self, row: TurnRow) -> None:
        if row["kind"] == "say" and row["caller_text"]:
            fillers = self._fillers.get(row["turn"], ())
            heard = row["agent_heard_text"] or ""
            result = (
                score_intended(row["caller_text"], heard, fillers)
                if fillers
                else score(row["caller_text"], heard)
            )
            row.update(
                {
                    "wer": result.wer,
                    "wer_ref_words": result.ref_words,
                    "wer_subs": result.substitutions,
                    "wer_dels": result.deletions,
                    "wer_ins": result.insertions,
                }
            )
        self._current = None
        if self.on_turn is not None:
            self.on_turn(row)
        self._rows.append(row)


def _stages(stages: Any, where: str) -> dict[str, float]:
    """A `metrics` event's `stages`: a name -> finite number map (docs/protocol.md);
    anything else is the agent breaking the protocol, not a harness crash."""
    if not isinstance(stages, dict):
        raise ProtocolError(
            f"metrics.stages is a {type(stages).__name__}, not an object", where=where
        )
    out: dict[str, float] = {}
    for name, value in stages.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ProtocolError(
                f"metrics.stages.{str(name)[:40]} is {str(value)[:40]!r}, not a number of ms",
                where=where,
                fix='send stages as numbers, e.g. {"llm_ms": 210.5}',
            )
        out[str(name)] = float(value)
    return out


def _describe(exc: BaseException) -> str:
    return exc.one_line() if isinstance(exc, AgentError) else repr(exc)
