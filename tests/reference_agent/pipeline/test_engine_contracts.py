"""The speech engine contracts: every STT, TTS and VAD engine of the pipeline agent.

Each seam picks its engine by name (`voxsim agent serve --stt/--voice/--vad`):

- STT, `reference_agent.pipeline.stt.make_recognizer` over `STT_CHOICES`
  (pocketsphinx with the domain LM; pocketsphinx partials + Whisper at the end):
  fed a caller's sentence frame by frame it returns the words, lower case; the
  same audio gives the same transcript; `finish`/`settled` outside an
  utterance give "", and `discard` ends one without a transcript.
- TTS, `reference_agent.pipeline.tts.synthesize_sentence` over `VOICES`
  (eSpeak NG, Piper): 16 kHz int16 audio whose exact speech bounds are inside
  it and plausible for the sentence, recognisable by the domain STT; `speak`
  trims the leading silence.
- VAD, `reference_agent.pipeline.vad.vad_engine` over `VADS` (webrtcvad,
  silero): one 20 ms frame in, a bool out; silence is not speech, most frames
  of a sentence are, and a fresh engine judges the same audio the same way.
  How each one endpoints a turn is tests/reference_agent/pipeline/test_vad.py.

A new engine is added by passing its contract: name it in the seam's choices
(`STT_CHOICES`, `VOICES`, `VADS`) and build it in the seam's factory; the
parametrisation below follows those tuples (with a skip when an optional
install is missing).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pytest

from reference_agent.pipeline import silero
from reference_agent.pipeline.stt import STT_CHOICES, make_recognizer, whisper_available
from reference_agent.pipeline.tts import VOICES, speak, synthesize_sentence
from reference_agent.pipeline.vad import VADS, vad_engine
from simulator.audio import FRAME_SAMPLES, SAMPLE_RATE, SPEECH_THRESHOLD, Pcm, frames
from simulator.caller.tts import Speech, synthesize

SENTENCE = "where is my order one two three four"
PAD = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)

MISSING = {
    "whisper": None if whisper_available() else "Whisper not installed (make install)",
    "silero": None if silero.available() else "silero-vad not installed (make install)",
}


def engines(names: tuple[str, ...]) -> list[object]:
    """`names` as parameters, each skipped when its optional install is missing."""
    return [
        pytest.param(n, marks=pytest.mark.skip(reason=MISSING[n])) if MISSING.get(n) else n
        for n in names
    ]


@lru_cache(maxsize=1)
def caller_speech() -> Speech:
    return synthesize(SENTENCE)


def padded(speech: Speech) -> Pcm:
    return np.concatenate([PAD, speech.pcm, PAD])


# STT


@pytest.mark.parametrize("stt", engines(STT_CHOICES))
def test_a_recognizer_fed_frame_by_frame_hears_the_words(stt: str) -> None:
    recognizer = make_recognizer(stt)
    recognizer.start()
    for frame in frames(padded(caller_speech())):
        recognizer.feed(frame)
    heard = recognizer.finish()
    assert heard == heard.lower()
    assert {"order", "four"} <= set(heard.split()), heard


@pytest.mark.parametrize("stt", engines(STT_CHOICES))
def test_a_recognizer_gives_the_same_audio_the_same_transcript(stt: str) -> None:
    recognizer = make_recognizer(stt)
    first = recognizer.transcribe(padded(caller_speech()))
    assert first and recognizer.transcribe(padded(caller_speech())) == first


@pytest.mark.parametrize("stt", engines(STT_CHOICES))
def test_outside_an_utterance_a_recognizer_says_nothing(stt: str) -> None:
    recognizer = make_recognizer(stt)
    assert recognizer.finish() == ""
    assert recognizer.settled() == ""
    recognizer.start()
    for frame in frames(padded(caller_speech())):
        recognizer.feed(frame)
    recognizer.discard()  # a backchannel: no transcript wanted
    assert recognizer.finish() == ""
    assert recognizer.settled() == ""


# TTS


@pytest.mark.parametrize("voice", engines(VOICES))
def test_a_voice_speaks_the_sentence_with_its_exact_bounds(voice: str) -> None:
    speech = synthesize_sentence(SENTENCE, voice)
    assert speech.pcm.dtype == np.int16 and speech.pcm.ndim == 1
    assert 0 <= speech.start < speech.end <= len(speech.pcm)
    seconds = (speech.end - speech.start) / SAMPLE_RATE
    assert 1.0 < seconds < 5.0, seconds  # eight words at ~185 wpm
    assert np.abs(speech.pcm[: speech.start].astype(np.int32)).max(initial=0) < SPEECH_THRESHOLD
    heard = make_recognizer("domain").transcribe(padded(speech))
    assert "order" in heard.split(), heard


@pytest.mark.parametrize("voice", engines(VOICES))
async def test_speak_starts_at_the_first_speech_sample(voice: str) -> None:
    speech = synthesize_sentence(SENTENCE, voice)
    trimmed = await speak(SENTENCE, voice)
    assert len(trimmed) == len(speech.pcm) - speech.start
    assert np.abs(trimmed[:FRAME_SAMPLES].astype(np.int32)).max() >= SPEECH_THRESHOLD // 4


# VAD


@pytest.mark.parametrize("vad", engines(VADS))
def test_a_vad_hears_no_speech_in_silence(vad: str) -> None:
    is_speech = vad_engine(vad)
    assert not any(is_speech(f) for f in frames(np.zeros(SAMPLE_RATE, dtype=np.int16)))


@pytest.mark.parametrize("vad", engines(VADS))
def test_a_vad_hears_most_of_a_sentence_the_same_way_twice(vad: str) -> None:
    speech = caller_speech()
    voiced = frames(speech.pcm[speech.start : speech.end])
    once, again = vad_engine(vad), vad_engine(vad)  # fresh engines: no state carried over
    first = [once(f) for f in voiced]
    assert all(isinstance(v, bool) for v in first)
    assert sum(first) > 0.6 * len(first), (sum(first), len(first))
    assert [again(f) for f in voiced] == first
