"""Benchmark: how many concurrent callers one harness core drives, per transport.

The harness (this process: one asyncio loop, the same `run_call` a load
worker's engine runs, `measure=False` as in load runs) is pinned to one CPU,
two instant agents (benchmarks/instant_agent.py: no STT/LLM/TTS; one answers
at once, one `--delay-ms` later) to the other. At each level C, C callers
place short calls back to back for `--duration-s`, half against each agent,
their first calls spread evenly over `--stagger-s` (one call's length, so
calls start and end at different moments as independent callers' do;
until 2026-11-28 they all started within 1 s and, every call being the same
script, C calls then started and ended together all run long: a burst of C
connections and call ends once per call length; `--stagger-s 1` is that
lockstep again). Per level and transport it reports:

- frame-send lateness: every caller frame's send time against its ideal
  schedule (k x 20 ms from the earliest frame on time), measured by a pass-through transport
  wrapper, P50/P99/max over all frames (criterion: P99 <= 5 ms);
- the injected delay recovered: median latency against the delayed agent
  minus against the instant one (criterion: within +-5 ms of `--delay-ms`);
- harness CPU: process CPU seconds per wall second while every caller is
  calling (from the last first call to the end), per caller (% of a core);
- the garbage collector's pauses (collections per generation, the longest
  and total full-collection pause; simulator/load/gcpause.py; `--gc-freeze`
  first freezes set-up objects out of the collector's walk);
- calls, failed calls, turns without a reply.

A level passes when both criteria hold; the figure per core is the highest
passing level. `--profile FILE` writes a cProfile of the harness at the last
level of the first transport (`python -m pstats FILE`, or snakeviz), which is
what guided where the per-call cost goes.

Run it alone on the machine (other work on the harness core bends every
number): .venv/bin/python benchmarks/harness_capacity.py \
    --transports websocket twilio webrtc --levels 25 50 100 150 200 250 \
    --duration-s 30 --profile benchmarks/results/harness_capacity.prof
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from reference_agent.server import route_urls
from simulator import call as one_call
from simulator.audio import Pcm
from simulator.caller.render import render_call_full
from simulator.load.gcpause import GcPauses, freeze_setup
from simulator.scenario import parse_scenario
from simulator.transports.base import Incoming, StartInfo, Transport
from simulator.transports.registry import transport_for

HERE = Path(__file__).parent
SCENARIO = """
name: harness-capacity
seed: 5
caller: {voice: en-us, rate_wpm: 190}
turns:
  - say: "Where is my order"
  - say: "Thank you"
