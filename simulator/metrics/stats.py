"""Summary statistics that always carry their n and their uncertainty.

Percentiles use linear interpolation (numpy's default, "type 7"). Their 95%
confidence interval is a seeded percentile bootstrap: resample the turns with
replacement B times, take the percentile of each resample, and report the
2.5th and 97.5th percentiles of those. Proportions (task success) get a
Wilson score interval, which stays inside [0, 1] and behaves at 0/n and n/n.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Resamples per bootstrap; 2,000 keeps the interval's own noise well under
#: its width for the few hundred turns a run has, in a few ms.
BOOTSTRAP_RESAMPLES = 2000
_Z95 = 1.959963984540054


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (linear interpolation), None for no values."""
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
