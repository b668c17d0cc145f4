"""Conversation dynamics land where planned, measured from the agent's side of the line.

A synthetic agent (in-process) answers each caller utterance with a known 3 s
reply and notes, on its own clock, when the caller's speech reached it and
when the line closed. The session must act at the planned offset into that
reply: a barge-in at 800 ms within 20 ms, a backchannel inside the reply, a
hang-up mid-reply.
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
import pytest

from simulator.audio import FRAME_SAMPLES, FRAME_SECONDS, SAMPLE_RATE
from simulator.caller.tts import TRUTH_THRESHOLD, synthesize
from simulator.session import PlannedTurn, Session, SessionOptions
from simulator.transports.base import AgentLink, StartInfo
from simulator.transports.inprocess import InProcessTransport

REPLY_S = 3.0
END_SILENCE = 300 * SAMPLE_RATE // 1000  # the agent's endpoint: 300 ms of caller silence


class ReplyingAgent:
    """Replies 3 s of tone after each caller utterance; logs onsets on the caller timeline."""

    def __init__(self) -> None:
        self.reply_starts: list[int] = []
        #: loop time each reply was sent, and the session's t0 (set by _call): the
        #: reply on the caller's own timeline, free of the agent's estimate of t0
        #: (made from when it processed the caller's frames, late on a busy box)
        self.reply_sent_at: list[float] = []
        self.line_t0 = 0.0
        self.caller_onsets: list[int] = []
        self.closed_at: int | None = None

    async def __call__(self, link: AgentLink) -> None:
        loop = asyncio.get_running_loop()
        t0 = float("inf")
        received = 0
        silent = SAMPLE_RATE  # samples since the caller last made sound
        speaking = False
        while True:
            item = await link.recv()
            if item is None:
                self.closed_at = round((loop.time() - t0) * SAMPLE_RATE)
                return
            if isinstance(item, dict):
                continue
            now = loop.time()
            t0 = min(t0, now - (received // FRAME_SAMPLES + 1) * FRAME_SECONDS)
            loud = np.flatnonzero(np.abs(item.astype(np.int32)) > TRUTH_THRESHOLD)
            if len(loud):
                if silent >= 1600:  # a new caller utterance after 100 ms of silence
                    self.caller_onsets.append(received + int(loud[0]))
                speaking = True
                silent = len(item) - int(loud[-1]) - 1
            else:
                silent += len(item)
            received += len(item)
            if speaking and silent >= END_SILENCE and len(self.reply_starts) < 1:
                speaking = False
                self.reply_starts.append(round((now - t0) * SAMPLE_RATE))
                self.reply_sent_at.append(loop.time())
                t = np.arange(int(REPLY_S * SAMPLE_RATE)) / SAMPLE_RATE
                await link.send_audio((8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16))


def _say(index: int, text: str, at_ms: int | None = None, kind: str = "say") -> PlannedTurn:
    sp = synthesize(text, seed=index)
    return PlannedTurn(
        index=index,
        kind=kind,  # type: ignore[arg-type]
        text=text,
        pcm=sp.pcm,
        speech_start=sp.start,
        speech_end=sp.end,
        waits_for_reply=kind == "say" and at_ms is None,
        reply_timeout_ms=5000,
        at_ms=at_ms,
    )


async def _call(agent: ReplyingAgent, turns: list[PlannedTurn]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    session = Session(
        InProcessTransport(agent),
        turns,
        StartInfo("dyn", "00-" + "1" * 32 + "-" + "2" * 16 + "-01"),
        options=SessionOptions(reply_gap_ms=300, think_ms=100, hangup_grace_ms=100),
        on_turn=rows.append,
    )
    record = await session.run()
    agent.line_t0 = session.t0
    assert record.error is None, record.error
    return rows


def _reply_on_callers_timeline(agent: ReplyingAgent) -> int:
    """Where the reply began, in samples of the caller's timeline: the agent's send time
    against the session's t0 (the agent's own estimate of t0, from when it processed the
    caller's frames, runs late on a busy box: 26-39 ms under a CPU hog)."""
    (sent,) = agent.reply_sent_at
    return round((sent - agent.line_t0) * SAMPLE_RATE)


def _reply_onset(rows: list[dict[str, Any]]) -> int:
    return round(rows[0]["agent_onset_s"] * SAMPLE_RATE)


async def test_barge_in_planned_at_800_ms_starts_within_20_ms_of_that_point() -> None:
    agent = ReplyingAgent()
    rows = await _call(agent, [_say(0, "Hello I need help"), _say(1, "Stop there", at_ms=800)])
    reply = _reply_on_callers_timeline(agent)
    barge = agent.caller_onsets[1]  # the caller's second utterance, as the agent heard it
    assert abs(barge - reply - 800 * 16) <= 20 * 16
    assert rows[1]["action"] == "barge_in"
    assert rows[1]["action_at_s"] - rows[0]["agent_onset_s"] == pytest.approx(0.8, abs=0.001)
    # the session saw the reply where it began, within half a frame (6.5 ms under a CPU hog)
    assert abs(_reply_onset(rows) - reply) <= 10 * 16


async def test_talking_over_the_first_words_starts_50_ms_into_the_reply() -> None:
    agent = ReplyingAgent()
    rows = await _call(agent, [_say(0, "Hello I need help"), _say(1, "Wait", at_ms=50)])
    reply = _reply_on_callers_timeline(agent)
    assert abs(agent.caller_onsets[1] - reply - 50 * 16) <= 20 * 16
    assert rows[1]["agent_overlap"] is True


async def test_a_backchannel_lands_while_the_agent_speaks_and_the_reply_runs_on() -> None:
    agent = ReplyingAgent()
    turns = [_say(0, "Hello I need help"), _say(1, "uh-huh", at_ms=1000, kind="backchannel")]
    rows = await _call(agent, turns)
    reply = _reply_on_callers_timeline(agent)
    said = agent.caller_onsets[1]
    assert reply < said < reply + REPLY_S * SAMPLE_RATE
    assert abs(said - reply - 1000 * 16) <= 20 * 16
    assert rows[1]["action"] == "backchannel" and rows[1]["agent_speaking_at_action"] is True
    assert rows[1]["agent_end_s"] - rows[0]["agent_onset_s"] == pytest.approx(REPLY_S, abs=0.03)


async def test_hanging_up_mid_reply_closes_the_line_at_the_planned_time() -> None:
    agent = ReplyingAgent()
    hangup = PlannedTurn(index=1, kind="hangup", at_ms=1500)
    rows = await _call(agent, [_say(0, "Hello I need help"), hangup])
    (reply,) = agent.reply_starts
    assert agent.closed_at is not None
    assert 1500 * 16 <= agent.closed_at - reply <= 1540 * 16  # the next frame boundary at most
    assert rows[1]["action"] == "hangup" and rows[1]["agent_speaking_at_action"] is True
