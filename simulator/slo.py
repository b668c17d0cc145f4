"""Judge a scenario's turns and calls against its SLOs; each result keeps its value and n.

A limit named `*_min` must be reached (value >= limit); every other limit
must not be exceeded (value <= limit). A metric with no data fails its SLO.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from simulator.metrics.reliability import reliability
from simulator.metrics.stats import percentile
from simulator.metrics.summary import first_audio_ms, reply_latencies, turn_taking
from simulator.metrics.task import success_rate
from simulator.metrics.wer import aggregate
from simulator.rows import CallRow, SloResultRow, TurnRow
from simulator.scenario import Slo


def _percentile_of(values: list[float], q: float) -> tuple[float | None, int]:
    return percentile(values, q), len(values)


def _metrics(
    turns: list[TurnRow], calls: list[CallRow]
) -> dict[str, Callable[[], tuple[float | None, int]]]:
    """metric name -> (value, n), computed lazily from rows."""
    said = [t for t in turns if t.get("kind") == "say"]

    def wer(prefix: str, rows: Sequence[TurnRow]) -> tuple[float | None, int]:
        agg = aggregate(rows, prefix)
        return agg["wer"], int(agg["n"] or 0)

    def rate(key: str) -> tuple[float | None, int]:
        p = turn_taking(calls)[key]
        return p["rate"], p["n"]

    def task() -> tuple[float | None, int]:
        p = success_rate([c.get("task") for c in calls])
        return p["rate"], p["n"]

    def barge() -> tuple[float | None, int]:
        stops = turn_taking(calls)["barge_in_stop_ms"]
        return stops["p95"], stops["n"]

    def ttfa() -> tuple[float | None, int]:
        vals = first_audio_ms(calls)
        return (max(vals) if vals else None), len(vals)

    def reliable() -> tuple[float | None, int]:
        r = reliability(calls)
        return (r["pass_hat_k"]["value"], r["n"]) if r is not None else (None, 0)

    lat = reply_latencies(turns)
    return {
        "latency_p50_ms": lambda: _percentile_of(lat, 50),
        "latency_p95_ms": lambda: _percentile_of(lat, 95),
        "latency_p99_ms": lambda: _percentile_of(lat, 99),
        "wer_max": lambda: wer("wer", said),
        "spoken_wer_max": lambda: wer("spoken_wer", turns),
        "task_success_min": task,
        "pause_takeover_max": lambda: rate("pause_takeover"),
        "backchannel_takeover_max": lambda: rate("backchannel_takeover"),
        "barge_in_stop_p95_ms": barge,
        "time_to_first_audio_ms": ttfa,
        "pass_hat_k_min": reliable,
    }


def evaluate(
    scenario: str, slo: Slo, turns: list[TurnRow], calls: list[CallRow] | None = None
) -> list[SloResultRow]:
    """One result per SLO the scenario sets: metric, limit, value, n, passed."""
    results: list[SloResultRow] = []
    for metric, compute in _metrics(turns, calls or []).items():
        limit = getattr(slo, metric)
        if limit is None:
            continue
        value, n = compute()
        if value is None:
            passed = False
        elif metric.endswith("_min"):
            passed = value >= limit
        else:
            passed = value <= limit
        results.append(
            {
                "scenario": scenario,
                "metric": metric,
                "limit": float(limit),
                "value": value,
                "n": n,
                "passed": passed,
            }
        )
    return results
