"""Shared body of the "an injected delay comes back out" tests.

Two calls with the same seed say the same five domain phrases, one without
and one with an injected delay; the shift is the median of the per-turn
differences (a paired estimate: each turn is compared with the same audio
in the other call, so turn-to-turn spread in the agent's endpointing
cancels out instead of adding to the difference of two medians).

On a busy machine the agent's own compute (recognizing, generating, rendering)
takes longer in one call than in the other, and that difference is not the
injected delay. The bundled agent reports each stage's time on its own clock
with every reply, so the shift is taken net of the change in that work: what
is left is the injected delay plus whatever error the harness's audio
measurement adds, which is the claim these tests check.

The two calls of a pair run side by side (a drift of the box then moves both
alike), the second dialled while the first caller speaks its first sentence, so
one call's end of turn never meets the other's; the first call stays on the
line, silent, until the second has had its last reply, so neither call's
hang-up (closing the link, measuring the recording) lands in the other's turn.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, TypeVar

from simulator.runner import run_call
from simulator.scenario import Scenario, parse_scenario
from simulator.session import SessionOptions
from simulator.transports.base import Transport

A = TypeVar("A")
B = TypeVar("B")

TURNS = """
  - say: "I would like to book an appointment for Tuesday at three pm"
  - say: "Where is my order one two three four"
  - say: "Can I get a refund for my order"
  - say: "Make it Wednesday instead"
  - say: "Thank you goodbye"
"""


def scenario(name: str, extra: str = "") -> Scenario:
    """The five-turn call, seeded, with `extra` YAML lines (network:, agent:)."""
    return parse_scenario(f"name: {name}\nseed: 5\n{extra}\nturns:{TURNS}")


WORK_STAGES = ("stt_ms", "llm_sentence_ms", "tts_ms")

#: How long after the first call of a pair the second starts: while the first caller
#: says its first sentence (0.2 s to 3.3 s), 1.5 s ahead of the agent's answers to it.
OFFSET_S = 1.5
#: The first call's wait after its last reply: past the second call's last answer,
#: which comes OFFSET_S later plus up to 5 x 300 ms of injected delay.
LEAD_HANGUP_MS = 4_000


async def side_by_side(
    lead: Callable[..., Awaitable[A]], trail: Callable[[], Awaitable[B]]
) -> tuple[A, B]:
    """The two calls of a paired comparison at once: `trail()` dialled `OFFSET_S` after
    `lead(options=...)`, whose options keep it on the line `LEAD_HANGUP_MS` after its
    last reply."""

    async def later() -> B:
        await asyncio.sleep(OFFSET_S)
        return await trail()

    lead_opt = SessionOptions(hangup_grace_ms=LEAD_HANGUP_MS)
    return await asyncio.gather(lead(options=lead_opt), later())


def paired_shift_ms(base: dict[str, Any], slow: dict[str, Any]) -> float:
    """Median over turns of (slow - base) latency; both calls must have said every turn."""
    a = [t["latency_ms"] for t in base["turns"] if t["kind"] == "say"]
    b = [t["latency_ms"] for t in slow["turns"] if t["kind"] == "say"]
    assert len(a) == len(b) == 5 and None not in a + b, (a, b)
    return statistics.median(y - x for x, y in zip(a, b, strict=True))


def agent_work_ms(turn: Mapping[str, Any]) -> float:
    """The agent's own serial compute to its first audio: stage times minus what was injected."""
    stages = turn.get("stages") or {}
    missing = [k for k in WORK_STAGES if k not in stages]
    assert not missing, f"turn {turn.get('index')} lacks agent stages {missing}: {stages}"
    injected = sum(v for k, v in stages.items() if k.startswith("injected_"))
    return sum(float(stages[k]) for k in WORK_STAGES) - float(injected)


def net_shift_ms(base: Sequence[Mapping[str, Any]], slow: Sequence[Mapping[str, Any]]) -> float:
    """Median over paired `say` turns (same audio in both calls) of the latency change
    net of the change in the agent's own work; both calls must have said every turn."""
    a = [t for t in base if t["kind"] == "say"]
    b = [t for t in slow if t["kind"] == "say"]
    assert len(a) == len(b) and None not in [t["latency_ms"] for t in a + b], (a, b)
    return statistics.median(
        (y["latency_ms"] - x["latency_ms"]) - (agent_work_ms(y) - agent_work_ms(x))
        for x, y in zip(a, b, strict=True)
    )


async def measure_shift(
    make: Callable[[], Transport], name: str, base_extra: str, slow_extra: str, pairs: int = 1
) -> tuple[dict[str, Any], dict[str, Any], float]:
    """Run the plain call and the delayed one side by side, each on a fresh transport,
    the second `OFFSET_S` after the first (which hangs up `LEAD_HANGUP_MS` after its
    last reply); return the first pair of calls and the net paired shift. With
    `pairs=2` the second pair starts the delayed call first (ABBA: which call leads
    cancels, and each call's own offset, e.g. a WebRTC jitter buffer's depth, counts
    half) and the shift is the median over both pairs' turns."""
    calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for k in range(pairs):
        order = ("base", "slow") if k % 2 == 0 else ("slow", "base")

        def one(which: str, k: int = k) -> Callable[..., Awaitable[dict[str, Any]]]:
            extra = base_extra if which == "base" else slow_extra
            return lambda **opt: run_call(
                scenario(name, extra), make(), f"{name}-{which}-{k}", **opt
            )

        first, second = await side_by_side(one(order[0]), one(order[1]))
        got = {order[0]: first, order[1]: second}
        assert got["base"]["status"] == got["slow"]["status"] == "ok", (
            got["base"]["error"],
            got["slow"]["error"],
        )
        calls.append((got["base"], got["slow"]))
    pairs_said = [xy for b, s in calls for xy in _said_pairs(b, s)]
    raw = statistics.median(y["latency_ms"] - x["latency_ms"] for x, y in pairs_said)
    each = [
        (y["latency_ms"] - x["latency_ms"]) - (agent_work_ms(y) - agent_work_ms(x))
        for x, y in pairs_said
    ]
    shift = statistics.median(each)
    print(
        f"{name}: the injected delay moved latency by {shift:.1f} ms net of the agent's own "
        f"work ({raw:.1f} ms raw; median of {len(each)} paired turns: "
        f"{', '.join(f'{v:.1f}' for v in each)})"
    )
    return calls[0][0], calls[0][1], shift


def _said_pairs(
    base: dict[str, Any], slow: dict[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The five `say` turns of two calls, paired; every one must have a latency."""
    a = [t for t in base["turns"] if t["kind"] == "say"]
    b = [t for t in slow["turns"] if t["kind"] == "say"]
    assert len(a) == len(b) == 5, (len(a), len(b))
    assert None not in [t["latency_ms"] for t in a + b], (a, b)
    return list(zip(a, b, strict=True))
