"""Barge-in: the agent stops within a bounded time and remembers only what was heard."""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable

import numpy as np

from reference_agent import domain
from reference_agent.pipeline.agent import PipelineAgent
from simulator.audio import SAMPLE_RATE, SPEECH_THRESHOLD
from simulator.session import CallRecord

Call = Callable[..., Awaitable[CallRecord]]
ORDER = "Where is my order one two three four"


def _last_loud(track: np.ndarray, start: int, end: int) -> int | None:
    loud = np.flatnonzero(np.abs(track[start:end].astype(np.int32)) > SPEECH_THRESHOLD)
    return start + int(loud[-1]) if len(loud) else None


BARGE_INS = f"""
name: barge
caller: {{rate_wpm: 220}}
turns:
  - {{say: "{ORDER}", wait: false}}
  - silence_ms: 1500
  - {{say: "{ORDER}", wait: false}}
  - silence_ms: 1500
  - {{say: "{ORDER}", wait: false}}
  - silence_ms: 1500
  - {{say: "{ORDER}", wait: false}}
  - silence_ms: 1500
  - say: "Thank you goodbye"
"""


async def test_caller_speech_stops_the_agent_within_300_ms_and_truncates_its_turn(
    agent: PipelineAgent, call: Call
) -> None:
    record = await call(BARGE_INS, call_id="barge-1", greeting=False)

    assert record.ok, record.error
    reactions = []
    for row in record.turns[2::2]:  # every turn after the first starts over a reply
        onset = int(row["speech_start_s"] * SAMPLE_RATE)
        end = int(row["speech_end_s"] * SAMPLE_RATE)
        # The agent was talking when the caller started...
        assert _last_loud(record.agent, onset - SAMPLE_RATE // 10, onset) is not None
        last = _last_loud(record.agent, onset, end)
        reactions.append(0.0 if last is None else (last - onset) * 1000 / SAMPLE_RATE)
    assert statistics.median(reactions) <= 300, reactions
    assert len([e for e in record.events if e["type"] == "clear"]) == 4

    session = await agent.sessions.load("barge-1")
    assert session is not None
    replies = [m["content"] for m in session["history"] if m["role"] == "assistant"]
    replies = [r for r in replies if r]  # tool-call messages have no content
    full = domain.reply([{"role": "user", "content": ORDER}])
    assert len(replies) == 5 and replies[4] == "Thank you for calling. Goodbye."
    for cut in replies[:4]:
        # Heard only in part: a strict word prefix of the full reply. How far it got
        # depends on the box ("Okay." alone when the next sentence was still being
        # synthesised), so only that it is a prefix, and not empty, is the claim.
        assert cut.startswith("Okay."), replies
        assert full.startswith(cut) and len(cut.split()) < len(full.split()), replies


UH_HUH = f"""
name: backchannel
caller: {{rate_wpm: 220}}
turns:
  - {{say: "{ORDER}", wait: false}}
  - silence_ms: 1500
  - {{say: "uh-huh", wait: false}}
  - silence_ms: 6000
"""


async def test_a_300_ms_uh_huh_does_not_stop_the_agent(agent: PipelineAgent, call: Call) -> None:
    record = await call(UH_HUH, call_id="uh-huh-1", greeting=False)

    assert record.ok, record.error
    row = record.turns[2]
    assert (row["speech_end_s"] - row["speech_start_s"]) * 1000 <= 300
    assert not [e for e in record.events if e["type"] == "clear"]
    heard = [e for e in record.events if e["type"] == "transcript" and e["role"] == "user"]
    assert len(heard) == 1  # the uh-huh was not answered
    # The agent carried on after the uh-huh and finished its reply.
    end = int(row["speech_end_s"] * SAMPLE_RATE)
    assert _last_loud(record.agent, end, len(record.agent)) is not None
    session = await agent.sessions.load("uh-huh-1")
    assert session is not None
    replies = [m["content"] for m in session["history"] if m["role"] == "assistant"]
    assert replies[-1].startswith("Okay. Order one two three four")
    assert replies[-1].endswith("Is there anything else?")
