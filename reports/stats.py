"""How the report and JUnit show a number: compact decimals, units of SLO metrics.

The numbers themselves (percentiles, summaries, corpus WER, rates) are
computed in simulator/metrics/, the one place the SLO verdict also uses.
"""

from __future__ import annotations


def format_number(value: float | None, decimals: int = 1) -> str:
    """Format a number compactly (912.30 -> "912.3", 800.0 -> "800"); None -> "—"."""
    if value is None:
        return "—"
    text = f"{value:.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def metric_unit(metric: str) -> str:
    """Return the display unit of an SLO metric name ("ms" for *_ms, else "")."""
    return "ms" if metric.endswith("_ms") else ""


def format_metric(metric: str, value: float | None) -> str:
    """Format a metric value with its unit: latency to 0.1 ms, ratios to 0.001."""
    if value is None:
        return "—"
    unit = metric_unit(metric)
    text = format_number(value, 1 if unit == "ms" else 3)
    return f"{text} {unit}" if unit else text