"""


class Timed(Transport):
    """Pass-through transport that records when each caller frame left the pacing loop."""

    def __init__(self, inner: Transport, sink: list[float]) -> None:
        self.inner = inner
        self.sink = sink
        self.sent: list[float] = []

    def __getattr__(self, name: str) -> Any:  # reliable, wire_bytes, ...
        return getattr(self.inner, name)

    async def connect(self, start: StartInfo) -> None:
        await self.inner.connect(start)

    async def send_audio(self, pcm: Pcm) -> None:
        self.sent.append(asyncio.get_running_loop().time())
        await self.inner.send_audio(pcm)

    async def send_event(self, event: dict[str, Any]) -> None:
        await self.inner.send_event(event)

    def receive(self) -> AsyncIterator[Incoming]:
        return self.inner.receive()

    async def close(self) -> None:
        await self.inner.close()
        if self.sent:
            t = np.asarray(self.sent)
            offset = t - 0.02 * np.arange(len(t))
            # Anchored at the earliest frame on schedule: a late first frame shifts nothing.
            self.sink.extend(((offset - offset.min()) * 1000.0).tolist())


def start_agent(delay_ms: float, cpu: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "instant_agent.py"), "--delay-ms", str(delay_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    info = json.loads(proc.stdout.readline())
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(proc.pid, {cpu})
    return proc, str(info["url"])


async def level(
    transport: str,
    urls: tuple[str, str],
    callers: int,
    duration_s: float,
    delay_ms: float,
    stagger_s: float,
    gc_freeze: bool,
) -> dict[str, Any]:
    scenario = parse_scenario(SCENARIO)
    rendered = await render_call_full(scenario, scenario.seed)
    if gc_freeze:  # an experiment: load workers do not freeze (BENCHMARKS.md)
        freeze_setup()
    lateness: list[float] = []
    latency: dict[int, list[float]] = {0: [], 1: []}
    calls = failed = no_reply = 0
    stop_at = time.monotonic() + duration_s

    async def caller(i: int) -> None:
        nonlocal calls, failed, no_reply
        which = i % 2
        url = route_urls(urls[which])[transport]
        # Independent callers: first calls spread evenly over `stagger_s` (one call's
        # length), so calls start and end at different moments, as a phone line's do.
        await asyncio.sleep(i / callers * stagger_s)
        n = 0
        while time.monotonic() < stop_at:
            timed = Timed(transport_for(url), lateness)
            row = await one_call.run_call(
                scenario, timed, f"c{i}-{n}", rendered=rendered, measure=False
            )
            n += 1
            calls += 1
            failed += row["status"] != "ok"
            for t in row["turns"]:
                if t["kind"] != "say":
                    continue
                if t["latency_ms"] is None:
                    no_reply += 1
                else:
                    latency[which].append(float(t["latency_ms"]))

    async def cpu_while_all_call() -> tuple[float, float]:
        """CPU and wall seconds from the last caller's start to the end of the window."""
        await asyncio.sleep(stagger_s)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(max(0.0, stop_at - time.monotonic()))
        return time.process_time() - cpu0, time.monotonic() - wall0

    with GcPauses() as pauses:
        meter = asyncio.ensure_future(cpu_while_all_call())
        await asyncio.gather(*(caller(i) for i in range(callers)))
        cpu, wall = await meter
    late = np.asarray(lateness) if lateness else np.zeros(1)
    base = float(np.median(latency[0])) if latency[0] else float("nan")
    delayed = float(np.median(latency[1])) if latency[1] else float("nan")
    recovered = delayed - base
    p99 = float(np.percentile(late, 99))
    return {
        "transport": transport,
        "callers": callers,
        "calls": calls,
        "failed_calls": failed,
        "no_reply": no_reply,
        "frames": len(lateness),
        "lateness_p50_ms": round(float(np.percentile(late, 50)), 2),
        "lateness_p99_ms": round(p99, 2),
        "lateness_max_ms": round(float(late.max()), 2),
        "latency_p50_ms": round(base, 1),
        "delay_recovered_ms": round(recovered, 1),
        "cpu_per_caller_pct": round(100.0 * cpu / wall / callers, 3),
        "harness_cpu_pct": round(100.0 * cpu / wall, 1),
        "gc_freeze": gc_freeze,
        **pauses.summary(),
        "passed": bool(p99 <= 5.0 and abs(recovered - delay_ms) <= 5.0 and not failed),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--transports", nargs="+", default=["websocket", "twilio", "webrtc"])
    ap.add_argument("--levels", type=int, nargs="+", default=[25, 50, 100, 150, 200])
    ap.add_argument("--duration-s", type=float, default=30.0)
    ap.add_argument("--delay-ms", type=float, default=200.0)
    ap.add_argument(
        "--stagger-s",
        type=float,
        default=5.0,
        help="first calls spread over this (one call's length); ~1 s: callers in lockstep",
    )
    ap.add_argument(
        "--gc-freeze",
        action="store_true",
        help="freeze set-up objects out of the collector's walk (simulator/load/gcpause.py)",
    )
    ap.add_argument("--harness-cpu", type=int, default=0)
    ap.add_argument("--agent-cpu", type=int, default=1)
    ap.add_argument("--profile", type=Path, default=None)
    ap.add_argument("--label", default="", help="e.g. before / after, stored with the rows")
    ap.add_argument("--results", type=Path, default=HERE / "results" / "harness_capacity.json")
    args = ap.parse_args()

    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.harness_cpu})
    one_call.console.quiet = True
    agents = [start_agent(0.0, args.agent_cpu), start_agent(args.delay_ms, args.agent_cpu)]
    urls = (agents[0][1], agents[1][1])
    rows: list[dict[str, Any]] = []
    load = os.getloadavg()[0]
    try:
        for t_i, transport in enumerate(args.transports):
            for l_i, callers in enumerate(args.levels):
                profile = args.profile and t_i == 0 and l_i == len(args.levels) - 1
                prof = cProfile.Profile() if profile else None
                if prof is not None:
                    prof.enable()
                row = asyncio.run(
                    level(
                        transport,
                        urls,
                        callers,
                        args.duration_s,
                        args.delay_ms,
                        args.stagger_s,
                        args.gc_freeze,
                    )
                )
                if prof is not None:
                    prof.disable()
                    prof.dump_stats(str(args.profile))
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        for proc, _ in agents:
            proc.terminate()
            proc.wait(timeout=10)
    best = {
        t: max((r["callers"] for r in rows if r["transport"] == t and r["passed"]), default=0)
        for t in args.transports
    }
    machine = f"{platform.machine()}, {os.cpu_count()} cpus, load {load:.2f} at start"
    print(f"machine: {machine}; callers per harness core (both criteria): {best}")
    record = {
        "date": datetime.now(UTC).strftime("%Y%m%d-%H%M%S"),
        "label": args.label,
        "machine": machine,
        "duration_s": args.duration_s,
        "stagger_s": args.stagger_s,
        "delay_ms": args.delay_ms,
        "per_core": best,
        "rows": rows,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(args.results.read_text()) if args.results.exists() else []
    args.results.write_text(json.dumps([*history, record], indent=1))


if __name__ == "__main__":
    main()
