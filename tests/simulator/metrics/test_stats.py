"""Percentiles with n, bootstrap confidence intervals that cover, Wilson intervals."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.metrics.stats import bootstrap_ci, proportion, summarize, wilson_interval


def test_percentiles_of_a_known_set_are_exact_and_carry_n() -> None:
    values = [float(v) for v in range(1, 101)]  # 1..100 ms
    out = summarize(values)
    assert out["n"] == 100
    # Linear interpolation: rank q/100 * (n-1) between sorted values.
    assert out["p50"] == pytest.approx(50.5)
    assert out["p95"] == pytest.approx(95.05)
    assert out["p99"] == pytest.approx(99.01)
    lo, hi = out["p95_ci"]
    assert lo <= out["p95"] <= hi


def test_empty_set_has_n_zero_and_no_percentiles() -> None:
    out = summarize([])
    assert out["n"] == 0 and out["p50"] is None and out["p50_ci"] is None


def test_bootstrap_interval_of_the_median_covers_the_true_value_in_most_trials() -> None:
    # Lognormal latencies (median 400 ms); 200 seeded trials of 60 turns each.
    true_median = 400.0
    covered = 0
    for trial in range(200):
        rng = np.random.default_rng(1000 + trial)
        sample = true_median * np.exp(rng.normal(0, 0.35, 60))
        ci = bootstrap_ci(list(sample), 50, seed=trial, resamples=1000)
        assert ci is not None
        covered += ci[0] <= true_median <= ci[1]
    assert covered >= 180, f"covered {covered}/200"


def test_bootstrap_interval_of_p95_covers_the_true_value_in_most_trials() -> None:
    # Normal latencies: true P95 = 500 + 1.6449 * 50.
    true_p95 = 500 + 1.6448536 * 50
    covered = 0
    for trial in range(200):
        rng = np.random.default_rng(5000 + trial)
        sample = rng.normal(500, 50, 200)
        ci = bootstrap_ci(list(sample), 95, seed=trial, resamples=1000)
        assert ci is not None
        covered += ci[0] <= true_p95 <= ci[1]
    assert covered >= 180, f"covered {covered}/200"


def test_wilson_interval_matches_the_textbook_value_and_stays_in_range() -> None:
    lo, hi = wilson_interval(8, 10)  # type: ignore[misc]
    assert (lo, hi) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 5)[0] == 0.0  # type: ignore[index]
    assert wilson_interval(5, 5)[1] == pytest.approx(1.0)  # type: ignore[index]
    assert wilson_interval(0, 0) is None
    assert proportion(3, 4) == {
        "rate": 0.75,
        "successes": 3,
        "n": 4,
        "ci": pytest.approx([0.3006, 0.9544], abs=1e-4),
    }
