"""Twilio Media Streams over WebSocket: voxsim plays Twilio, the agent is the app.

Twilio -> app: `connected`, `start` (streamSid, callSid, mediaFormat,
customParameters), `media` (base64 8 kHz mu-law, 20 ms = 160 bytes), `mark`
(echo of the app's mark once the audio before it has played), `stop`.
App -> Twilio: `media`, `mark`, `clear` (drop queued audio: barge-in).
voxsim puts call_id, traceparent and the bundled agents' config into
`start.customParameters`, where Twilio puts <Parameter>s of the TwiML.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from simulator.audio import SAMPLE_RATE, Pcm
from simulator.errors import ProtocolError, TransportError
from simulator.transports.base import AudioIn, EventIn, Incoming, StartInfo, Transport
from simulator.transports.codecs import StreamResampler, b64, ulaw_decode, ulaw_encode, unb64
from simulator.transports.wsclient import WsClient

TWILIO_RATE = 8000
AGENT_EVENTS = {"media", "mark", "clear"}


class TwilioTransport(Transport):
    """Caller side: voxsim is Twilio's media stream, the agent the WebSocket server."""

    reliable = True

    def __init__(self, url: str, connect_timeout_s: float = 10.0) -> None:
        self.url = url.removeprefix("twilio+")
        self._timeout = connect_timeout_s
        self._ws = WsClient(self.url, connect_timeout_s)
        self._seq = 0
        self._chunk = 0
        self._sid = ""
        self._sid_json = '""'  # the stream SID as JSON, spliced into every media message
        self._call_sid = ""
        self._down = StreamResampler(SAMPLE_RATE, TWILIO_RATE)
        self._up = StreamResampler(TWILIO_RATE, SAMPLE_RATE)
        self._play_end = 0.0  # when audio received so far has played out (for marks)
        self._marks: list[_Mark] = []  # not echoed yet
        self._echoes: set[asyncio.Task[None]] = set()  # echoes being sent
        self._echo_failure: BaseException | None = None

    @staticmethod
    def wire_bytes(samples_16k: int) -> int:
        """Bytes of one media message: base64 mu-law at 8 kHz plus its JSON."""
        return (samples_16k // 2) * 4 // 3 + 160

    def _next(self) -> str:
        self._seq += 1
        return str(self._seq)

    async def connect(self, start: StartInfo) -> None:
        await self._ws.connect()
        self._sid = "MZ" + start.call_id
        self._sid_json = json.dumps(self._sid)
        self._call_sid = "CA" + start.call_id
        await self._send({"event": "connected", "protocol": "Call", "version": "1.0.0"})
        await self._send(
            {
                "event": "start",
                "sequenceNumber": self._next(),
                "streamSid": self._sid,
                "start": {
                    "streamSid": self._sid,
                    "accountSid": "ACvoxsim",
                    "callSid": self._call_sid,
                    "tracks": ["inbound"],
                    "customParameters": {
                        "call_id": start.call_id,
                        "traceparent": start.traceparent,
                        "config": json.dumps(start.config),
                    },
                    "mediaFormat": {
                        "encoding": "audio/x-mulaw",
                        "sampleRate": TWILIO_RATE,
                        "channels": 1,
                    },
                },
            }
        )

    async def _send(self, message: dict[str, Any]) -> None:
        await self._ws.send_str(json.dumps(message))

    async def send_audio(self, pcm: Pcm) -> None:
        payload = b64(ulaw_encode(self._down(pcm)))
        self._chunk += 1
        await self._ws.send_str(media_message(self._sid_json, self._next(), self._chunk, payload))

    async def send_event(self, event: dict[str, Any]) -> None:
        """Twilio's stream has no caller events but DTMF; others are not sent."""
        if event.get("type") == "dtmf":
            await self._send(
                {
                    "event": "dtmf",
                    "streamSid": self._sid,
                    "sequenceNumber": self._next(),
                    "dtmf": {"track": "inbound_track", "digit": str(event.get("digit", ""))},
                }
            )

    def _due(self, mark: _Mark) -> None:
        """The audio before `mark` has played: echo it."""
        if mark in self._marks:
            self._marks.remove(mark)
        self._echo_mark(mark.name)

    def _echo_mark(self, name: str) -> None:
        """Send the echo of mark `name` as a task that is kept: `close` waits for it and a
        failed send ends the call (receive raises it) instead of vanishing."""
        if self._ws.open:
            message: dict[str, Any] = {
                "event": "mark",
                "sequenceNumber": self._next(),
                "streamSid": self._sid,
                "mark": {"name": name},
            }
            task = asyncio.create_task(self._send(message), name=f"twilio-mark-{name[:20]}")
            self._echoes.add(task)
            task.add_done_callback(self._echoed)

    def _echoed(self, task: asyncio.Task[None]) -> None:
        self._echoes.discard(task)
        if not task.cancelled() and task.exception() is not None and self._echo_failure is None:
            self._echo_failure = task.exception()

    def _raise_echo_failure(self) -> None:
        if self._echo_failure is not None:
            what = self._echo_failure
            detail = what.what if isinstance(what, ProtocolError | TransportError) else repr(what)
            raise TransportError(f"mark echo failed: {detail}", where=self.url)

    async def receive(self) -> AsyncIterator[Incoming]:
        loop = asyncio.get_running_loop()
        async for msg, now in self._ws.messages():
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ProtocolError(
                    "agent sent a binary frame; Media Streams is JSON text", where=self.url
                )
            self._raise_echo_failure()
            message = parse_message(msg.data, AGENT_EVENTS, self.url)
            kind = message["event"]
            if kind == "media":
                pcm = self._up(ulaw_decode(media_payload(message, self.url)))
                self._play_end = max(now, self._play_end) + len(pcm) / SAMPLE_RATE
                yield AudioIn(pcm, now)
            elif kind == "mark":
                mark = _Mark(str(_field(message, "mark").get("name", "")))
                mark.handle = loop.call_at(max(now, self._play_end), self._due, mark)
                self._marks.append(mark)
                yield EventIn({"type": "mark", "name": mark.name}, now)
            else:  # clear: queued audio is dropped, pending marks come back at once
                self._play_end = now
                for mark in self._marks:
                    mark.cancel()
                    self._echo_mark(mark.name)
                self._marks.clear()
                yield EventIn({"type": "clear"}, now)
        self._raise_echo_failure()

    async def close(self) -> None:
        if self._ws.closed:
            return
        now = asyncio.get_running_loop().time()
        for mark in self._marks:  # marks whose audio has played are echoed before the stop
            mark.cancel()
            if mark.handle is not None and mark.handle.when() <= now:
                self._echo_mark(mark.name)
        self._marks.clear()
        if self._echoes:
            await asyncio.gather(*self._echoes, return_exceptions=True)
        stop: dict[str, Any] = {
            "event": "stop",
            "sequenceNumber": self._next(),
            "streamSid": self._sid,
            "stop": {"accountSid": "ACvoxsim", "callSid": self._call_sid},
        }
        await self._ws.close(last=stop)


def media_message(sid_json: str, seq: str, chunk: int, payload: str) -> str:
    """A caller `media` message, the text `json.dumps` gives for it, built without a dict:
    one is sent per 20 ms frame. `sid_json` is the stream SID already JSON-encoded; `seq`
    and `chunk` are decimal numbers and `payload` is base64, so none needs escaping."""
    return (
        f'{{"event": "media", "sequenceNumber": "{seq}", "streamSid": {sid_json}, '
        f'"media": {{"track": "inbound", "chunk": "{chunk}", "timestamp": "{chunk * 20}", '
        f'"payload": "{payload}"}}}}'
    )


@dataclass(eq=False)
class _Mark:
    """An agent's mark waiting for the audio queued before it to play."""

    name: str
    handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()


def parse_message(text: str, allowed: set[str], where: str) -> dict[str, Any]:
    """One Media Streams message; ProtocolError unless it is JSON with a known `event`."""
    try:
        message = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"invalid JSON: {exc}", where=where) from exc
    if not isinstance(message, dict) or not isinstance(message.get("event"), str):
        raise ProtocolError("message without an event field (a string)", where=where)
    if message["event"] not in allowed:
        raise ProtocolError(
            f"unknown event {message['event']!r}", where=where, fix=f"allowed: {sorted(allowed)}"
        )
    return message


