"""Every listed voice speaks, accents differ, and Piper gives a deterministic natural voice."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from simulator.caller.piper_tts import synthesize_piper
from simulator.caller.speech import synth_one
from simulator.caller.voices import check_voice, list_voices
from simulator.scenario import Caller


def test_voxsim_voices_lists_accents_non_native_voices_and_piper() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "voices"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in ("en-us", "en-gb-scotland", "en-gb-x-rp", "en-029", "joe"):
        assert name in out.lower()
    assert "non-native" in out and "piper" in out


@pytest.mark.parametrize(("engine", "voice"), [(e, v) for e, v, _ in list_voices()])
def test_every_listed_voice_is_accepted_and_speaks(engine: str, voice: str) -> None:
    check_voice(engine, voice)
    sp = synth_one("Please check my order", Caller(engine=engine, voice=voice), seed=1)  # type: ignore[arg-type]
    assert sp.end - sp.start > 8000  # more than half a second of speech


def test_accents_and_speaker_variants_change_the_audio() -> None:
    base = synth_one("Please check my order", Caller(voice="en-us"), seed=1).pcm
    for voice in ("en-gb-scotland", "en-us+f3", "en-us+klatt"):
        other = synth_one("Please check my order", Caller(voice=voice), seed=1).pcm
        assert len(other) != len(base) or not np.array_equal(other, base)


def test_rate_and_word_gap_stretch_the_utterance() -> None:
    def length(**kw: int) -> int:
        sp = synth_one("one two three four five six", Caller(**kw), seed=1)  # type: ignore[arg-type]
        return sp.end - sp.start

    assert length(rate_wpm=120) > 1.3 * length(rate_wpm=200)
    assert length(word_gap_ms=200) > length(word_gap_ms=0) + 5 * 0.15 * 16_000


def test_piper_is_byte_identical_for_the_same_text_and_follows_the_rate() -> None:
    a = synthesize_piper("I would like to book a table", 170)
    b = synthesize_piper("I would like to book a table", 170)
    assert a.pcm.tobytes() == b.pcm.tobytes() and a.end - a.start > 16_000
    slow = synthesize_piper("I would like to book a table", 110)
    assert slow.end - slow.start > 1.3 * (a.end - a.start)


def test_variant_names_are_case_sensitive_like_espeak_itself() -> None:
    """eSpeak silently ignores a variant it cannot open; voxsim must refuse it instead."""
    check_voice("espeak", "en-us+anikaRobot")
    with pytest.raises(ValueError, match="not an espeak voice"):
        check_voice("espeak", "en-us+anikarobot")
    robot = synth_one("hello there", Caller(voice="en-us+anikaRobot"), seed=1).pcm
    plain = synth_one("hello there", Caller(voice="en-us"), seed=1).pcm
    assert len(robot) != len(plain)
