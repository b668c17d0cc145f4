"""Native WebSocket transport (docs/protocol.md): binary PCM16LE frames, JSON text events."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from simulator.audio import Pcm, from_bytes, to_bytes
from simulator.errors import ProtocolError, TransportError
from simulator.transports.base import AudioIn, EventIn, Incoming, StartInfo, Transport


class WebSocketTransport(Transport):
    """Caller side of the native protocol, with aiohttp."""

    def __init__(self, url: str, connect_timeout_s: float = 10.0) -> None:
        self.url = url
        self._timeout = connect_timeout_s
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closed = False

    async def connect(self, start: StartInfo) -> None:
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await self._session.ws_connect(
                self.url,
                timeout=aiohttp.ClientWSTimeout(ws_close=5),
                heartbeat=None,
                max_msg_size=4 * 1024 * 1024,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            await self._session.close()
            raise TransportError(
                f"cannot connect: {exc}", where=self.url, fix="is the agent running?"
            ) from exc
        await self.send_event(start.event())

    async def send_audio(self, pcm: Pcm) -> None:
        ws = self._require()
        try:
            await ws.send_bytes(to_bytes(pcm))
        except (ConnectionError, aiohttp.ClientError) as exc:
            raise TransportError(f"send failed: {exc}", where=self.url) from exc

    async def send_event(self, event: dict[str, Any]) -> None:
        ws = self._require()
        try:
            await ws.send_str(json.dumps(event))
        except (ConnectionError, aiohttp.ClientError) as exc:
            raise TransportError(f"send failed: {exc}", where=self.url) from exc

    async def receive(self) -> AsyncIterator[Incoming]:
        ws = self._require()
        loop = asyncio.get_running_loop()
        async for msg in ws:
            now = loop.time()
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
            elif msg.type == aiohttp.WSMsgType.ERROR:
                if self._closed:
                    return
                raise TransportError(f"connection error: {ws.exception()}", where=self.url)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._ws is not None and not self._ws.closed:
            try:
                await self._ws.send_str(json.dumps({"type": "stop"}))
            except (ConnectionError, aiohttp.ClientError):
                pass
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    def _require(self) -> aiohttp.ClientWebSocketResponse:
        if self._ws is None:
            raise TransportError("not connected", where=self.url)
        return self._ws
