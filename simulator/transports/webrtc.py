"""WebRTC (aiortc): an Opus audio track each way, control events on a data channel.

Signalling is the common HTTP shape: POST the offer's `{"sdp", "type"}` as
JSON to `/offer`, get the answer back. The data channel `control` carries the
native events (`start` with the traceparent first, `stop`, and the agent's
transcript / metrics / clear / error). Audio is voxsim's 16 kHz mono; aiortc
hands decoded frames back as 48 kHz stereo.

Outgoing audio is encoded here (`OpusPackets`: mono Opus, 32 kbit/s, one
packet per 20 ms frame) and aiortc only packetises it: the path aiortc has for
pre-encoded media (`MediaPlayer(decode=False)`). aiortc's own encoder has no
settings and was most of a WebRTC caller's cost: per frame it upmixes to
48 kHz stereo, encodes 96 kbit/s at libopus's highest complexity (~3x the CPU
of complexity 1 for this speech) through a thread-pool hop, and computes the
RFC 6465 audio level in a Python loop over the samples (that optional header
extension is now left out). Its resampler also held each frame back until the
next one came: 20 ms of delay each way that a browser does not add (WebRTC
latency medians are ~40 ms lower since; the delay a test injects still comes
back exactly). Received audio is decoded on the event loop as it arrives
(`webrtc_decode.py`), not on aiortc's decoder thread and its per-frame hop.

On loopback, aioice skips 127.0.0.1 when it gathers host candidates and
would use the machine's other addresses; `loopback_candidates()` restricts
gathering to 127.0.0.1 (STACK.md). The receiver's jitter buffer (aiortc's
prefetch of 4 packets) adds about 80 ms one way: that is real WebRTC
buffering and shows up in the latency measured over this transport.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import aioice.ice
import numpy as np
from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, CodecContext, Packet

from simulator.audio import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE, SPEECH_THRESHOLD, Pcm
from simulator.errors import ProtocolError, TransportError
from simulator.transports.base import AudioIn, EventIn, Incoming, StartInfo, Transport
from simulator.transports.codecs import StreamResampler
from simulator.transports.webrtc_decode import InlineDecoder, decode_inline

_original_host_addresses = aioice.ice.get_host_addresses


def _loopback_only(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


def loopback_candidates(host: str) -> None:
    """Gather ICE host candidates on 127.0.0.1 only when the peer is on loopback."""
    if host.startswith("127.") or host == "localhost":
        aioice.ice.get_host_addresses = _loopback_only
    else:
        aioice.ice.get_host_addresses = _original_host_addresses


OPUS_BITRATE = 32_000  # bit/s: what `WebRtcTransport.wire_bytes` counts
# libopus 0-10: 1 keeps speech clear at 32 kbit/s (the pipeline agent's STT hears it,
# tests/simulator/transports/test_webrtc.py); per 20 ms frame ~55 us of speech, ~35 us
# of silence, against ~95 and ~120 us at 10 (5 costs more than either, here).
OPUS_COMPLEXITY = 1
RTP_CLOCK = 48_000  # Opus's RTP timestamp rate (RFC 7587), whatever the audio's rate
_RTP_TIME_BASE = fractions.Fraction(1, RTP_CLOCK)


class OpusPackets:
    """20 ms frames of 16 kHz mono PCM to Opus packets, one packet a frame."""

    def __init__(self, bitrate: int = OPUS_BITRATE, complexity: int = OPUS_COMPLEXITY) -> None:
        codec = self._codec = CodecContext.create("libopus", "w")
        codec.bit_rate = bitrate
        codec.format = "s16"
        codec.layout = "mono"
        codec.sample_rate = SAMPLE_RATE
        codec.time_base = fractions.Fraction(1, SAMPLE_RATE)
        codec.options = {"application": "voip", "compression_level": str(complexity)}

    def encode(self, pcm: Pcm, pts: int) -> Packet:
        """One frame (FRAME_SAMPLES samples) as one packet stamped `pts` (in samples).

        The packet's stamp is already on the RTP clock, which spares aiortc's
        `pack` a Fraction conversion per packet.
        """
        frame = AudioFrame.from_ndarray(pcm.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = pts
        (packet,) = self._codec.encode(frame)  # libopus: 20 ms in, one packet out
        packet.pts = pts * (RTP_CLOCK // SAMPLE_RATE)
        packet.time_base = _RTP_TIME_BASE
        return packet


class PcmTrack(MediaStreamTrack):
    """An outgoing audio track fed with 16 kHz frames, handed to aiortc as Opus packets.

    `paced=False` (the caller): each recv() waits for the next frame the
    session sends in real time. `paced=True` (an agent): frames leave every
    20 ms against the clock, silence when nothing is queued, like a phone line.
    """

    kind = "audio"

    def __init__(self, paced: bool) -> None:
        super().__init__()
        self.paced = paced
        self._opus = OpusPackets()
        self.queue: asyncio.Queue[Pcm | None] = asyncio.Queue()
        self._samples = 0
        self._start: float | None = None
        self._idle = True  # the last frame sent was silence

    def push(self, pcm: Pcm) -> None:
        """Queue audio (any length; split into 20 ms frames)."""
        if len(pcm) == FRAME_SAMPLES:  # the caller's case: one frame every 20 ms
            self.queue.put_nowait(pcm.astype(np.int16))  # a copy: the caller may reuse its buffer
            return
        for k in range(0, len(pcm), FRAME_SAMPLES):
            frame = np.zeros(FRAME_SAMPLES, dtype=np.int16)
            chunk = pcm[k : k + FRAME_SAMPLES]
            frame[: len(chunk)] = chunk
            self.queue.put_nowait(frame)

    def clear(self) -> None:
        """Drop queued audio that has not left yet (barge-in)."""
        while not self.queue.empty():
            self.queue.get_nowait()

    async def recv(self) -> Packet:  # aiortc sends a Frame through its encoder, a Packet as is
        loop = asyncio.get_running_loop()
        if self.paced:
            if self._start is None:
                self._start = loop.time()
            due = self._start + self._samples / SAMPLE_RATE
            queued: Pcm | None = None
            if self._idle:
                # Between replies: audio that comes early leaves at once and the
                # clock realigns to it, so a reply's onset never waits for a tick.
                with contextlib.suppress(TimeoutError):
                    queued = await asyncio.wait_for(self.queue.get(), max(0.0, due - loop.time()))
                    self._start = loop.time() - self._samples / SAMPLE_RATE
            else:
                if due > loop.time():
                    await asyncio.sleep(due - loop.time())
                queued = self.queue.get_nowait() if not self.queue.empty() else None
            self._idle = queued is None
            pcm = queued if queued is not None else np.zeros(FRAME_SAMPLES, dtype=np.int16)
        else:
            got = await self.queue.get()
            if got is None:
                self.stop()
                raise MediaStreamError
            pcm = got
        packet = self._opus.encode(pcm, self._samples)
        self._samples += FRAME_SAMPLES
        return packet


def mono_mean(frame: AudioFrame) -> Pcm:
    """The frame's channels averaged and rounded to whole samples.

    Channel by channel: half the time of numpy's mean along a 2-sample axis.
    """
    data = frame.to_ndarray()
    rows = data if frame.format.is_planar else data.reshape(-1, len(frame.layout.channels)).T
    total = rows[0].astype(np.float64)
    for row in rows[1:]:
        total += row
    return np.round(total / len(rows)).astype(np.int16)


class TrackReader:
    """Decoded frames of a remote track as 16 kHz mono PCM."""

    def __init__(self) -> None:
        self._resampler: StreamResampler | None = None

    def convert(self, frame: AudioFrame) -> Pcm:
        """One received frame (48 kHz stereo s16 from aiortc's Opus decoder) at 16 kHz mono."""
        if self._resampler is None:
            self._resampler = StreamResampler(frame.sample_rate, SAMPLE_RATE)
        return self._resampler(mono_mean(frame))


def parse_control(text: str | bytes, where: str) -> dict[str, Any]:
    """One data-channel control event; ProtocolError unless a JSON object with a type."""
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"data channel: invalid JSON: {exc}", where=where) from exc
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        raise ProtocolError("data channel: event without a type", where=where)
    return event


