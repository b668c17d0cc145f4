"""`voxsim capacity FILE`: simulate, print a table, write capacity.json and load.jsonl.

capacity_turns.jsonl (a single level only) has one row per simulated turn:
caller, call, turn, at_ms, latency_ms and per-stage wait_ms / service_ms,
whose sum is the latency. load.jsonl has the rows `voxsim load` writes
(docs/metrics.md, "Load runs"), one per simulated level, so the report's
load curve draws a prediction the same way it draws a measurement.
Exit codes as everywhere in voxsim: 0 the SLO holds at the file's load (or
the search completed), 1 it does not, 2 bad input.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from simulator.capacity.calibrate import apply, measure
from simulator.capacity.config import CapacityConfig, load_capacity
from simulator.capacity.engine import simulate
from simulator.capacity.search import search
from simulator.capacity.summary import Row, summarise
from simulator.capacity.timeline import timeline
from simulator.errors import EXIT_OK, EXIT_SLO_MISSED

CAPACITY_JSON = "capacity.json"
LOAD_JSONL = "load.jsonl"
#: one row per simulated turn of a single-level run (not of a search: too many)
TURNS_JSONL = "capacity_turns.jsonl"
#: one row per time bucket of a single-level run or a plan's deployment (timeline.py)
TIMELINE_JSONL = "capacity_timeline.jsonl"


def run_capacity(
    file: str | Path,
    *,
    out: Path | None = None,
    breakpoint: bool = False,
    from_run: Path | None = None,
) -> int:
    """Run one capacity file as the CLI does; return the exit code."""
    turns: list[dict[str, Any]] = []
    cfg, notes = _calibrated(load_capacity(file), from_run)
    cpu0 = time.process_time()
    series: list[dict[str, Any]] = []
    result: dict[str, Any] = {"name": cfg.name, "seed": cfg.seed, "slo": cfg.slo.model_dump()}
    result["kind"] = "breakpoint" if breakpoint else "level"
    result["unit"] = "callers" if cfg.closed else "calls_per_min"
    result["calibration"] = {"run": str(from_run), "notes": notes} if from_run else None
    if breakpoint:
        found = search(cfg)
        rows = found.rows
        result.update(last_passing=found.last_passing, breakpoint=found.breakpoint)
        print(level_table(rows, cfg))
        print(
            f"last passing: {found.last_passing} {result['unit']}, "
            f"breakpoint: {found.breakpoint} {result['unit']} (P95 > {cfg.slo.latency_p95_ms:g} ms)"
        )
        code = EXIT_OK
    else:
        trace = simulate(cfg)
        turns = [asdict(t) for t in trace.turns] if out is not None else []
        series = timeline(trace)
        row = summarise(trace, cfg)
        row.update(level=row.get("calls_per_min", row["concurrency"]), phase="single", step=0)
        row["breakpoint"] = not row["slo_passed"]
        rows = [row]
        print(level_table(rows, cfg))
        print(stage_table(row))
        code = EXIT_OK if row["slo_passed"] else EXIT_SLO_MISSED
    result["cpu_s"] = round(time.process_time() - cpu0, 3)
    result["levels"] = rows
    if out is not None:
        write(out, result, rows)
        if not breakpoint:
            _jsonl(out / TURNS_JSONL, turns)
            _jsonl(out / TIMELINE_JSONL, series)
        print(f"wrote {out / CAPACITY_JSON} and {out / LOAD_JSONL}")
    return code


def _calibrated(cfg: CapacityConfig, from_run: Path | None) -> tuple[CapacityConfig, list[str]]:
    """The file with a run's measured times (--from-run), printing what was used."""
    if from_run is None:
        return cfg, []
    cfg, notes = apply(cfg, measure(from_run))
    for note in notes:
        print(f"calibrated {note}")
    return cfg, notes


