"""Caller speech: offline eSpeak NG, 16 kHz int16, exact ground truth, byte-identical renders."""

from __future__ import annotations

import numpy as np

from simulator.audio import SAMPLE_RATE
from simulator.caller.render import render_isolated
from simulator.caller.tts import TRUTH_THRESHOLD, english_voices, synthesize
from simulator.scenario import parse_scenario


def test_speech_is_16k_int16_with_exact_speech_bounds() -> None:
    s = synthesize("Where is my order one two three four", voice="en-US", rate_wpm=170)
    assert s.pcm.dtype == np.int16
    assert 1.0 < len(s.pcm) / SAMPLE_RATE < 4.0
    loud = np.abs(s.pcm.astype(np.int32)) > TRUTH_THRESHOLD
    assert not loud[: s.start].any() and loud[s.start]
    assert loud[s.end - 1] and not loud[s.end :].any()


def test_faster_speech_is_shorter() -> None:
    slow = synthesize("I would like to book an appointment", rate_wpm=120)
    fast = synthesize("I would like to book an appointment", rate_wpm=240)
    assert fast.end - fast.start < 0.7 * (slow.end - slow.start)


def test_english_accents_are_listed() -> None:
    voices = english_voices()
    for v in ("en-US", "en-GB-scotland", "en-029"):
        assert v in voices


def test_two_renders_of_the_same_call_are_byte_identical() -> None:
    sc = parse_scenario(
        "name: d\nseed: 5\ncaller: {voice: en-GB-scotland}\nturns:\n"
        "  - say: Hello there\n  - say: Where is my order one two three four\n"
    )
    a = render_isolated(list(sc.turns), sc.caller, sc.seed)
    b = render_isolated(list(sc.turns), sc.caller, sc.seed)
    assert [t.pcm.tobytes() for t in a] == [t.pcm.tobytes() for t in b]
    assert [(t.speech_start, t.speech_end) for t in a] == [
        (t.speech_start, t.speech_end) for t in b
    ]
