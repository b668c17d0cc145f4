"""Percentiles and summaries shared by the report and the SLO checks.

One implementation, so the number in report.html, junit.xml and the exit code
can never disagree. Percentiles are over turns and always carry their n
(DESIGN.md, "Measuring — the rules").
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

import numpy as np


class Summary(TypedDict):
    """Distribution of one metric; every field but n is None when n == 0."""

    n: int
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None
    min: float | None
    max: float | None


def as_number(value: Any) -> float | None:
    """Return `value` as a finite float, or None for null, bools, text and NaN.

    Rows come from JSON written by a run that may have been killed, so nothing
    in them is trusted to be a number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def percentile(values: Sequence[float], q: float) -> float:
    """Return the q-th percentile (0..100) by linear interpolation.

    Same as numpy's default method ("linear"), which is what most readers
    expect P95 to mean. Raises ValueError on no values or q outside 0..100.
    """
    if len(values) == 0:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    return float(np.percentile(np.asarray(values, dtype=float), q))


def summary(values: Iterable[float | None]) -> Summary:
    """Summarise a metric over turns: n, P50, P95, P99, mean, min, max.

    None and non-finite values (turns with no measurement) are dropped first,
    so n counts only the turns the figures are computed from.
    """
    clean = [v for v in (as_number(x) for x in values) if v is not None]
    if not clean:
        return Summary(n=0, p50=None, p95=None, p99=None, mean=None, min=None, max=None)
    arr = np.asarray(clean, dtype=float)
    return Summary(
        n=len(clean),
        p50=percentile(clean, 50),
        p95=percentile(clean, 95),
        p99=percentile(clean, 99),
        mean=float(arr.mean()),
        min=float(arr.min()),
        max=float(arr.max()),
    )


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
