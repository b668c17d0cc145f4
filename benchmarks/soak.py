"""Benchmark: a long soak of the bundled pipeline agent at half its measured breakpoint.

Runs `voxsim load scenarios/load.yaml --profile soak --capacity BREAKPOINT` (the soak
holds half the capacity) through the same code as the CLI, for `--minutes` (30 by
default), and reports with the soak's verdict:

- latency trend (every caller turn), the agent's RSS and open fds (sampled by the
  load run about once a second): growth over the soak, its 95 % interval, drift or not
  (simulator/load/drift.py: Theil-Sen, drift = the interval is above 0 AND the growth
  exceeds its limit);
- the harness's own RSS and open fds, summed over this process and every process it
  started except the agent (the locust process and its call engine), sampled each
  second, judged with the same rule and limits;
- nothing lost: every call placed (DIR/workers/*/placed.jsonl) has a row in
  calls.jsonl.

The breakpoint is `--breakpoint N`, else the newest run of benchmarks/load_breakpoint.py
on a machine like this one (benchmarks/results/load_breakpoint.json), else it is
measured first (`--measure-breakpoint` forces that). Appends the result to
benchmarks/results/soak.json. Exit code 0 when nothing drifted and nothing was lost.

    .venv/bin/python benchmarks/soak.py                 # 30 minutes
    .venv/bin/python benchmarks/soak.py --minutes 2 --window-s 20   # a short proof
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reports.rundir import read_jsonl
from simulator.load import drift
from simulator.load.agentstat import sample
from simulator.load.config import LoadConfig
from simulator.load.merge import worker_rows
from simulator.load.run import run_load

RESULTS = Path("benchmarks/results/soak.json")
BREAKPOINTS = Path("benchmarks/results/load_breakpoint.json")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}"


def known_breakpoint() -> int | None:
    """The newest breakpoint measured on a machine with this many CPUs, if any."""
    try:
        runs = json.loads(BREAKPOINTS.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    cpus = f"{os.cpu_count()} cpus"
    for run in reversed(runs if isinstance(runs, list) else []):
        if cpus in str(run.get("machine")) and run.get("breakpoint"):
            return int(run["breakpoint"])
    return None


async def measure_breakpoint(out: Path, p95_ms: float) -> int:
    """A breakpoint search (start 1, x2, then bisection), 20 s steps."""
    cfg = LoadConfig(
        scenario="scenarios/load.yaml",
        out_dir=str(out),
        profile="breakpoint",
        start=1,
        max_concurrency=32,
        step_s=20.0,
        p95_limit_ms=p95_ms,
    )
    outcome = await run_load(cfg)
    s = outcome.summary
    found = s.get("breakpoint") or (s.get("last_passing") or 1) * 2
    return int(found)


def _children() -> dict[int, list[int]]:
    """Parent pid -> child pids, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry))
    return tree


def harness_pids(agent_pid: int | None) -> list[int]:
    """This process and every descendant except the agent and the agent's own children."""
    tree = _children()
    out, todo = [], [os.getpid()]
    while todo:
        pid = todo.pop()
        if pid == agent_pid:
            continue
        out.append(pid)
        todo.extend(tree.get(pid, []))
    return out


class HarnessSampler(threading.Thread):
    """Each second: the summed RSS (MB) and open fds of the harness's processes."""

    def __init__(self, cfg: LoadConfig, path: Path) -> None:
        super().__init__(daemon=True, name="harness-sampler")
        self.cfg = cfg
        self.path = path
        self.stop = threading.Event()
        self.samples: list[dict[str, Any]] = []

    def run(self) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            while not self.stop.wait(1.0):
                pids = harness_pids(self.cfg.agent_pid)
                stats = [s for s in (sample(p) for p in pids) if s is not None]
                row = {
                    "at": time.time(),
                    "rss_mb": round(sum(s["rss_mb"] for s in stats), 2),
                    "fds": sum(s["fds"] for s in stats),
                    "procs": len(stats),
                }
                self.samples.append(row)
                f.write(json.dumps(row) + "\n")
                f.flush()


def lost_calls(out: Path) -> tuple[int, int, list[str]]:
    """(calls placed, calls with a row, ids placed without a row)."""
    placed = {str(r["call_id"]) for r in worker_rows(out, "placed.jsonl")}
    recorded = {str(r.get("call_id")) for r in read_jsonl(out / "calls.jsonl")}
    return len(placed), len(placed & recorded), sorted(placed - recorded)


