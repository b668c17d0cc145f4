"""Benchmark: the capacity simulator's prediction against a measured run of the bundled agent.

Two modes.

Levels (default): latency at fixed concurrency.
1. One call of --cal-turns caller turns against the bundled pipeline agent
   (its own process, loopback WebSocket): its turns become the simulator's
   service times (`voxsim capacity --from-run`, simulator/capacity/calibrate.py).
2. C calls of --turns turns at once (benchmarks/concurrency.py's measurement)
   for each C in --levels: measured P50/P95.
3. The simulator at C callers, the agent modelled as one process (every
   stage a pool of 1 server x 1 slot), callers starting together as in (2).

--breakpoint (issue 14, item 4): the breakpoint `voxsim load --profile
breakpoint` measures, predicted and then measured, for 1 and 2 agent processes.
1. Calibrate: scenarios/load.yaml's calls, one at a time (--cal-calls), against
   one bundled agent (a fleet of 1 behind HAProxy, as the measured runs):
   stage wall times, each stage's CPU (`*_cpu_ms`), the caller's speaking
   and listening. Before it, the same calls played as a load worker plays
   them (audio rendered beforehand, no whole-recording metrics, --gen-calls
   (16) at once): this process's CPU per second of call, the load
   generator's (`generator_cores`), and the agent process's (/proc) minus its
   idle rate and its stages' (at the one-call rate), per second of call: its
   per-frame work (`call_cpu.cores`, on the process's event loop: the llm
   stage). Taken with calls at once because per call it falls with
   concurrency (one process, measured per step: 0.045 cores at 1 call, 0.023
   at 32; at one call the calibration gave 0.038-0.041, which put one
   process's breakpoint at 24-27 against a measured 32/33). A first call
   warms the agent up. Idle rates are watched for IDLE_S (10 s; with 3 s
   and 6 calls, two runs gave generator_cores 0.0075 and 0.0121). (Until
   2026-11-28 that figure was this process's CPU over the calibration run
   itself, caller rendering and transcription included: 10x what a load
   worker spends per call, which made the model call two processes worse
   than one.)
   Last, one `voxsim load` step of --saturate-calls (64) callers against a
   fresh agent, more than it can serve: its CPU rate over the step is the
   share of a core it gets done when overloaded (`cpu.usable`): a Python
   process of many threads (the event loop and one STT thread per call on
   one GIL) gets less than its core done once it is behind, and the model's
   processes (and, by assumption, the box's cores) are that much smaller.
   Without it the model put both breakpoints ~31 % high (BENCHMARKS.md).
2. Predict, per K in --processes: the agent as K processes on this box's
   cores (`cpu: {cores, usable}`): STT one decode at a time per process, LLM/tool/TTS
   concurrent, each stage's CPU processor-shared on the box, calls placed by
   least-connections; the model's breakpoint search (the load tool's steps).
3. Measure (unless --predict-only): `voxsim load scenarios/load.yaml --profile
   breakpoint` against a fleet of K (HAProxy least-conn, Redis), same steps;
   a level after a missed SLO starts from an idle agent (--cooldown-s, the
   load tool's default), as every level of the model does.
4. Print predicted vs measured per K: last passing level, breakpoint, and
   whether it is within 20 % or one bisection step (the issue's target).
What the model leaves out: the GIL shared by one process's stages (each
stage is its own single-threaded instance) beyond `usable`, CPU per call
that changes with concurrency beyond the --gen-calls level.

The box is shared: run it alone.

    .venv/bin/python benchmarks/capacity_vs_measured.py [--levels 1 4] [--turns 6]
    .venv/bin/python benchmarks/capacity_vs_measured.py --breakpoint [--processes 1 2]
        [--cal-calls 6] [--gen-calls 16] [--step-s 30] [--start 1] [--max 64] [--predict-only]
    .venv/bin/python benchmarks/capacity_vs_measured.py --chaos [--cal-calls 3] [--predict-only]

--chaos (item 4's fleet half): calibrate on scenarios/fleet_chaos.yaml's calls,
one at a time, on a fleet of 2; the model runs BENCHMARKS' chaos run (6
callers, 90 s, the busiest instance killed at 30 s and back at 60 s, 2
callers in 3 reconnecting) and predicts calls lost, calls reconnected and
the P95 recovery time (simulator/load/chaos.py's own definition, on the
simulated turns); then the run itself, measured the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from concurrency import level, scenario_text

from reference_agent.bundle import AgentProcess
from reports.load import breakpoint_step
from reports.rundir import read_jsonl
from simulator.caller.render import render_call_full
from simulator.capacity.calibrate import Calibration, apply, measure
from simulator.capacity.config import CapacityConfig, parse_capacity
from simulator.capacity.engine import simulate
from simulator.capacity.search import search
from simulator.capacity.summary import summarise
from simulator.load.config import LoadConfig
from simulator.load.profiles import breakpoint_bounds
from simulator.load.run import run_load
from simulator.matrix import expand
from simulator.runner import run_call, run_files
from simulator.scenario import load_scenario, parse_scenario
from simulator.transports.registry import transport_for
from simulator.transports.websocket import WebSocketTransport

ONE_PROCESS = """\
name: bundled-agent-one-process
seed: 1
traffic: {callers: 1, turns_per_call: %d, ramp_s: 0,
          speak_ms: {dist: fixed, ms: 1}, listen_ms: {dist: fixed, ms: 1}}
