"""The hangover trade-off, as voxsim measures it: shorter answers sooner, but takes
the turn in a caller's mid-sentence pause (a false takeover)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from simulator.session import CallRecord
from tests.delay_shift import net_shift_ms

Call = Callable[..., Awaitable[CallRecord]]

# eSpeak pauses ~230 ms at "..." (webrtcvad hears ~130 ms of it as unvoiced).
PAUSING = """
name: pause
turns:
  - say: "I would like to book an appointment... for Tuesday at three pm"
"""
# Four turns, so the shift is a paired median, not one turn's noise (a busy CI
# box moves a single turn's latency by tens of ms).
PLAIN = """
name: plain
turns:
  - say: "I would like to book an appointment for Tuesday at three pm"
  - say: "Where is my order one two three four"
  - say: "Make it Wednesday instead"
  - say: "Thank you goodbye"
"""


async def test_a_short_hangover_takes_the_turn_in_a_mid_sentence_pause(call: Call) -> None:
    short = await call(PAUSING, greeting=False, hangover_ms=60)
    long = await call(PAUSING, greeting=False, hangover_ms=240)

    (s,) = [t for t in short.turns if t["kind"] == "say"]
    (g,) = [t for t in long.turns if t["kind"] == "say"]
    # 60 ms: the agent started answering the first half while the caller was still
    # talking, and had to be barged in on (its reply cut, `clear` sent).
    assert s["agent_overlap"] is True
    assert [e["type"] for e in short.events].count("clear") == 1
    # 240 ms: it waited for the whole sentence and booked it.
    assert g["agent_overlap"] is False
    assert "clear" not in [e["type"] for e in long.events]
    assert "booked you for Tuesday at three pm" in (g["agent_reply_text"] or "")


async def test_a_shorter_hangover_answers_sooner_by_the_difference(call: Call) -> None:
    fast = await call(PLAIN, greeting=False, hangover_ms=120)
    slow = await call(PLAIN, greeting=False, hangover_ms=360)

    f = [t["latency_ms"] for t in fast.turns if t["kind"] == "say"]
    s = [t["latency_ms"] for t in slow.turns if t["kind"] == "say"]
    assert len(f) == len(s) == 4 and None not in f + s, (f, s)
    # Each turn compared with the same audio in the other call (a paired estimate), net
    # of the change in the agent's own compute: on a busy box one call's STT/LLM/TTS
    # can run ~100 ms slower than the other's, which is not the hangover.
    shift = net_shift_ms(fast.turns, slow.turns)
    assert abs(shift - 240) <= 40, (shift, f, s)
