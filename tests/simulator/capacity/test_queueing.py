"""The simulation against queueing theory: every expected number comes from a formula."""

from __future__ import annotations

import math

import pytest

from simulator.capacity.engine import simulate
from simulator.capacity.search import search
from simulator.capacity.summary import summarise

from .deployments import deployment, fixed


def erlang_c_wait_ms(servers: int, rate_per_ms: float, mean_service_ms: float) -> float:
    """Mean queue wait of M/M/c (Erlang C): P(wait) / (c mu - lambda)."""
    a = rate_per_ms * mean_service_ms  # offered load in Erlangs
    top = a**servers / math.factorial(servers) * servers / (servers - a)
    p_wait = top / (sum(a**k / math.factorial(k) for k in range(servers)) + top)
    return p_wait * mean_service_ms / (servers - a)


@pytest.mark.parametrize("servers", [1, 2])
def test_mmc_mean_wait_matches_erlang_c(servers: int) -> None:
    # Four virtual hours at 50 % utilisation: 72k (c = 1) and 144k (c = 2)
    # arrivals. Over seeds 0-5 the mean wait came within 4.0 % (c = 1) and
    # 2.9 % (c = 2) of the formula, P(wait) within 1.3 %.
    utilisation = 0.5
    service_ms = 100.0
    rate_per_ms = utilisation * servers / service_ms
    cfg = deployment(
        [
            {
                "name": "llm",
                "servers": servers,
                "service_ms": {"dist": "exponential", "mean_ms": service_ms},
            }
        ],
        traffic={"calls_per_min": rate_per_ms * 60_000, "turns_per_call": 1},
        duration_s=4 * 3600.0,
        warmup_s=60.0,
        seed=1,
    )
    trace = simulate(cfg)
    waits = [t.wait_ms["llm"] for t in trace.turns]
    assert len(waits) > 70_000 * servers
    expected = erlang_c_wait_ms(servers, rate_per_ms, service_ms)
    assert sum(waits) / len(waits) == pytest.approx(expected, rel=0.05)
    # Erlang C's own quantity: the share of arrivals that find every server busy
    p_wait = expected * (servers - rate_per_ms * service_ms) / service_ms
    assert sum(1 for w in waits if w > 0) / len(waits) == pytest.approx(p_wait, rel=0.03)
    busy = summarise(trace, cfg)["stages"]["llm"]["utilisation"]
    assert busy == pytest.approx(utilisation, rel=0.02)


def test_without_contention_latency_is_exactly_the_sum_of_fixed_stage_times() -> None:
    stages = [
        {"name": "endpoint", "service_ms": fixed(240)},
        {"name": "stt", "servers": 50, "slots": 2, "service_ms": fixed(3)},
        {"name": "llm", "servers": 1, "slots": 100, "service_ms": fixed(8)},
        {"name": "tts", "servers": 100, "service_ms": fixed(4)},
        {"name": "network", "service_ms": fixed(121)},
    ]
    cfg = deployment(
        stages,
        traffic={"callers": 20, "speak_ms": fixed(2000), "listen_ms": fixed(3000)},
    )
    trace = simulate(cfg)
    assert len(trace.turns) > 200
    assert {t.latency_ms for t in trace.turns} == {240 + 3 + 8 + 4 + 121}
    assert all(w == 0 for t in trace.turns for w in t.wait_ms.values())


def test_dd1_queue_builds_by_the_service_minus_interarrival_gap() -> None:
    # 30 callers speak one after another every 10 ms; one server takes 15 ms:
    # the k-th request waits 5 (k - 1) ms exactly.
    n = 30
    cfg = deployment(
        [{"name": "stt", "servers": 1, "service_ms": fixed(15)}],
        traffic={
            "callers": n,
            "ramp_s": n * 10 / 1000,
            "turns_per_call": 1,
            "listen_ms": fixed(3_600_000),
        },
        duration_s=1.0,
    )
    turns = sorted(simulate(cfg).turns, key=lambda t: t.at_ms)
    assert [t.caller for t in turns] == list(range(n))
    assert [t.wait_ms["stt"] for t in turns] == pytest.approx([5.0 * k for k in range(n)])
    assert [t.latency_ms for t in turns] == pytest.approx([5.0 * k + 15 for k in range(n)])


@pytest.mark.parametrize(("slots", "expected"), [(1, 11), (2, 21)])
def test_breakpoint_search_finds_the_closed_loop_saturation_point(
    slots: int, expected: int
) -> None:
    # Each caller's cycle is Z = 900 ms of speaking and listening plus S = 100
    # ms of service; callers spread evenly over one cycle. The pool keeps up
    # while N S / c <= Z + S, i.e. N <= c (Z + S) / S, and then every turn
    # takes S = 100 ms. One caller more and each turn waits N S / c - (Z + S)
    # in steady state: 100 ms (c = 1), 50 ms (c = 2): latency 150+ > 120.
    z, s = 900.0, 100.0
    cfg = deployment(
        [{"name": "llm", "servers": 1, "slots": slots, "service_ms": fixed(s)}],
        traffic={
            "callers": 1,
            "speak_ms": fixed(400),
            "listen_ms": fixed(z - 400),
            "ramp_s": (z + s) / 1000,
        },
        slo_ms=120.0,
        duration_s=30.0,
        warmup_s=20.0,
        search={"start": 1, "growth": 2, "max": 64},
    )
    assert expected == math.floor(slots * (z + s) / s) + 1
    found = search(cfg)
    assert (found.last_passing, found.breakpoint) == (expected - 1, expected)
    by_level = {r["level"]: r for r in found.rows}
    assert by_level[expected - 1]["latency_p95_ms"] == pytest.approx(s)
    assert by_level[expected]["latency_p95_ms"] > 120.0
    assert [r["level"] for r in found.rows if r["breakpoint"]] == [expected]


def test_same_seed_same_output_and_another_seed_differs() -> None:
    def run(seed: int) -> list[float]:
        cfg = deployment(
            [
                {
                    "name": "llm",
                    "servers": 2,
                    "slots": 4,
                    "service_ms": {"dist": "lognormal", "median_ms": 300, "p95_ms": 900},
                },
                {
                    "name": "tool",
                    "probability": 0.3,
                    "servers": 1,
                    "service_ms": {"dist": "exponential", "mean_ms": 50},
                },
            ],
            traffic={
                "callers": 40,
                "speak_ms": {"dist": "lognormal", "median_ms": 2000, "p95_ms": 4000},
                "listen_ms": {"dist": "empirical", "samples_ms": [1000, 2500, 4000]},
            },
            seed=seed,
        )
        return [t.latency_ms for t in simulate(cfg).turns]

    first = run(5)
    assert len(first) > 100
    assert run(5) == first
    assert run(6) != first
