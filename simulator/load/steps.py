"""Aggregate the events of one measurement window into a `load.jsonl` row.

Events come from the call engines as they are measured: a `turn` event when
a caller turn's row is finished, stamped (`at`) with the wall clock of the
caller's speech end, where its latency began (so a reply the agent was
already late with before the window opened is not the window's); a `call`
event when a call ends, stamped with that moment. A step's window is
[start, end): turns and calls stamped inside it are the step's. The first `settle_s`
after a concurrency change are not part of any window, so callers that are
still connecting (or finishing calls of the previous level) do not blur it.

Row fields (docs/metrics.md, "Load runs", extended here additively):
`concurrency`, `n`, `latency_p50_ms`, `latency_p95_ms`, `error_rate`,
`breakpoint`, plus `latency_p99_ms`, `calls`, `failed_calls`, `no_reply`,
`slo_passed`, `slo_reason`, `counted`, `phase`, `step`, `started_s`,
`measure_s`, `workers`, `generator_lateness_ms` (max over the window's
calls), `generator_lateness_p50_ms`, `generator_saturated`, `agent_rss_mb`,
`agent_fds`, and from the workers' `cpu` events (one a second per worker):
`generator_cpu` and `generator_busy` (per worker, the mean share of the window
its engine's event loop, the thread that paces every frame, ran on a CPU, and
ran or waited for one), `generator_busy_max` and `generator_cpu_saturated`
(some worker's loop was busy >= BUSY_SATURATED of the window: its core is
near saturation, even before frames leave late).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.metrics.stats import percentile
from simulator.rows import LoadStepRow

Event = dict[str, Any]

#: A call's worst frame was sent this late (ms) in the median call of a step:
#: the generator, not the agent, was falling behind real time. One 20 ms frame.
SATURATED_LATENESS_MS = 20.0
#: A worker's event loop busy (running or waiting for a CPU) this share of the window.
BUSY_SATURATED = 0.8


@dataclass(frozen=True)
class Limits:
    """What a step must meet: P95 latency (None: not judged) and the error rate."""

    p95_ms: float | None
    max_error_rate: float


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(float(x), nd)


def in_window(events: Sequence[Event], start: float, end: float) -> list[Event]:
    """Events stamped inside [start, end)."""
    return [e for e in events if start <= float(e["at"]) < end]


def aggregate(events: Sequence[Event], limits: Limits) -> LoadStepRow:
    """The measured part of a row: latency over `say` turns with a reply, errors over calls.

    Calls a lost worker took down with it (`worker_lost`) are not the agent's errors:
    the step counts them apart (`lost_calls`, conductor.py)."""
    turns = [e for e in events if e.get("kind") == "turn" and e.get("type") == "say"]
    lat = [float(e["latency_ms"]) for e in turns if e.get("latency_ms") is not None]
    calls = [e for e in events if e.get("kind") == "call" and not e.get("worker_lost")]
    failed = sum(1 for c in calls if c.get("status") != "ok")
    late = [float(c.get("lateness_ms") or 0.0) for c in calls]
    row: LoadStepRow = {
        "n": len(lat),
        "latency_p50_ms": _r(percentile(lat, 50)),
        "latency_p95_ms": _r(percentile(lat, 95)),
        "latency_p99_ms": _r(percentile(lat, 99)),
        "calls": len(calls),
        "failed_calls": failed,
        "error_rate": round(failed / len(calls), 4) if calls else None,
        "no_reply": sum(1 for e in turns if e.get("latency_ms") is None),
        "workers": len({e.get("worker") for e in events if e.get("worker")}),
        "generator_lateness_ms": _r(max(late)) if late else None,
        "generator_lateness_p50_ms": _r(percentile(late, 50)),
    }
    row["generator_saturated"] = bool(
        late and (percentile(late, 50) or 0.0) > SATURATED_LATENESS_MS
    )
    row.update(generator_cpu(events))
    passed, reason = judge(row, limits)
    row["slo_passed"] = passed
    row["slo_reason"] = reason
    return row


def generator_cpu(events: Sequence[Event]) -> LoadStepRow:
    """Per worker, the mean of its `cpu` samples in the window (see module doc)."""
    samples: dict[str, list[Event]] = {}
    for e in events:
        if e.get("kind") == "cpu":
            samples.setdefault(str(e.get("worker")), []).append(e)
    cpu = {w: _r(sum(float(e["loop_cpu"]) for e in s) / len(s), 3) for w, s in samples.items()}
    busy = {w: _r(sum(float(e["loop_busy"]) for e in s) / len(s), 3) for w, s in samples.items()}
    top = max((b for b in busy.values() if b is not None), default=None)
    return {
        "generator_cpu": cpu,
        "generator_busy": busy,
        "generator_busy_max": top,
        "generator_cpu_saturated": top is not None and top >= BUSY_SATURATED,
    }


def judge(row: Mapping[str, Any], limits: Limits) -> tuple[bool, str]:
    """Did the step hold its SLO? A step with no measured turn fails (no data)."""
    if not row["n"]:
        return False, "no caller turn got a reply"
    if row["error_rate"] is not None and row["error_rate"] > limits.max_error_rate:
        return False, f"error rate {row['error_rate']:.1%} > {limits.max_error_rate:.1%}"
    if limits.p95_ms is not None and row["latency_p95_ms"] > limits.p95_ms:
        return False, f"P95 {row['latency_p95_ms']:.0f} ms > {limits.p95_ms:g} ms"
    return True, ""
