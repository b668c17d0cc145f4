"""SLOs over the new metrics: direction of each limit, n kept, no data fails."""

from __future__ import annotations

import pytest

from simulator.scenario import Slo
from simulator.slo import evaluate


def _turns(latencies: list[float]) -> list[dict]:
    return [
        {
            "kind": "say",
            "latency_ms": v,
            "spoken_wer_ref_words": 10,
            "spoken_wer_subs": 1,
            "spoken_wer_dels": 0,
            "spoken_wer_ins": 0,
        }
        for v in latencies
    ]


def _by_metric(results: list[dict]) -> dict[str, dict]:
    return {r["metric"]: r for r in results}


def test_latency_p99_and_spoken_wer_are_judged_with_their_n() -> None:
    turns = _turns([float(v) for v in range(1, 101)])
    out = _by_metric(evaluate("s", Slo(latency_p99_ms=99.5, spoken_wer_max=0.05), turns))
    assert out["latency_p99_ms"]["value"] == pytest.approx(99.01)
    assert out["latency_p99_ms"]["n"] == 100 and out["latency_p99_ms"]["passed"]
    assert out["spoken_wer_max"]["value"] == pytest.approx(0.1)
    assert not out["spoken_wer_max"]["passed"]


def test_task_success_min_must_be_reached_and_rates_must_not_be_exceeded() -> None:
    calls = [
        {"task": {"passed": True}, "turn_taking": {"pauses": 2, "pause_takeovers": 1}},
        {"task": {"passed": False}, "turn_taking": {"pauses": 2, "pause_takeovers": 0}},
    ]
    slo = Slo(task_success_min=0.5, pause_takeover_max=0.2)
    out = _by_metric(evaluate("s", slo, [], calls))
    assert out["task_success_min"]["value"] == 0.5 and out["task_success_min"]["passed"]
    assert out["task_success_min"]["n"] == 2
    assert out["pause_takeover_max"]["value"] == 0.25 and not out["pause_takeover_max"]["passed"]
    assert out["pause_takeover_max"]["n"] == 4


def test_a_metric_with_no_data_fails_its_slo() -> None:
    slo = Slo(task_success_min=0.1, backchannel_takeover_max=1.0, barge_in_stop_p95_ms=500)
    out = evaluate("s", slo, [], [{"turn_taking": {}}])
    assert [r["passed"] for r in out] == [False, False, False]
    assert all(r["value"] is None and r["n"] == 0 for r in out)
