"""In-process transport: the agent runs as a task on the same loop, linked by queues.

Used by tests and by agents embedded in Python; no sockets, no encoding, so
what it measures is the session and the agent alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from simulator.audio import Pcm
from simulator.errors import TransportError
from simulator.transports.base import (
    AgentHandler,
    AgentLink,
    AudioIn,
    EventIn,
    Incoming,
    StartInfo,
    Transport,
)

_HANGUP = None


class _QueueLink:
    def __init__(self, inbox: asyncio.Queue[Any], outbox: asyncio.Queue[Any]) -> None:
        self._inbox = inbox
        self._outbox = outbox

    async def recv(self) -> Pcm | dict[str, Any] | None:
        item: Pcm | dict[str, Any] | None = await self._inbox.get()
        return item

    # What the agent sends carries the moment it was sent: with no network in
    # between, that is when it reaches the caller, however late the caller's
    # loop gets to it (a busy box must not add to the agent's measured latency).
    async def send_audio(self, pcm: Pcm) -> None:
        await self._outbox.put(_Sent(pcm.copy(), asyncio.get_running_loop().time()))

    async def send_event(self, event: dict[str, Any]) -> None:
        await self._outbox.put(_Sent(dict(event), asyncio.get_running_loop().time()))


@dataclass(frozen=True)
class _Sent:
    """An item from the agent and the loop time it was sent."""

    item: Pcm | dict[str, Any]
    at: float


class InProcessTransport(Transport):
    """Runs `handler(link)` as a task and exchanges frames through asyncio queues."""

    def __init__(self, handler: AgentHandler) -> None:
        self._handler = handler
        self._to_agent: asyncio.Queue[Any] = asyncio.Queue()
        self._to_caller: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def connect(self, start: StartInfo) -> None:
        link = _QueueLink(self._to_agent, self._to_caller)
        self._task = asyncio.create_task(self._run(link), name=f"agent-{start.call_id}")
        await self._to_agent.put(start.event())

    async def _run(self, link: AgentLink) -> None:
        try:
            await self._handler(link)
        finally:
            await self._to_caller.put(_HANGUP)

    async def send_audio(self, pcm: Pcm) -> None:
        if self._closed:
            raise TransportError("send after close", where="inprocess transport")
        await self._to_agent.put(pcm.copy())

    async def send_event(self, event: dict[str, Any]) -> None:
        await self._to_agent.put(dict(event))

    async def receive(self) -> AsyncIterator[Incoming]:
        while True:
            sent = await self._to_caller.get()
            if sent is _HANGUP:
                if self._task is not None and self._task.done() and self._task.exception():
                    exc = self._task.exception()
                    raise TransportError(f"agent task failed: {exc!r}", where="inprocess agent")
                return
            if isinstance(sent.item, dict):
                yield EventIn(sent.item, sent.at)
            else:
                yield AudioIn(sent.item, sent.at)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._to_agent.put({"type": "stop"})
        await self._to_agent.put(_HANGUP)
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=5)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
            except Exception:  # noqa: BLE001 - surfaced through receive()
                pass
