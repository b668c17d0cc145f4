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