stages:
  - {name: endpoint, service_ms: {dist: fixed, ms: 1}}
  - {name: stt, servers: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: llm, servers: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: tool, servers: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: tts, servers: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: network, service_ms: {dist: fixed, ms: 1}}
slo: {latency_p95_ms: 800}
window: {warmup_s: 0, duration_s: 3600}
"""


#: The bundled agent as K processes on this box (--breakpoint). Times are
#: replaced by the calibration; what stays is the shape: which stage runs how
#: many requests at once per process, and the box's cores.
FLEET = """\
name: bundled-agent-fleet
seed: 1
traffic: {callers: 1, turns_per_call: 2, ramp_s: %(ramp)g, patience_s: 3.5,
          speak_ms: {dist: fixed, ms: 1}, listen_ms: {dist: fixed, ms: 1}}
cpu: {cores: %(cores)d, usable: %(usable)g}
balancer: least-connections
route: call
stages:
  - {name: endpoint, service_ms: {dist: fixed, ms: 1}}
  - {name: stt, servers: %(k)d, slots: 1, service_ms: {dist: fixed, ms: 1}}
  - {name: llm, servers: %(k)d, slots: 64, service_ms: {dist: fixed, ms: 1}}
  - {name: tool, servers: %(k)d, slots: 64, service_ms: {dist: fixed, ms: 1}}
  - {name: tts, servers: %(k)d, slots: 64, service_ms: {dist: fixed, ms: 1}}
  - {name: network, service_ms: {dist: fixed, ms: 1}}
