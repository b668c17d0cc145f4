"""The conductor's clock: settle, wait for surplus calls after a lowered level, caps."""

from __future__ import annotations

import json
from pathlib import Path

from simulator.load.conductor import Conductor
from simulator.load.config import LoadConfig
from simulator.load.steps import Limits


def make(tmp_path: Path, **kw: object) -> Conductor:
    """A conductor; new callers join at once unless a test spreads them (test_arrivals)."""
    kw.setdefault("min_turns", 1)
    kw.setdefault("stagger_s", 0.0)
    cfg = LoadConfig(scenario="s.yaml", out_dir=str(tmp_path), **kw)  # type: ignore[arg-type]
    return Conductor(cfg, Limits(500.0, 0.01), expected_workers=1)


def rows(tmp_path: Path) -> list[dict]:
    return [json.loads(x) for x in (tmp_path / "load.jsonl").read_text().splitlines()]


def test_waits_for_every_worker_then_runs_each_level_after_settling(tmp_path: Path) -> None:
    c = make(tmp_path, profile="ramp", levels=[1, 3], step_s=10, settle_s=2)
    assert c.tick(0.0) == (0, 1.0)  # no engine ready yet
    c.worker_ready("w1")
    assert c.tick(1.0) == (1, 1.0)
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 100.0, "at": 2.5}])  # settling
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 200.0, "at": 3.5}])
    assert c.tick(3.0) == (1, 1.0)  # window opens at 3.0
    assert c.tick(13.5) == (1, 1.0)  # window closed at 13, grace until 14
    assert c.tick(14.0) == (3, 3.0)
    first = rows(tmp_path)[0]
    assert first["n"] == 1 and first["latency_p50_ms"] == 200.0
    assert first["window"] == [3.0, 13.0] and first["started_s"] == 2.0


def test_a_lowered_level_measures_only_after_surplus_callers_stopped(tmp_path: Path) -> None:
    c = make(
        tmp_path,
        profile="breakpoint",
        start=4,
        max_concurrency=4,
        step_s=5,
        settle_s=1,
        cooldown_s=0,  # the bisection lowers straight to 2 (see the cool-down test)
    )
    c.worker_ready("w1")

    def calls(kind: str, ids: range, at: float) -> None:
        c.add_events([{"kind": kind, "call_id": f"c{i}", "status": "ok", "at": at} for i in ids])

    def callers(delta: int, count: int, at: float) -> None:
        c.add_events([{"kind": "caller", "delta": delta, "at": at} for _ in range(count)])

    assert c.tick(0.0) == (4, 4.0)
    callers(+1, 4, 0.1)
    calls("start", range(0, 4), 0.1)
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 900.0, "at": 2.0}])
    c.tick(1.0)  # window [1, 6)
    assert c.tick(6.5) == (4, 4.0)  # grace
    assert c.tick(7.0) == (4, 4.0)  # calls running at 6 may still report turns begun before 6
    calls("call", range(0, 4), 7.1)
    calls("start", range(4, 8), 7.2)
    assert c.tick(7.5) == (2, 2.0)  # 4 failed: bisect to 2 (a lowered level)
    c.tick(9.0)
    assert not c._current.measuring  # type: ignore[union-attr]  # 4 calls still in flight
    calls("call", range(4, 6), 9.1)
    calls("start", range(8, 9), 9.2)  # a remaining caller's next call
    c.tick(9.5)
    assert not c._current.measuring  # type: ignore[union-attr]  # 3 in flight, 4 callers
    callers(-1, 2, 9.6)
    calls("call", range(6, 7), 9.7)
    c.tick(10.0)
    assert c._current.measuring and c._current.measure_from == 10.0  # type: ignore[union-attr]
    assert rows(tmp_path)[0]["latency_p95_ms"] == 900.0


def test_after_a_missed_slo_every_caller_stops_and_the_agent_idles_before_the_next_level(
    tmp_path: Path,
) -> None:
    c = make(tmp_path, profile="breakpoint", start=4, max_concurrency=4, step_s=5, settle_s=1)
    assert c.cfg.cooldown_s == 10.0  # the default
    c.worker_ready("w1")

    def events(kind: str, n: int, at: float, **kw: object) -> None:
        c.add_events([{"kind": kind, "call_id": f"c{i}", "at": at, **kw} for i in range(n)])

    assert c.tick(0.0) == (4, 4.0)
    events("caller", 4, 0.1, delta=+1)
    events("start", 4, 0.1)
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 900.0, "at": 2.0}])
    c.tick(1.0)  # window [1, 6): 4 misses the SLO
    c.tick(6.5)
    c.tick(7.0)
    events("call", 4, 7.1, status="ok")
    assert c.tick(7.5) == (0, 4.0)  # not straight to 2: every caller stops first
    events("start", 1, 7.6)  # one caller's next call began before it stopped
    events("caller", 4, 8.0, delta=-1)
    assert c.tick(9.0) == (0, 4.0)  # a call is still in flight
    events("call", 1, 9.5, status="ok")
    assert c.tick(10.0) == (0, 4.0)  # idle from here: 10 s more
    assert c.tick(19.9) == (0, 4.0)
    assert c.tick(20.0) == (2, 2.0)  # the bisection's level, from zero callers
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 100.0, "at": 21.5}])
    c.tick(21.0)  # settled: window [21, 26)
    c.tick(27.0)
    first, second = rows(tmp_path)
    assert "cooled_s" not in first
    assert second["concurrency"] == 2 and second["cooled_s"] == 12.5
    assert second["latency_p95_ms"] == 100.0 and second["window"] == [21.0, 26.0]


