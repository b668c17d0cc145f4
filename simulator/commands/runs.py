"""`voxsim run`, `compare` and `report`: a run directory made, compared, reported."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from pathlib import Path

from simulator.baseline import Tolerance
from simulator.errors import EXIT_OK, EXIT_SLO_MISSED, UsageError


def default_out(command: str) -> Path:
    """runs/DATE for `run`, runs/load-DATE for `load`."""
    prefix = "load-" if command == "load" else ""
    return Path("runs") / datetime.now().strftime(f"{prefix}%Y%m%d-%H%M%S")


def run(args: argparse.Namespace) -> int:
    """`voxsim run FILES`: one line per SLO verdict, then the report's path."""
    from simulator.runner import run_files

    out = args.out or default_out("run")
    outcome = asyncio.run(
        run_files(
            args.files,
            out,
            agent=args.agent,
            only=args.only,
            baseline=args.baseline,
            tolerance=_tolerance(args),
            replay=args.replay,
            audio_format=args.audio_format,
        )
    )
    for r in outcome.slo_results:
        value = "no data" if r["value"] is None else f"{r['value']:.3f}"
        verdict = "PASS" if r["passed"] else "FAIL"
        where = f"{r['scenario']} {r['metric']}"
        print(f"{verdict} {where} = {value} (n={r['n']}, limit {r['limit']})")
    print(f"report: {outcome.report}")
    return outcome.exit_code


def compare(args: argparse.Namespace) -> int:
    """`voxsim compare DIR --baseline DIR`: exit 1 on a regression."""
    from reports.html import write_report
    from reports.junit import write_junit
    from simulator.baseline import compare_dirs, render_table, write_comparison

    comparison = compare_dirs(args.dir, args.baseline, _tolerance(args))
    write_comparison(args.dir, comparison)
    print(render_table(comparison))
    write_junit(args.dir)
    print(f"report: {write_report(args.dir)}")
    return EXIT_SLO_MISSED if comparison.regressions else EXIT_OK


def report(args: argparse.Namespace) -> int:
    """`voxsim report DIR`: rebuild report.html of a run (or a capacity) directory."""
    from reports.capacity import is_capacity_dir, write_capacity_report
    from reports.html import write_report

    if is_capacity_dir(args.dir):  # `voxsim capacity --out DIR`: a simulated deployment
        try:
            print(write_capacity_report(args.dir))
        except ValueError as exc:
            raise UsageError(str(exc), fix="rerun voxsim capacity --out DIR") from None
        return EXIT_OK
    if not (args.dir / "run.json").exists() and not (args.dir / "turns.jsonl").exists():
        raise UsageError("not a run directory", where=str(args.dir), fix="pass DIR of voxsim run")
    print(write_report(args.dir, embed_audio=args.embed_audio))
    return EXIT_OK


def _tolerance(args: argparse.Namespace) -> Tolerance:
    """The --tolerance-* flags, checked (UsageError, exit 2)."""
    if args.tolerance_ms < 0 or not 0 <= args.tolerance_rate <= 1:
        raise UsageError(
            "tolerance out of range", where="--tolerance-ms/--tolerance-rate", fix="ms >= 0, 0..1"
        )
    return Tolerance(latency_ms=args.tolerance_ms, rate=args.tolerance_rate)
