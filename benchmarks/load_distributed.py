"""Benchmark: the bundled pipeline agent's breakpoint with its callers on two other "hosts".

Three network namespaces (tests/simulator/load/netns.py; needs root): the
bundled agent (`voxsim agent serve`, pinned to `--agent-cpu`) and the `voxsim
load` master in the first, one `voxsim load-worker` in each of the others
(pinned to `--worker-cpu`). The same breakpoint search as
benchmarks/load_breakpoint.py (scenarios/load.yaml, P95 800 ms), so the two
figures compare: single box (load_breakpoint.py --workers 0) against the
agent alone on a core with its callers elsewhere. Prints one markdown row
per step (with each worker's event-loop busy share) and appends the run to
benchmarks/results/load_distributed.json.

Run it alone on the machine:
    sudo .venv/bin/python benchmarks/load_distributed.py [--step-s 30] [--max 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/ (the netns helper)

from reports.rundir import read_jsonl  # noqa: E402
from tests.simulator.load import netns  # noqa: E402

PORT = "5557"
AGENT_PORT = "8765"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--scenario", default="scenarios/load.yaml")
    ap.add_argument("--step-s", type=float, default=30.0)
    ap.add_argument("--settle-s", type=float, default=5.0)
    ap.add_argument("--start", type=int, default=1)
    ap.add_argument("--max", type=int, default=32)
    ap.add_argument("--p95-ms", type=float, default=800.0)
    ap.add_argument("--agent-cpu", type=int, default=1)
    ap.add_argument("--worker-cpu", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument(
        "--results", type=Path, default=Path("benchmarks/results/load_distributed.json")
    )
    args = ap.parse_args()
    why = netns.unavailable()
    if why:
        sys.exit(f"load_distributed: {why}")

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    out = (args.out or Path("runs") / f"bench-distributed-{stamp}").resolve()
    hosts = netns.Hosts(3, tag="b")
    py = sys.executable
    try:
        agent = hosts.popen(
            0,
            ["taskset", "-c", str(args.agent_cpu), py, "-m", "simulator.cli", "agent", "serve"]
            + ["--kind", "pipeline", "--host", hosts.addr(0), "--port", AGENT_PORT],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"ws://{hosts.addr(0)}:{AGENT_PORT}/ws"
        probe = (
            "import socket,sys,time\nend=time.time()+180\nwhile time.time()<end:\n"
            f"  try: socket.create_connection(('{hosts.addr(0)}',{AGENT_PORT}),1); sys.exit(0)\n"
            "  except OSError: time.sleep(0.5)\nsys.exit(1)"
        )
        if subprocess.run([*hosts.prefix(0), py, "-c", probe]).returncode != 0:
            sys.exit("load_distributed: the bundled agent did not start")
        master = hosts.popen(
            0,
            [py, "-m", "simulator.cli", "load", args.scenario, "--out", str(out)]
            + ["--profile", "breakpoint", "--start", str(args.start), "--max", str(args.max)]
            + ["--step-s", str(args.step_s), "--settle-s", str(args.settle_s)]
            + ["--p95-ms", str(args.p95_ms), "--agent", url, "--allow-remote"]
            + ["--agent-pid", str(agent.pid)]
            + ["--master-bind", hosts.addr(0), "--master-port", PORT, "--expect-workers", "2"],
        )
        for i in (1, 2):
            hosts.popen(
                i,
                ["taskset", "-c", str(args.worker_cpu), py, "-m", "simulator.cli", "load-worker"]
                + ["--master", f"{hosts.addr(0)}:{PORT}", "--name", f"host{i}"],
                stdout=subprocess.DEVNULL,
            )
        code = master.wait()
    finally:
        hosts.close()
    rows = read_jsonl(out / "load.jsonl")
    run = json.loads((out / "run.json").read_text())
    machine = f"{platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f} at end"
    print(f"machine: {machine}; exit {code}; out: {out}")
    print(
        "| step | calls at once | n turns | calls | P50 ms | P95 ms | errors | "
        "lateness max / median call ms | loop busy per worker | SLO |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['step']} {r['phase']} | {r['concurrency']} | {r['n']} | {r['calls']} | "
            f"{r['latency_p50_ms']} | {r['latency_p95_ms']} | {r['error_rate']} | "
            f"{r['generator_lateness_ms']} / {r['generator_lateness_p50_ms']} | "
            f"{r.get('generator_busy')} | {'pass' if r['slo_passed'] else r['slo_reason']} |"
        )
    load = run.get("load", {})
    print(f"last passing: {load.get('last_passing')}, breakpoint: {load.get('breakpoint')}")
    record = {
        "date": stamp,
        "machine": machine,
        "step_s": args.step_s,
        "last_passing": load.get("last_passing"),
        "breakpoint": load.get("breakpoint"),
        "rows": rows,
    }
    args.results.parent.mkdir(parents=True, exist_ok=True)
    history = json.loads(args.results.read_text()) if args.results.exists() else []
    args.results.write_text(json.dumps([*history, record], indent=1))


if __name__ == "__main__":
    main()
