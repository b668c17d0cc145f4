"""`voxsim load`, `load-worker` and `capacity`: many calls, real or simulated."""

from __future__ import annotations

import argparse
import asyncio

from simulator.commands.runs import default_out
from simulator.errors import UsageError


def load(args: argparse.Namespace) -> int:
    """`voxsim load FILE --profile P`: a locust run; prints its verdict lines."""
    from simulator.load.config import LoadConfig
    from simulator.load.run import run_load

    out = args.out or default_out("load")
    fields = {k: v for k, v in vars(args).items() if k in LoadConfig.__dataclass_fields__}
    cfg = LoadConfig(scenario=args.file, out_dir=str(out), **fields)
    outcome = asyncio.run(run_load(cfg, agent=args.agent, allow_remote=args.allow_remote))
    s = outcome.summary
    if args.profile == "soak" and s.get("drift"):
        for key in ("latency_ms", "agent_rss_mb", "agent_fds"):
            t = s["drift"][key]
            verdict = "DRIFT" if t["drift"] else "flat" if t.get("n") else "no data:"
            print(f"{verdict} {key}: growth {t['growth']} (95% CI {t['ci']}, n={t['n']})")
    elif args.profile != "soak":
        print(f"last passing: {s.get('last_passing')}, breakpoint: {s.get('breakpoint')}")
    if s.get("chaos"):
        from simulator.load.chaos import summary_lines

        print("\n".join(summary_lines(s["chaos"])))
    if s.get("generator_saturated_steps"):
        print(
            f"warning: the load generator fell behind real time in steps "
            f"{s['generator_saturated_steps']}: add --workers"
        )
    print(f"report: {outcome.report}")
    return outcome.exit_code


def load_worker(args: argparse.Namespace) -> int:
    """`voxsim load-worker`: a worker process for a `voxsim load` master elsewhere."""
    from simulator.load.remote import run_worker

    return run_worker(args)


def capacity(args: argparse.Namespace) -> int:
    """`voxsim capacity FILE` (what if) or `voxsim capacity plan FILE` (size one)."""
    from simulator.capacity.command import run_capacity, run_plan

    if args.file != "plan" and args.plan_file is None:
        return run_capacity(
            args.file, out=args.out, breakpoint=args.breakpoint, from_run=args.from_run
        )
    if args.file != "plan" or args.plan_file is None:
        raise UsageError(
            "unexpected argument", where="capacity", fix="capacity plan FILE --calls N ..."
        )
    if args.calls is None or args.slo_p95 is None or args.calls < 1 or args.slo_p95 <= 0:
        raise UsageError(
            "plan needs --calls N (>= 1) and --slo-p95 MS (> 0)",
            where="capacity plan",
            fix="e.g. voxsim capacity plan FILE --calls 1000 --slo-p95 800",
        )
    return run_plan(
        args.plan_file,
        calls=args.calls,
        slo_p95_ms=args.slo_p95,
        out=args.out,
        from_run=args.from_run,
    )
