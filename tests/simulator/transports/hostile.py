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


#: Behaviours of a hostile agent (tests/simulator/transports/test_hostile.py).
BEHAVIOURS = (
    "never_answers",  # accepts the call, reads everything, says nothing
    "closes_after_start",  # hangs up right after the start message
    "garbage",  # a frame that is not the protocol (not JSON)
    "oversize",  # one message far over the transport's limit
    "endless_audio",  # starts talking and never stops (in real time)
    "flood",  # audio far faster than real time, without end
)

#: One message of `seconds` of tone in each WebSocket protocol's own format.
TONE_HZ = 300


def tone(seconds: float, rate: int = 16000) -> bytes:
    """PCM16LE of a tone at `rate`."""
    import numpy as np

    n = int(seconds * rate)
    return (8000 * np.sin(np.arange(n) * 2 * np.pi * TONE_HZ / rate)).astype("<i2").tobytes()


def audio_message(protocol: str, seconds: float) -> str | bytes:
    """`seconds` of agent audio as one message of `protocol`."""
    import base64
    import json

    if protocol == "websocket":
        return tone(seconds)
    if protocol == "twilio":
        import numpy as np

        from simulator.transports.codecs import ulaw_encode

        pcm = np.frombuffer(tone(seconds, 8000), dtype="<i2")
        payload = base64.b64encode(ulaw_encode(pcm)).decode()
        return json.dumps({"event": "media", "streamSid": "s", "media": {"payload": payload}})
    delta = base64.b64encode(tone(seconds, 24000)).decode()
    return json.dumps({"type": "response.output_audio.delta", "item_id": "i", "delta": delta})


def hostile_handler(behaviour: str) -> web.RequestHandler:
    """An aiohttp handler on `/{protocol}` that misbehaves as `behaviour` says."""
    import asyncio
    import contextlib

    async def handle(request: web.Request) -> web.WebSocketResponse:
        protocol = request.match_info["protocol"]
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        await ws.receive()  # start / connected / session.update

        async def send(message: str | bytes) -> None:
            await (ws.send_bytes(message) if isinstance(message, bytes) else ws.send_str(message))

        async def drain() -> None:
            async for _ in ws:
                pass

        with contextlib.suppress(ConnectionError, RuntimeError):
            if behaviour == "closes_after_start":
                await ws.close()
                return ws
            if behaviour == "garbage":
                await send("\x00\x01garbage{")
            elif behaviour == "oversize":
                size = 20 * 2**20 if protocol == "realtime" else 10 * 2**20
                await send(b"\x00" * size if protocol == "websocket" else "x" * size)
            elif behaviour in ("endless_audio", "flood"):
                reader = asyncio.ensure_future(drain())
                await asyncio.sleep(0.3)  # silence first: the reply has an onset
                chunk = audio_message(protocol, 0.02 if behaviour == "endless_audio" else 1.0)
                loop = asyncio.get_running_loop()
                t0 = loop.time()
                k = 0
                while not ws.closed and not reader.done():
                    await send(chunk)
                    k += 1
                    if behaviour == "endless_audio":  # paced: 20 ms per 20 ms
                        await asyncio.sleep(max(0.0, t0 + k * 0.02 - loop.time()))
                    else:
                        await asyncio.sleep(0)
                reader.cancel()
                return ws
            await drain()  # never_answers, and after garbage / oversize
        return ws

    return handle
