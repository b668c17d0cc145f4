"""Endpointing with either VAD: speech start, then an endpoint one hangover after speech."""

from __future__ import annotations

import numpy as np
import pytest

from reference_agent.pipeline import silero
from reference_agent.pipeline.vad import Endpointer, VadEvent
from simulator.audio import FRAME_SAMPLES, SAMPLE_RATE, frames
from simulator.caller.tts import synthesize

LEAD = 10 * FRAME_SAMPLES


def _endpoint_after_speech_ms(vad: str, hangover_ms: int) -> tuple[float, float]:
    """(speech start detected after true onset, endpoint after true end), in ms."""
    speech = synthesize("where is my order one two three four")
    voiced = speech.pcm[speech.start : speech.end]
    pcm = np.concatenate([np.zeros(LEAD, np.int16), voiced, np.zeros(SAMPLE_RATE, np.int16)])
    ep = Endpointer(hangover_ms=hangover_ms, vad=vad)
    start = end = None
    for k, frame in enumerate(frames(pcm)):
        event = ep.process(frame)
        at = (k + 1) * FRAME_SAMPLES
        if event is VadEvent.SPEECH_START and start is None:
            start = (at - LEAD) * 1000 / SAMPLE_RATE
        if event is VadEvent.ENDPOINT:
            end = (at - LEAD - len(voiced)) * 1000 / SAMPLE_RATE
            break
    assert start is not None and end is not None
    return start, end


@pytest.mark.parametrize("vad", ["webrtc", "silero"])
def test_the_endpoint_comes_one_hangover_plus_the_vad_tail_after_speech(vad: str) -> None:
    if vad == "silero" and not silero.available():
        pytest.skip("silero-vad not installed (make install)")
    start, end = _endpoint_after_speech_ms(vad, 240)
    assert 0 < start <= 120
    assert 240 <= end <= 240 + 160  # the VAD's offset tail is under 160 ms
    _, shorter = _endpoint_after_speech_ms(vad, 120)
    assert end - shorter == pytest.approx(120, abs=20)


def test_silero_ends_speech_sooner_than_webrtcvad() -> None:
    if not silero.available():
        pytest.skip("silero-vad not installed (make install)")
    assert _endpoint_after_speech_ms("silero", 240)[1] < _endpoint_after_speech_ms("webrtc", 240)[1]
