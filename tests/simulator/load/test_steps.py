"""A step's row is computed from exactly the events inside its window."""

from __future__ import annotations

import numpy as np

from simulator.load.steps import SATURATED_LATENESS_MS, Limits, aggregate, in_window


def turn(at: float, latency: float | None, kind: str = "say", worker: str = "w1") -> dict:
    return {"kind": "turn", "type": kind, "latency_ms": latency, "at": at, "worker": worker}


def call(at: float, status: str = "ok", late: float = 0.0, worker: str = "w1") -> dict:
    return {"kind": "call", "status": status, "lateness_ms": late, "at": at, "worker": worker}


LIMITS = Limits(p95_ms=800.0, max_error_rate=0.01)


def test_window_keeps_events_in_start_inclusive_end_exclusive() -> None:
    events = [turn(9.99, 1), turn(10.0, 2), turn(19.99, 3), turn(20.0, 4)]
    assert [e["latency_ms"] for e in in_window(events, 10.0, 20.0)] == [2, 3]


def test_row_percentiles_n_and_errors_come_from_the_events() -> None:
    lat = [float(x) for x in range(100, 1100, 10)]  # 100 turns
    events = [turn(1.0, v, worker=f"w{i % 2}") for i, v in enumerate(lat)]
    events += [turn(1.0, None), turn(1.0, 5000.0, kind="wait")]  # no reply; a greeting
    events += [call(2.0) for _ in range(9)] + [call(2.0, status="failed")]
    row = aggregate(events, LIMITS)
    assert row["n"] == 100
    assert row["latency_p50_ms"] == round(float(np.percentile(lat, 50)), 1)
    assert row["latency_p95_ms"] == round(float(np.percentile(lat, 95)), 1)
    assert (row["calls"], row["failed_calls"], row["error_rate"]) == (10, 1, 0.1)
    assert row["no_reply"] == 1 and row["workers"] == 2
    assert not row["slo_passed"] and "error rate" in row["slo_reason"]


def test_p95_over_the_limit_fails_the_step() -> None:
    row = aggregate([turn(0, 700.0)] * 18 + [turn(0, 900.0)] * 2 + [call(0)], LIMITS)
    assert row["latency_p95_ms"] == 900.0 and not row["slo_passed"]
    row = aggregate([turn(0, 700.0)] * 20 + [call(0)], LIMITS)
    assert row["slo_passed"] and row["slo_reason"] == ""


def test_a_step_without_any_reply_fails_for_lack_of_data() -> None:
    row = aggregate([call(0, status="failed")], Limits(None, 1.0))
    assert not row["slo_passed"] and row["n"] == 0


def test_generator_saturation_is_flagged_from_the_median_calls_lateness() -> None:
    late = SATURATED_LATENESS_MS + 5
    ok = aggregate([turn(0, 300.0), call(0, late=late), call(0), call(0)], LIMITS)
    assert ok["generator_lateness_ms"] == late and not ok["generator_saturated"]
    slow = aggregate([turn(0, 300.0), call(0, late=late), call(0, late=late), call(0)], LIMITS)
    assert slow["generator_saturated"]
