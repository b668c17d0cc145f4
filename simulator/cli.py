"""`voxsim` command line: validate, run, report, voices, agent serve.

Every failure voxsim expects ends as one line on stderr and an exit code
(0 SLOs met, 1 SLO missed, 2 bad input, 3 agent or harness failed); no
tracebacks for bad input.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from simulator.errors import EXIT_BAD_INPUT, EXIT_OK, UsageError, VoxsimError
from simulator.transports.registry import AGENT_TRANSPORTS


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_BAD_INPUT, f"voxsim: {message} (see `voxsim --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    p = _Parser(prog="voxsim", description="Test voice agents with simulated callers.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    v = sub.add_parser("validate", help="check scenario files")
    v.add_argument("files", nargs="+")

    r = sub.add_parser("run", help="run scenario files against an agent")
    r.add_argument("files", nargs="+", help="scenario files or directories")
    r.add_argument("--out", type=Path, default=None, help="run directory (default runs/DATE)")
    r.add_argument(
        "--agent",
        default=None,
        help="'pipeline' or 'e2e' (bundled), or a URL: ws://, twilio+ws://, realtime+ws://, "
        "webrtc+http://",
    )

    rep = sub.add_parser("report", help="rebuild report.html from a run directory")
    rep.add_argument("dir", type=Path)

    sub.add_parser("voices", help="list caller voices")

    a = sub.add_parser("agent", help="bundled agents")
    asub = a.add_subparsers(dest="agent_command", required=True, parser_class=_Parser)
    s = asub.add_parser("serve", help="serve a bundled agent over WebSocket")
    s.add_argument("--kind", choices=["pipeline", "e2e"], default="pipeline")
    s.add_argument("--transport", choices=list(AGENT_TRANSPORTS), default="websocket")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8765)
    s.add_argument("--llm-url", default=None, help="OpenAI-compatible base URL (default: bundled)")
    s.add_argument("--llm-model", default="voxsim-domain")
    s.add_argument("--hangover-ms", type=int, default=240, help="endpointing silence")
    s.add_argument("--stop-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    for stage in ("stt", "llm", "tts"):
        s.add_argument(f"--{stage}-latency-ms", type=float, default=0.0)
        s.add_argument(f"--{stage}-error-rate", type=float, default=0.0)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `voxsim` script."""
    args = build_parser().parse_args(argv)
    try:
        code = _dispatch(args)
    except VoxsimError as exc:
        print(f"voxsim: {exc.one_line()}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("voxsim: interrupted; rows written so far are kept", file=sys.stderr)
        code = 3
    sys.exit(code)


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        from simulator.scenario import load_scenario

        for f in args.files:
            sc = load_scenario(f)
            print(f"{f}: ok ({sc.name}, {len(sc.turns)} turns)")
        return EXIT_OK
    if args.command == "voices":
        from simulator.caller.tts import english_voices

        for v in english_voices():
            print(v)
        print("variants: append +f1..+f5, +m1..+m7, +klatt (e.g. en-US+f3)")
        return EXIT_OK
    if args.command == "report":
        from reports.html import write_report

        if not (args.dir / "run.json").exists() and not (args.dir / "turns.jsonl").exists():
            raise UsageError(
                "not a run directory", where=str(args.dir), fix="pass DIR of voxsim run"
            )
        print(write_report(args.dir))
        return EXIT_OK
    if args.command == "run":
        from simulator.runner import run_files

        out = args.out or Path("runs") / datetime.now().strftime("%Y%m%d-%H%M%S")
        outcome = asyncio.run(run_files(args.files, out, agent=args.agent))
        for r in outcome.slo_results:
            value = "no data" if r["value"] is None else f"{r['value']:.3f}"
            verdict = "PASS" if r["passed"] else "FAIL"
            where = f"{r['scenario']} {r['metric']}"
            print(f"{verdict} {where} = {value} (n={r['n']}, limit {r['limit']})")
        print(f"report: {outcome.report}")
        return outcome.exit_code
    if args.command == "agent":
        return _serve(args)
    raise UsageError(f"unknown command {args.command}")


def _serve(args: argparse.Namespace) -> int:
    from reference_agent.bundle import serve_forever, start_e2e, start_pipeline
    from reference_agent.faults import FaultPlan

    faults = FaultPlan.from_config(
        {
            stage: {
                "latency_ms": getattr(args, f"{stage}_latency_ms"),
                "error_rate": getattr(args, f"{stage}_error_rate"),
            }
            for stage in ("stt", "llm", "tts")
        }
    )

    async def go() -> None:
        if args.kind == "e2e":
            e2e = await start_e2e(host=args.host, port=args.port, faults=faults)
            await serve_forever(e2e, args.stop_on_stdin_eof, args.transport)
            return
        bundle = await start_pipeline(
            host=args.host,
            port=args.port,
            llm_url=args.llm_url,
            llm_model=args.llm_model,
            hangover_ms=args.hangover_ms,
            faults=faults,
        )
        await serve_forever(bundle, args.stop_on_stdin_eof, args.transport)

    try:
        asyncio.run(go())
    except OSError as exc:
        raise UsageError(f"cannot serve: {exc}", where=f"{args.host}:{args.port}") from exc
    return EXIT_OK


if __name__ == "__main__":
    main()
