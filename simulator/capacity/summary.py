"""Summarise one simulated level: latency percentiles, where the time went, how busy each pool was.

The per-stage split into queue wait and service is the point of simulating:
a P95 that is mostly wait says "add instances"; mostly service says "a
faster model", and no number of instances will fix it.
"""

from __future__ import annotations

from typing import Any

from simulator.capacity.config import CapacityConfig
from simulator.capacity.engine import ANSWERED, HUNG, LOST, Trace
from simulator.capacity.service import mean_ms
from simulator.metrics.stats import percentile

Row = dict[str, Any]


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


def _dist(values: list[float]) -> Row:
    return {
        "n": len(values),
        "mean": _r(sum(values) / len(values)) if values else None,
        "p50": _r(percentile(values, 50)),
        "p95": _r(percentile(values, 95)),
    }


def summarise(trace: Trace, cfg: CapacityConfig) -> Row:
    """The level's row: the load.jsonl fields (docs/metrics.md) plus stages and pools.

    Latency percentiles are over answered turns and hang-ups, a hang-up
    counting as the wait the caller gave up after (a lower bound of what it
    would have been); lost turns (a crashed instance) are errors, not latencies.
    """
    lat = [t.latency_ms for t in trace.turns if t.outcome != LOST]
    answered = [t for t in trace.turns if t.outcome == ANSWERED]
    hung = sum(1 for t in trace.turns if t.outcome == HUNG)
    lost = sum(1 for t in trace.turns if t.outcome == LOST)
    p95 = percentile(lat, 95)
    passed = p95 is not None and p95 <= cfg.slo.latency_p95_ms
    stages: Row = {}
    for name, pool in trace.pools.items():
        waits = [t.wait_ms[name] for t in answered if name in t.wait_ms]
        served = [t.service_ms[name] for t in answered if name in t.service_ms]
        util = pool.utilisation()
        stages[name] = {
            "servers": pool.stage.servers,
            "slots": pool.stage.slots,
            "balancer": cfg.policy(pool.stage) if pool.limited else None,
            "wait_ms": _dist(waits),
            "service_ms": _dist(served),
            "utilisation": None if util is None else round(util, 4),
        }
    rtt = [t.service_ms["rtt"] for t in answered if "rtt" in t.service_ms]
    if rtt:
        stages["rtt"] = {
            "servers": None,
            "slots": 1,
            "balancer": None,
            "wait_ms": _dist([0.0] * len(rtt)),
            "service_ms": _dist(rtt),
            "utilisation": None,
        }
    # Little's law: calls in the system = turn rate x time per turn; for closed
    # traffic that is simply the number of callers.
    concurrency = trace.level if cfg.closed else _offered_calls(trace, cfg)
    n_all = len(trace.turns)
    row: Row = {
        "concurrency": concurrency,
        "n": len(lat),
        "latency_p50_ms": _r(percentile(lat, 50)),
        "latency_p95_ms": _r(p95),
        "latency_p99_ms": _r(percentile(lat, 99)),
        "latency_mean_ms": _r(sum(lat) / len(lat)) if lat else None,
        "error_rate": round((hung + lost) / n_all, 4) if n_all else 0.0,
        "hangups": hung,
        "hangup_rate": round(hung / n_all, 4) if n_all else 0.0,
        "turns_lost": lost,
        "calls_lost": trace.calls_lost,
        "calls_hung_up": trace.calls_hung_up,
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
    if not trace.turns:
        return 0.0
    turns = [t for t in trace.turns if t.outcome == ANSWERED] or trace.turns
    t = cfg.traffic
    per_turn = (
        mean_ms(t.speak_ms) + mean_ms(t.listen_ms) + sum(x.latency_ms for x in turns) / len(turns)
    )
    return round(trace.level / 60_000.0 * t.turns_per_call * per_turn, 2)


def _reason(p95: float | None, limit: float) -> str:
    if p95 is None:
        return "no turns in the window"
    return f"P95 {p95:.0f} ms > {limit:.0f} ms"
