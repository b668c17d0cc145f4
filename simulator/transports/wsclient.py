"""The WebSocket connection under the native, Twilio and Realtime transports.

The three protocols differ in what their messages mean, not in how a
connection is opened, written to, read from and closed; that part, with its
errors turned into voxsim's TransportError (one line: what, where, fix), is
here once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from simulator.errors import ProtocolError, TransportError

#: How long closing may wait for the agent's side of the closing handshake.
CLOSE_TIMEOUT_S = 3.0

#: The largest agent message read by default (a native or Twilio message is 20 ms to a
#: few seconds of audio: far below this).
MAX_MESSAGE = 4 * 1024 * 1024


class WsClient:
    """One aiohttp WebSocket to `url`; every failure is a TransportError naming it."""

    def __init__(self, url: str, connect_timeout_s: float = 10.0) -> None:
        self.url = url
        self.connect_timeout_s = connect_timeout_s
        self.max_msg_size = MAX_MESSAGE
        self.closed = False
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def connect(
        self, headers: dict[str, str] | None = None, max_msg_size: int = MAX_MESSAGE
    ) -> None:
        """Open the socket within `connect_timeout_s` (TCP and the WebSocket handshake);
        TransportError (agent not running?) when it cannot."""
        self.max_msg_size = max_msg_size
        self._session = aiohttp.ClientSession()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                self._ws = await self._session.ws_connect(
                    self.url,
                    headers=headers,
                    timeout=aiohttp.ClientWSTimeout(ws_close=5),
                    heartbeat=None,
                    max_msg_size=max_msg_size,
                )
        except TimeoutError as exc:
            await self._session.close()
            raise TransportError(
                f"no WebSocket handshake within {self.connect_timeout_s:g} s (connect_timeout_s)",
                where=self.url,
                fix="is the agent running and answering on this path?",
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
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
                raise self._failure(msg.data if isinstance(msg.data, BaseException) else None)
            yield msg, now

    def _failure(self, exc: BaseException | None) -> TransportError | ProtocolError:
        """The error a failed read stands for: an oversize message names its size and the
        limit (aiohttp closes with 1009 and reports it in the message, not `exception()`)."""
        exc = exc or (self._ws.exception() if self._ws is not None else None)
        code = getattr(exc, "code", None)
        if code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
            size = re.search(r"size (\d+)", str(exc))
            what = f"{size.group(1)} bytes" if size else "over the limit"
            limit = self.max_msg_size
            return ProtocolError(
                f"agent message too large: {what}; the limit is {limit} bytes "
                f"({limit / 2**20:g} MiB)",
                where=self.url,
                fix="send audio in chunks (20 ms to a few seconds each)",
            )
        if exc is None:
            return TransportError("connection error (no detail from the socket)", where=self.url)
        detail = str(exc) or type(exc).__name__
        return TransportError(f"connection error: {detail}", where=self.url)

    @property
    def close_code(self) -> int | None:
        """The WebSocket close code once closed (1000 a normal close, 1006 a dropped link)."""
        return self._ws.close_code if self._ws is not None else None

    @property
    def open(self) -> bool:
        """True while the socket can still carry a message."""
        return self._ws is not None and not self._ws.closed

    async def close(self, last: dict[str, Any] | str | None = None) -> None:
        """Send `last` (a goodbye message) if the socket is still open, then close; idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            # Bounded: aiohttp's close reads until the agent's close frame, 5 s per
            # message, so an agent that floods messages (or never reads) would hold it
            # forever.
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                if self._ws is not None and not self._ws.closed:
                    if last is not None:
                        with contextlib.suppress(ConnectionError, aiohttp.ClientError):
                            text = last if isinstance(last, str) else json.dumps(last)
                            await self._ws.send_str(text)
                    await self._ws.close()
        except TimeoutError:
            pass  # the connection is dropped below without the agent's close frame
        finally:
            if self._session is not None:
                await self._session.close()

    def _require(self) -> aiohttp.ClientWebSocketResponse:
        if self._ws is None:
            raise TransportError("not connected", where=self.url)
        return self._ws
