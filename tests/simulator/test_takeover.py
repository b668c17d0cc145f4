"""A 600 ms mid-sentence pause: the bundled agent's endpoint hangover decides a false takeover.

With a short hangover the agent endpoints inside the pause and starts
replying while the caller is still finishing the sentence; with a long one it
waits. The session flags the first as `agent_took_over` from the audio alone.
"""

from __future__ import annotations

from typing import Any

import pytest

from reference_agent.bundle import AgentProcess
from simulator.caller.render import render_turns
from simulator.scenario import parse_scenario
from simulator.session import Session, SessionOptions
from simulator.transports.base import StartInfo
from simulator.transports.websocket import WebSocketTransport

PAUSING = """\
name: pause
caller: {rate_wpm: 150}
turns:
  - wait: true
  - say: "I would like to book an appointment for Tuesday at three pm please"
    pause_ms: 600
    pause_after_word: 3
"""


async def _took_over(hangover_ms: int) -> dict[str, Any]:
    sc = parse_scenario(PAUSING)
    turns = render_turns(list(sc.turns), sc.caller, seed=1)
    agent = AgentProcess("pipeline", ["--hangover-ms", str(hangover_ms)])
    url = await agent.start()
    rows: list[dict[str, Any]] = []
    try:
        session = Session(
            WebSocketTransport(url),
            turns,
            StartInfo(f"pause-{hangover_ms}", "00-" + "3" * 32 + "-" + "4" * 16 + "-01"),
            options=SessionOptions(reply_gap_ms=700),
            on_turn=rows.append,
        )
        record = await session.run()
    finally:
        await agent.stop()
    assert record.error is None, record.error
    return rows[1]


@pytest.mark.parametrize(("hangover_ms", "expected"), [(240, True), (1200, False)])
async def test_a_600_ms_pause_is_taken_over_only_with_a_short_hangover(
    hangover_ms: int, expected: bool
) -> None:
    row = await _took_over(hangover_ms)
    ((pause_start, pause_end),) = row["pauses_s"]
    assert pause_end - pause_start == pytest.approx(0.6, abs=0.001)
    assert row["agent_took_over"] is expected
