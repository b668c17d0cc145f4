"""The line's send loop: how late a caller frame left is what the call row says."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from simulator.audio import FRAME_SECONDS, Pcm
from simulator.live.pacing import Line
from simulator.live.plan import SessionOptions
from simulator.transports.base import Incoming, StartInfo, Transport


class SendTimes(Transport):
    """Records when each caller frame was handed to the transport; nothing else."""

    reliable = True

    def __init__(self, frames: int) -> None:
        self.sent: list[float] = []
        self.frames = frames
        self.done = asyncio.Event()

    async def connect(self, start: StartInfo) -> None:
        return None

    async def send_audio(self, pcm: Pcm) -> None:
        self.sent.append(asyncio.get_running_loop().time())
        if len(self.sent) >= self.frames:
            self.done.set()

    async def send_event(self, event: dict[str, Any]) -> None:
        return None

    async def receive(self) -> AsyncIterator[Incoming]:
        await asyncio.Event().wait()
        yield  # type: ignore[misc]

    async def close(self) -> None:
        return None


async def test_a_frame_late_by_less_than_a_frame_is_counted() -> None:
    """The loop is blocked from 15 ms before frame 4 is due until 5 ms after
    (20 ms in all): frame 4 leaves ~5 ms late, and the next frame is on time
    again. The lateness is the sleep's overshoot, which a check made only
    before sleeping never sees."""
    loop = asyncio.get_running_loop()
    transport = SendTimes(frames=8)
    line = Line(transport, "late", SessionOptions(), None, lambda _e: None)
    line.t0 = loop.time()
    due = line.t0 + 4 * FRAME_SECONDS
    loop.call_at(due - 0.015, time.sleep, 0.020)
    task = asyncio.create_task(line.send_loop())
    await asyncio.wait_for(transport.done.wait(), 5.0)
    task.cancel()
    late = max(t - (line.t0 + (k + 1) * FRAME_SECONDS) for k, t in enumerate(transport.sent))
    assert late >= 0.004  # frame 4 (at least)
    assert line.max_late >= late - 0.0005  # the row says so (to the frame read after it)
