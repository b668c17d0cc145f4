"""Judge a scenario's turns against its SLOs; each result keeps its value and n."""

from __future__ import annotations

from typing import Any

import numpy as np

from simulator.scenario import Slo


def evaluate(scenario: str, slo: Slo, turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One result per SLO the scenario sets: metric, limit, value, n, passed."""
    said = [t for t in turns if t.get("kind") == "say"]
    latencies = [float(t["latency_ms"]) for t in said if t.get("latency_ms") is not None]
    results: list[dict[str, Any]] = []

    def add(metric: str, limit: float, value: float | None, n: int) -> None:
        passed = value is not None and value <= limit
        results.append(
            {
                "scenario": scenario,
                "metric": metric,
                "limit": limit,
                "value": value,
                "n": n,
                "passed": passed,
            }
        )

    for metric, q in (("latency_p50_ms", 50), ("latency_p95_ms", 95)):
        limit = getattr(slo, metric)
        if limit is not None:
            value = float(np.percentile(latencies, q)) if latencies else None
            add(metric, float(limit), value, len(latencies))
    if slo.wer_max is not None:
        scored = [t for t in said if t.get("wer_ref_words")]
        words = sum(int(t["wer_ref_words"]) for t in scored)
        errors = sum(int(t["wer_subs"]) + int(t["wer_dels"]) + int(t["wer_ins"]) for t in scored)
        add("wer_max", float(slo.wer_max), errors / words if words else None, len(scored))
    return results
