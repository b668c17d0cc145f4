"""A caller whose line reconnects after a drop, like a telephony media stream.

Scenario `caller.reconnect: {attempts: 3, backoff_ms: 200}` (off by default):
when the link to the agent drops without a hang-up (the agent's process
died, a balancer lost the connection), the caller opens a new connection to
the same URL and sends the same `start` (same call id), up to `attempts`
times, `backoff_ms` apart; a fleet then routes it to a live instance, which
resumes the call from its state in Redis (docs/fleet.md). The call's clock
never stops: caller audio sent while the line is down is lost, as on a
phone. A clean close by the agent (a hang-up) is not a drop.

The transport yields a `link_dropped` and a `reconnected` event into the
call's events, so the call row says how often and for how long the line
was down (`link_fields`); the agent's `session` events (which instance took
the call, whether it resumed) are summarised there too.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from simulator.audio import Pcm
from simulator.errors import ProtocolError, TransportError
from simulator.rows import CallRow
from simulator.scenario import Reconnect
from simulator.transports.base import EventIn, Incoming, StartInfo, Transport


class ReconnectingTransport(Transport):
    """Wraps a transport; after a drop, reconnects with the same start (see the module doc)."""

    def __init__(self, inner: Transport, policy: Reconnect) -> None:
        self.inner = inner
        self.policy = policy
        self._start: StartInfo | None = None
        self._down = False
        self._closing = False
        self.frames_lost = 0

    async def connect(self, start: StartInfo) -> None:
        self._start = start
        await self.inner.connect(start)

    async def send_audio(self, pcm: Pcm) -> None:
        await self._send(self.inner.send_audio, pcm)

    async def send_event(self, event: dict[str, Any]) -> None:
        await self._send(self.inner.send_event, event)

    async def _send(self, send: Any, item: Any) -> None:
        if self._down:
            self.frames_lost += 1
            return
        try:
            await send(item)
        except TransportError:
            self._down = True  # the receiving side notices the drop and reconnects
            self.frames_lost += 1

    async def receive(self) -> AsyncIterator[Incoming]:
        loop = asyncio.get_running_loop()
        while True:
            failure: TransportError | None = None
            try:
                async for item in self.inner.receive():
                    yield item
                if not getattr(self.inner, "dropped", False):
                    return  # the agent hung up
            except ProtocolError:
                raise
            except TransportError as exc:
                failure = exc
            if self._closing:
                return
            self._down = True
            dropped_at = loop.time()
            yield EventIn({"type": "link_dropped", "error": str(failure or "")}, dropped_at)
            attempt = await self._reconnect()
            if attempt is None:
                raise failure or TransportError(
                    f"link dropped; {self.policy.attempts} reconnect attempt(s) failed",
                    where=self._start.call_id if self._start else "",
                )
            now = loop.time()
            event = {
                "type": "reconnected",
                "attempt": attempt,
                "down_ms": round((now - dropped_at) * 1000, 1),
            }
            yield EventIn(event, now)

    async def _reconnect(self) -> int | None:
        """The attempt that connected again, or None after `attempts` failures."""
        assert self._start is not None
        for attempt in range(1, self.policy.attempts + 1):
            await asyncio.sleep(self.policy.backoff_ms / 1000)
            if self._closing:
                return None
            fresh = self.inner.fresh() if hasattr(self.inner, "fresh") else None
            if fresh is None:
                return None
            try:
                await fresh.connect(self._start)
            except TransportError:
                continue
            old, self.inner = self.inner, fresh
            await old.close()
            self._down = False
            return attempt
        return None

    async def close(self) -> None:
        self._closing = True
        await self.inner.close()


def reconnecting(transport: Transport, policy: Reconnect | None) -> Transport:
    """`transport` wrapped to reconnect after drops, when the caller's policy says so
    and the transport can (the native WebSocket); else `transport` itself."""
    if policy is None or policy.attempts < 1 or not hasattr(transport, "fresh"):
        return transport
    return ReconnectingTransport(transport, policy)


def link_fields(events: list[dict[str, Any]]) -> CallRow:
    """What a call row says about its line: drops, reconnections (and how long the line
    was down), and the agent instances that served it (from their `session` events)."""
    sessions = [e for e in events if e.get("type") == "session"]
    drops = [e for e in events if e.get("type") == "link_dropped"]
    back = [e for e in events if e.get("type") == "reconnected"]
    if not (sessions or drops):
        return {}
    return {
        "link_drops": len(drops),
        "reconnects": len(back),
        "reconnect_down_ms": [e.get("down_ms") for e in back],
        "agent_instances": [str(e.get("instance") or "") for e in sessions],
        "resumed": any(bool(e.get("resumed")) for e in sessions[1:]),
        "dropped_at_s": [e.get("_at_s") for e in drops],
    }
