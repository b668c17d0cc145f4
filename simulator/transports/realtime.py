"""The OpenAI Realtime protocol over WebSocket, caller side.

voxsim streams the caller as `input_audio_buffer.append` (24 kHz PCM16,
base64) into a session with server VAD, and turns the server's events back
into voxsim's: `response.output_audio.delta` -> agent audio,
`conversation.item.input_audio_transcription.completed` and
`response.output_audio_transcript.done` -> transcripts, `error` -> error.
On barge-in (`input_audio_buffer.speech_started` while agent audio is still
playing) it does what a Realtime client must: stop playback (a `clear` for
the session) and `conversation.item.truncate` to what was actually heard.
Beta event names (`response.audio.delta`, ...) are accepted too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from simulator.audio import SAMPLE_RATE, Pcm, from_bytes, to_bytes
from simulator.errors import ProtocolError
from simulator.transports.base import AudioIn, EventIn, Incoming, StartInfo, Transport
from simulator.transports.codecs import StreamResampler, b64, unb64
from simulator.transports.wsclient import WsClient

REALTIME_RATE = 24_000
AUDIO_DELTA = {"response.output_audio.delta", "response.audio.delta"}
TRANSCRIPT_DONE = {"response.output_audio_transcript.done", "response.audio_transcript.done"}
#: Server events voxsim reads or knowingly ignores; anything else is a protocol error.
SERVER_EVENTS = {
    *AUDIO_DELTA,
    *TRANSCRIPT_DONE,
    "error",
    "session.created",
    "session.updated",
    "conversation.created",
    "conversation.item.created",
    "conversation.item.added",
    "conversation.item.done",
    "conversation.item.truncated",
    "conversation.item.deleted",
    "conversation.item.input_audio_transcription.delta",
    "conversation.item.input_audio_transcription.completed",
    "conversation.item.input_audio_transcription.failed",
    "input_audio_buffer.committed",
    "input_audio_buffer.cleared",
    "input_audio_buffer.speech_started",
    "input_audio_buffer.speech_stopped",
    "input_audio_buffer.timeout_triggered",
    "output_audio_buffer.started",
    "output_audio_buffer.stopped",
    "output_audio_buffer.cleared",
    "response.created",
    "response.done",
    "response.output_item.added",
    "response.output_item.done",
    "response.content_part.added",
    "response.content_part.done",
    "response.output_audio.done",
    "response.audio.done",
    "response.output_audio_transcript.delta",
    "response.audio_transcript.delta",
    "response.output_text.delta",
    "response.output_text.done",
    "response.text.delta",
    "response.text.done",
    "response.function_call_arguments.delta",
    "response.function_call_arguments.done",
    "rate_limits.updated",
}


def session_config() -> dict[str, Any]:
    """The `session.update` voxsim sends: PCM16 at 24 kHz both ways, server VAD."""
    pcm = {"type": "audio/pcm", "rate": REALTIME_RATE}
    return {
        "type": "realtime",
        "output_modalities": ["audio"],
        "audio": {
            "input": {
                "format": pcm,
                "turn_detection": {"type": "server_vad"},
                "transcription": {"model": "voxsim-default"},
            },
            "output": {"format": pcm},
        },
    }


class RealtimeTransport(Transport):
    """Caller side of an OpenAI Realtime WebSocket session."""

    reliable = True

    def __init__(self, url: str, model: str = "voxsim-e2e", connect_timeout_s: float = 10.0):
        self.url = url.removeprefix("realtime+")
        if "model=" not in self.url:
            self.url += ("&" if "?" in self.url else "?") + f"model={model}"
        self._timeout = connect_timeout_s
        self._ws = WsClient(self.url, connect_timeout_s)
        self._up = StreamResampler(SAMPLE_RATE, REALTIME_RATE)
        self._down = StreamResampler(REALTIME_RATE, SAMPLE_RATE)
        self._item: str | None = None  # assistant item being played
        self._item_samples = 0  # 16 kHz samples of it received
        self._item_started = 0.0
        self._play_end = 0.0
        self.truncations: list[dict[str, Any]] = []

    @staticmethod
    def wire_bytes(samples_16k: int) -> int:
        """Bytes of one append: base64 of 24 kHz PCM16 plus its JSON."""
        return samples_16k * 3 * 4 // 3 + 60

    async def connect(self, start: StartInfo) -> None:
        headers = {
            "Authorization": "Bearer voxsim",
            "traceparent": start.traceparent,
            "X-Voxsim-Call-Id": start.call_id,
            "X-Voxsim-Config": json.dumps(start.config),
        }
        await self._ws.connect(headers=headers, max_msg_size=16 * 1024 * 1024)
        await self.send_event({"type": "session.update", "session": session_config()})

    async def send_audio(self, pcm: Pcm) -> None:
        audio = b64(to_bytes(self._up(pcm)))
        await self.send_event({"type": "input_audio_buffer.append", "audio": audio})

    async def send_event(self, event: dict[str, Any]) -> None:
        await self._ws.send_str(json.dumps(event))

    async def receive(self) -> AsyncIterator[Incoming]:
        async for msg, now in self._ws.messages():
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise ProtocolError("binary frame on a Realtime session", where=self.url)
            event = _parse(msg.data, self.url)
            for item in await self._translate(event, now):
                yield item

    async def _translate(self, event: dict[str, Any], now: float) -> list[Incoming]:
        kind = event["type"]
        if kind in AUDIO_DELTA:
            try:
                raw = unb64(str(event.get("delta", "")))
            except ValueError as exc:
                raise ProtocolError(f"{kind}: delta is not base64", where=self.url) from exc
            if len(raw) % 2:
                raise ProtocolError(
                    f"{kind}: {len(raw)} bytes of audio; PCM16 needs an even count",
                    where=self.url,
                )
            pcm = self._down(from_bytes(raw))
            item_id = str(event.get("item_id", ""))
            if item_id != self._item:
                self._item, self._item_samples = item_id, 0
                self._item_started = max(now, self._play_end)
            self._item_samples += len(pcm)
            self._play_end = max(now, self._play_end) + len(pcm) / SAMPLE_RATE
            return [AudioIn(pcm, now)]
        if kind in TRANSCRIPT_DONE:
            text = str(event.get("transcript", ""))
            return [EventIn({"type": "transcript", "role": "assistant", "text": text}, now)]
        if kind == "conversation.item.input_audio_transcription.completed":
            text = str(event.get("transcript", ""))
            return [EventIn({"type": "transcript", "role": "user", "text": text}, now)]
        if kind == "error":
            error = event.get("error") or {}
            message = error.get("message") if isinstance(error, dict) else str(error)
            return [EventIn({"type": "error", "message": str(message or "agent error")}, now)]
        if kind == "input_audio_buffer.speech_started" and self._play_end > now and self._item:
            return [await self._barge_in(now)]
        response = event.get("response")
        status = response.get("status") if isinstance(response, dict) else None
        cancelled = kind == "response.done" and status in {
            "cancelled",
            "incomplete",
        }
        if (cancelled or kind == "output_audio_buffer.cleared") and self._play_end > now:
            # The server stopped its own response: drop what has not played yet.
            self._play_end, self._item = now, None
            return [EventIn({"type": "clear", "reason": kind}, now)]
        return []

    async def _barge_in(self, now: float) -> Incoming:
        """Stop playback and tell the server how much of its item the caller heard."""
        played = min(self._item_samples, int((now - self._item_started) * SAMPLE_RATE))
        truncate = {
            "type": "conversation.item.truncate",
            "item_id": self._item,
            "content_index": 0,
            "audio_end_ms": max(0, played * 1000 // SAMPLE_RATE),
        }
        self.truncations.append(truncate)
        await self.send_event(truncate)
        self._play_end = now
        self._item = None
        return EventIn({"type": "clear", "reason": "speech_started"}, now)

    async def close(self) -> None:
        await self._ws.close()


def _parse(text: str, where: str) -> dict[str, Any]:
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"invalid JSON: {exc}", where=where) from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolError("event without a type", where=where)
    if event["type"] not in SERVER_EVENTS:
        raise ProtocolError(
            f"unknown server event {event['type']!r}",
            where=where,
            fix="the agent must speak the OpenAI Realtime protocol",
        )
    return event
