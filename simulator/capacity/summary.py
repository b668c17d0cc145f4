"""Summarise one simulated level: latency percentiles, where the time went, how busy each pool was.

The per-stage split into queue wait and service is the point of simulating:
a P95 that is mostly wait says "add instances"; mostly service says "a
faster model", and no number of instances will fix it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.capacity.config import CapacityConfig
from simulator.capacity.engine import ANSWERED, HUNG, LOST, Trace
from simulator.capacity.record import OUTCOMES
from simulator.capacity.service import mean_ms
from simulator.metrics.stats import percentile

Row = dict[str, Any]


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


def _dist(values: np.ndarray) -> Row:
    values = values[~np.isnan(values)]
    return {
        "n": int(values.size),
        "mean": _r(float(values.mean())) if values.size else None,
        "p50": _r(percentile(values, 50)),
        "p95": _r(percentile(values, 95)),
    }


def _stages(trace: Trace, cfg: CapacityConfig, answered: np.ndarray) -> Row:
    """Per stage of the answered turns: its pool, waits, service times and utilisation;
    plus the call's own CPU backlog (`frames`) and round trips (`rtt`) when modelled."""
    table = trace.table
    stages: Row = {}
    for name, pool in trace.pools.items():
        waits, served = table.stage(name)
        util = pool.utilisation()
        stages[name] = {
            "servers": pool.initial if pool.limited else None,
            "slots": pool.stage.slots,
            "balancer": cfg.policy(pool.stage) if pool.limited else None,
            "wait_ms": _dist(waits[answered]),
            "service_ms": _dist(served[answered]),
            "utilisation": None if util is None else round(util, 4),
        }
    for extra in ("frames", "rtt"):  # the call's own CPU backlog; round trips
        waits, served = (v[answered] for v in table.stage(extra))
        if not np.isnan(served).all():
            stages[extra] = {
                "servers": None,
                "slots": 1,
                "balancer": None,
                "wait_ms": _dist(waits),
                "service_ms": _dist(served),
                "utilisation": None,
            }
    return stages


def summarise(trace: Trace, cfg: CapacityConfig) -> Row:
    """The level's row: the load.jsonl fields (docs/metrics.md) plus stages and pools.

    Latency percentiles are over answered turns and hang-ups, a hang-up
    counting as the wait the caller gave up after (a lower bound of what it
    would have been); lost turns (a crashed instance) are errors, not latencies.
    Read from the turn columns with numpy: millions of turns take a second.
    """
    table = trace.table
    outcome = table.outcomes()
    latency = np.frombuffer(table.latency, dtype=np.float64)
    code = {name: OUTCOMES.index(name) for name in OUTCOMES}
    lat = latency[outcome != code[LOST]]
    answered = outcome == code[ANSWERED]
    hung = int((outcome == code[HUNG]).sum())
    lost = int((outcome == code[LOST]).sum())
    p95 = percentile(lat, 95)
    passed = p95 is not None and p95 <= cfg.slo.latency_p95_ms
    stages = _stages(trace, cfg, answered)
    # Little's law: calls in the system = turn rate x time per turn; for closed
    # traffic that is simply the number of callers.
    concurrency = trace.level if cfg.closed else _offered_calls(trace, cfg)
    n_all = len(table)
    row: Row = {
        "concurrency": concurrency,
        "n": int(lat.size),
        "latency_p50_ms": _r(percentile(lat, 50)),
        "latency_p95_ms": _r(p95),
        "latency_p99_ms": _r(percentile(lat, 99)),
        "latency_mean_ms": _r(float(lat.mean())) if lat.size else None,
        "error_rate": round((hung + lost) / n_all, 4) if n_all else 0.0,
        "hangups": hung,
        "hangup_rate": round(hung / n_all, 4) if n_all else 0.0,
        "turns_lost": lost,
        "calls_lost": trace.calls_lost,
        "calls_hung_up": trace.calls_hung_up,
        "calls_reconnected": trace.calls_reconnected,
        "crashes": len(trace.crashes),
        "slo_passed": passed,
        "slo_reason": "pass" if passed else _reason(p95, cfg.slo.latency_p95_ms),
        "calls": trace.calls_started,
        "stages": stages,
        "virtual_s": round(trace.end_ms / 1000.0, 3),
    }
    if trace.cpu_busy is not None:
        row["cpu_utilisation"] = trace.cpu_busy
    if not cfg.closed:
        row["calls_per_min"] = trace.level
    return row


def _offered_calls(trace: Trace, cfg: CapacityConfig) -> float:
    """Mean calls in progress under open traffic: arrivals per ms x mean call length."""
    table = trace.table
    if not len(table):
        return 0.0
    latency = np.frombuffer(table.latency, dtype=np.float64)
    answered = latency[table.outcomes() == OUTCOMES.index(ANSWERED)]
    t = cfg.traffic
    per_turn = (
        mean_ms(t.speak_ms)
        + mean_ms(t.listen_ms)
        + float((answered if answered.size else latency).mean())
    )
    return round(trace.level / 60_000.0 * t.turns_per_call * per_turn, 2)


def _reason(p95: float | None, limit: float) -> str:
    if p95 is None:
        return "no turns in the window"
    return f"P95 {p95:.0f} ms > {limit:.0f} ms"
