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
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from simulator.runner import run_call
from simulator.scenario import Scenario, parse_scenario
from simulator.transports.base import Transport

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
    """Run the plain call, then the delayed one, each on a fresh transport; return the
    first pair of calls and the net paired shift. With `pairs=2` the order is plain,
    delayed, delayed, plain (ABBA: a drift of the box over the four calls cancels, and
    each call's own offset, e.g. a WebRTC jitter buffer's depth, counts half) and the
    shift is the median over both pairs' turns."""
    calls: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for k in range(pairs):
        order = ("base", "slow") if k % 2 == 0 else ("slow", "base")
        got: dict[str, dict[str, Any]] = {}
        for which in order:
            extra = base_extra if which == "base" else slow_extra
            got[which] = await run_call(scenario(name, extra), make(), f"{name}-{which}-{k}")
        assert got["base"]["status"] == got["slow"]["status"] == "ok", (
            got["base"]["error"],
            got["slow"]["error"],
        )
        calls.append((got["base"], got["slow"]))
    raw = statistics.median(
        y["latency_ms"] - x["latency_ms"] for b, s in calls for x, y in _said_pairs(b, s)
    )
    shift = statistics.median(
        (y["latency_ms"] - x["latency_ms"]) - (agent_work_ms(y) - agent_work_ms(x))
        for b, s in calls
        for x, y in _said_pairs(b, s)
    )
    print(
        f"{name}: the injected delay moved latency by {shift:.1f} ms net of the agent's own "
        f"work ({raw:.1f} ms raw; median of {5 * pairs} paired turns)"
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
