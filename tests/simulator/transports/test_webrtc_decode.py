"""Received WebRTC audio is decoded on the event loop, the same audio aiortc's thread made."""

from __future__ import annotations

import asyncio
import statistics
from types import SimpleNamespace
from typing import Any

import aiortc.rtcrtpreceiver
import numpy as np
import pytest
from aiortc import RTCPeerConnection, RTCRtpCodecParameters
from aiortc.codecs import get_decoder
from aiortc.jitterbuffer import JitterFrame

from simulator.audio import FRAME_SAMPLES
from simulator.runner import run_call
from simulator.transports.webrtc import OpusPackets, PcmTrack, WebRtcTransport
from simulator.transports.webrtc_decode import InlineDecoder, decode_inline
from tests.delay_shift import agent_work_ms, scenario
from tests.simulator.transports.conftest import routes
from tests.simulator.transports.test_webrtc_audio import speech_like

OPUS = RTCRtpCodecParameters(mimeType="audio/opus", clockRate=48000, channels=2, payloadType=111)


async def test_the_pinned_aiortc_lets_its_receivers_decode_inline() -> None:
    """Fails if aiortc renames the decoder queue: the caller would silently fall back to
    aiortc's decoder thread, several times the CPU per caller."""
    pc = RTCPeerConnection()
    try:
        pc.addTrack(PcmTrack(paced=False))
        (receiver,) = pc.getReceivers()
        inline = decode_inline(receiver)
        assert isinstance(inline, InlineDecoder)
        assert receiver._RTCRtpReceiver__decoder_queue is inline  # type: ignore[attr-defined]
    finally:
        await pc.close()


def opus_frames(seconds: float) -> list[JitterFrame]:
    """Speech-like audio as the Opus frames a receiver's jitter buffer hands on."""
    opus = OpusPackets()
    pcm = speech_like(seconds)
    frames = []
    for k in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES):
        packet = opus.encode(pcm[k : k + FRAME_SAMPLES], k)
        frames.append(JitterFrame(data=bytes(packet), timestamp=int(packet.pts)))
    return frames


async def test_inline_frames_are_what_aiortcs_decoder_makes_and_stop_ends_the_track() -> None:
    queue: asyncio.Queue[Any] = asyncio.Queue()
    inline = InlineDecoder(SimpleNamespace(_track=SimpleNamespace(_queue=queue)))  # type: ignore[arg-type]
    encoded = opus_frames(1.0)
    reference = get_decoder(OPUS)
    for frame in encoded:
        inline.put((OPUS, frame))
        (want,) = reference.decode(frame)
        got = queue.get_nowait()
        assert got.pts == want.pts and got.sample_rate == want.sample_rate
        np.testing.assert_array_equal(got.to_ndarray(), want.to_ndarray())
    assert inline.frames == len(encoded) and queue.empty()
    inline.put((OPUS, JitterFrame(data=b"\xff" * 3, timestamp=0)))  # corrupt: logged, skipped
    # aiortc's stop: put(None), then the idle thread's get() returns None and ends the track.
    waiting = asyncio.create_task(asyncio.to_thread(inline.get))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    inline.put(None)
    assert await asyncio.wait_for(waiting, 2) is None


def net_latencies(call: dict[str, Any]) -> list[float]:
    """Each `say` turn's latency minus the agent's own compute for it."""
    said = [t for t in call["turns"] if t["kind"] == "say"]
    assert len(said) == 5 and None not in [t["latency_ms"] for t in said], said
    return [t["latency_ms"] - agent_work_ms(t) for t in said]


async def test_a_call_measures_the_same_latency_as_with_aiortcs_decoder_thread(
    pipeline_agent_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = routes(pipeline_agent_url)["webrtc"]
    thread_decodes = 0
    stock_get_decoder = aiortc.rtcrtpreceiver.get_decoder

    def counting(codec: RTCRtpCodecParameters) -> Any:  # aiortc's thread makes its decoder
        nonlocal thread_decodes
        thread_decodes += 1
        return stock_get_decoder(codec)

    monkeypatch.setattr(aiortc.rtcrtpreceiver, "get_decoder", counting)
    latencies: dict[bool, list[float]] = {True: [], False: []}
    inline_frames = 0
    for inline in (False, True):
        transport = WebRtcTransport(url, inline_decode=inline)
        before = thread_decodes
        call = await run_call(scenario("rtc-decode"), transport, f"rtc-decode-{inline}")
        assert call["status"] == "ok", call["error"]
        latencies[inline] += net_latencies(call)
        if inline:
            assert thread_decodes == before  # aiortc's thread decoded nothing
            (decoder,) = transport.decoders
            inline_frames += decoder.frames
        else:
            assert thread_decodes == before + 1 and not transport.decoders
    assert inline_frames > 5 * 50  # a second or more of each reply
    shift = statistics.median(b - a for a, b in zip(latencies[False], latencies[True], strict=True))
    print(f"inline decoding moved the net latency by {shift:.1f} ms (median of 5 turns)")
    # Each call has its own jitter-buffer depth, in 20 ms steps (so two calls may differ
    # by one step either way); a decode path that held frames back would add more.
    assert shift == pytest.approx(0, abs=25)
