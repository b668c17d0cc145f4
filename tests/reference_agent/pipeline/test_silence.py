"""Silence handling: re-prompt once, then end the call politely."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import numpy as np

from reference_agent.pipeline.agent import FAREWELL, REPROMPT
from simulator.audio import SAMPLE_RATE, SPEECH_THRESHOLD
from simulator.session import CallRecord

Call = Callable[..., Awaitable[CallRecord]]


def _gaps_ms(track: np.ndarray, longer_than_ms: float) -> list[float]:
    """Silent stretches between agent speech, longer than `longer_than_ms`."""
    loud = np.flatnonzero(np.abs(track.astype(np.int32)) > SPEECH_THRESHOLD)
    gaps = np.diff(loud) * 1000 / SAMPLE_RATE
    return [float(g) for g in gaps if g > longer_than_ms]


async def test_silent_caller_is_reprompted_then_the_call_ends(call: Call) -> None:
    record = await call(
        "name: silent\nturns:\n  - wait: true\n  - silence_ms: 20000\n",
        silence_reprompt_ms=1500,
    )

    said = [e["text"] for e in record.events if e["type"] == "transcript"]
    assert said[-2:] == [REPROMPT, FAREWELL]
    # The agent hung up, long before the caller's 20 s of silence were over.
    assert record.error is not None and "agent closed the connection" in record.error
    # Greeting -> re-prompt -> farewell, each after 1.5 s of silence (watchdog: 100 ms ticks).
    gaps = _gaps_ms(record.agent, 1000)
    assert len(gaps) == 2
    assert all(1450 <= g <= 1700 for g in gaps), gaps
    assert record.duration_s < 15


async def test_a_caller_who_answers_the_reprompt_keeps_the_call(call: Call) -> None:
    record = await call(
        "name: answers\nturns:\n  - wait: true\n  - silence_ms: 2500\n  - say: hello\n"
        "  - silence_ms: 1000\n",
        silence_reprompt_ms=1500,
    )

    assert record.ok, record.error
    said = [e["text"] for e in record.events if e["type"] == "transcript"]
    assert REPROMPT in said and FAREWELL not in said
