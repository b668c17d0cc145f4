"""Soak drift: a real trend is flagged, a flat noisy series is not."""

from __future__ import annotations

import numpy as np

from simulator.load.drift import analyse, trend


def test_growing_latency_is_flagged_with_its_growth() -> None:
    rng = np.random.default_rng(1)
    t = np.linspace(0, 100, 200)
    y = 300 + 5.0 * t + rng.normal(0, 40, t.size)  # +500 ms over the soak
    got = trend(t, y, limit=100)
    assert got["drift"] and 400 < got["growth"] < 600
    assert got["ci"][0] > 0


def test_flat_noisy_latency_with_outliers_is_not_flagged() -> None:
    rng = np.random.default_rng(2)
    t = np.linspace(0, 100, 200)
    y = 300 + rng.normal(0, 40, t.size)
    y[-5:] += 3000  # a few slow turns at the end must not make a trend
    assert not trend(t, y, limit=100)["drift"]


def test_small_real_growth_below_the_limit_is_not_flagged() -> None:
    t = np.linspace(0, 100, 50)
    assert not trend(t, 300 + 0.5 * t, limit=100)["drift"]  # +50 ms


def test_analyse_reads_turn_rows_and_agent_samples() -> None:
    turns = [{"kind": "say", "latency_ms": 200 + 10 * i, "load_at": 1000.0 + i} for i in range(30)]
    turns.append({"kind": "wait", "latency_ms": 9999, "load_at": 1001.0})
    stats = [{"at": 1000.0 + i, "rss_mb": 100.0, "fds": 12.0} for i in range(30)]
    got = analyse(turns, stats, max_drift_ms=100, max_rss_growth_mb=50, max_fd_growth=20)
    assert got["latency_ms"]["drift"] and got["latency_ms"]["n"] == 30
    assert not got["agent_rss_mb"]["drift"] and not got["agent_fds"]["drift"]
    assert got["drift"]