slo: {latency_p95_ms: %(slo)g}
window: {warmup_s: %(ramp)g, duration_s: %(window)g}
search: {start: %(start)d, growth: 2, max: %(max)d}
call_cpu: {stage: llm, cores: %(call)g, generator_cores: %(generator)g, every_ms: 200}
"""


async def calibration_run(url: str, turns: int, out: Path) -> Path:
    """One call; its caller turns written as turns.jsonl (as `voxsim run` writes them)."""
    row = await run_call(parse_scenario(scenario_text(turns, 11)), WebSocketTransport(url), "cal")
    return write_turns(out, row["turns"])


def write_turns(out: Path, turns: list[dict[str, Any]]) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    (out / "turns.jsonl").write_text("".join(json.dumps(t) + "\n" for t in turns))
    return out


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--levels", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--turns", type=int, default=6)
    ap.add_argument("--cal-turns", type=int, default=24)
    ap.add_argument("--breakpoint", action="store_true", help="predict vs measure the breakpoint")
    ap.add_argument(
        "--chaos", action="store_true", help="predict vs measure one instance killed (fleet of 2)"
    )
    ap.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--cal-calls", type=int, default=6)
    ap.add_argument(
        "--gen-calls", type=int, default=16, help="calls at once measuring the load generator"
    )
    ap.add_argument("--step-s", type=float, default=30.0)
    ap.add_argument("--max", type=int, default=64)
    ap.add_argument(
        "--start", type=int, default=1, help="both searches' first level (then x2: 8 skips 1-4)"
    )
    ap.add_argument("--p95-ms", type=float, default=800.0)
    ap.add_argument("--window-s", type=float, default=300.0, help="virtual s per model level")
    ap.add_argument("--predict-only", action="store_true")
    ap.add_argument(
        "--generator-cores",
        type=float,
        default=None,
        help="the load generator's cores per call (default: measured in the calibration)",
    )
    ap.add_argument(
        "--saturate-calls", type=int, default=64, help="a load level that overloads one agent"
    )
    ap.add_argument("--saturate-s", type=float, default=20.0, help="its measured seconds")
    ap.add_argument(
        "--usable",
        type=float,
        default=None,
        help="share of a core the model's processes get done (default: measured, overloaded)",
    )
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.chaos:
        await chaos(args)
    elif args.breakpoint:
        await breakpoints(args)
    else:
        await levels(args)


async def levels(args: argparse.Namespace) -> None:
    agent = AgentProcess("pipeline", [])
    url = await agent.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            cal = measure(await calibration_run(url, args.cal_turns, Path(tmp)))
        measured = [await level(url, c, args.turns) for c in args.levels]
    finally:
        await agent.stop()
    cfg, notes = apply(parse_capacity(ONE_PROCESS % args.turns), cal)
    results: list[dict[str, Any]] = []
    for m in measured:
        t0 = time.process_time()
        p = summarise(simulate(cfg, float(m["calls"])), cfg)
        cpu = time.process_time() - t0
        results.append({"measured": m, "predicted": p, "cpu_s": round(cpu, 3)})
        print(
            f"| {m['calls']} | {m['n']} | {m['p50_ms']:.0f} | {m['p95_ms']:.0f} | "
            f"{p['n']} | {p['latency_p50_ms']:.0f} | {p['latency_p95_ms']:.0f} | "
            f"{p['latency_p95_ms'] - m['p95_ms']:+.0f} | {cpu:.2f} |"
        )
    out = args.out or Path("benchmarks/results/capacity.json")
    out.write_text(json.dumps({"calibration": notes, "levels": results}, indent=1))


async def breakpoints(args: argparse.Namespace) -> None:
    """Calibrate once (1 process), then per K: predict, and measure unless --predict-only."""
    from reference_agent.fleet import Fleet

    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"bench-capacity-breakpoint-{stamp}"
    fleet = Fleet(1, balancer="least-conn")
    url = await fleet.start()
    try:
        pid = fleet.instances[0].pid
        haproxy = fleet._haproxy.pid if fleet._haproxy is not None else None
        # First the generator's calls: they also warm the agent (its first call
        # loads what it loads lazily, ~1 s), which a load run's steps never see.
        generator, together = await generator_cores(url, args.gen_calls, pid=pid, relay=haproxy)
        idle, relay_idle = await asyncio.gather(
            idle_cpu_rate(pid, IDLE_S), idle_cpu_rate(haproxy, IDLE_S)
        )
        cpu0, wall0 = process_cpu_s(pid), time.perf_counter()
        cal_dir = await load_calibration(url, args.cal_calls, base / "calibration")
        agent_cpu, wall = process_cpu_s(pid) - cpu0, time.perf_counter() - wall0
    finally:
        await fleet.close()
    saturated = await saturated_cores(args.saturate_calls, args, base / "saturate")
    cal = measure(cal_dir)
    # The stages' CPU is the model's per-turn demand; the rest of what the agent
    # spent beyond its idle process, per second of call in progress, is its
    # per-frame work (call_cpu).
    staged = sum(c for pairs in cal.pairs.values() for _, c in pairs) / 1000.0
    in_call = sum(float(r.get("duration_s") or 0.0) for r in read_jsonl(cal_dir / "calls.jsonl"))
    per_call = max(0.0, agent_cpu - idle * wall - staged) / max(in_call, 1e-9)
    # The same per-frame work with --gen-calls calls at once: the agent's CPU over
    # them, minus its idle rate and the stages' share (their CPU per second of call
    # at one call). Per call it is less than at one call (the event loop handles
    # several calls' frames per wake-up): that is the figure a breakpoint needs.
    agent16, wall16, in_call16, relay16 = together
    staged_rate = staged / max(in_call, 1e-9)
    at_load = max(0.0, agent16 - idle * wall16) / max(in_call16, 1e-9) - staged_rate
    # HAProxy relays every frame both ways: its CPU per second of call is spent on
    # the box too. The model has one backlog outside the agents (the generator's),
    # so it is added there: two event loops on one queue, which only matters once
    # their sum nears a core (at 64 calls here it is about half of one).
    relay = max(0.0, relay16 - relay_idle * wall16) / max(in_call16, 1e-9)
    others = generator + relay if args.generator_cores is None else args.generator_cores
    args.call_cpu = (round(at_load, 4), round(others, 4))
    # voxsim load spreads a step's new callers over one call's length (conductor.py): so
    # do the model's callers, and it measures once they have all joined.
    args.call_s = round(in_call / max(1, len(read_jsonl(cal_dir / "calls.jsonl"))), 2)
    args.usable = round(min(1.0, saturated), 3) if args.usable is None else args.usable
    print(
        f"calibration: the agent process used {agent_cpu:.2f} s of CPU in {wall:.1f} s "
        f"({idle:.3f} cores idle); its stages' CPU {staged:.2f} s = "
        f"{staged / max(agent_cpu, 1e-9):.0%} of it; the rest over {in_call:.1f} s of calls: "
        f"{per_call:.3f} cores per call at one call, {at_load:.3f} with {args.gen_calls} at "
        f"once (call_cpu.cores); HAProxy: {relay:.4f}; the load generator: "
        f"{generator:.4f} cores per call (generator_cores"
        + (", from --generator-cores)" if args.generator_cores is not None else ")")
        + f"; the two: generator_cores {args.call_cpu[1]:.4f}; overloaded with "
        f"{args.saturate_calls} calls the agent got {saturated:.3f} cores done (cpu.usable "
        f"{args.usable:g})"
    )
    results: list[dict[str, Any]] = []
    print("| processes | predicted last passing / breakpoint | measured | error | within target |")
    print("| --- | --- | --- | --- | --- |")
    for k in args.processes:
        cfg, notes = fleet_model(cal, k, args)
        t0 = time.process_time()
        found = search(cfg)
        row: dict[str, Any] = {
            "processes": k,
            "predicted": {"last_passing": found.last_passing, "breakpoint": found.breakpoint},
            "model_cpu_s": round(time.process_time() - t0, 2),
            "call_cpu": {"agent": args.call_cpu[0], "generator": args.call_cpu[1]},
            "usable": args.usable,
            "calibration": notes,
        }
        if not args.predict_only:
            row["measured"] = await measured_breakpoint(k, args, base / f"load-k{k}")
        results.append(row)
        print_row(row)
    out = args.out or Path("benchmarks/results/capacity_breakpoint.json")
    out.write_text(json.dumps({"machine": os.cpu_count(), "runs": results}, indent=1))
    print(f"wrote {out} (runs under {base})")


async def load_calibration(
    url: str, calls: int, out: Path, scenario: str = "scenarios/load.yaml", matrix: int = 2
) -> Path:
    """`scenario`'s calls, one at a time, as a `voxsim run` directory."""
    await run_files([calibration_scenario(calls, out.parent, scenario, matrix)], out, agent=url)
    return out