def write(out: Path, result: dict[str, Any], rows: list[Row]) -> None:
    """capacity.json (everything) and load.jsonl (one flat row per level, for the report)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / CAPACITY_JSON).write_text(json.dumps(result, indent=1), encoding="utf-8")
    flat = [{k: v for k, v in r.items() if k != "stages"} for r in rows]
    _jsonl(out / LOAD_JSONL, [{**r, "simulated": True} for r in flat])


def _jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")


def level_table(rows: list[Row], cfg: CapacityConfig) -> str:
    """One line per simulated level: load, n, P50/P95/P99, the verdict."""
    unit = "callers" if cfg.closed else "calls/min"
    lines = [f"{unit:>10} {'in call':>7} {'n':>7} {'P50 ms':>8} {'P95 ms':>8} {'P99 ms':>8}  SLO"]
    for r in rows:
        lines.append(
            f"{r['level']:>10g} {r['concurrency']:>7g} {r['n']:>7} {_f(r['latency_p50_ms'])} "
            f"{_f(r['latency_p95_ms'])} {_f(r['latency_p99_ms'])}  "
            + ("pass" if r["slo_passed"] else r["slo_reason"])
        )
    return "\n".join(lines)


def stage_table(row: Row) -> str:
    """Per stage: queue wait vs service (P50/P95) and how busy the pool was."""
    lines = [
        f"{'stage':<10} {'pool':>9} {'wait P50':>9} {'wait P95':>9} "
        f"{'svc P50':>9} {'svc P95':>9} {'util':>6}"
    ]
    for name, s in row["stages"].items():
        pool = "unlimited" if s["servers"] is None else f"{s['servers']}x{s['slots']}"
        util = "-" if s["utilisation"] is None else f"{s['utilisation']:.0%}"
        w, v = s["wait_ms"], s["service_ms"]
        lines.append(
            f"{name:<10} {pool:>9} {_f(w['p50'], 9)} {_f(w['p95'], 9)} "
            f"{_f(v['p50'], 9)} {_f(v['p95'], 9)} {util:>6}"
        )
    return "\n".join(lines)


def _f(x: float | None, width: int = 8) -> str:
    return f"{'-':>{width}}" if x is None else f"{x:>{width}.1f}"


def run_plan(
    file: str | Path,
    *,
    calls: int,
    slo_p95_ms: float,
    out: Path | None = None,
    from_run: Path | None = None,
) -> int:
    """`voxsim capacity plan`: the smallest deployment for `calls` at the P95, compared."""
    from simulator.capacity.plan import plan

    cfg, notes = _calibrated(load_capacity(file), from_run)
    cpu0 = time.process_time()
    found = plan(cfg, calls, slo_p95_ms)
    for k, step in enumerate(found.steps):
        verdict = "pass" if step["slo_passed"] else "miss"
        shown = " ".join(f"{n}={c}" for n, c in step["deployment"].items())
        print(f"step {k:>3}  {shown:<40} P95 {_f(step['latency_p95_ms'])} ms  {verdict}")
    if not found.met:
        print(f"no deployment found for {calls} calls at P95 <= {slo_p95_ms:g} ms: {found.reason}")
    else:
        shown = ", ".join(f"{n}: {c}" for n, c in found.deployment.items())
        print(f"smallest deployment for {calls} calls at P95 <= {slo_p95_ms:g} ms: {shown}")
        print(comparison_table(found.comparison))
    result: dict[str, Any] = {
        "kind": "plan",
        "name": cfg.name,
        "seed": cfg.seed,
        "calls": calls,
        "slo": {"latency_p95_ms": slo_p95_ms},
        "calibration": {"run": str(from_run), "notes": notes} if from_run else None,
        "met": found.met,
        "reason": found.reason,
        "deployment": found.deployment,
        "steps": found.steps,
        "comparison": found.comparison,
        "cpu_s": round(time.process_time() - cpu0, 3),
    }
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / CAPACITY_JSON).write_text(json.dumps(result, indent=1), encoding="utf-8")
        if found.trace is not None:
            _jsonl(out / TIMELINE_JSONL, timeline(found.trace))
        print(f"wrote {out / CAPACITY_JSON}")
    return EXIT_OK if found.met else EXIT_SLO_MISSED


def comparison_table(rows: list[Row]) -> str:
    """The found deployment under every balancer (* the file's), fixed and autoscaled."""
    lines = [
        f"{'balancer':<18} {'scaling':<10} {'inst':>6} {'P50 ms':>8} {'P95 ms':>8} "
        f"{'P99 ms':>8} {'hang-up':>8} {'lost':>5}  SLO"
    ]
    for r in rows:
        lines.append(
            f"{r['balancer'] + ('*' if r.get('file_choice') else ''):<18} "
            f"{r['scaling']:<10} {r['instances']:>6g} "
            f"{_f(r['latency_p50_ms'])} {_f(r['latency_p95_ms'])} {_f(r['latency_p99_ms'])} "
            f"{r['hangup_rate']:>8.1%} {r['calls_lost']:>5}  "
            + ("pass" if r["slo_passed"] else r["slo_reason"])
        )
    return "\n".join(lines)
