"""Wire-format codecs: the streaming resampler's output and frequency response."""

from __future__ import annotations

from math import gcd

import numpy as np
import pytest
from scipy import signal

from simulator.audio import Pcm
from simulator.transports.codecs import StreamResampler

RATIOS = [(16000, 8000), (8000, 16000), (16000, 24000), (24000, 16000), (48000, 16000)]


class LfilterResampler:
    """The plain form: zero-stuff by `up`, filter the whole chunk with `lfilter` (state
    carried), keep every `down`-th sample. StreamResampler computes only the kept ones."""

    def __init__(self, src: int, dst: int, taps: int = 96) -> None:
        g = gcd(src, dst)
        self.up, self.down = dst // g, src // g
        cutoff = 1.0 / max(self.up, self.down)
        self._h = signal.firwin(taps * max(self.up, 1) | 1, cutoff * 0.92) * self.up
        self._zi = np.zeros(len(self._h) - 1)
        self._phase = 0

    def __call__(self, pcm: Pcm) -> Pcm:
        if len(pcm) == 0:
            return pcm.astype(np.int16, copy=True)
        x = pcm.astype(np.float64)
        if self.up > 1:
            stuffed = np.zeros(len(x) * self.up)
            stuffed[:: self.up] = x
            x = stuffed
        y, self._zi = signal.lfilter(self._h, 1.0, x, zi=self._zi)
        kept = y[self._phase :: self.down]
        self._phase = (self._phase - len(y)) % self.down
        return np.clip(np.round(kept), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize(("src", "dst"), RATIOS)
def test_resampler_equals_the_zero_stuffed_lfilter_form_sample_for_sample(
    src: int, dst: int
) -> None:
    rng = np.random.default_rng(src + dst)
    # Loud noise with full-scale bursts, so rounding and clipping are exercised too, and
    # stretches of zeros (a line between turns) longer and shorter than the filter.
    x = (rng.standard_normal(30000) * 9000).clip(-32768, 32767).astype(np.int16)
    x[5000:5400] = np.where(np.arange(400) % 4 < 2, 32767, -32768)
    for a, b in [(0, 3000), (9000, 14000), (17000, 17050), (20000, 20300), (29000, 30000)]:
        x[a:b] = 0
    fast, plain = StreamResampler(src, dst), LfilterResampler(src, dst)
    pos = 0
    while pos < len(x):
        n = int(rng.choice([0, 1, 2, 3, 160, 320, 480, int(rng.integers(0, 2000))]))
        got, want = fast(x[pos : pos + n]), plain(x[pos : pos + n])
        assert got.dtype == np.int16
        np.testing.assert_array_equal(got, want)
        pos += n


@pytest.mark.parametrize(("src", "dst"), RATIOS)
def test_zeros_right_after_sound_carry_the_filter_tail_and_silence_then_costs_nothing(
    src: int, dst: int
) -> None:
    rng = np.random.default_rng(7)
    fast, plain = StreamResampler(src, dst), LfilterResampler(src, dst)
    loud = (rng.standard_normal(320) * 9000).astype(np.int16)
    chunks = [loud, *(np.zeros(n, np.int16) for n in (10, 50, 320, 320)), loud, loud[:7]]
    chunks += [np.zeros(1, np.int16)] * 150 + [loud]
    filtered: list[int] = []
    run_filter = fast._filter

    def counted(buf: np.ndarray, phase: int, n_out: int) -> np.ndarray:
        filtered.append(len(buf))
        return run_filter(buf, phase, n_out)

    fast._filter = counted  # type: ignore[method-assign]
    outputs = []
    for i, chunk in enumerate(chunks):
        outputs.append(fast(chunk))
        np.testing.assert_array_equal(outputs[-1], plain(chunk))
        if i == 4:  # the sound, then zeros while it is in the 96-sample history
            assert len(filtered) == 4
    assert np.count_nonzero(outputs[1]) > 0  # the tail of the sound before
    assert np.count_nonzero(outputs[4]) == 0
    assert len(filtered) < len(chunks) - 40  # single zeros, once the history is clear


@pytest.mark.parametrize(("src", "dst"), RATIOS)
def test_resampled_length_over_a_stream_is_exact(src: int, dst: int) -> None:
    resample = StreamResampler(src, dst)
    frames = [resample(np.zeros(src // 50, dtype=np.int16)) for _ in range(50)]  # 1 s
    assert sum(len(f) for f in frames) == dst


def _level_db(pcm: Pcm, rate: int, hz: float) -> float:
    """Amplitude of the `hz` component (dB re full scale) past the filter's warm-up."""
    x = pcm[rate // 10 :].astype(np.float64)
    t = np.arange(len(x)) / rate
    amp = 2 * abs(np.mean(x * np.exp(-2j * np.pi * hz * t)))
    return float(20 * np.log10(max(amp, 1e-9) / 32768))


def _tone(hz: float, rate: int, amp: float = 16000.0) -> Pcm:
    t = np.arange(rate) / rate
    return (amp * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def _in_frames(resample: StreamResampler, pcm: Pcm, n: int) -> Pcm:
    return np.concatenate([resample(pcm[i : i + n]) for i in range(0, len(pcm), n)])


def test_downsampling_to_twilio_keeps_speech_and_rejects_what_would_alias() -> None:
    for hz, within in [(300.0, 0.1), (1000.0, 0.1), (3000.0, 0.1)]:
        out = _in_frames(StreamResampler(16000, 8000), _tone(hz, 16000), 320)
        assert abs(_level_db(out, 8000, hz) - _level_db(_tone(hz, 16000), 16000, hz)) < within
    # 5 kHz is above 8 kHz's Nyquist: it would come back as 3 kHz.
    out = _in_frames(StreamResampler(16000, 8000), _tone(5000.0, 16000), 320)
    assert _level_db(out, 8000, 3000.0) < _level_db(_tone(5000.0, 16000), 16000, 5000.0) - 40


def test_upsampling_from_twilio_keeps_the_band_and_adds_no_image() -> None:
    tone = _tone(1000.0, 8000)
    out = _in_frames(StreamResampler(8000, 16000), tone, 160)
    assert abs(_level_db(out, 16000, 1000.0) - _level_db(tone, 8000, 1000.0)) < 0.1
    assert _level_db(out, 16000, 7000.0) < _level_db(tone, 8000, 1000.0) - 40  # the image
