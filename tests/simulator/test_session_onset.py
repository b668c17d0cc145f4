"""The session measures voice-to-voice latency to within 2 ms of the truth.

A synthetic agent, linked in-process, answers exactly D ms after the ground-
truth end of the caller's speech (it computes the answer time from the frames
it receives, and places its onset inside a frame to the sample). The measured
latency must come back as D +/- 2 ms.
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


def _exact_responder(delay_ms: float, speech_len: int):
    """An agent that starts a loud burst exactly `delay_ms` after the caller's speech end."""

    async def handler(link: AgentLink) -> None:
        loop = asyncio.get_running_loop()
        received = 0
        t0_est = float("inf")
        speech_start: int | None = None
        while speech_start is None:
            item = await link.recv()
            if item is None:
                return
            if isinstance(item, dict):
                continue
            now = loop.time()
            t0_est = min(t0_est, now - (received // FRAME_SAMPLES + 1) * FRAME_SECONDS)
            loud = np.flatnonzero(np.abs(item.astype(np.int32)) > TRUTH_THRESHOLD)
            if len(loud):
                speech_start = received + int(loud[0])
            received += len(item)
        speech_end = speech_start + speech_len
        target = t0_est + (speech_end + delay_ms * SAMPLE_RATE / 1000) / SAMPLE_RATE
        drain = asyncio.create_task(_drain(link))
        await asyncio.sleep(max(0.0, target - loop.time() - 0.010))
        lead = max(0, round((target - loop.time()) * SAMPLE_RATE))
        burst = np.tile(np.array([8000, -8000], dtype=np.int16), 1600)
        await link.send_audio(np.concatenate([np.zeros(lead, dtype=np.int16), burst]))
        await drain

    return handler


async def _drain(link: AgentLink) -> None:
    while await link.recv() is not None:
        pass


@pytest.mark.parametrize("delay_ms", [0, 37, 250])
async def test_latency_of_an_exactly_timed_answer_is_measured_within_2_ms(delay_ms: float) -> None:
    speech = synthesize("Where is my order one two three four", seed=1)
    turn = PlannedTurn(
        index=0,
        kind="say",
        text=speech.text,
        pcm=speech.pcm,
        speech_start=speech.start,
        speech_end=speech.end,
        waits_for_reply=True,
    )
    rows: list[dict[str, Any]] = []
    transport = InProcessTransport(_exact_responder(delay_ms, speech.end - speech.start))
    session = Session(
        transport,
        [turn],
        StartInfo("onset", "00-" + "1" * 32 + "-" + "2" * 16 + "-01"),
        options=SessionOptions(reply_gap_ms=300),
        on_turn=rows.append,
    )
    record = await session.run()
    assert record.error is None
    assert len(rows) == 1
    assert rows[0]["latency_ms"] == pytest.approx(delay_ms, abs=2.0)


def test_reply_onset_skips_speech_the_agent_was_already_making() -> None:
    from simulator.metrics.latency import find_reply_onset

    track = np.zeros(16000, dtype=np.int16)
    track[0:4000] = 5000  # a greeting still playing when the caller stops at 2000
    track[8000:9000] = 5000  # the real reply
    assert find_reply_onset(track, 2000) == 8000
    assert find_reply_onset(track, 9001) is None
