"""How numbers are shown: compact decimals and the units of SLO metrics."""

from __future__ import annotations

from reports.stats import format_metric, format_number


def test_formatting() -> None:
    assert format_number(912.3) == "912.3"
    assert format_number(800.0) == "800"
    assert format_number(None) == "—"
    assert format_metric("latency_p95_ms", 912.34) == "912.3 ms"
    assert format_metric("wer_max", 0.25) == "0.25"