#: seconds the agent process is watched idle before the calibration calls
IDLE_S = 10.0


async def idle_cpu_rate(pid: int | None, seconds: float) -> float:
    """Cores the agent process uses with no call (its event loop, timers)."""
    before = process_cpu_s(pid)
    await asyncio.sleep(seconds)
    return max(0.0, process_cpu_s(pid) - before) / seconds


async def generator_cores(
    url: str,
    calls: int,
    scenario: str = "scenarios/load.yaml",
    pid: int | None = None,
    relay: int | None = None,
) -> tuple[float, tuple[float, float, float, float]]:
    """The load generator's CPU per second of call, spent as a load worker spends it:
    the callers' audio rendered beforehand (a worker renders once per run, not per
    call), no whole-recording metrics (`measure=False`), and `calls` calls at once
    (a caller's cost per call falls with concurrency, as the loop's wake-ups are
    shared: BENCHMARKS.md, load generator); this process's CPU over them minus its
    idle rate. One call first warms the agent up and is not counted. Also the agent
    process `pid`'s CPU, the wall time, the seconds of call and the balancer process
    `relay`'s CPU over the same calls."""
    plans = expand(load_scenario(scenario))
    plans = [plans[i % len(plans)] for i in range(calls + 1)]
    rendered = [await render_call_full(p.scenario, p.seed) for p in plans]

    async def one(i: int) -> float:
        row = await run_call(
            plans[i].scenario, transport_for(url), f"gen-{i}", plan=plans[i],
            rendered=rendered[i], measure=False,
        )  # fmt: skip
        return float(row.get("duration_s") or 0.0)

    await one(0)
    t0 = time.process_time()
    await asyncio.sleep(IDLE_S)
    idle = (time.process_time() - t0) / IDLE_S
    cpu0, wall0 = time.process_time(), time.perf_counter()
    agent0, relay0 = process_cpu_s(pid), process_cpu_s(relay)
    in_call = sum(await asyncio.gather(*(one(i) for i in range(1, calls + 1))))
    wall = time.perf_counter() - wall0
    used = time.process_time() - cpu0 - idle * wall
    agent, relayed = process_cpu_s(pid) - agent0, process_cpu_s(relay) - relay0
    return max(0.0, used) / max(in_call, 1e-9), (agent, wall, in_call, relayed)


