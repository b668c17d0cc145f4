"""WebRTC audio through aiortc: the caller's own Opus packets, received frames at 16 kHz."""

from __future__ import annotations

import fractions

import numpy as np
import pytest
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, CodecContext, Packet

from simulator.audio import FRAME_SAMPLES, SAMPLE_RATE
from simulator.transports.codecs import StreamResampler
from simulator.transports.webrtc import (
    RTP_CLOCK,
    OpusPackets,
    PcmTrack,
    TrackReader,
    mono_mean,
)


def stereo_48k(samples: np.ndarray) -> list[AudioFrame]:
    """Interleaved stereo int16 as aiortc's Opus decoder hands it over, 20 ms a frame."""
    frames = []
    for k in range(0, len(samples), 1920):
        frame = AudioFrame.from_ndarray(samples[k : k + 1920].reshape(1, -1), "s16", "stereo")
        frame.sample_rate = 48_000
        frames.append(frame)
    return frames


def old_convert(resampler: StreamResampler, frame: AudioFrame) -> np.ndarray:
    """What TrackReader did before: float mean of the channels, rounded, then StreamResampler."""
    mono = frame.to_ndarray().reshape(-1, 2).astype(np.float64).mean(axis=1)
    return resampler(np.round(mono).astype(np.int16))


def speech_like(seconds: float, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.round(rng.standard_normal(int(96_000 * seconds)) * 4000)
    return np.clip(x, -32768, 32767).astype(np.int16)


def test_received_frames_are_the_channels_mean_through_stream_resampler() -> None:
    frames = stereo_48k(speech_like(1.0))
    reader, resampler = TrackReader(), StreamResampler(48_000, SAMPLE_RATE)
    for frame in frames:
        assert np.array_equal(reader.convert(frame), old_convert(resampler, frame))


def test_planar_frames_are_averaged_the_same_way() -> None:
    x = speech_like(0.02).reshape(2, -1)  # two planes of 960 samples
    frame = AudioFrame.from_ndarray(x, "s16p", "stereo")
    want = np.round(x.astype(np.float64).mean(axis=0)).astype(np.int16)
    assert np.array_equal(mono_mean(frame), want)


def decode(packets: list[Packet]) -> np.ndarray:
    codec = CodecContext.create("libopus", "r")
    codec.sample_rate, codec.layout, codec.format = 48_000, "mono", "s16"
    out = [f.to_ndarray().ravel() for p in packets for f in codec.decode(p)]
    return np.concatenate(out)


def test_opus_packets_are_one_per_frame_on_the_rtp_clock_and_decode_to_the_tone() -> None:
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    opus = OpusPackets()
    packets = [
        opus.encode(tone[k : k + FRAME_SAMPLES], k) for k in range(0, len(tone), FRAME_SAMPLES)
    ]
    assert len(packets) == 50
    assert [p.pts for p in packets[:3]] == [0, 960, 1920]
    assert packets[0].time_base == fractions.Fraction(1, RTP_CLOCK)
    assert 40 <= np.mean([p.size for p in packets]) <= 120  # ~32 kbit/s: wire_bytes' figure
    heard = decode(packets)[4800:].astype(np.float64)  # past the codec's start-up
    spectrum = np.abs(np.fft.rfft(heard))
    assert np.argmax(spectrum) * 48_000 / len(heard) == pytest.approx(440, abs=5)
    rms = np.sqrt(np.mean(heard**2))
    assert rms == pytest.approx(8000 / np.sqrt(2), rel=0.15)


async def test_caller_track_sends_what_was_pushed_then_ends_on_hang_up() -> None:
    track = PcmTrack(paced=False)
    t = np.arange(FRAME_SAMPLES) / SAMPLE_RATE
    frame = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    track.push(frame)
    frame[:] = 0  # the caller reuses its buffer: what was pushed is already copied
    track.push(np.zeros(FRAME_SAMPLES * 5 // 2, dtype=np.int16))  # split and padded
    packets = [await track.recv() for _ in range(4)]
    assert [p.pts for p in packets] == [0, 960, 1920, 2880]
    heard = np.abs(decode(packets).astype(np.int32))  # 960 samples a packet
    assert heard[:1280].max() > 3000  # the tone (and the codec's ~6.5 ms look-ahead)
    assert heard[-960:].max() < 300  # the pushed silence and the padding, once the tone rang out
    track.queue.put_nowait(None)
    with pytest.raises(MediaStreamError):
        await track.recv()
