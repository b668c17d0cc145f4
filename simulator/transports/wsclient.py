"""The WebSocket connection under the native, Twilio and Realtime transports.

The three protocols differ in what their messages mean, not in how a
connection is opened, written to, read from and closed; that part, with its
errors turned into voxsim's TransportError (one line: what, where, fix), is
here once.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from simulator.errors import TransportError


class WsClient:
    """One aiohttp WebSocket to `url`; every failure is a TransportError naming it."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.closed = False
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(
        self, headers: dict[str, str] | None = None, max_msg_size: int = 4 * 1024 * 1024
    ) -> None:
        """Open the socket; TransportError (agent not running?) when it cannot."""
        self._session = aiohttp.ClientSession()
        try:
            self._ws = await self._session.ws_connect(
                self.url,
                headers=headers,
                timeout=aiohttp.ClientWSTimeout(ws_close=5),
                heartbeat=None,
                max_msg_size=max_msg_size,
            )
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            await self._session.close()
            raise TransportError(
                f"cannot connect: {exc}", where=self.url, fix="is the agent running?"
            ) from exc

    async def send_str(self, text: str) -> None:
        """Send one text message."""
        try:
            await self._require().send_str(text)
        except (ConnectionError, aiohttp.ClientError) as exc:
            raise TransportError(f"send failed: {exc}", where=self.url) from exc

    async def send_bytes(self, data: bytes) -> None:
        """Send one binary message."""
        try:
            await self._require().send_bytes(data)
        except (ConnectionError, aiohttp.ClientError) as exc:
            raise TransportError(f"send failed: {exc}", where=self.url) from exc

    async def messages(self) -> AsyncIterator[tuple[aiohttp.WSMessage, float]]:
        """Text and binary messages with their arrival time on the loop's clock.

        Ends quietly when we closed the socket; a connection error otherwise
        is a TransportError.
        """
        ws = self._require()
        loop = asyncio.get_running_loop()
        async for msg in ws:
            now = loop.time()
            if msg.type == aiohttp.WSMsgType.ERROR:
                if self.closed:
                    return
                raise TransportError(f"connection error: {ws.exception()}", where=self.url)
            yield msg, now

    @property
    def open(self) -> bool:
        """True while the socket can still carry a message."""
        return self._ws is not None and not self._ws.closed

    async def close(self, last: dict[str, Any] | str | None = None) -> None:
        """Send `last` (a goodbye message) if the socket is still open, then close; idempotent."""
        if self.closed:
            return
        self.closed = True
        if self._ws is not None and not self._ws.closed:
            if last is not None:
                try:
                    await self._ws.send_str(last if isinstance(last, str) else json.dumps(last))
                except (ConnectionError, aiohttp.ClientError):
                    pass
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    def _require(self) -> aiohttp.ClientWebSocketResponse:
        if self._ws is None:
            raise TransportError("not connected", where=self.url)
        return self._ws