def _line(name: str, t: dict[str, Any], unit: str) -> str:
    if t["growth"] is None:
        return f"| {name} | {t['n']} | no data | | {t['limit']} {unit} | - |"
    lo, hi = t["ci"]
    verdict = "DRIFT" if t["drift"] else "no drift"
    return (
        f"| {name} | {t['n']} | {t['growth']:+.2f} {unit} | [{lo:+.2f}, {hi:+.2f}] | "
        f"{t['limit']} {unit} | {verdict} |"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--window-s", type=float, default=60.0)
    ap.add_argument("--breakpoint", type=int, default=None)
    ap.add_argument("--measure-breakpoint", action="store_true")
    ap.add_argument("--p95-ms", type=float, default=800.0)
    ap.add_argument("--workers", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--results", type=Path, default=RESULTS)
    args = ap.parse_args()

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = args.out or Path("runs") / f"bench-soak-{stamp}"
    bp = args.breakpoint if not args.measure_breakpoint else None
    source = "--breakpoint" if bp else ""
    if bp is None and not args.measure_breakpoint:
        bp, source = known_breakpoint(), str(BREAKPOINTS)
    if bp is None:
        bp = asyncio.run(measure_breakpoint(out.with_name(out.name + "-breakpoint"), args.p95_ms))
        source = "measured now"
    soak_s = args.minutes * 60
    cfg = LoadConfig(
        scenario="scenarios/load.yaml",
        out_dir=str(out),
        profile="soak",
        capacity=bp,
        soak_s=soak_s,
        window_s=min(args.window_s, soak_s),
        p95_limit_ms=args.p95_ms,
        workers=args.workers,
        max_calls=100_000,  # the soak's length bounds it, not a call count
        max_duration_s=soak_s + 600,
    )
    print(f"breakpoint {bp} ({source}); soaking at {-(-bp // 2)} calls for {args.minutes:g} min")
    out.mkdir(parents=True, exist_ok=True)
    sampler = HarnessSampler(cfg, out / "harness_stats.jsonl")
    sampler.start()
    started = time.monotonic()
    try:
        outcome = asyncio.run(run_load(cfg))
    finally:
        sampler.stop.set()
        sampler.join()
    took = time.monotonic() - started

    summary = outcome.summary
    found = summary.get("drift") or {}
    span = [s for s in sampler.samples if s["procs"]]
    harness = {
        "harness_rss_mb": drift.trend(
            [s["at"] for s in span], [s["rss_mb"] for s in span], cfg.max_rss_growth_mb
        ),
        "harness_fds": drift.trend(
            [s["at"] for s in span], [s["fds"] for s in span], cfg.max_fd_growth
        ),
    }
    placed, recorded, missing = lost_calls(out)
    drifted = bool(found.get("drift")) or any(t["drift"] for t in harness.values())
    ok = not drifted and not missing and placed > 0

    print(f"machine: {machine()}; out: {out}; {took / 60:.1f} min")
    print("| series | n | growth over the soak | 95 % interval | limit | verdict |")
    print("|---|---|---|---|---|---|")
    for key, unit in (("latency_ms", "ms"), ("agent_rss_mb", "MB"), ("agent_fds", "fds")):
        if key in found:
            print(_line(key, found[key], unit))
    print(_line("harness_rss_mb", harness["harness_rss_mb"], "MB"))
    print(_line("harness_fds", harness["harness_fds"], "fds"))
    print(f"calls placed {placed}, in calls.jsonl {recorded}, missing {len(missing)}")
    if missing:
        print("missing: " + " ".join(missing[:20]))
    print(
        f"soak verdict: {'no drift' if not drifted else 'DRIFT'}, "
        f"{'nothing lost' if not missing else f'{len(missing)} calls lost'}; "
        f"voxsim load exit code {outcome.exit_code}"
    )
    record = {
        "date": stamp,
        "machine": machine(),
        "minutes": args.minutes,
        "breakpoint": bp,
        "breakpoint_source": source,
        "concurrency": -(-bp // 2),
        "workers": args.workers,
        "exit_code": outcome.exit_code,
        "drift": found,
        "harness": harness,
        "harness_procs": max((s["procs"] for s in span), default=0),
        "calls_placed": placed,
        "calls_recorded": recorded,
        "calls_missing": missing[:100],
        "verdict_ok": ok,
        "out": str(out),
    }
    try:
        runs = json.loads(args.results.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        runs = []
    runs.append(record)
    args.results.write_text(json.dumps(runs, indent=1) + "\n", encoding="utf-8")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