async def saturated_cores(calls: int, args: argparse.Namespace, out: Path) -> float:
    """The agent's CPU rate when overloaded: one `voxsim load` step of `calls` callers
    (joining as in the searches, over one call's length) against a fresh fleet of 1,
    over the step's measured window. A latency-bound process gets less than its
    core done once it is behind (the GIL's hand-offs between the event loop and
    the calls' STT threads), and this is what it gets done."""
    cfg = LoadConfig(
        scenario="scenarios/load.yaml",
        out_dir=str(out),
        profile="ramp",
        levels=[calls],
        step_s=args.saturate_s,
        p95_limit_ms=args.p95_ms,
    )
    cpu = CpuSeries()
    await load_on_fleet(1, cfg, cpu)
    rows = read_jsonl(out / "load.jsonl")
    cores = cpu.cores(*rows[-1]["window"]) if rows else []
    return cores[0] if cores else 1.0


def process_cpu_s(pid: int | None) -> float:
    """User + system CPU seconds of a process (Linux /proc); 0 when unknown."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def calibration_scenario(calls: int, where: Path, scenario: str, matrix: int) -> str:
    """`scenario` repeated to about `calls` calls (its matrix has `matrix` cells)."""
    text = Path(scenario).read_text(encoding="utf-8")
    where.mkdir(parents=True, exist_ok=True)
    path = where / "calibration.yaml"
    path.write_text(text + f"\nrepeat: {max(1, -(-calls // matrix))}\n", encoding="utf-8")
    return str(path)


def fleet_model(
    cal: Calibration, k: int, args: argparse.Namespace
) -> tuple[CapacityConfig, list[str]]:
    """FLEET for K processes on this box, with the calibration's times and CPU."""
    text = FLEET % {
        "cores": os.cpu_count() or 1,
        "k": k,
        "slo": args.p95_ms,
        "window": args.window_s,
        # the model searches past the measured search's cap, so that a prediction
        # above it is a number (the measured run then finds none up to --max)
        "max": 2 * args.max,
        "start": args.start,
        "call": args.call_cpu[0],
        "generator": args.call_cpu[1],
        "ramp": getattr(args, "call_s", 5.0),
        "usable": getattr(args, "usable", None) or 1.0,
    }
    return apply(parse_capacity(text), cal)


