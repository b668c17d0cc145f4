"""Percentiles with n, bootstrap confidence intervals that cover, Wilson intervals.

percentile/summary must match numpy's linear method exactly: SLO verdicts and
the report's figures both depend on it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulator.metrics.stats import (
    bootstrap_ci,
    percentile,
    proportion,
    summarize,
    summary,
    wilson_interval,
)


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


def test_percentile_on_1_to_100_is_linear_interpolation() -> None:
    values = [float(v) for v in range(1, 101)]
    # rank = q/100 * (n - 1); 1..100 gives value = 1 + rank
    assert percentile(values, 0) == 1.0
    assert percentile(values, 50) == 50.5
    assert percentile(values, 95) == pytest.approx(95.05, abs=1e-12)
    assert percentile(values, 99) == pytest.approx(99.01, abs=1e-12)
    assert percentile(values, 100) == 100.0


def test_percentile_matches_numpy_default_on_unsorted_data() -> None:
    rng = np.random.default_rng(7)
    values = list(rng.normal(800, 120, size=37))
    for q in (0, 1, 25, 50, 90, 95, 99, 100):
        assert percentile(values, q) == float(np.percentile(values, q))


def test_percentile_small_samples() -> None:
    assert percentile([5.0], 95) == 5.0
    assert percentile([100.0, 200.0], 95) == pytest.approx(195.0)


def test_percentile_of_nothing_is_none_and_bad_q_is_rejected() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)
    with pytest.raises(ValueError):
        percentile([1.0], -1)


def test_summary_exact_on_1_to_100() -> None:
    s = summary(float(v) for v in range(1, 101))
    assert s["n"] == 100
    assert s["p50"] == 50.5
    assert s["p95"] == pytest.approx(95.05, abs=1e-12)
    assert s["p99"] == pytest.approx(99.01, abs=1e-12)
    assert s["mean"] == 50.5
    assert s["min"] == 1.0
    assert s["max"] == 100.0


def test_summary_drops_missing_values_and_counts_only_measured() -> None:
    s = summary([None, 10.0, math.nan, 30, None, True])
    assert s["n"] == 2
    assert s["p50"] == 20.0
    assert s["mean"] == 20.0


def test_summary_of_nothing_has_n_zero_and_no_figures() -> None:
    assert summary([]) == {
        "n": 0,
        "p50": None,
        "p95": None,
        "p99": None,
        "mean": None,
        "min": None,
        "max": None,
    }
