"""Streaming STT: eSpeak speech of the domain, fed like a live call, is understood."""

from __future__ import annotations

from pathlib import Path

import jiwer
import numpy as np
import pytest

from reference_agent.pipeline.agent import STT_BATCH_FRAMES
from reference_agent.pipeline.stt import (
    StreamingRecognizer,
    build_domain_model,
    cache_dir,
    decoder_config,
)
from simulator.audio import FRAME_SAMPLES, SAMPLE_RATE, frames
from simulator.caller.tts import synthesize
from tests.reference_agent.smoke_phrases import SMOKE

#: In the domain but not in CALLER_PHRASES: the LM has to generalise.
UNSEEN = [
    "please book me for monday at nine am",
    "what is the status of my order five five one two",
    "i would like to reschedule to sunday at two pm",
]
PAD = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)


@pytest.fixture(scope="module")
def recognizer() -> StreamingRecognizer:
    return StreamingRecognizer()


def _stream(recognizer: StreamingRecognizer, text: str) -> tuple[list[str], str]:
    """Feed eSpeak audio of `text` in 20 ms frames between 0.3 s of silence."""
    speech = synthesize(text)
    pcm = np.concatenate([PAD, speech.pcm, PAD])
    recognizer.start()
    partials = [recognizer.feed(frame) for frame in frames(pcm)]
    return partials, recognizer.finish()


def test_smoke_sentences_are_recognised(recognizer: StreamingRecognizer) -> None:
    hyps = [_stream(recognizer, s)[1] for s in SMOKE]
    assert jiwer.wer(SMOKE, hyps) <= 0.25, list(zip(SMOKE, hyps, strict=True))


def test_unseen_in_domain_sentences_are_recognised(recognizer: StreamingRecognizer) -> None:
    hyps = [_stream(recognizer, s)[1] for s in UNSEEN]
    assert jiwer.wer(UNSEEN, hyps) <= 0.25, list(zip(UNSEEN, hyps, strict=True))


def test_partial_hypotheses_arrive_before_finish(recognizer: StreamingRecognizer) -> None:
    partials, final = _stream(recognizer, SMOKE[0])
    speech_frames = len(partials) - 2 * len(PAD) // FRAME_SAMPLES
    non_empty = [i for i, p in enumerate(partials) if p]
    assert non_empty, "no partial hypothesis before finish()"
    # Words show up while the caller is still talking, not only at the end.
    assert non_empty[0] < len(PAD) // FRAME_SAMPLES + speech_frames // 2
    assert final and final == final.lower()


def test_same_audio_gives_the_same_transcript(recognizer: StreamingRecognizer) -> None:
    assert _stream(recognizer, SMOKE[1])[1] == _stream(recognizer, SMOKE[1])[1]


def test_audio_fed_in_100ms_chunks_gives_the_frame_by_frame_transcript(
    recognizer: StreamingRecognizer,
) -> None:
    # The agent hands speech to its STT thread five frames at a time (one
    # hand-off per 100 ms, not per 20 ms frame): the words must not change.
    for text in SMOKE[:3]:
        pcm = np.concatenate([PAD, synthesize(text).pcm, PAD])
        recognizer.start()
        parts = list(frames(pcm))
        for i in range(0, len(parts), STT_BATCH_FRAMES):
            recognizer.feed(np.concatenate(parts[i : i + STT_BATCH_FRAMES]))
        assert recognizer.finish() == _stream(recognizer, text)[1]


def test_silence_alone_gives_no_words(recognizer: StreamingRecognizer) -> None:
    recognizer.start()
    for frame in frames(np.zeros(SAMPLE_RATE, dtype=np.int16)):
        recognizer.feed(frame)
    assert recognizer.finish() == ""


def test_domain_model_is_cached_on_disk_keyed_by_phrases(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache_dir() == tmp_path / "voxsim"
    a = build_domain_model(["book an appointment", "where is my order"])
    b = build_domain_model(["book an appointment", "where is my order"])
    c = build_domain_model(["make it wednesday instead"])
    assert a == b and a != c
    assert a.lm.parent == cache_dir() and a.lm.read_text().startswith("Corpus:")
    # The dictionary holds exactly the phrases' words (with alternate pronunciations).
    entries = [line.split()[0] for line in a.dict.read_text().splitlines()]
    assert {e.split("(")[0] for e in entries} == {
        "book",
        "an",
        "appointment",
        "where",
        "is",
        "my",
        "order",
    }
    assert "an(2)" in entries
    assert decoder_config(a)["lm"] == str(a.lm)
    assert StreamingRecognizer(a).transcribe(np.zeros(1600, dtype=np.int16)) == ""
