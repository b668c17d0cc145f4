"""Serve any bundled agent over WebRTC: `POST /offer` answers, one peer per call.

The answer goes back at once; the call (the agent's handler) runs in the
background from the `start` event on the data channel until the caller's
`stop` or the peer connection closes. Agent audio leaves on a paced track
(silence between replies, as on a phone line); `clear` drops what is queued.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from aiohttp import web
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from simulator.audio import Pcm
from simulator.errors import ProtocolError
from simulator.transports.base import AgentHandler
from simulator.transports.webrtc import (
    PcmTrack,
    TrackReader,
    loopback_candidates,
    parse_control,
    wait_gathered,
)

log = logging.getLogger("voxsim.agent.webrtc")


class WebRtcAgentLink:
    """AgentLink over one peer connection."""

    def __init__(self, pc: RTCPeerConnection) -> None:
        self.pc = pc
        self.track = PcmTrack(paced=True)
        self.channel: RTCDataChannel | None = None
        self.inbox: asyncio.Queue[Pcm | dict[str, Any] | None] = asyncio.Queue()
        self.started = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    def on_channel(self, channel: RTCDataChannel) -> None:
        self.channel = channel

        @channel.on("message")
        def _message(message: str | bytes) -> None:
            try:
                event = parse_control(message, "webrtc data channel")
            except ProtocolError as exc:
                log.warning("%s", exc.one_line())
                return
            if event["type"] == "start":
                self.started.set()
            self.inbox.put_nowait(event)

    def on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._reader = asyncio.create_task(self._read(track), name="webrtc-agent-audio-in")

    async def _read(self, track: MediaStreamTrack) -> None:
        reader = TrackReader()
        with contextlib.suppress(MediaStreamError):
            while True:
                pcm = reader.convert(await track.recv())  # type: ignore[arg-type]
                if self.started.is_set():  # the handler expects `start` first
                    self.inbox.put_nowait(pcm)
        self.inbox.put_nowait(None)

    async def recv(self) -> Pcm | dict[str, Any] | None:
        return await self.inbox.get()

    async def send_audio(self, pcm: Pcm) -> None:
        self.track.push(pcm)
        # Keep at most ~100 ms queued so the agent's own pacing stays in charge.
        while self.track.queue.qsize() > 5:  # noqa: ASYNC110 - polled by aiortc's sender
            await asyncio.sleep(0.01)

    async def send_event(self, event: dict[str, Any]) -> None:
        if event.get("type") == "clear":
            self.track.clear()
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(json.dumps(event))

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self.pc.close()


def webrtc_routes(app: web.Application, handler: AgentHandler) -> None:
    """Add `POST /offer` to `app`, running `handler` once per peer connection."""
    calls: set[asyncio.Task[None]] = set()

    async def run(link: WebRtcAgentLink) -> None:
        try:
            await asyncio.wait_for(link.started.wait(), 15)
            await handler(link)
        except Exception:  # noqa: BLE001 - one failed call must not stop the server
            log.exception("webrtc call failed")
        finally:
            await link.close()

    async def offer(request: web.Request) -> web.Response:
        try:
            body = await request.json()
            remote = RTCSessionDescription(sdp=str(body["sdp"]), type=str(body["type"]))
        except (ValueError, KeyError, TypeError):
            return web.json_response({"error": "expected JSON {sdp, type}"}, status=400)
        loopback_candidates(request.remote or "")
        pc = RTCPeerConnection()
        link = WebRtcAgentLink(pc)
        pc.on("datachannel", link.on_channel)
        pc.on("track", link.on_track)

        @pc.on("connectionstatechange")
        async def _state() -> None:
            if pc.connectionState in {"failed", "closed"}:
                link.inbox.put_nowait(None)

        pc.addTrack(link.track)
        await pc.setRemoteDescription(remote)
        await pc.setLocalDescription(await pc.createAnswer())
        await wait_gathered(pc)
        task = asyncio.create_task(run(link), name="webrtc-call")
        calls.add(task)
        task.add_done_callback(calls.discard)
        answer = pc.localDescription
        return web.json_response({"sdp": answer.sdp, "type": answer.type})

    async def shutdown(_: web.Application) -> None:
        for task in list(calls):
            task.cancel()

    app.router.add_post("/offer", offer)
    app.on_shutdown.append(shutdown)
