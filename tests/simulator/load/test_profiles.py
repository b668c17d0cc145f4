"""Profiles as specifications: which concurrency comes next, given the steps so far."""

from __future__ import annotations

from typing import Any

from simulator.load.config import LoadConfig
from simulator.load.profiles import Step, breakpoint_bounds, build_profile, stress_levels


def cfg(**kw: Any) -> LoadConfig:
    return LoadConfig(scenario="s.yaml", out_dir="/tmp/x", **kw)


def walk(c: LoadConfig, passes: Any) -> list[Step]:
    """Run a profile against an SLO oracle `passes(concurrency) -> bool`."""
    profile = build_profile(c)
    rows: list[dict[str, Any]] = []
    steps: list[Step] = []
    while (step := profile.next_step(rows)) is not None:
        steps.append(step)
        rows.append(
            {"concurrency": step.concurrency, "phase": step.phase, "slo_passed": passes(step)}
        )
        assert len(steps) < 50
    return steps


def test_ramp_measures_every_level_in_order_even_after_a_miss() -> None:
    steps = walk(cfg(profile="ramp", levels=[1, 2, 4, 8]), lambda s: s.concurrency < 4)
    assert [s.concurrency for s in steps] == [1, 2, 4, 8]
    assert all(s.counted for s in steps)


def test_ramp_with_capacity_counts_only_levels_up_to_it() -> None:
    steps = walk(cfg(profile="ramp", levels=[2, 4, 8], capacity=4), lambda s: True)
    assert [s.counted for s in steps] == [True, True, False]


def test_stress_goes_to_twice_the_capacity_then_recovers_at_it() -> None:
    assert stress_levels(8) == [4, 8, 12, 16]
    assert stress_levels(1) == [1, 2]
    steps = walk(cfg(profile="stress", capacity=8), lambda s: s.concurrency <= 8)
    assert [(s.concurrency, s.phase) for s in steps] == [
        (4, "stress"),
        (8, "stress"),
        (12, "stress"),
        (16, "stress"),
        (8, "recovery"),
    ]
    assert [s.counted for s in steps] == [True, True, False, False, True]


def test_breakpoint_doubles_then_bisects_to_the_exact_first_failing_level() -> None:
    for true_break in (2, 3, 5, 6, 7, 9, 13, 33):
        steps = walk(
            cfg(profile="breakpoint", max_concurrency=64),
            lambda s, b=true_break: s.concurrency < b,
        )
        rows = [
            {
                "concurrency": s.concurrency,
                "phase": s.phase,
                "slo_passed": s.concurrency < true_break,
            }
            for s in steps
        ]
        assert breakpoint_bounds(rows) == (true_break - 1, true_break), steps


def test_breakpoint_levels_after_a_miss_start_from_an_idle_agent() -> None:
    steps = walk(cfg(profile="breakpoint"), lambda s: s.concurrency < 7)
    assert [(s.concurrency, s.cooldown) for s in steps] == [
        (1, False),
        (2, False),
        (4, False),
        (8, False),
        (6, True),  # after 8 missed
        (7, False),  # after 6 passed: the agent was not overloaded
    ]
    steps = walk(cfg(profile="breakpoint", cooldown_s=0), lambda s: s.concurrency < 7)
    assert not any(s.cooldown for s in steps)


def test_breakpoint_without_bisect_stops_at_the_first_miss() -> None:
    steps = walk(cfg(profile="breakpoint", bisect=False), lambda s: s.concurrency < 5)
    assert [s.concurrency for s in steps] == [1, 2, 4, 8]


def test_breakpoint_stops_at_max_when_nothing_breaks() -> None:
    steps = walk(cfg(profile="breakpoint", max_concurrency=6), lambda s: True)
    assert [s.concurrency for s in steps] == [1, 2, 4, 6]


def test_breakpoint_counts_only_with_a_stated_capacity() -> None:
    assert not any(s.counted for s in walk(cfg(profile="breakpoint"), lambda s: True))
    steps = walk(cfg(profile="breakpoint", capacity=4, max_concurrency=8), lambda s: True)
    assert [s.counted for s in steps] == [True, True, True, False]


def test_soak_holds_half_the_capacity_in_windows() -> None:
    steps = walk(cfg(profile="soak", capacity=8, soak_s=600, window_s=60), lambda s: True)
    assert len(steps) == 10
    assert {s.concurrency for s in steps} == {4}
    assert {s.measure_s for s in steps} == {60}


def test_breakpoint_bounds_ignore_recovery_and_noise_above_the_break() -> None:
    rows = [
        {"concurrency": 2, "slo_passed": True},
        {"concurrency": 4, "slo_passed": False},
        {"concurrency": 8, "slo_passed": True},  # noise above the break
        {"concurrency": 1, "phase": "recovery", "slo_passed": False},
    ]
    assert breakpoint_bounds(rows) == (2, 4)
