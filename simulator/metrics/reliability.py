"""Reliability over repeats: pass@1, pass^k and pass@k per scenario (tau-bench).

A scenario's calls are grouped into cells (its matrix values); each cell was
run k = `repeat` times. With n judged calls of a cell and c of them passed
(the call's `verdict`: call ok, task checks, judged criteria):

- pass@1 = c / n, the chance one call passes;
- pass^k = C(c, k) / C(n, k), the chance k calls in a row all pass (the
  unbiased estimate of p^k; tau-bench's reliability figure);
- pass@k = 1 - C(n - c, k) / C(n, k), the chance at least one of k passes.

Each comes with a 95 % interval: the cell's Wilson interval [lo, hi] for p,
carried through the monotone maps p^k and 1 - (1 - p)^k. A scenario's figure
is the mean over its cells, and its interval the mean of the cells'
bounds (with one cell, exactly the cell's). A cell is flaky when some of its
repeats pass and some fail. Calls the judge could not decide (verdict None)
are left out and counted as `undecided`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from math import comb
from typing import Any

from simulator.metrics.stats import wilson_interval
from simulator.rows import CallRow


def pass_hat_k(n: int, c: int, k: int) -> float:
    """C(c, k) / C(n, k): all of k calls drawn from the n pass."""
    return comb(c, k) / comb(n, k) if 0 < k <= n else 0.0


def pass_at_k(n: int, c: int, k: int) -> float:
    """1 - C(n - c, k) / C(n, k): at least one of k calls drawn from the n passes."""
    return 1.0 - comb(n - c, k) / comb(n, k) if 0 < k <= n else 0.0


def _cell(n: int, c: int, k: int) -> dict[str, Any]:
    lo, hi = wilson_interval(c, n) or (0.0, 1.0)
    hat, at = pass_hat_k(n, c, k), pass_at_k(n, c, k)
    return {
        "n": n,
        "passed": c,
        "pass_at_1": (c / n, (lo, hi)),
        # With few calls the unbiased estimate can fall outside the mapped interval
        # (n = k, 0 < c < n gives pass^k = 0): the interval is widened to hold it.
        "pass_hat_k": (hat, (min(lo**k, hat), max(hi**k, hat))),
        "pass_at_k": (at, (min(1 - (1 - lo) ** k, at), max(1 - (1 - hi) ** k, at))),
        "flaky": 0 < c < n,
    }


def cell_of(call: CallRow) -> str:
    """The call's matrix cell as a key ('{}' without a matrix)."""
    return json.dumps(call.get("matrix") or {}, sort_keys=True)


def reliability(calls: Sequence[CallRow], k: int | None = None) -> dict[str, Any] | None:
    """The scenario's figures from its call rows (each with a `verdict`), or None when
    no call was decided. `k` defaults to the smallest cell's size (= `repeat`)."""
    cells: dict[str, list[bool]] = {}
    undecided = 0
    for call in calls:
        passed = (call.get("verdict") or {}).get("passed")
        if passed is None:
            undecided += 1
            continue
        cells.setdefault(cell_of(call), []).append(bool(passed))
    if not cells:
        return None
    k = k or min(len(v) for v in cells.values())
    counts = [(len(v), sum(v)) for v in cells.values()]
    per = {key: _cell(len(v), sum(v), min(k, len(v))) for key, v in cells.items()}
    out: dict[str, Any] = {
        "k": k,
        "n": sum(c["n"] for c in per.values()),
        "passed": sum(c["passed"] for c in per.values()),
        "cells": len(per),
        "undecided": undecided,
        "flaky": any(c["flaky"] for c in per.values()),
        "flaky_cells": [json.loads(key) for key, c in per.items() if c["flaky"]],
    }
    for name in ("pass_at_1", "pass_hat_k", "pass_at_k"):
        out[name] = _mean([c[name] for c in per.values()])
    # tau-bench's curve: pass^j for j = 1..k, each with its interval.
    out["curve"] = [
        {"k": j, **_mean([_cell(n, c, min(j, n))["pass_hat_k"] for n, c in counts])}
        for j in range(1, k + 1)
    ]
    return out


def _mean(values: list[tuple[float, tuple[float, float]]]) -> dict[str, Any]:
    m = len(values)
    return {
        "value": round(sum(v for v, _ in values) / m, 4),
        "ci": [
            round(sum(lo for _, (lo, _) in values) / m, 4),
            round(sum(hi for _, (_, hi) in values) / m, 4),
        ],
    }