def _field(message: dict[str, Any], name: str) -> dict[str, Any]:
    """`message[name]` when it is an object, else {} (a hostile agent sends anything)."""
    value = message.get(name)
    return value if isinstance(value, dict) else {}


def media_payload(message: dict[str, Any], where: str) -> bytes:
    """The mu-law bytes of a `media` message; ProtocolError when missing or not base64."""
    payload = _field(message, "media").get("payload")
    if not isinstance(payload, str):
        raise ProtocolError("media message without media.payload", where=where)
    try:
        return unb64(payload)
    except ValueError as exc:
        raise ProtocolError(f"media.payload is not base64: {exc}", where=where) from exc


class TwilioAgentCodec:
    """Agent side: turns Twilio's messages into native frames/events and back."""

    CALLER_EVENTS = {"connected", "start", "media", "mark", "stop", "dtmf"}

    def __init__(self) -> None:
        self.stream_sid = ""
        self._up = StreamResampler(TWILIO_RATE, SAMPLE_RATE)
        self._down = StreamResampler(SAMPLE_RATE, TWILIO_RATE)

    def inbound(self, text: str) -> Pcm | dict[str, Any] | None:
        """A native frame or event for one message from Twilio; None when it carries none."""
        message = parse_message(text, self.CALLER_EVENTS, "twilio stream")
        kind = message["event"]
        if kind == "media":
            return self._up(ulaw_decode(media_payload(message, "twilio stream")))
        if kind == "start":
            start = message.get("start") or {}
            self.stream_sid = str(message.get("streamSid") or start.get("streamSid", ""))
            params = start.get("customParameters") or {}
            try:
                config = json.loads(params.get("config") or "{}")
            except ValueError:
                config = {}
            return {
                "type": "start",
                "call_id": params.get("call_id") or start.get("callSid", ""),
                "traceparent": params.get("traceparent", ""),
                "config": config if isinstance(config, dict) else {},
            }
        if kind == "stop":
            return {"type": "stop"}
        return None

    def outbound_audio(self, pcm: Pcm) -> str:
        """A `media` message carrying agent audio."""
        payload = b64(ulaw_encode(self._down(pcm)))
        return json.dumps(
            {"event": "media", "streamSid": self.stream_sid, "media": {"payload": payload}}
        )

    def outbound_event(self, event: dict[str, Any]) -> str | None:
        """`clear` for the native clear; a `mark` per spoken sentence; others have no wire form."""
        if event.get("type") == "clear":
            return json.dumps({"event": "clear", "streamSid": self.stream_sid})
        if event.get("type") == "transcript" and event.get("role") == "assistant":
            mark = {"name": f"say:{str(event.get('text', ''))[:64]}"}
            return json.dumps({"event": "mark", "streamSid": self.stream_sid, "mark": mark})
        return None
