"""Soak verdicts: does latency, memory or the number of open files grow over time?

Each series is fitted with the Theil-Sen slope (the median of pairwise
slopes; robust to a few slow turns) with its 95 % confidence interval.
Growth = slope x the soak's length. A series drifts when the whole interval
is above zero (the growth is real) AND the growth exceeds its limit (it
matters). Latency uses every measured caller turn (time = when its row was
measured); memory and file descriptors use the agent samples taken about
once a second (agent_stats.jsonl).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.stats import theilslopes

from simulator.rows import TurnRow

#: Theil-Sen is O(n^2) in memory: fit at most this many points (evenly thinned).
MAX_POINTS = 1500


def trend(t: Sequence[float], y: Sequence[float], limit: float) -> dict[str, Any]:
    """Growth of `y` over the span of `t`, its 95 % interval, and the verdict."""
    n = len(t)
    if n < 3 or max(t) - min(t) <= 0:
        return {"n": n, "growth": None, "ci": None, "limit": limit, "drift": False}
    ts = np.asarray(t, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if n > MAX_POINTS:
        keep = np.linspace(0, n - 1, MAX_POINTS).astype(int)
        ts, ys = ts[keep], ys[keep]
    res = theilslopes(ys, ts, alpha=0.95)
    span = float(ts.max() - ts.min())
    growth = float(res.slope) * span
    lo, hi = float(res.low_slope) * span, float(res.high_slope) * span
    return {
        "n": n,
        "growth": round(growth, 2),
        "ci": [round(lo, 2), round(hi, 2)],
        "limit": limit,
        "drift": bool(lo > 0 and growth > limit),
    }


def analyse(
    turns: Sequence[TurnRow],
    agent_stats: Sequence[dict[str, Any]],
    *,
    max_drift_ms: float,
    max_rss_growth_mb: float,
    max_fd_growth: float,
) -> dict[str, Any]:
    """Latency, RSS and fd trends of a soak; `drift` is True when any of them drifts."""
    said = [
        r
        for r in turns
        if r.get("kind") == "say" and r.get("latency_ms") is not None and r.get("load_at")
    ]
    said.sort(key=lambda r: float(r["load_at"]))
    out: dict[str, Any] = {
        "latency_ms": trend(
            [float(r["load_at"]) for r in said],
            [float(r.get("latency_ms") or 0.0) for r in said],  # not None: filtered above
            max_drift_ms,
        ),
        "agent_rss_mb": trend(
            [float(s["at"]) for s in agent_stats],
            [float(s["rss_mb"]) for s in agent_stats],
            max_rss_growth_mb,
        ),
        "agent_fds": trend(
            [float(s["at"]) for s in agent_stats],
            [float(s["fds"]) for s in agent_stats],
            max_fd_growth,
        ),
    }
    out["drift"] = any(v["drift"] for v in out.values() if isinstance(v, dict))
    return out
