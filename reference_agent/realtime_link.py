"""Serve any bundled agent behind the OpenAI Realtime protocol (server side).

Client events become AgentLink input (caller audio resampled to 16 kHz,
20 ms frames; `conversation.item.truncate`, `response.cancel`), and the
agent's native output becomes server events: audio -> a response with
`response.output_audio.delta`s, transcripts -> their Realtime events,
`speech_started` / `speech_stopped` -> the server-VAD events, `clear` -> the
response ends `cancelled`. A response opens with the first audio or text and
closes on the agent's `response_done`, a `clear`, or 600 ms without audio.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from simulator.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm, from_bytes, to_bytes
from simulator.transports.codecs import StreamResampler, b64, unb64
from simulator.transports.realtime import REALTIME_RATE

IDLE_CLOSE_S = 0.6
_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}"


class RealtimeServerLink:
    """AgentLink over one Realtime WebSocket session."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.inbox: asyncio.Queue[Pcm | dict[str, Any] | None] = asyncio.Queue()
        self._up = StreamResampler(REALTIME_RATE, SAMPLE_RATE)
        self._down = StreamResampler(SAMPLE_RATE, REALTIME_RATE)
        self._pending = np.zeros(0, dtype=np.int16)
        self._response: str | None = None
        self._item: str | None = None
        self._user_item: str | None = None
        self._text: list[str] = []
        self._last_audio = 0.0
        self._audio_ms = 0.0
        self._idle: asyncio.Task[None] | None = None
        try:
            config = json.loads(request.headers.get("X-Voxsim-Config", "{}"))
        except ValueError:
            config = {}
        self._start = {
            "type": "start",
            "call_id": request.headers.get("X-Voxsim-Call-Id", _id("call")),
            "traceparent": request.headers.get("traceparent", ""),
            "config": config if isinstance(config, dict) else {},
        }
        self.inbox.put_nowait(self._start)

    async def _send(self, event: dict[str, Any]) -> None:
        event.setdefault("event_id", _id("event"))
        if not self.ws.closed:
            with contextlib.suppress(ConnectionError):
                await self.ws.send_str(json.dumps(event))

    async def _error(self, message: str, code: str) -> None:
        await self._send(
            {
                "type": "error",
                "error": {"type": "invalid_request_error", "code": code, "message": message},
            }
        )

    async def pump(self) -> None:
        """Read client events until the socket closes."""
        await self._send({"type": "session.created", "session": {"id": _id("sess")}})
        self._idle = asyncio.create_task(self._close_when_idle(), name="realtime-idle")
        try:
            async for msg in self.ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                try:
                    event = json.loads(msg.data)
                except ValueError:
                    await self._error("invalid JSON", "invalid_json")
                    continue
                if not isinstance(event, dict):
                    await self._error("an event must be an object", "invalid_event")
                    continue
                await self._on_client_event(event)
        finally:
            self._idle.cancel()
            await self.inbox.put(None)

    async def _on_client_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "input_audio_buffer.append":
            try:
                pcm = self._up(from_bytes(unb64(str(event.get("audio", "")))))
            except ValueError:
                await self._error("audio is not base64", "invalid_audio")
                return
            self._pending = np.concatenate([self._pending, pcm])
            while len(self._pending) >= FRAME_SAMPLES:
                await self.inbox.put(self._pending[:FRAME_SAMPLES].copy())
                self._pending = self._pending[FRAME_SAMPLES:]
        elif kind == "session.update":
            session = dict(event.get("session") or {})
            await self._send({"type": "session.updated", "session": session})
        elif kind == "conversation.item.truncate":
            await self._send(
                {
                    "type": "conversation.item.truncated",
                    "item_id": event.get("item_id"),
                    "content_index": event.get("content_index", 0),
                    "audio_end_ms": event.get("audio_end_ms", 0),
                }
            )
            await self.inbox.put({"type": "truncate", **event})
        elif kind == "response.cancel":
            await self.inbox.put({"type": "cancel"})
        elif kind in {"input_audio_buffer.commit", "input_audio_buffer.clear", "response.create"}:
            await self.inbox.put({"type": kind})
        else:
            await self._error(f"unknown client event {kind!r}", "unknown_event")

    async def recv(self) -> Pcm | dict[str, Any] | None:
        return await self.inbox.get()

    async def _open_response(self) -> None:
        if self._response is not None:
            return
        self._response, self._item = _id("resp"), _id("item")
        self._text, self._audio_ms = [], 0.0
        await self._send({"type": "response.created", "response": {"id": self._response}})
        await self._send(
            {
                "type": "response.output_item.added",
                "response_id": self._response,
                "output_index": 0,
                "item": {"id": self._item, "type": "message", "role": "assistant"},
            }
        )

    async def close_response(self, status: str = "completed") -> None:
        """End the open response (if any) with `status`."""
        if self._response is None:
            return
        ids = {"response_id": self._response, "item_id": self._item, "output_index": 0}
        transcript = " ".join(self._text)
        self._response = None
        await self._send({"type": "response.output_audio.done", **ids, "content_index": 0})
        await self._send(
            {
                "type": "response.output_audio_transcript.done",
                **ids,
                "content_index": 0,
                "transcript": transcript,
            }
        )
        await self._send(
            {"type": "response.done", "response": {"id": ids["response_id"], "status": status}}
        )

    async def _close_when_idle(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(0.1)
            if self._response is not None and loop.time() - self._last_audio > IDLE_CLOSE_S:
                await self.close_response()

    async def send_audio(self, pcm: Pcm) -> None:
        await self._open_response()
        self._last_audio = asyncio.get_running_loop().time()
        self._audio_ms += len(pcm) * 1000 / SAMPLE_RATE
        await self._send(
            {
                "type": "response.output_audio.delta",
                "response_id": self._response,
                "item_id": self._item,
                "output_index": 0,
                "content_index": 0,
                "delta": b64(to_bytes(self._down(pcm))),
            }
        )

    async def send_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "transcript" and event.get("role") == "user":
            await self._send(
                {
                    "type": "conversation.item.input_audio_transcription.completed",
                    "item_id": self._user_item or _id("item"),
                    "content_index": 0,
                    "transcript": str(event.get("text", "")),
                }
            )
        elif kind == "transcript":
            await self._open_response()
            self._last_audio = asyncio.get_running_loop().time()
            text = str(event.get("text", ""))
            self._text.append(text)
            await self._send(
                {
                    "type": "response.output_audio_transcript.delta",
                    "response_id": self._response,
                    "item_id": self._item,
                    "output_index": 0,
                    "content_index": 0,
                    "delta": text,
                }
            )
        elif kind == "speech_started":
            self._user_item = _id("item")
            ms = int(event.get("audio_start_ms", 0))
            await self._send(
                {
                    "type": "input_audio_buffer.speech_started",
                    "audio_start_ms": ms,
                    "item_id": self._user_item,
                }
            )
        elif kind == "speech_stopped":
            ms = int(event.get("audio_end_ms", 0))
            item = self._user_item or _id("item")
            await self._send(
                {"type": "input_audio_buffer.speech_stopped", "audio_end_ms": ms, "item_id": item}
            )
            await self._send({"type": "input_audio_buffer.committed", "item_id": item})
        elif kind == "clear":
            await self.close_response("cancelled")
        elif kind == "response_done":
            await self.close_response()
        elif kind == "error":
            await self._error(str(event.get("message", "agent error")), "agent_error")

    async def finish(self) -> None:
        """Close an open response before the socket goes."""
        if self._idle is not None:
            self._idle.cancel()
        await self.close_response()