async def measured_breakpoint(k: int, args: argparse.Namespace, out: Path) -> dict[str, Any]:
    """`voxsim load --profile breakpoint` against a fleet of K; its last passing and breakpoint."""
    cfg = LoadConfig(
        scenario="scenarios/load.yaml",
        out_dir=str(out),
        profile="breakpoint",
        start=args.start,
        max_concurrency=args.max,
        step_s=args.step_s,
        p95_limit_ms=args.p95_ms,
    )
    cpu = CpuSeries()
    await load_on_fleet(k, cfg, cpu)
    rows = read_jsonl(out / "load.jsonl")
    last, first = breakpoint_bounds(rows)
    brk = breakpoint_step(rows, args.p95_ms)
    steps = []
    for r in rows:
        cores = cpu.cores(*r["window"])
        c = int(r["concurrency"])
        steps.append(
            {
                "concurrency": c,
                "p95_ms": r.get("latency_p95_ms"),
                "agent_cores": cores,
                "agent_cores_per_call": round(sum(cores) / c, 4) if cores else None,
                "generator_cores": sum((r.get("generator_cpu") or {}).values()),
            }
        )
        print(f"  K={k} step {c}: P95 {r.get('latency_p95_ms')} ms, agent cores {cores}")
    return {
        "last_passing": last,
        "breakpoint": first if first is not None else (brk or {}).get("concurrency"),
        "out": str(out),
        "steps": steps,
    }


def print_row(row: dict[str, Any]) -> None:
    """K | predicted | measured | error | within target (20 % or one bisection step)."""
    p, m = row["predicted"], row.get("measured")
    line = f"| {row['processes']} | {p['last_passing']} / {p['breakpoint']} |"
    if m is None:
        print(line + " (not measured) | | |")
        return
    if p["breakpoint"] is None or m["breakpoint"] is None:  # none up to 2 x --max, --max
        cap = max(int(x["concurrency"]) for x in m["steps"]) if m["steps"] else 0
        same = m["breakpoint"] is None and (p["breakpoint"] is None or p["breakpoint"] > cap)
        print(line + f" {m['last_passing']} / {m['breakpoint']} | - | {'yes' if same else 'no'} |")
        row["within_target"] = same
        return
    err = (p["breakpoint"] - m["breakpoint"]) / m["breakpoint"]
    step = abs(p["breakpoint"] - m["breakpoint"]) <= 1 or p["last_passing"] == m["last_passing"]
    ok = abs(err) <= 0.2 or step
    row["error"] = round(err, 3)
    row["within_target"] = ok
    print(
        line + f" {m['last_passing']} / {m['breakpoint']} | {err:+.0%} | {'yes' if ok else 'no'} |"
    )


#: scenarios/fleet_chaos.yaml's BENCHMARKS run: 6 callers on a fleet of 2 for
#: 90 s, the busiest instance killed at 30 s and started again at 60 s; two
#: callers in three reconnect (backoff 200 ms).
CHAOS = {"callers": 6, "seconds": 90.0, "kill_s": 30.0, "restart_s": 60.0, "reconnect": 2 / 3}


async def chaos(args: argparse.Namespace) -> None:
    """Calibrate on fleet_chaos.yaml's calls, predict calls lost, reconnected and the
    P95 recovery of the kill, then (unless --predict-only) run it and compare."""
    from reference_agent.fleet import Fleet

    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = Path("runs") / f"bench-capacity-chaos-{stamp}"
    fleet = Fleet(2, balancer="least-conn")
    url = await fleet.start()
    try:
        cal_dir = base / "calibration"
        await load_calibration(url, args.cal_calls, cal_dir, "scenarios/fleet_chaos.yaml", 3)
    finally:
        await fleet.close()
    row: dict[str, Any] = {"predicted": predicted_chaos(measure(cal_dir))}
    if not args.predict_only:
        row["measured"] = await measured_chaos(base / "load")
    print("| | calls lost | reconnected | P95 recovery s |")
    print("| --- | --- | --- | --- |")
    for name in ("predicted", "measured"):
        r = row.get(name)
        if r is not None:
            print(
                f"| {name} | {r.get('calls_lost')} | {r.get('reconnected')} | "
                f"{r.get('p95_recovery_s')} |"
            )
    out = args.out or Path("benchmarks/results/capacity_chaos.json")
    out.write_text(json.dumps(row, indent=1))
    print(f"wrote {out} (runs under {base})")


