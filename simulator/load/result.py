"""A finished (or stopped) load run's verdict, from its run directory alone.

Reads load.jsonl, the merged turns and agent_stats.jsonl; marks the
breakpoint step (`breakpoint: true`, rewritten atomically) so the report
draws it; returns the summary for run.json `load`, one SLO result per
counted step (for junit.xml and the report's verdict) and the exit code:

- 0: every counted step held its SLO (and a soak did not drift);
- 1: a counted step missed it: for `breakpoint`/`ramp`/`stress` with
  `--capacity C`, a break at or below C (steps above C are only observed);
  `ramp` and `soak` without a capacity count every step; `breakpoint`
  without one only measures, so finding a breakpoint is not a failure;
  a soak whose latency, memory or file descriptors drift;
- 3: no step was measured (the agent or the harness failed), set by the caller.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from reports.rundir import read_jsonl, write_atomic
from simulator.errors import EXIT_OK, EXIT_SLO_MISSED
from simulator.load import drift
from simulator.load.conductor import AGENT_STATS_JSONL, LOAD_JSONL
from simulator.load.config import LoadConfig
from simulator.load.profiles import breakpoint_bounds
from simulator.rows import LoadStepRow, SloResultRow, TurnRow


def mark_breakpoint(run_dir: Path, rows: list[LoadStepRow]) -> tuple[int | None, int | None]:
    """Set `breakpoint: true` on the first failing level's row; return (last pass, first fail)."""
    last_pass, first_fail = breakpoint_bounds(rows)
    marked = False
    for row in rows:
        hit = (
            not marked
            and first_fail is not None
            and row.get("phase") != "recovery"
            and int(row["concurrency"]) == first_fail
            and not row.get("slo_passed")
        )
        row["breakpoint"] = hit
        marked = marked or hit
    text = "".join(json.dumps(r) + "\n" for r in rows)
    write_atomic(run_dir / LOAD_JSONL, text.encode("utf-8"))
    return last_pass, first_fail


def slo_results(scenario: str, rows: list[LoadStepRow], cfg: LoadConfig) -> list[SloResultRow]:
    """One latency and one error-rate result per counted step."""
    out: list[SloResultRow] = []
    for row in rows:
        if not row.get("counted"):
            continue
        where = f"{scenario} @ {row['concurrency']} calls ({row.get('phase')} step {row['step']})"
        if cfg.p95_limit_ms is not None:
            value = row.get("latency_p95_ms")
            out.append(
                {
                    "scenario": where,
                    "metric": "latency_p95_ms",
                    "limit": cfg.p95_limit_ms,
                    "value": value,
                    "n": row.get("n", 0),
                    "passed": value is not None and value <= cfg.p95_limit_ms,
                }
            )
        err = row.get("error_rate")
        out.append(
            {
                "scenario": where,
                "metric": "error_rate",
                "limit": cfg.max_error_rate,
                "value": err,
                "n": row.get("calls", 0),
                "passed": bool(row.get("n")) and (err is None or err <= cfg.max_error_rate),
            }
        )
    return out


def summarize(
    run_dir: Path, cfg: LoadConfig, scenario: str, turns: Sequence[TurnRow]
) -> dict[str, Any]:
    """The verdict of the run in `run_dir` (see module doc); rewrites load.jsonl."""
    rows = cast("list[LoadStepRow]", read_jsonl(run_dir / LOAD_JSONL))  # the conductor's
    last_pass, first_fail = mark_breakpoint(run_dir, rows) if rows else (None, None)
    results = slo_results(scenario, rows, cfg)
    summary: dict[str, Any] = {
        "profile": cfg.profile,
        "steps": len(rows),
        "capacity": cfg.capacity,
        "p95_limit_ms": cfg.p95_limit_ms,
        "max_error_rate": cfg.max_error_rate,
        "last_passing": last_pass,
        "breakpoint": first_fail if cfg.profile != "soak" else None,
        "generator_saturated_steps": [r["step"] for r in rows if r.get("generator_saturated")],
        "generator_busy_steps": [r["step"] for r in rows if r.get("generator_cpu_saturated")],
        "workers": cfg.workers,
    }
    if cfg.profile == "soak":
        found = drift.analyse(
            turns,
            read_jsonl(run_dir / AGENT_STATS_JSONL),
            max_drift_ms=cfg.max_drift_ms,
            max_rss_growth_mb=cfg.max_rss_growth_mb,
            max_fd_growth=cfg.max_fd_growth,
        )
        summary["drift"] = found
        for key in ("latency_ms", "agent_rss_mb", "agent_fds"):
            t = found[key]
            if t["growth"] is None:
                continue
            results.append(
                {
                    "scenario": f"{scenario} soak",
                    "metric": f"{key}_growth",
                    "limit": t["limit"],
                    "value": t["growth"],
                    "n": t["n"],
                    "passed": not t["drift"],
                }
            )
    failed = any(not r["passed"] for r in results)
    summary["exit_code"] = EXIT_SLO_MISSED if failed else EXIT_OK
    summary["slo_results"] = results
    return summary
