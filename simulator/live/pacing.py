"""The call's line on one clock: caller frames paced out in real time, agent audio placed in.

Timeline: t0 is the loop's monotonic time when the call starts. Caller sample
n is "spoken" at t0 + n/16000; frame k (samples [320k, 320k+320)) leaves when
it has been fully spoken, at t0 + (k+1)*20 ms, always computed from t0, never
after a sleep, so pacing does not drift. Agent audio is placed on the same
timeline where the caller would hear it: at its arrival time, or right after
the previous agent audio if it arrived early (a playout buffer). Latency is
then a difference of two sample indices on one clock.

Apart from the plan and the turn rows because this is the only code that talks
to the transport while the call runs, once per 20 ms frame each way (its cost
per frame is what benchmarks/harness_capacity.py measures); the rest of the
session reads the two tracks and waits on the line's progress.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, overload

import numpy as np

from simulator.audio import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, Pcm
from simulator.errors import ProtocolError, TransportError
from simulator.live.plan import SessionOptions
from simulator.track import Track
from simulator.transports.base import AudioIn, Transport


@overload
def seconds(samples: int) -> float: ...
@overload
def seconds(samples: int | None) -> float | None: ...
def seconds(samples: int | None) -> float | None:
    """A caller-timeline sample index in seconds from t0 (None stays None)."""
    return None if samples is None else samples / SAMPLE_RATE


def ms_samples(ms: float) -> int:
    """How many samples `ms` milliseconds last on the call's timeline."""
    return int(ms * SAMPLE_RATE / 1000)


class Progress:
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


class Line:
    """Both directions of one call, recorded on the caller's timeline (sample 0 at `t0`).

    `send_loop` and `receive_loop` run as tasks for the whole call; each agent
    event goes to `on_event` (the turn rows) after it is recorded in `events`.
    """

    def __init__(
        self,
        transport: Transport,
        call_id: str,
        options: SessionOptions,
        background: Pcm | None,
        on_event: Callable[[dict[str, Any]], None],
    ) -> None:
        self.transport = transport
        self.call_id = call_id
        self.opt = options
        #: Caller-side background noise looped under everything the caller sends
        #: outside its turns' own audio (which already carries its noise).
        self.background = background if background is not None and len(background) else None
        self._covered: list[tuple[int, int]] = []  # caller-timeline spans of turn audio
        self._on_event = on_event
        self.caller = Track()
        self.agent = Track()
        self.events: list[dict[str, Any]] = []
        #: The event loop's monotonic time of call sample 0 (set when the call starts).
        self.t0 = 0.0
        self.sent = 0  # caller samples already sent
        self.agent_cursor = 0  # playout position after the last agent frame
        self.max_late = 0.0  # the latest a caller frame went out after it was due, in s
        self.hung_up = False  # the agent closed the connection
        self._progress = Progress()

    # -- waiting on the line ----------------------------------------------
    def now_samples(self) -> int:
        """The call timeline's current sample."""
        return int((asyncio.get_running_loop().time() - self.t0) * SAMPLE_RATE)

    async def wait_progress(self) -> None:
        """Wake on the next sent frame or received message (at most 50 ms)."""
        await self._progress.wait(0.05)

    async def wait_sent(self, sample: int) -> None:
        """Return once caller audio up to `sample` has been sent."""
        while self.sent < sample:
            await self.wait_progress()

    async def sleep_samples(self, n: int) -> None:
        """Let `n` samples of the caller's line go out after what it has sent or planned."""
        await self.wait_sent(max(self.sent, self.caller.length) + n)

    def write_caller(self, pos: int, pcm: Pcm) -> None:
        """Put turn audio on the caller's track at sample `pos` (no noise bed under it)."""
        self.caller.write(pos, pcm)
        self._covered.append((pos, pos + len(pcm)))

    # -- caller -> agent ----------------------------------------------------
    async def send_loop(self) -> None:
        """Send caller frame k at t0 + (k+1) * 20 ms, for as long as the call runs."""
        loop = asyncio.get_running_loop()
        k = 0
        while True:
            due = self.t0 + (k + 1) * FRAME_SECONDS
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            # After the sleep: a timer that fires late (a busy loop or box) makes
            # the frame late too, even when it is not a whole frame late.
            self.max_late = max(self.max_late, loop.time() - due)
            frame = self.caller.read(k * FRAME_SAMPLES, FRAME_SAMPLES)
            if self.background is not None:
                frame = self._with_background(k * FRAME_SAMPLES, frame)
            await self.transport.send_audio(frame)
            k += 1
            self.sent = k * FRAME_SAMPLES
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

    # -- agent -> caller ----------------------------------------------------
    async def receive_loop(self) -> None:
        """Place agent audio and record agent events until the agent closes (an error)."""
        async for item in self.transport.receive():
            if isinstance(item, AudioIn):
                self._place_agent_audio(item)
            else:
                event = dict(item.event)
                if event.get("type") == "metrics" and "stages" in event:
                    event["stages"] = checked_stages(event["stages"], self.call_id)
                event["_at_s"] = item.at - self.t0
                self.events.append(event)
                if event.get("type") == "clear":
                    self.drop_queued_agent_audio(item.at)
                self._on_event(event)
            self._progress.set()
        self.hung_up = True
        raise TransportError("agent closed the connection", where=self.call_id)

    def _place_agent_audio(self, item: AudioIn) -> None:
        """Where the caller hears it: on arrival, or after the audio queued before it."""
        arrival = int(round((item.at - self.t0) * SAMPLE_RATE))
        pos = max(arrival, self.agent_cursor)
        ahead_ms = (pos + len(item.pcm) - arrival) * 1000 // SAMPLE_RATE
        if ahead_ms > self.opt.max_buffered_ms:
            raise ProtocolError(
                f"agent audio {ahead_ms / 1000:.0f} s ahead of real time: more than "
                f"the {self.opt.max_buffered_ms / 1000:g} s the caller buffers",
                where=self.call_id,
                fix="send audio at about real time (a reply may run ahead a little)",
            )
        self.agent.write(pos, item.pcm)
        self.agent_cursor = pos + len(item.pcm)

    def drop_queued_agent_audio(self, at: float) -> int:
        """The agent's `clear`: silence agent audio not yet played out at `at`; return samples.

        Audio that arrived early waits in the playout buffer (placed after the
        cursor); a real phone drops it on `clear`, so the caller never hears it.
        """
        now = max(0, int(round((at - self.t0) * SAMPLE_RATE)))
        dropped = max(0, self.agent_cursor - now)
        if dropped:
            self.agent.write(now, np.zeros(dropped, dtype=np.int16))
            self.agent_cursor = now
        return dropped


def checked_stages(stages: Any, where: str) -> dict[str, float]:
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