def predicted_chaos(cal: Calibration) -> dict[str, Any]:
    """The model's chaos run: FLEET of 2, the kill and restart, reconnecting callers."""
    from simulator.capacity.engine import LOST
    from simulator.load.chaos import recovery

    text = FLEET % {
        "cores": os.cpu_count() or 1,
        "k": 2,
        "slo": 1500,
        "window": CHAOS["seconds"],
        "max": 8,
        "call": 0.0,
        "generator": 0.0,
        "ramp": 1.0,
        "usable": 1.0,
    }
    data = parse_capacity(text).model_dump()
    data["traffic"].update(
        callers=CHAOS["callers"], turns_per_call=4, ramp_s=1.0,
        reconnect=CHAOS["reconnect"], reconnect_ms=300.0,
    )  # fmt: skip
    data["window"] = {"warmup_s": 0.0, "duration_s": CHAOS["seconds"]}
    data["call_cpu"] = None
    down = CHAOS["restart_s"] - CHAOS["kill_s"]
    # The model's stages are not tied into processes: the kill is on the llm stage,
    # the process's event loop (a call pinned there is a call on that process).
    for stage in data["stages"]:
        if stage["name"] == "llm":
            stage["failures"] = {"kill_at_s": [CHAOS["kill_s"]], "restart_s": down}
    cfg, _ = apply(CapacityConfig.model_validate(data), cal)
    trace = simulate(cfg)
    turns = [
        {"kind": "say", "load_at": t.at_ms / 1000.0, "latency_ms": t.latency_ms}
        for t in trace.turns
        if t.outcome != LOST
    ]
    return {
        "calls_lost": trace.calls_lost,
        "reconnected": trace.calls_reconnected,
        **recovery(turns, CHAOS["kill_s"], 5.0, 0.0),
    }


async def measured_chaos(out: Path) -> dict[str, Any]:
    """The BENCHMARKS chaos run (scenarios/fleet_chaos.yaml); its first kill's summary."""
    cfg = LoadConfig(
        scenario="scenarios/fleet_chaos.yaml",
        out_dir=str(out),
        profile="soak",
        concurrency=int(CHAOS["callers"]),
        soak_s=CHAOS["seconds"],
        window_s=30.0,
        pause_s=0.5,
        stagger_s=1.0,  # as the model's ramp_s: every caller in before the kill
        chaos=[f"kill-instance@{CHAOS['kill_s']:g}", f"restart-instance@{CHAOS['restart_s']:g}"],
    )
    outcome = await load_on_fleet(2, cfg)
    kills = (outcome.summary.get("chaos") or {}).get("kills") or [{}]
    return dict(kills[0])


async def load_on_fleet(k: int, cfg: LoadConfig, cpu: CpuSeries | None = None) -> Any:
    """`voxsim load` with `cfg` against a fresh fleet of K (HAProxy least-conn, Redis);
    `cpu` samples the agent processes' CPU during the run."""
    from reference_agent.fleet import Fleet

    fleet = Fleet(k, balancer="least-conn")
    url = await fleet.start()
    sampler = None
    if cpu is not None:
        sampler = asyncio.ensure_future(cpu.sample([i.pid for i in fleet.instances]))
    try:
        return await run_load(cfg, agent=url)
    finally:
        if sampler is not None:
            sampler.cancel()
        await fleet.close()


class CpuSeries:
    """The agent processes' CPU seconds, sampled every second (wall clock, as the
    load rows' windows): what each step really cost the agent, per call."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, list[float]]] = []

    async def sample(self, pids: list[int | None]) -> None:
        while True:
            self.samples.append((time.time(), [process_cpu_s(p) for p in pids]))
            await asyncio.sleep(1.0)

    def cores(self, start: float, end: float) -> list[float]:
        """Cores each process used over [start, end] (the samples nearest inside it)."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return []
        (t0, a), (t1, b) = inside[0], inside[-1]
        return [round((y - x) / (t1 - t0), 3) for x, y in zip(a, b, strict=True)]


if __name__ == "__main__":
    asyncio.run(main())