async def wait_gathered(pc: RTCPeerConnection) -> None:
    """aiortc gathers in setLocalDescription; wait until it reports complete."""
    while pc.iceGatheringState != "complete":  # noqa: ASYNC110 - aiortc has no event for it
        await asyncio.sleep(0.01)


_HANGUP = None
SILENT = SPEECH_THRESHOLD // 10  # below -60 dBFS: decoded digital silence


class WebRtcTransport(Transport):
    """Caller side: offer over HTTP, audio both ways over SRTP/UDP, events on a data channel."""

    reliable = False  # UDP: a lost packet is gone

    def __init__(
        self, url: str, connect_timeout_s: float = 15.0, inline_decode: bool = True
    ) -> None:
        self.url = url.removeprefix("webrtc+")
        self._timeout = connect_timeout_s
        self._inline_decode = inline_decode
        self.decoders: list[InlineDecoder] = []  # received audio decoded on the loop
        self._pc: RTCPeerConnection | None = None
        self._track = PcmTrack(paced=False)
        self._channel: RTCDataChannel | None = None
        self._inbox: asyncio.Queue[Incoming | BaseException | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False

    @staticmethod
    def wire_bytes(samples_16k: int) -> int:
        """One Opus packet (~32 kbit/s for 20 ms) plus RTP/UDP/IP headers."""
        return samples_16k * 80 // FRAME_SAMPLES + 40

    async def connect(self, start: StartInfo) -> None:
        loopback_candidates(urlsplit(self.url).hostname or "")
        pc = self._pc = RTCPeerConnection()
        pc.addTrack(self._track)
        if self._inline_decode:  # before setRemoteDescription: aiortc starts receiving after
            self.decoders = [d for r in pc.getReceivers() if (d := decode_inline(r)) is not None]
        channel = self._channel = pc.createDataChannel("control")
        opened = asyncio.Event()
        channel.on("open", opened.set)
        channel.on("message", self._on_control)
        pc.on("track", self._on_track)
        pc.on("connectionstatechange", self._on_state)
        try:
            async with asyncio.timeout(self._timeout):
                await pc.setLocalDescription(await pc.createOffer())
                await wait_gathered(pc)
                offer = {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
                headers = {"traceparent": start.traceparent}
                async with (
                    aiohttp.ClientSession() as http,
                    http.post(self.url, json=offer, headers=headers) as resp,
                ):
                    if resp.status != 200:
                        raise TransportError(f"offer rejected: HTTP {resp.status}", where=self.url)
                    answer = await resp.json()
                await pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
                await opened.wait()
        except (TimeoutError, aiohttp.ClientError, OSError, KeyError, ValueError) as exc:
            await pc.close()
            raise TransportError(
                f"cannot connect: {exc!r}", where=self.url, fix="is the agent running?"
            ) from exc
        channel.send(json.dumps(start.event()))

    def _on_control(self, message: str | bytes) -> None:
        now = asyncio.get_running_loop().time()
        try:
            self._inbox.put_nowait(EventIn(parse_control(message, self.url), now))
        except ProtocolError as exc:
            self._inbox.put_nowait(exc)

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind == "audio":
            self._tasks.append(asyncio.create_task(self._read(track), name="webrtc-audio-in"))

    async def _read(self, track: MediaStreamTrack) -> None:
        """Forward decoded agent audio; the silence a paced track sends between replies is not.

        A phone line's silence is not audio the caller waits for: forwarding it
        would keep the session's playout buffer busy forever. Dropping frames
        below `SILENT` changes nothing measured (unwritten audio is silence).
        """
        reader = TrackReader()
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError):
            while True:
                frame = await track.recv()
                pcm = reader.convert(frame)  # type: ignore[arg-type]
                if np.abs(pcm.astype(np.int32)).max(initial=0) >= SILENT:
                    self._inbox.put_nowait(AudioIn(pcm, loop.time()))

    async def _on_state(self) -> None:
        """`closed`: a hang-up (the agent closed DTLS, aiortc then closes our side, or we
        closed); `failed`: ICE or DTLS broke (an agent killed, a dead path) - an error."""
        state = self._pc.connectionState if self._pc is not None else "closed"
        if state == "closed":
            self._inbox.put_nowait(_HANGUP)
        elif state == "failed":
            self._inbox.put_nowait(TransportError("peer connection failed", where=self.url))

    async def send_audio(self, pcm: Pcm) -> None:
        if self._closed:
            raise TransportError("send after close", where=self.url)
        self._track.push(pcm)

    async def send_event(self, event: dict[str, Any]) -> None:
        if self._channel is None or self._channel.readyState != "open":
            raise TransportError("data channel is not open", where=self.url)
        self._channel.send(json.dumps(event))

    async def receive(self) -> AsyncIterator[Incoming]:
        while True:
            item = await self._inbox.get()
            if item is _HANGUP:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._channel is not None and self._channel.readyState == "open":
            with contextlib.suppress(Exception):
                self._channel.send(json.dumps({"type": "stop"}))
                await asyncio.sleep(FRAME_SECONDS)
        self._track.queue.put_nowait(None)
        for task in self._tasks:
            task.cancel()
        if self._pc is not None:
            await self._pc.close()
        self._inbox.put_nowait(_HANGUP)
