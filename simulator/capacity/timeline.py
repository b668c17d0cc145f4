"""A simulated run as a time series: what a dashboard would have shown, bucket by bucket.

Why: a level's P95 hides when things went wrong. A spike the autoscaler
answers late, a crash, callers hanging up: each is a bump in time, and the
report draws these rows (capacity_timeline.jsonl) as latency, queue wait,
instances and hang-ups against virtual time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.capacity.engine import Trace
from simulator.capacity.record import OUTCOMES
from simulator.metrics.stats import percentile

Row = dict[str, Any]


def timeline(trace: Trace) -> list[Row]:
    """One row per time bucket of the window: turns, P50/P95, mean wait per stage,
    hang-ups, lost turns, crashes and serving instances per stage."""
    w0, w1 = trace.window_ms
    width = trace.bucket_ms or (w1 - w0)
    table = trace.table
    at = np.frombuffer(table.at, dtype=np.float64)
    lat = np.frombuffer(table.latency, dtype=np.float64)
    outcome = table.outcomes()
    hung, lost = OUTCOMES.index("hung_up"), OUTCOMES.index("lost")
    n_buckets = max(1, int(np.ceil((w1 - w0) / width - 1e-9)))
    index = np.minimum(((at - w0) // width).astype(np.int64), n_buckets - 1)
    waits = {name: table.stage(name)[0] for name in [*trace.pools, "frames"]}
    crashes = np.asarray([c[0] for c in trace.crashes], dtype=np.float64)
    rows: list[Row] = []
    for b in range(n_buckets):
        mask = index == b
        heard = mask & (outcome != lost)
        ok = mask & (outcome == OUTCOMES.index("answered"))
        start = w0 + b * width
        row: Row = {
            "at_s": round(start / 1000.0, 3),
            "n": int(heard.sum()),
            "latency_p50_ms": _pct(lat[heard], 50),
            "latency_p95_ms": _pct(lat[heard], 95),
            "hangups": int((mask & (outcome == hung)).sum()),
            "lost": int((mask & (outcome == lost)).sum()),
            "crashes": int(((crashes >= start) & (crashes < start + width)).sum()),
            "wait_ms": {
                name: _mean(w[ok]) for name, w in waits.items() if not np.isnan(w[ok]).all()
            },
        }
        sample = _sample_at(trace.samples, start + width)
        if sample is not None:
            row["instances"] = sample["instances"]
        rows.append(row)
    return rows


def _pct(values: np.ndarray, q: float) -> float | None:
    value = percentile(values, q)
    return None if value is None else round(value, 1)


def _mean(values: np.ndarray) -> float | None:
    values = values[~np.isnan(values)]
    return round(float(values.mean()), 2) if values.size else None


def _sample_at(samples: list[Row], at_ms: float) -> Row | None:
    """The clock's sample at the end of a bucket (it samples once per bucket)."""
    for s in samples:
        if abs(s["at_ms"] - at_ms) < 1e-6 or s["at_ms"] >= at_ms:
            return s
    return samples[-1] if samples else None
