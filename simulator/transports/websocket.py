"""Native WebSocket transport (docs/protocol.md): binary PCM16LE frames, JSON text events."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from simulator.audio import Pcm, from_bytes, to_bytes
from simulator.errors import ProtocolError
from simulator.transports.base import AudioIn, EventIn, Incoming, StartInfo, Transport
from simulator.transports.wsclient import WsClient


class WebSocketTransport(Transport):
    """Caller side of the native protocol."""

    def __init__(self, url: str, connect_timeout_s: float = 10.0) -> None:
        self.url = url
        self._timeout = connect_timeout_s
        self._ws = WsClient(url, connect_timeout_s)

    async def connect(self, start: StartInfo) -> None:
        # The call id in a header: a balancer can keep a call's reconnections together.
        await self._ws.connect(headers={"X-Voxsim-Call-Id": start.call_id})
        await self.send_event(start.event())

    @property
    def dropped(self) -> bool:
        """The link ended without a WebSocket close from the agent (it died, or the network
        did) and without our own close: not a hang-up."""
        return not self._ws.closed and self._ws.close_code not in (None, 1000, 1001)

    def fresh(self) -> WebSocketTransport:
        """A new, unconnected transport to the same agent (a reconnection)."""
        return WebSocketTransport(self.url, self._timeout)

    async def send_audio(self, pcm: Pcm) -> None:
        await self._ws.send_bytes(to_bytes(pcm))

    async def send_event(self, event: dict[str, Any]) -> None:
        await self._ws.send_str(json.dumps(event))

    async def receive(self) -> AsyncIterator[Incoming]:
        async for msg, now in self._ws.messages():
            if msg.type == aiohttp.WSMsgType.BINARY:
                if len(msg.data) % 2:
                    raise ProtocolError(
                        f"audio frame of {len(msg.data)} bytes: PCM16 needs an even count",
                        where=self.url,
                    )
                yield AudioIn(from_bytes(msg.data), now)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                try:
                    event = json.loads(msg.data)
                except ValueError as exc:
                    raise ProtocolError(f"agent sent invalid JSON: {exc}", where=self.url) from exc
                if not isinstance(event, dict) or "type" not in event:
                    raise ProtocolError("agent event without a type", where=self.url)
                yield EventIn(event, now)

    async def close(self) -> None:
        await self._ws.close(last={"type": "stop"})
