"""Each fault knob moves what voxsim measures by the injected amount, or at its rate.

Every test runs the same plan without and with the fault on the same agent,
one after the other, and compares turn by turn: the bundled voices and the
domain model are deterministic, so the difference is the fault.
"""

from __future__ import annotations

import statistics
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np

from reference_agent.pipeline.agent import RECOVERY
from simulator.session import CallRecord
from tests.delay_shift import agent_work_ms

Call = Callable[..., Awaitable[CallRecord]]

PLAN = """
  - say: "Hello"
  - say: "Where is my order one two three four"
  - say: "Yes please"
  - say: "I would like to book an appointment for Tuesday at three pm"
"""


def _scenario(faults: str = "{}", seed: int = 11, plan: str = PLAN) -> str:
    return f"name: faults\nseed: {seed}\nagent: {{faults: {faults}}}\nturns:{plan}"


def _said(record: CallRecord) -> list[dict[str, Any]]:
    return [t for t in record.turns if t["kind"] == "say"]


async def test_a_latency_distribution_moves_each_turn_by_its_draw(call: Call) -> None:
    base = await call(_scenario(), greeting=False)
    slow = await call(
        _scenario("{llm: {latency_ms: 300, latency_jitter_ms: 150, distribution: normal}}"),
        greeting=False,
    )

    assert base.ok and slow.ok, (base.error, slow.error)
    draws = [t["stages"]["injected_llm_ms"] for t in _said(slow)]
    assert len(set(draws)) == len(draws)  # drawn, not fixed
    # Net of the agent's own work (its compute slows in one call and not the other on a
    # busy box; tests/delay_shift.py): turn by turn the calls differ by the draws.
    moved = [
        (s["latency_ms"] - b["latency_ms"]) - (agent_work_ms(s) - agent_work_ms(b))
        for s, b in zip(_said(slow), _said(base), strict=True)
    ]
    errors = [m - d for m, d in zip(moved, draws, strict=True)]
    assert abs(statistics.median(errors)) <= 25, (moved, draws)


async def test_llm_timeout_answers_with_the_recovery_phrase_at_the_deadline(call: Call) -> None:
    plan = '\n  - say: "Hello"\n  - say: "Yes please"\n'
    base = await call(_scenario(plan=plan), greeting=False)
    timed_out = await call(
        _scenario("{llm: {latency_ms: 2000}, llm_timeout_ms: 400}", plan=plan), greeting=False
    )

    assert base.ok and timed_out.ok, (base.error, timed_out.error)
    for b, t in zip(_said(base), _said(timed_out), strict=True):
        assert t["agent_reply_text"] == RECOVERY
        # The recovery phrase is spoken at the deadline, not after the 2 s the LLM needed.
        # (Its audio starts a little later or sooner than the normal reply's.)
        assert 300 <= t["latency_ms"] - b["latency_ms"] <= 500


async def test_a_tts_stall_lengthens_the_reply_by_the_stall(call: Call) -> None:
    plan = '\n  - say: "Where is my order one two three four"\n'
    base = await call(_scenario(plan=plan), greeting=False)
    stalled = await call(
        _scenario("{tts_stall_ms: 500, tts_stall_after_ms: 400}", plan=plan), greeting=False
    )

    assert base.ok and stalled.ok, (base.error, stalled.error)
    (b,) = _said(base)
    (s,) = _said(stalled)
    # The reply starts on time (within the line's turn-to-turn jitter, far below the
    # stall): the stall is in the middle of the sentence, not before its audio...
    assert abs(s["latency_ms"] - b["latency_ms"]) < 250
    longer = (s["agent_end_s"] - s["agent_onset_s"]) - (b["agent_end_s"] - b["agent_onset_s"])
    assert abs(longer * 1000 - 500) <= 30  # ...and stops mid-sentence for the stall


async def test_errors_happen_at_the_seeded_rate_and_each_one_is_recovered(call: Call) -> None:
    plan = "".join('\n  - say: "Hello"' for _ in range(6)) + "\n"
    record = await call(_scenario("{llm: {error_rate: 0.5}}", seed=5, plan=plan), greeting=False)

    assert record.ok, record.error
    recovered = [t["agent_reply_text"] == RECOVERY for t in _said(record)]
    # The only draws in this call are the LLM's error draws, one per turn, in order.
    expected = list(np.random.default_rng(5).random(6) < 0.5)
    assert recovered == expected
    assert 0 < sum(recovered) < 6


async def test_a_fatal_error_fails_the_call_with_an_error_event(call: Call) -> None:
    record = await call(_scenario("{stt: {error_rate: 1.0, on_error: fail}}"), greeting=False)

    assert not record.ok
    errors = [e for e in record.events if e["type"] == "error"]
    assert [e["message"] for e in errors] == ["injected stt error"]
    assert len(_said(record)) <= 1 and not [t for t in _said(record) if t["agent_reply_text"]]
