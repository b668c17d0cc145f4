"""Hostile agents for the transport tests: aiohttp servers on loopback that answer a
call on `/{protocol}` (websocket, twilio, realtime) the way a broken agent would."""

from __future__ import annotations

from aiohttp import web

#: URL scheme of each WebSocket protocol.
SCHEME = {"websocket": "ws://", "twilio": "twilio+ws://", "realtime": "realtime+ws://"}


async def serve_app(handler: web.RequestHandler) -> tuple[web.AppRunner, int]:
    """Serve `handler` on `/{protocol}` at 127.0.0.1; (runner to clean up, port)."""
    app = web.Application()
    app.router.add_get("/{protocol}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def url(protocol: str, port: int) -> str:
    """The agent URL of `protocol` on a `serve_app` server."""
    return f"{SCHEME[protocol]}127.0.0.1:{port}/{protocol}"


class FakeWs:
    """Stands in for a transport's WsClient: `messages()` yields what a hostile agent
    sent (str: a text frame, bytes: a binary one), with no socket, so a parser can be
    fuzzed fast. `send_str`/`send_bytes` record what the caller sent; a send whose text
    contains `fail_on` raises TransportError."""

    def __init__(self, frames: list[str | bytes], fail_on: str | None = None) -> None:
        self.frames = frames
        self.sent: list[str | bytes] = []
        self.closed = False
        self.url = "ws://fake"
        self.fail_on = fail_on
        self.gap_s = 0.0  # pause between frames (lets timers such as mark echoes fire)

    @property
    def open(self) -> bool:
        return not self.closed

    async def send_str(self, text: str) -> None:
        from simulator.errors import TransportError

        if self.fail_on is not None and self.fail_on in text:
            raise TransportError("send failed: connection reset", where=self.url)
        self.sent.append(text)

    async def send_bytes(self, data: bytes) -> None:
        self.sent.append(data)

    async def messages(self):  # type: ignore[no-untyped-def]
        import asyncio

        from aiohttp import WSMessage, WSMsgType

        loop = asyncio.get_running_loop()
        for frame in self.frames:
            if self.gap_s:
                await asyncio.sleep(self.gap_s)
            kind = WSMsgType.BINARY if isinstance(frame, bytes) else WSMsgType.TEXT
            yield WSMessage(kind, frame, None), loop.time()

    async def close(self, last: object = None) -> None:
        if not self.closed and last is not None:
            import json

            self.sent.append(last if isinstance(last, str) else json.dumps(last))
        self.closed = True
