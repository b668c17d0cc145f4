"""The telephone line: level, narrowband filtering, G.711 or Opus, packet loss, clipping.

Order: gain -> 8 kHz with a 300-3400 Hz band-pass -> codec in 20 ms packets
(PyAV's G.711 mu-law/A-law or libopus at a set bitrate) with lost packets
concealed -> clipping -> back to 16 kHz, low-passed again so resampling
images cannot leak above 4 kHz. The filters are zero-phase and the codec
delay is measured by cross-correlation and removed, so the ground-truth
speech bounds still hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy.signal import butter, correlate, resample_poly, sosfiltfilt

from simulator.audio import SAMPLE_RATE, Pcm
from simulator.caller.truth import Truth, to_int16
from simulator.scenario import Channel

NARROW_RATE = 8_000
_MAX_CODEC_DELAY = 960  # samples at the codec rate searched for codec delay


@lru_cache(maxsize=4)
def _band(rate: int) -> np.ndarray:
    return butter(8, [300, 3400], btype="bandpass", fs=rate, output="sos")


def codec_roundtrip(x: Pcm, codec: str, rate: int, bitrate_kbps: float = 12.0) -> Pcm:
    """Encode and decode int16 audio with PyAV (`mulaw`, `alaw` or `opus`)."""
    packets = _encode(x, codec, rate, bitrate_kbps)
    return _decode(packets, codec, rate, len(x), None)[: len(x)]


def _codec_name(codec: str) -> str:
    return {"mulaw": "pcm_mulaw", "alaw": "pcm_alaw", "opus": "libopus"}[codec]


def _encode(x: Pcm, codec: str, rate: int, bitrate_kbps: float) -> list[bytes]:
    """20 ms packets of the encoded stream (Opus: the encoder's own framing)."""
    import av

    ctx: Any = av.CodecContext.create(_codec_name(codec), "w")
    ctx.sample_rate = rate
    ctx.layout = "mono"
    ctx.format = "s16"
    if codec == "opus":
        ctx.bit_rate = int(bitrate_kbps * 1000)
    ctx.open()
    step = rate // 50
    padded = np.zeros(-(-len(x) // step) * step + (step * 4 if codec == "opus" else 0), np.int16)
    padded[: len(x)] = x
    out: list[bytes] = []
    for i in range(0, len(padded), step):
        frame = av.AudioFrame.from_ndarray(padded[None, i : i + step], format="s16", layout="mono")
        frame.sample_rate = rate
        frame.pts = i
        out += [bytes(p) for p in ctx.encode(frame)]
    out += [bytes(p) for p in ctx.encode(None)]
    return out


def _decode(packets: list[bytes], codec: str, rate: int, n: int, lost: np.ndarray | None) -> Pcm:
    """Decode packets; a lost packet is concealed by fading out the last good one."""
    import av

    ctx: Any = av.CodecContext.create(_codec_name(codec), "r")
    ctx.sample_rate = rate
    ctx.layout = "mono"
    ctx.open()
    # libopus decodes at 48 kHz whatever it was encoded at: resample back.
    resampler = av.AudioResampler(format="s16", layout="mono", rate=rate)
    step = rate // 50
    pieces: list[np.ndarray] = []
    last = np.zeros(step)
    run = 0
    for k, data in enumerate(packets):
        if lost is not None and k < len(lost) and lost[k]:
            run += 1
            # Waveform substitution (in the spirit of G.711 Appendix I):
            # repeat the last good packet, fading out over three lost packets.
            pieces.append(last * max(0.0, 1 - run / 3))
            continue
        run = 0
        decoded = [
            r.to_ndarray().astype(np.float64).reshape(-1)
            for f in ctx.decode(av.Packet(data))
            for r in resampler.resample(f)
        ]
        if decoded:
            got = np.concatenate(decoded)
            pieces.append(got)
            last = got[-step:] if len(got) >= step else got
    y = np.concatenate(pieces) if pieces else np.zeros(0)
    if len(y) < n:
        y = np.concatenate([y, np.zeros(n - len(y))])
    return to_int16(y)


def codec_delay(x: Pcm, y: Pcm) -> int:
    """Lag (samples) of `y` behind `x`, by cross-correlation over 0..60 ms."""
    xs, ys = x.astype(np.float64), y.astype(np.float64)
    c = correlate(ys[: len(xs) + _MAX_CODEC_DELAY], xs, mode="full", method="fft")
    zero = len(xs) - 1
    window = c[zero : zero + _MAX_CODEC_DELAY]
    return int(np.argmax(window)) if len(window) else 0


@dataclass(frozen=True)
class ChannelStage:
    """A phone line between the caller and the agent (see the module docstring)."""

    cfg: Channel

    def render(self, audio: Pcm, truth: Truth, rng: np.random.Generator) -> tuple[Pcm, Truth]:
        """Pass `audio` through the line; speech bounds unchanged (delay removed)."""
        cfg = self.cfg
        x = audio.astype(np.float64) * 10 ** (cfg.gain_db / 20)
        rate = NARROW_RATE if cfg.narrowband else SAMPLE_RATE
        if cfg.narrowband:
            x = sosfiltfilt(_band(rate), resample_poly(x, 1, 2))
        coded = to_int16(x)
        lost_count = 0
        if cfg.codec != "none":
            packets = _encode(coded, cfg.codec, rate, cfg.bitrate_kbps)
            lost = rng.random(len(packets)) < cfg.loss_rate
            lost_count = int(lost.sum())
            clean = _decode(packets, cfg.codec, rate, len(coded), None)
            decoded = _decode(packets, cfg.codec, rate, len(coded), lost)
            lag = codec_delay(coded, clean) if cfg.codec == "opus" else 0
            x = decoded[lag : lag + len(coded)].astype(np.float64)
        else:
            x = coded.astype(np.float64)
        limit = 32767 * 10 ** (cfg.clip_dbfs / 20)
        clipped = int(np.sum(np.abs(x) > limit))
        x = np.clip(x, -limit, limit)
        if cfg.narrowband:
            x = sosfiltfilt(_band(SAMPLE_RATE), resample_poly(x, 2, 1))
        out = to_int16(x[: len(audio)])
        if len(out) < len(audio):
            out = np.concatenate([out, np.zeros(len(audio) - len(out), np.int16)])
        return out, truth.noted(packets_lost=lost_count, samples_clipped=clipped)
