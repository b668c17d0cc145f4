"""The agent's mouth: queued sentences sent at real time, pausable and cuttable.

Pacing at real time (20 ms per frame, like a phone line) keeps the caller's
playout buffer near empty, so stopping here stops what the caller hears
within a frame, which is what makes barge-in fast. The player also keeps the
history honest: each sentence is added to its assistant message only as it
is played, and a cut adds only the words already sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from opentelemetry.trace import Span

from reference_agent.pipeline.tracing import CallTracer
from simulator.audio import FRAME_SECONDS, Pcm, frames
from simulator.transports.base import AgentLink


@dataclass
class _Item:
    pcm: Pcm
    sentence: str
    message: dict[str, Any]
    frames: int
    parent: Span | None = None
    sent: int = 0


def _append(message: dict[str, Any], text: str) -> None:
    message["content"] = f"{message.get('content') or ''} {text}".strip()


class Player:
    """Plays one call's speech; `pause`/`resume` hold it, `cut` drops it (barge-in).

    `stall` = (after_ms, stall_ms): the TTS-stall fault; the first sentence of
    each assistant message stops for `stall_ms` once `after_ms` of it played.
    """

    def __init__(self, link: AgentLink) -> None:
        self.link = link
        self.last_audio_at = 0.0  # perf_counter of the last frame sent
        self._queue: deque[_Item] = deque()
        self._wake = asyncio.Event()
        self._go = asyncio.Event()
        self._go.set()
        self._idle = asyncio.Event()
        self._current: _Item | None = None
        self._task: asyncio.Task[None] | None = None
        self._stall: tuple[float, float] | None = None
        self._stalled: set[int] = set()
        self.tracer: CallTracer | None = None

    @property
    def speaking(self) -> bool:
        """True while a sentence is playing, paused or queued."""
        return self._current is not None or bool(self._queue)

    def start(self, stall: tuple[float, float] | None = None) -> None:
        """Start the playing task."""
        self._stall = stall
        self._task = asyncio.create_task(self._run(), name="agent-player")

    async def enqueue(
        self, pcm: Pcm, sentence: str, message: dict[str, Any], parent: Span | None = None
    ) -> None:
        """Queue one sentence's audio; `message` is the assistant turn it belongs to."""
        n = max(1, len(frames(pcm)))
        self._queue.append(_Item(pcm, sentence, message, frames=n, parent=parent))
        self._wake.set()

    def pause(self) -> None:
        """Stop sending at the next frame boundary (caller may be barging in)."""
        self._go.clear()

    def resume(self) -> None:
        """Carry on where `pause` stopped (it was only a backchannel)."""
        self._go.set()

    async def cut(self) -> None:
        """Drop everything not yet sent; the history keeps only the words that were."""
        self._queue.clear()
        item = self._current
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if item is not None:
            words = item.sentence.split()
            heard = words[: round(len(words) * item.sent / item.frames)]
            if heard:
                _append(item.message, " ".join(heard))
        self._current = None
        self._idle.set()
        self._go.set()
        self._task = asyncio.create_task(self._run(), name="agent-player")

    async def drain(self) -> None:
        """Wait until everything queued has been played."""
        while self.speaking:
            self._idle.clear()
            await self._idle.wait()

    async def stop(self) -> None:
        """Stop playing (the call ended)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    async def _run(self) -> None:
        while True:
            while not self._queue:
                self._wake.clear()
                await self._wake.wait()
            item = self._queue.popleft()
            self._current = item
            span = self.tracer.start("playback", parent=item.parent) if self.tracer else None
            try:
                await self._play(item)
            finally:
                if span is not None:
                    span.set_attribute("playback.frames", item.sent)
                    span.set_attribute("playback.interrupted", item.sent < item.frames)
                    span.end()
            _append(item.message, item.sentence)
            self._current = None
            self._idle.set()

    async def _play(self, item: _Item) -> None:
        loop = asyncio.get_running_loop()
        await self.link.send_event(
            {"type": "transcript", "role": "assistant", "text": item.sentence}
        )
        chunks = frames(item.pcm)
        stall_at: int | None = None
        if self._stall is not None and id(item.message) not in self._stalled:
            self._stalled.add(id(item.message))
            stall_at = min(len(chunks) - 1, int(self._stall[0] / 1000 / FRAME_SECONDS))
        t0 = loop.time()
        k = 0
        while k < len(chunks):
            if not self._go.is_set():
                await self._go.wait()
                t0 = loop.time() - k * FRAME_SECONDS
            if k == stall_at and self._stall is not None:
                stall_at = None
                await asyncio.sleep(self._stall[1] / 1000)
                t0 += self._stall[1] / 1000
            delay = t0 + k * FRAME_SECONDS - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if not self._go.is_set():
                continue
            await self.link.send_audio(chunks[k])
            k += 1
            item.sent = k
            self.last_audio_at = time.perf_counter()
