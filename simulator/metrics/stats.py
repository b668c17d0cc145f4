"""Summary statistics that always carry their n and their uncertainty.

Percentiles use linear interpolation (numpy's default, "type 7"). Their 95%
confidence interval is a seeded percentile bootstrap: resample the turns with
replacement B times, take the percentile of each resample, and report the
2.5th and 97.5th percentiles of those. Proportions (task success) get a
Wilson score interval, which stays inside [0, 1] and behaves at 0/n and n/n.
Differences between two runs (the baseline comparison) get a bootstrap
interval for percentiles and Newcombe's hybrid-score interval for rates.

This module is the one place these figures are computed: the terminal
summary, the SLO verdict, report.html, junit.xml and baselines all call it,
so their numbers cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

#: Resamples per bootstrap; 2,000 keeps the interval's own noise well under
#: its width for the few hundred turns a run has, in a few ms.
BOOTSTRAP_RESAMPLES = 2000
_Z95 = 1.959963984540054


def as_number(value: Any) -> float | None:
    """Return `value` as a finite float, or None for null, bools, text and NaN.

    Rows come from JSON written by a run that may have been killed, so nothing
    in them is trusted to be a number.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def percentile(values: Sequence[float] | npt.NDArray[np.float64], q: float) -> float | None:
    """The q-th percentile (linear interpolation, numpy's default), None for no values.

    q outside 0..100 raises ValueError.
    """
    if not len(values):
        return None
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def bootstrap_ci(
    values: Sequence[float],
    q: float,
    *,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Percentile-bootstrap confidence interval of the q-th percentile; None below n=2."""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) < 2:
        return None
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(arr), size=(resamples, len(arr)))
    stats = np.percentile(arr[idx], q, axis=1)
    alpha = (1 - level) / 2
    lo, hi = np.percentile(stats, [100 * alpha, 100 * (1 - alpha)])
    return float(lo), float(hi)


def summarize(
    values: Sequence[float], qs: Sequence[float] = (50, 95, 99), seed: int = 0
) -> dict[str, Any]:
    """{"n", "mean", "p50", "p50_ci": [lo, hi], ...}; percentiles None when n == 0."""
    out: dict[str, Any] = {"n": len(values)}
    out["mean"] = float(np.mean(values)) if len(values) else None
    for q in qs:
        key = f"p{q:g}"
        out[key] = percentile(values, q)
        ci = bootstrap_ci(values, q, seed=seed)
        out[f"{key}_ci"] = list(ci) if ci is not None else None
    return out


class Summary(TypedDict):
    """Distribution of one metric; every field but n is None when n == 0."""

    n: int
    p50: float | None
    p95: float | None
    p99: float | None
    mean: float | None
    min: float | None
    max: float | None


def summary(values: Iterable[float | None]) -> Summary:
    """Summarise a metric over turns: n, P50, P95, P99, mean, min, max.

    None and non-finite values (turns with no measurement) are dropped first,
    so n counts only the turns the figures are computed from.
    """
    clean = [v for v in (as_number(x) for x in values) if v is not None]
    if not clean:
        return Summary(n=0, p50=None, p95=None, p99=None, mean=None, min=None, max=None)
    arr = np.asarray(clean, dtype=np.float64)
    return Summary(
        n=len(clean),
        p50=percentile(clean, 50),
        p95=percentile(clean, 95),
        p99=percentile(clean, 99),
        mean=float(arr.mean()),
        min=float(arr.min()),
        max=float(arr.max()),
    )


def wilson_interval(successes: int, n: int, level: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a proportion; None when n == 0."""
    if n <= 0:
        return None
    if not 0 <= successes <= n:
        raise ValueError(f"successes {successes} outside 0..{n}")
    z = _Z95 if level == 0.95 else _z(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def proportion(successes: int, n: int) -> dict[str, Any]:
    """{"rate", "successes", "n", "ci": [lo, hi]} with a Wilson 95% interval."""
    ci = wilson_interval(successes, n)
    return {
        "rate": successes / n if n else None,
        "successes": successes,
        "n": n,
        "ci": list(ci) if ci is not None else None,
    }


def bootstrap_percentile_diff(
    baseline: Sequence[float],
    current: Sequence[float],
    q: float,
    *,
    level: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point delta, CI low, CI high) of percentile q, current - baseline, bootstrap.

    Each sample is resampled with replacement on its own (the runs are
    independent); the interval is the central `level` share of the resampled
    differences.
    """
    a = np.asarray(baseline, dtype=float)
    b = np.asarray(current, dtype=float)
    delta = float(np.percentile(b, q) - np.percentile(a, q))
    rng = np.random.default_rng(seed)
    ra = a[rng.integers(0, len(a), size=(resamples, len(a)))]
    rb = b[rng.integers(0, len(b), size=(resamples, len(b)))]
    diffs = np.percentile(rb, q, axis=1) - np.percentile(ra, q, axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(diffs, [alpha, 1 - alpha])
    return delta, float(low), float(high)


def two_proportion_diff(
    k_base: int, n_base: int, k_cur: int, n_cur: int
) -> tuple[float, float, float]:
    """(delta, CI low, CI high) of k_cur/n_cur - k_base/n_base, Newcombe hybrid score, 95 %.

    Built from each side's Wilson interval, so it behaves at 0 % and 100 %
    where the plain Wald interval does not. Both n must be positive.
    """
    p1, p2 = k_base / n_base, k_cur / n_cur
    l1, u1 = wilson_interval(k_base, n_base) or (0.0, 1.0)
    l2, u2 = wilson_interval(k_cur, n_cur) or (0.0, 1.0)
    delta = p2 - p1
    low = delta - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = delta + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return delta, low, high


def _z(level: float) -> float:
    """Two-sided normal quantile for `level` (bisection on erf; no scipy needed here)."""
    target = (1 + level) / 2
    lo, hi = 0.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if 0.5 * (1 + math.erf(mid / math.sqrt(2))) < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