def test_the_call_cap_ends_the_run_with_a_truncated_row(tmp_path: Path) -> None:
    c = make(tmp_path, profile="soak", concurrency=2, soak_s=100, window_s=50, max_calls=2)
    c.worker_ready("w1")
    c.tick(0.0)
    c.tick(6.0)
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 100.0, "at": 7.0}])
    c.add_events(
        [{"kind": "call", "call_id": f"c{i}", "status": "ok", "at": 7.0} for i in range(2)]
    )
    assert c.tick(8.0) is None
    assert c.status == "capped"
    (row,) = rows(tmp_path)
    assert row["truncated"] and row["calls"] == 2
    state = json.loads((tmp_path / "load_state.json").read_text())
    assert state["status"] == "capped" and "--max-calls" in state["reason"]


def test_a_window_without_enough_turns_is_extended_until_it_has_them(tmp_path: Path) -> None:
    c = make(tmp_path, profile="ramp", levels=[1], step_s=4, settle_s=0, min_turns=2)
    c.worker_ready("w1")
    c.tick(0.0)  # window [0, 4)
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 300.0, "at": 1.0}])
    assert c.tick(4.0) == (1, 1.0)  # one turn so far: keep measuring
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 310.0, "at": 4.5}])
    c.tick(5.0)
    assert c.tick(6.0) is None  # two turns: closed at 5, grace over, nothing left
    (row,) = rows(tmp_path)
    assert row["n"] == 2 and row["window"] == [0.0, 5.0] and row["measure_s"] == 5.0


def test_calls_that_never_reach_the_agent_end_the_run_as_failed(tmp_path: Path) -> None:
    from simulator.load.conductor import UNREACHABLE_CALLS

    c = make(tmp_path, profile="soak", concurrency=2, soak_s=600, window_s=60)
    c.worker_ready("w1")
    c.tick(0.0)

    def failed(n: int, at: float, turns: int = 0) -> None:
        c.add_events(
            [
                {
                    "kind": "call",
                    "call_id": f"f{at}-{i}",
                    "status": "failed",
                    "turns": turns,
                    "error": "ws://127.0.0.1:9/ws: cannot connect: refused",
                    "at": at,
                }
                for i in range(n)
            ]
        )

    failed(UNREACHABLE_CALLS - 1, 1.0)
    c.add_events([{"kind": "call", "call_id": "ok", "status": "ok", "turns": 1, "at": 1.5}])
    failed(UNREACHABLE_CALLS - 1, 2.0)
    failed(3, 2.5, turns=2)  # failed, but the agent answered: it is reachable
    failed(UNREACHABLE_CALLS - 1, 3.0)
    assert c.tick(3.0) == (2, 2.0)  # never UNREACHABLE_CALLS in a row
    failed(1, 3.5)
    assert c.tick(4.0) is None and c.status == "failed"
    state = json.loads((tmp_path / "load_state.json").read_text())
    assert f"{UNREACHABLE_CALLS} calls in a row" in state["reason"]
    assert "cannot connect" in state["reason"]


def test_the_unreachable_streak_scales_with_the_level(tmp_path: Path) -> None:
    from simulator.load.conductor import UNREACHABLE_CALLS

    c = make(tmp_path, profile="soak", concurrency=3 * UNREACHABLE_CALLS, soak_s=600)
    c.worker_ready("w1")
    c.tick(0.0)
    burst = [
        {"kind": "call", "call_id": f"c{i}", "status": "failed", "error": "x", "at": 1.0}
        for i in range(2 * 3 * UNREACHABLE_CALLS - 1)
    ]
    c.add_events(burst)
    assert c.tick(2.0) is not None  # one refused burst at a high level is a measurement
    c.add_events([{**burst[0], "call_id": "last"}])
    assert c.tick(3.0) is None and c.status == "failed"


# -- arrivals: new callers spread over one call's length --------------------------------


def call_ends(c: Conductor, at: float, duration_s: float, status: str = "ok", n: int = 1) -> None:
    c.add_events(
        [
            {"kind": "call", "call_id": f"e{at}-{i}", "status": status, "turns": 1}
            | {"duration_s": duration_s, "at": at}
            for i in range(n)
        ]
    )


