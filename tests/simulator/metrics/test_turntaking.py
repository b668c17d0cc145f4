"""Turn-taking figures on synthetic two-track audio whose events sit at known samples."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.audio import SAMPLE_RATE
from simulator.metrics.turntaking import (
    Action,
    barge_in_stop_ms,
    call_turn_taking,
    overlap,
    reprompt_ms,
    response_ms,
    segments,
    takeover_on_backchannel,
    takeover_on_pause,
)

TOL_MS = 5.0


def s(ms: float) -> int:
    return int(round(ms * SAMPLE_RATE / 1000))


def track(*spans: tuple[float, float], length_ms: float = 8000) -> np.ndarray:
    """Speech-like audio: 180 Hz voiced "words" of 120 ms with 60 ms gaps over each span."""
    out = np.zeros(s(length_ms), dtype=np.int16)
    rng = np.random.default_rng(1)
    for start, end in spans:
        t = s(start)
        while t < s(end):
            w_end = min(t + s(120), s(end))
            n = np.arange(w_end - t)
            amp = 6000 + 2000 * rng.random()
            # Cosine so the first sample of a word is at full amplitude (an exact onset).
            out[t:w_end] = (amp * np.cos(2 * np.pi * 180 * n / SAMPLE_RATE)).astype(np.int16)
            # ...and a last sample that is loud too, so the end is exact.
            out[w_end - 1] = int(amp)
            t = w_end + s(60)
        out[s(end) - 1] = 7000
    return out


def test_segments_merge_word_gaps_and_find_exact_bounds() -> None:
    segs = segments(track((500, 1500), (2000, 2600)))
    flat = [x / 16 for seg in segs for x in seg]
    assert flat == pytest.approx([500, 1500, 2000, 2600], abs=TOL_MS)


def test_agent_starting_inside_a_caller_pause_is_a_false_takeover() -> None:
    pause = (s(1000), s(1600))
    assert takeover_on_pause(track((1200, 2500)), *pause)
    assert not takeover_on_pause(track((1700, 2500)), *pause)
    # Agent speech already running before the pause is not a new takeover.
    assert not takeover_on_pause(track((0, 1400)), *pause)
    assert not takeover_on_pause(track((0, 900), (1150, 1400)), *pause)  # its next sentence


def test_agent_that_stops_for_a_backchannel_took_it_as_a_turn() -> None:
    bc = (s(1000), s(1300))
    assert takeover_on_backchannel(track((0, 1150)), *bc) is True
    assert takeover_on_backchannel(track((0, 3000)), *bc) is False
    assert takeover_on_backchannel(track((0, 1150), (1400, 3000)), *bc) is False  # sentence break
    assert takeover_on_backchannel(track((2000, 3000)), *bc) is None  # agent was not speaking


def test_barge_in_stop_latency_is_caller_onset_to_agent_audio_end() -> None:
    agent = track((0, 1237), (3000, 3500))
    assert barge_in_stop_ms(agent, s(1000)) == pytest.approx(237, abs=TOL_MS)
    assert barge_in_stop_ms(agent, s(2000)) == 0.0  # already silent
    assert barge_in_stop_ms(track((0, 7900)), s(1000)) is None  # never stopped within 5 s
    # A 250 ms break between two sentences is not a stop: the agent talked on to 2600.
    assert barge_in_stop_ms(track((0, 1237), (1487, 2600)), s(1000)) == pytest.approx(
        1600, abs=TOL_MS
    )


def test_talk_over_counts_agent_speech_started_while_the_caller_spoke() -> None:
    caller = track((0, 1000), (3000, 3600))
    agent = track((800, 2000), (2500, 3400))
    ov = overlap(caller, agent)
    assert ov.agent_talkover_ms == pytest.approx(
        200, abs=TOL_MS
    )  # agent began at 800 over the caller
    assert ov.caller_overlap_ms == pytest.approx(400, abs=TOL_MS)  # caller barged in at 3000
    assert ov.total_ms == pytest.approx(600, abs=TOL_MS)


def test_reprompt_after_silence_is_timed_from_the_silence_start() -> None:
    silence = (s(1000), s(7000))
    assert reprompt_ms(track((4200, 5000)), *silence) == pytest.approx(3200, abs=TOL_MS)
    assert reprompt_ms(track((100, 900)), *silence) is None
    # The tail of an answer running into the silence is not a re-prompt.
    assert reprompt_ms(track((500, 1500)), *silence) is None
    assert reprompt_ms(track((500, 1500), (1750, 2200)), *silence) is None  # its next sentence
    assert reprompt_ms(track((500, 1500), (5000, 5500)), *silence) == pytest.approx(
        4000, abs=TOL_MS
    )


def test_response_latency_after_a_smooth_turn_end() -> None:
    assert response_ms(track((1350, 2000)), s(1000)) == pytest.approx(350, abs=TOL_MS)
    assert response_ms(track((500, 2000)), s(1000)) is None  # agent overlapped the hand-over
    assert response_ms(track((3000, 3500)), s(1000), next_caller_onset=s(2500)) is None


def test_call_summary_counts_each_kind_of_event() -> None:
    caller = track((200, 1000), (1600, 2200), (4000, 4300), (5000, 5400))
    agent = track((1200, 1500), (2550, 4900), (5650, 6000))
    actions = [
        Action("pause", s(1000), s(1600)),  # agent takes over at 1200: false takeover
        Action("turn_end", s(1600), s(2200)),  # reply 350 ms later
        Action("backchannel", s(4000), s(4300)),  # agent talks on to 4900: not yielded
        Action("barge_in", s(5000), s(5400)),  # agent silent: stops in 0 ms
    ]
    out = call_turn_taking(caller, agent, actions)
    assert (out["pauses"], out["pause_takeovers"]) == (1, 1)
    assert (out["backchannels"], out["backchannel_takeovers"]) == (1, 0)
    assert out["response_ms"] == [pytest.approx(350, abs=TOL_MS)]
    assert out["barge_in_stop_ms"] == [0.0]
