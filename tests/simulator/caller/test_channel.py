"""The telephone line is band-limited, G.711 is exact to its bound, and timing holds."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.caller.channel import ChannelStage, codec_roundtrip
from simulator.caller.truth import Truth
from simulator.caller.tts import Speech
from simulator.scenario import Channel


def _band_levels(x: np.ndarray) -> tuple[float, float]:
    spec = np.abs(np.fft.rfft(x.astype(np.float64))) ** 2
    f = np.fft.rfftfreq(len(x), 1 / 16_000)
    return float(spec[(f > 300) & (f < 3400)].mean()), float(spec[f > 4000].max())


@pytest.mark.parametrize("codec", ["none", "mulaw", "alaw", "opus"])
def test_nothing_above_4_khz_within_40_db_of_the_in_band_level(
    codec: str, speech: Speech, truth: Truth
) -> None:
    cfg = Channel(codec=codec, loss_rate=0.1, clip_dbfs=-6)
    out, after = ChannelStage(cfg).render(speech.pcm, truth, np.random.default_rng(4))
    inband, above = _band_levels(out)
    assert 10 * np.log10(above / inband) < -40
    assert len(out) == len(speech.pcm)
    if codec != "none":
        assert after.notes["packets_lost"] > 0
    assert after.notes["samples_clipped"] > 0


def test_the_wideband_input_did_have_energy_above_4_khz(speech: Speech) -> None:
    """Guards the test above: the band limit is the channel's doing."""
    inband, above = _band_levels(speech.pcm)
    assert 10 * np.log10(above / inband) > -40


def _every_int16() -> np.ndarray:
    x = np.arange(-32768, 32768)
    return x[np.random.default_rng(0).permutation(len(x))].astype(np.int16)


def test_mu_law_round_trip_error_is_within_the_g711_step_bound() -> None:
    """G.711 mu-law keeps 14 bits (2 truncated) and decodes to the middle of a
    segment step of 2**(s+3) in 16-bit units: error <= 2**(s+2) + 3 up to 32124."""
    x = _every_int16()
    y = codec_roundtrip(x, "mulaw", 8000)
    mag = np.abs(x.astype(np.int64))
    err = np.abs(y.astype(np.int64) - x)
    seg = np.clip(np.floor(np.log2((mag >> 2) + 33)).astype(int) - 5, 0, 7)
    inside = mag <= 32124
    assert np.all(err[inside] <= 2 ** (seg[inside] + 2) + 3)
    assert np.abs(y).max() == 32124  # the mu-law overload point
    assert err[inside].max() == 2**9 + 3  # the bound is reached, not loose


def test_a_law_round_trip_error_is_within_the_g711_step_bound() -> None:
    x = _every_int16()
    y = codec_roundtrip(x, "alaw", 8000)
    m13 = np.abs(x.astype(np.int64)) >> 3
    err = np.abs(y.astype(np.int64) - x)
    seg = np.where(m13 < 32, 0, np.floor(np.log2(np.maximum(m13, 1))).astype(int) - 4)
    bound = np.where(seg <= 1, 2, 2.0**seg) * 4 + 7
    inside = np.abs(x.astype(np.int64)) <= 32256
    assert np.all(err[inside] <= bound[inside])


def test_opus_bitrate_changes_the_audio_and_its_delay_is_removed(
    speech: Speech, truth: Truth
) -> None:
    low, _ = ChannelStage(Channel(codec="opus", bitrate_kbps=6)).render(
        speech.pcm, truth, np.random.default_rng(0)
    )
    high, _ = ChannelStage(Channel(codec="opus", bitrate_kbps=32)).render(
        speech.pcm, truth, np.random.default_rng(0)
    )
    ref, _ = ChannelStage(Channel(codec="none")).render(speech.pcm, truth, np.random.default_rng(0))

    def err(x: np.ndarray) -> float:
        return float(np.mean((x.astype(float) - ref.astype(float)) ** 2))

    assert err(high) < err(low)
    c = np.correlate(high[:12000].astype(float), ref[2000:10000].astype(float), "valid")
    assert abs(int(np.argmax(c)) - 2000) <= 2
