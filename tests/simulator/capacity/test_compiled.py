"""The compiled engine (simulator/capacity/fast) gives the SimPy engine's trace, bit for bit.

Same draws in the same order and the same event order, so not "statistically
close" but equal: every turn's row, the counts, the pools' busy time, the
clock's samples and the virtual end, over the shapes it accepts (closed and
open traffic, spikes, every balancer and route it takes, holds, skipped
stages, hang-ups, geometric calls, every distribution).
"""

from __future__ import annotations

from typing import Any

import pytest

from simulator.capacity.config import CapacityConfig
from simulator.capacity.engine import Trace, simulate
from simulator.capacity.fast.rule import compiled_fits
from tests.simulator.capacity.deployments import deployment, fixed


def lognormal(median: float, p95: float) -> dict[str, Any]:
    return {"dist": "lognormal", "median_ms": median, "p95_ms": p95}


def exponential(mean: float) -> dict[str, Any]:
    return {"dist": "exponential", "mean_ms": mean}


SPEECH = {"speak_ms": lognormal(2300, 3500), "listen_ms": lognormal(3500, 6000)}


def pipeline(servers: int = 2, slots: int = 1, **stage: Any) -> list[dict[str, Any]]:
    """endpoint, a pool, a tool on some turns, another pool, the network."""
    return [
        {"name": "endpoint", "service_ms": fixed(140)},
        {"name": "stt", "servers": servers, "slots": slots, "service_ms": exponential(40), **stage},
        {"name": "tool", "servers": 1, "slots": 4, "probability": 0.4, "service_ms": fixed(30)},
        {
            "name": "llm",
            "servers": 1,
            "slots": 8,
            "service_ms": lognormal(80, 200),
            "hold_ms": {"dist": "empirical", "samples_ms": [100, 250, 900]},
        },
        {"name": "network", "service_ms": lognormal(121, 135)},
    ]


def closed(callers: int, **traffic: Any) -> dict[str, Any]:
    return {"callers": callers, "ramp_s": 5, **SPEECH, **traffic}


CASES: dict[str, CapacityConfig] = {
    "pooled, busy": deployment(pipeline(), traffic=closed(120), warmup_s=5),
    "least-connections per call, hang-ups": deployment(
        pipeline(servers=3, service_ms=exponential(60)),
        traffic=closed(200, patience_s=0.5, turns_spread="geometric"),
        balancer="least-connections",
    ),
    "round-robin per turn": deployment(
        pipeline(servers=3), traffic=closed(150), balancer="round-robin", route="turn"
    ),
    "sticky per call, a spike": deployment(
        pipeline(servers=3),
        traffic=closed(100, spike={"at_s": 20, "for_s": 15, "factor": 2.0}),
        balancer="sticky",
    ),
    "open traffic, a spike, nobody hangs up": deployment(
        pipeline(),
        traffic={
            "calls_per_min": 400,
            "patience_s": None,
            "spike": {"at_s": 10, "for_s": 20, "factor": 3.0},
            **SPEECH,
        },
        warmup_s=5,
        balancer="least-connections",
    ),
    "fixed times, everything at once": deployment(
        [{"name": "a", "servers": 1, "slots": 2, "service_ms": fixed(15)}],
        traffic={"callers": 7, "ramp_s": 0, "patience_s": 0.05, "turns_per_call": 3},
    ),
    "pure delays only": deployment(
        [{"name": "d", "service_ms": fixed(5)}],
        traffic={"callers": 3, "listen_ms": fixed(10), "turns_per_call": 2},
        duration_s=1.0,
    ),
}


def same(a: Trace, b: Trace) -> None:
    columns = ("caller", "call", "turn", "at", "latency", "wait", "service", "outcome")
    for name in columns:
        assert bytes(getattr(a.table, name)) == bytes(getattr(b.table, name)), name
    assert (a.calls_started, a.calls_hung_up, a.end_ms) == (
        b.calls_started,
        b.calls_hung_up,
        b.end_ms,
    )
    assert [p.utilisation() for p in a.pools.values()] == [
        p.utilisation() for p in b.pools.values()
    ]
    assert (a.samples, a.bucket_ms, a.level) == (b.samples, b.bucket_ms, b.level)


@pytest.mark.parametrize("name", list(CASES))
def test_compiled_engine_gives_the_simpy_trace(name: str) -> None:
    cfg = CASES[name]
    assert compiled_fits(cfg)
    compiled, events = simulate(cfg, engine="compiled"), simulate(cfg, engine="simpy")
    assert len(compiled.table) > 0
    same(compiled, events)


def test_the_cases_reach_what_they_are_for() -> None:
    """Hang-ups, skipped stages, queueing and open calls do happen in the cases above."""
    hung = simulate(CASES["least-connections per call, hang-ups"], engine="compiled")
    assert hung.calls_hung_up > 50
    busy = simulate(CASES["pooled, busy"], engine="compiled")
    wait, _ = busy.table.stage("stt")
    skipped, _ = busy.table.stage("tool")
    assert (wait > 0).mean() > 0.1 and 0.5 < (skipped != skipped).mean() < 0.7
    burst = simulate(CASES["fixed times, everything at once"], engine="compiled")
    assert {r.outcome for r in burst.turns} == {"answered", "hung_up"}


@pytest.mark.parametrize(
    "change",
    [
        {"cpu": {"cores": 2}},
        {"regions": [{"name": "a"}], "rtt_ms": {"a": {"a": 10}}},
        {"autoscale": {}},
        {"failures": {"kill_at_s": [5]}},
        {"balancer": "least-connections", "route": "turn"},
    ],
)
def test_changing_pools_run_on_simpy(change: dict[str, Any]) -> None:
    stage: dict[str, Any] = {"name": "s", "servers": 2, "service_ms": fixed(10)}
    top: dict[str, Any] = {}
    for key, value in change.items():
        (stage if key in ("autoscale", "failures") else top)[key] = value
    if "cpu" in top:
        stage["cpu_ms"] = fixed(5)
    cfg = deployment([stage], traffic={"callers": 5}, duration_s=5.0, **top)
    assert not compiled_fits(cfg)
    with pytest.raises(ValueError, match="fixed pools"):
        simulate(cfg, engine="compiled")
    assert len(simulate(cfg).table) > 0  # auto: SimPy


def test_small_buffers_give_the_same_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Refilling the streams, taking the rows and adding open calls mid-run change nothing."""
    from simulator.capacity.fast import world

    for name in ("least-connections per call, hang-ups", "open traffic, a spike, nobody hangs up"):
        cfg = CASES[name]
        whole = simulate(cfg, engine="compiled")
        monkeypatch.setattr(world, "DEPTH", world.BATCH)
        monkeypatch.setattr(world, "ROWS", 7)
        monkeypatch.setattr(world, "OPEN_CALLS", 1)
        same(simulate(cfg, engine="compiled"), whole)
        monkeypatch.undo()
