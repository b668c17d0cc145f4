"""percentile/summary must match numpy's linear method exactly: SLO verdicts depend on it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from reports.stats import format_metric, format_number, percentile, summary


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


def test_percentile_rejects_empty_and_bad_q() -> None:
    with pytest.raises(ValueError):
        percentile([], 50)
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


def test_formatting() -> None:
    assert format_number(912.3) == "912.3"
    assert format_number(800.0) == "800"
    assert format_number(None) == "—"
    assert format_metric("latency_p95_ms", 912.34) == "912.3 ms"
    assert format_metric("wer_max", 0.25) == "0.25"
