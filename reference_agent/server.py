"""Serve a bundled agent on every transport voxsim speaks, one route each.

`/ws` native WebSocket (docs/protocol.md), `/twilio` Twilio Media Streams,
`/v1/realtime` the OpenAI Realtime protocol, `/offer` WebRTC signalling. Each
route turns its protocol into an AgentLink, so one handler serves them all.
`voxsim agent serve --kind pipeline|e2e --transport ...` runs this.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from aiohttp import WSMsgType, web

from reference_agent.realtime_link import RealtimeServerLink
from reference_agent.webrtc_link import webrtc_routes
from simulator.audio import Pcm, from_bytes, to_bytes
from simulator.errors import ProtocolError
from simulator.transports.base import AgentHandler
from simulator.transports.twilio import TwilioAgentCodec

log = logging.getLogger("voxsim.agent")


class _WsLink:
    """AgentLink over an aiohttp WebSocket; a reader task queues input so sends never block."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.inbox: asyncio.Queue[Pcm | dict[str, Any] | None] = asyncio.Queue()

    async def pump(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type == WSMsgType.BINARY:
                    await self.inbox.put(from_bytes(msg.data))
                elif msg.type == WSMsgType.TEXT:
                    try:
                        event = json.loads(msg.data)
                    except ValueError:
                        await self.send_event({"type": "error", "message": "invalid JSON"})
                        continue
                    if isinstance(event, dict):
                        await self.inbox.put(event)
        finally:
            await self.inbox.put(None)

    async def recv(self) -> Pcm | dict[str, Any] | None:
        return await self.inbox.get()

    async def send_audio(self, pcm: Pcm) -> None:
        if not self.ws.closed:
            await self.ws.send_bytes(to_bytes(pcm))

    async def send_event(self, event: dict[str, Any]) -> None:
        if not self.ws.closed:
            await self.ws.send_str(json.dumps(event))


class _TwilioLink:
    """AgentLink over a Twilio Media Streams WebSocket (the agent is the app)."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.codec = TwilioAgentCodec()
        self.inbox: asyncio.Queue[Pcm | dict[str, Any] | None] = asyncio.Queue()

    async def pump(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    item = self.codec.inbound(msg.data)
                except ProtocolError as exc:
                    log.warning("twilio: %s", exc.one_line())
                    continue
                if item is not None:
                    await self.inbox.put(item)
        finally:
            await self.inbox.put(None)

    async def recv(self) -> Pcm | dict[str, Any] | None:
        return await self.inbox.get()

    async def send_audio(self, pcm: Pcm) -> None:
        if not self.ws.closed:
            await self.ws.send_str(self.codec.outbound_audio(pcm))

    async def send_event(self, event: dict[str, Any]) -> None:
        text = self.codec.outbound_event(event)
        if text is not None and not self.ws.closed:
            await self.ws.send_str(text)


async def _run_link(
    handler: AgentHandler, link: Any, pump: Coroutine[Any, Any, None], name: str
) -> None:
    task = asyncio.create_task(pump, name=f"{name}-pump")
    try:
        await handler(link)
    except Exception as exc:  # noqa: BLE001 - report to the caller, keep serving
        log.exception("call failed")
        with contextlib.suppress(Exception):
            await link.send_event({"type": "error", "message": f"agent failed: {exc!r}"})
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


def make_app(handler: AgentHandler) -> web.Application:
    """An aiohttp app serving `handler` once per call on every transport's route."""

    async def ws_route(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        link = _WsLink(ws)
        pump = asyncio.create_task(link.pump(), name="ws-pump")
        try:
            await handler(link)
        except Exception as exc:  # noqa: BLE001 - report to the caller, keep serving
            log.exception("call failed")
            await link.send_event({"type": "error", "message": f"agent failed: {exc!r}"})
        finally:
            pump.cancel()
            await ws.close()
        return ws

    async def health(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def twilio_route(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=4 * 1024 * 1024)
        await ws.prepare(request)
        link = _TwilioLink(ws)
        await _run_link(handler, link, link.pump(), "twilio")
        await ws.close()
        return ws

    async def realtime_route(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=16 * 1024 * 1024, protocols=("realtime",))
        await ws.prepare(request)
        link = RealtimeServerLink(ws, request)
        await _run_link(handler, link, link.pump(), "realtime")
        await link.finish()
        await ws.close()
        return ws

    app = web.Application()
    app.router.add_get("/ws", ws_route)
    app.router.add_get("/twilio", twilio_route)
    app.router.add_get("/v1/realtime", realtime_route)
    app.router.add_get("/health", health)
    webrtc_routes(app, handler)
    return app


@dataclass
class RunningServer:
    """A started server: its URL and how to stop it."""

    url: str
    port: int
    runner: web.AppRunner

    def url_for(self, transport: str) -> str:
        """The URL `voxsim run --agent` takes for this server on `transport`."""
        return route_urls(self.url)[transport]

    async def close(self) -> None:
        """Stop accepting calls and close open ones."""
        await self.runner.cleanup()


def route_urls(ws_url: str) -> dict[str, str]:
    """The `--agent` URL of each transport on the bundled server whose native URL is `ws_url`."""
    base = ws_url.removesuffix("/ws").removeprefix("ws://")
    return {
        "websocket": f"ws://{base}/ws",
        "twilio": f"twilio+ws://{base}/twilio",
        "realtime": f"realtime+ws://{base}/v1/realtime",
        "webrtc": f"webrtc+http://{base}/offer",
    }


async def serve(handler: AgentHandler, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Start serving `handler` on ws://host:port/ws; port 0 picks a free port."""
    runner = web.AppRunner(make_app(handler), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    sockets = getattr(server, "sockets", None) or []
    real_port = sockets[0].getsockname()[1] if sockets else port
    return RunningServer(url=f"ws://{host}:{real_port}/ws", port=real_port, runner=runner)