def test_a_first_step_of_many_callers_waits_for_a_pilot_call_then_spreads_them_over_its_length(
    tmp_path: Path,
) -> None:
    c = make(tmp_path, profile="soak", concurrency=4, soak_s=40, window_s=20, settle_s=2)
    c.cfg.stagger_s = None  # the default: one call's length, measured
    c.worker_ready("w1")
    assert c.tick(0.0) == (1, 1.0)  # the pilot: one caller until a call has ended
    assert c.tick(5.0) == (1, 1.0)
    call_ends(c, 7.9, duration_s=8.0)
    # The 3 others join at 3/8 a second: over the 8 s one call took; the step settles 8 s.
    assert c.tick(8.0) == (4, 3 / 8)
    assert c.tick(15.9) == (4, 3 / 8) and not c._current.measuring  # type: ignore[union-attr]
    c.tick(16.0)
    assert c._current.measuring and c._current.measure_from == 16.0  # type: ignore[union-attr]
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 100.0, "at": 17.0}])
    c.tick(37.0)
    assert rows(tmp_path)[0]["arrivals_s"] == 8.0


def test_each_raise_spreads_its_new_callers_over_the_median_call_so_far(tmp_path: Path) -> None:
    c = make(tmp_path, profile="ramp", levels=[1, 5, 2], step_s=4, settle_s=1)
    c.cfg.stagger_s = None
    c.worker_ready("w1")
    first = c.tick(0.0)
    assert first is not None and first[0] == 1  # one caller: no pilot needed
    c.tick(1.0)  # window [1, 5)
    for at, d in ((2.0, 3.0), (3.0, 5.0), (4.0, 10.0)):
        call_ends(c, at, duration_s=d)
    call_ends(c, 4.5, duration_s=99.0, status="failed")  # a failed call's length is not a call's
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 100.0, "at": 2.0}])
    assert c.tick(6.0) == (5, 4 / 5.0)  # +4 callers over the median 5 s
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 100.0, "at": 12.0}])
    c.tick(11.0)  # settled after max(settle_s, 5 s)
    assert c._current.measure_from == 11.0  # type: ignore[union-attr]
    assert c.tick(16.0) == (2, 2.0)  # a lowered level: the surplus stops at once


def test_a_set_stagger_is_used_as_is_and_zero_starts_everyone_at_once(tmp_path: Path) -> None:
    c = make(tmp_path, profile="soak", concurrency=10, soak_s=40, window_s=20, stagger_s=20.0)
    c.worker_ready("w1")
    assert c.tick(0.0) == (10, 0.5)  # no pilot: 10 callers over 20 s
    at_once = make(tmp_path / "b", profile="soak", concurrency=10, soak_s=40, window_s=20)
    (tmp_path / "b").mkdir()
    at_once.worker_ready("w1")
    assert at_once.tick(0.0) == (10, 10.0)


def test_a_pilot_that_never_completes_a_call_gives_up_and_spreads_over_settle(
    tmp_path: Path,
) -> None:
    c = make(tmp_path, profile="soak", concurrency=3, soak_s=40, window_s=20, settle_s=4)
    c.cfg.stagger_s = None
    c.worker_ready("w1")
    assert c.tick(0.0) == (1, 1.0)
    call_ends(c, 1.0, duration_s=2.0, status="failed", n=2)
    assert c.tick(2.0) == (1, 1.0)
    call_ends(c, 3.0, duration_s=2.0, status="failed")
    assert c.tick(4.0) == (3, 2 / 4.0)


def test_a_pilot_against_an_unreachable_agent_fails_the_run(tmp_path: Path) -> None:
    c = make(tmp_path, profile="soak", concurrency=3, soak_s=40, window_s=20)
    c.cfg.stagger_s = None
    c.cfg.max_calls = 100
    c.worker_ready("w1")
    c.tick(0.0)
    c.add_events(
        [{"kind": "call", "call_id": f"x{i}", "status": "failed", "at": 1.0} for i in range(3)]
    )
    # Pilot over (3 calls ended), the first step runs; its callers' calls keep failing.
    assert c.tick(2.0) == (3, 2 / 5.0)
    c.add_events(
        [{"kind": "call", "call_id": f"y{i}", "status": "failed", "at": 3.0} for i in range(7)]
    )
    c.tick(4.0)
    assert c.status == "failed" and "before their first turn" in c.reason


def test_an_agent_that_answered_before_is_failing_its_level_not_unreachable(
    tmp_path: Path,
) -> None:
    """Refused calls in a row (an agent full, or marked down by its balancer under load)
    end the run only after UNREACHABLE_S without any caller turn; before, they are the
    step's errors. An agent that never answered ends it at once (test_unreachable.py)."""
    c = make(tmp_path, profile="soak", concurrency=2, soak_s=100, window_s=50, max_calls=500)
    c.worker_ready("w1")
    c.tick(0.0)
    c.add_events([{"kind": "turn", "type": "say", "latency_ms": 300.0, "at": 5.0}])
    refused = {"kind": "call", "status": "failed", "error": "503", "turns": 0}
    c.add_events([{**refused, "call_id": f"r{i}", "at": 6.0 + i / 10} for i in range(40)])
    assert c.tick(10.0) is not None and c.status == "running"
    assert c.tick(34.9) is not None and c.status == "running"
    c.tick(35.0)  # 30 s since the last caller turn
    assert c.status == "failed" and "no caller turn for 30 s" in c.reason, c.reason
