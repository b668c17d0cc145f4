"""`--stt whisper`: the bundled agents understand callers who speak in their own words.

Real engines throughout: eSpeak / Piper speak (Piper where one recognition
is checked: its audio is the same bytes every time, eSpeak's varies a
little), pocketsphinx streams, Whisper tiny transcribes each utterance, the
agent runs in its own process behind a real WebSocket (as `voxsim run`
starts it) and makes real tool calls.
"""

from __future__ import annotations

import sys
from collections.abc import Generator, Iterator
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from reference_agent import domain
from reference_agent.domain.words import spoken_time
from reference_agent.pipeline.stt import (
    StreamingRecognizer,
    UtteranceRecognizer,
    whisper_available,
    whisper_transcriber,
)
from simulator.audio import SAMPLE_RATE, frames
from simulator.call import new_traceparent
from simulator.caller.piper_tts import synthesize_piper
from simulator.caller.render import render_call
from simulator.scenario import parse_scenario
from simulator.session import CallRecord, Session
from simulator.transports.base import StartInfo
from simulator.transports.websocket import WebSocketTransport
from tests.conftest import serve

pytestmark = pytest.mark.skipif(not whisper_available(), reason="faster-whisper not installed")

PAD = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)

#: A caller booking in words the domain LM's phrase list does not contain.
NATURAL_BOOKING = """
name: natural-booking
seed: 5
caller: {{engine: {engine}, voice: {voice}}}
turns:
  - wait: true
  - say: "Hi, I need to see someone on Wednesday."
  - say: "{time}"
  - say: "Thank you goodbye."
"""
#: Whisper tiny hears eSpeak's short "ten" as "and" in about a third of renderings
#: (eSpeak's audio differs a little from call to call): eSpeak says "o'clock" too.
TEN_AM = {"piper": "Ten in the morning would be great.", "espeak": "Ten o'clock in the morning."}


def _agent(kind: str, stt: str) -> Generator[str, None, None]:
    argv = [sys.executable, "-m", "simulator.cli", "agent", "serve", "--kind", kind]
    yield from serve([*argv, "--stt", stt, "--port", "0"])


@pytest.fixture(scope="module")
def whisper_pipeline_url() -> Iterator[str]:
    yield from _agent("pipeline", "whisper")


async def _call(url: str, yaml_text: str, call_id: str) -> CallRecord:
    scenario = parse_scenario(yaml_text)
    start = StartInfo(call_id=call_id, traceparent=new_traceparent(), config={"seed": 5})
    turns = await render_call(scenario)
    return await Session(WebSocketTransport(url), turns, start, scenario=scenario.name).run()


def _tool_calls(record: CallRecord) -> list[tuple[str, dict[str, Any]]]:
    return [(e["name"], e["arguments"]) for e in record.events if e["type"] == "tool_call"]


def _heard(record: CallRecord) -> list[str]:
    return [
        e["text"]
        for e in record.events
        if e["type"] == "transcript" and e.get("role") == "user" and e.get("final")
    ]


@pytest.mark.parametrize(("engine", "voice"), [("piper", "joe"), ("espeak", "en-us")])
async def test_the_pipeline_agent_books_from_a_callers_own_words(
    whisper_pipeline_url: str, engine: str, voice: str
) -> None:
    booking = NATURAL_BOOKING.format(engine=engine, voice=voice, time=TEN_AM[engine])
    record = await _call(whisper_pipeline_url, booking, f"natural-{engine}")
    assert record.ok, record.error
    assert ("book_appointment", {"day": "wednesday", "time": "ten am"}) in _tool_calls(record), (
        _heard(record)
    )
    confirmed = " ".join(str(t.get("agent_reply_text") or "") for t in record.turns)
    assert "booked you for Wednesday at ten am" in confirmed


async def test_the_e2e_agent_takes_the_same_option() -> None:
    server = _agent("e2e", "whisper")
    url = next(server)
    try:
        booking = NATURAL_BOOKING.format(engine="piper", voice="joe", time=TEN_AM["piper"])
        record = await _call(url, booking, "natural-e2e")
    finally:
        server.close()
    assert record.ok, record.error
    heard = _heard(record)
    replies = " ".join(str(t.get("agent_reply_text") or "") for t in record.turns)
    assert "booked you for Wednesday at ten am" in replies, heard


def _feed(recognizer: StreamingRecognizer, text: str) -> str:
    pcm = np.concatenate([PAD, synthesize_piper(text).pcm, PAD])
    recognizer.start()
    for frame in frames(pcm):
        recognizer.feed(frame)
    return recognizer.finish()


def test_whisper_hears_a_time_in_ordinary_words() -> None:
    heard = _feed(UtteranceRecognizer(), "could i come in at ten in the morning")
    assert spoken_time(domain.normalize(heard)) == "ten am", heard


class _Counted:
    """The shared Whisper model, counting its passes."""

    def __init__(self) -> None:
        self.whisper = whisper_transcriber()
        self.passes = 0

    def transcribe(self, pcm: npt.NDArray[np.int16]) -> str:
        self.passes += 1
        return self.whisper.transcribe(pcm)


def _say(recognizer: StreamingRecognizer, text: str) -> list[str]:
    pcm = np.concatenate([PAD, synthesize_piper(text).pcm])
    return [recognizer.feed(f) for f in frames(pcm)]


def test_partials_stream_and_a_backchannel_costs_no_whisper_pass() -> None:
    whisper = _Counted()
    recognizer = UtteranceRecognizer(transcriber=whisper)
    recognizer.start()
    partials = _say(recognizer, "yes")
    recognizer.discard()
    assert any(partials) and whisper.passes == 0
    heard = _feed(recognizer, "thank you goodbye")
    assert whisper.passes == 1 and "goodbye" in heard


def test_a_speculative_pass_stands_unless_the_caller_speaks_again() -> None:
    whisper = _Counted()
    recognizer = UtteranceRecognizer(transcriber=whisper)
    recognizer.start()
    _say(recognizer, "could i come in at ten in the morning")
    recognizer.speculate()  # the caller went quiet: the pass runs in the hangover
    recognizer.feed(PAD)
    assert recognizer.finish() == "could i come in at ten in the morning"
    assert whisper.passes == 1  # the endpoint reused it

    recognizer.start()
    _say(recognizer, "could i come in")
    recognizer.speculate()
    recognizer.retract()  # only a pause: the caller goes on
    _say(recognizer, "at ten in the morning")
    heard = recognizer.finish()
    assert whisper.passes == 3 and "morning" in heard, heard
