"""The `voxsim` argument parser: every subcommand's flags, and nothing that runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import NoReturn

from reference_agent.faults import add_fault_flags
from reference_agent.pipeline.stt import DEFAULT_STT, STT_CHOICES
from reference_agent.pipeline.tts import DEFAULT_VOICE
from reference_agent.pipeline.tts import VOICES as AGENT_VOICES
from reference_agent.pipeline.vad import DEFAULT_HANGOVER_MS, DEFAULT_VAD
from simulator.audio import RECORDING_FORMATS
from simulator.errors import EXIT_BAD_INPUT
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

    _run_args(sub.add_parser("run", help="run scenario files against an agent"))

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
    _capacity_args(
        sub.add_parser(
            "capacity",
            help="simulate a deployment in virtual time (what if); "
            "`capacity plan FILE --calls N --slo-p95 MS` sizes one",
        )
    )

    a = sub.add_parser("agent", help="bundled agents")
    asub = a.add_subparsers(dest="agent_command", required=True, parser_class=_Parser)
    _serve_args(asub.add_parser("serve", help="serve a bundled agent over WebSocket"))
    return p


def _run_args(r: argparse.ArgumentParser) -> None:
    """`voxsim run` flags."""
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


def _capacity_args(cap: argparse.ArgumentParser) -> None:
    """`voxsim capacity FILE` and `voxsim capacity plan FILE` flags (docs/capacity.md)."""
    cap.add_argument("file", help="capacity file (e.g. scenarios/capacity.yaml), or `plan`")
    cap.add_argument("plan_file", nargs="?", default=None, help=argparse.SUPPRESS)
    cap.add_argument("--calls", type=int, default=None, help="plan: concurrent calls to size for")
    cap.add_argument("--slo-p95", type=float, default=None, help="plan: the P95 (ms) to meet")
    cap.add_argument("--breakpoint", action="store_true", help="search the load where P95 breaks")
    cap.add_argument("--out", type=Path, default=None, help="write capacity.json, load.jsonl here")
    cap.add_argument("--from-run", type=Path, default=None, help="service times from a run dir")


def _serve_args(s: argparse.ArgumentParser) -> None:
    """`voxsim agent serve` flags: where, which agent, its fleet, faults and knobs."""
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
    p.add_argument(
        "--stagger-s",
        type=float,
        default=None,
        help="spread new callers over this long (default: one call's length, measured; 0: at once)",
    )
    p.add_argument(
        "--cooldown-s",
        type=float,
        default=10.0,
        help="breakpoint: after a failing step, idle this long once its calls ended (0: none)",
    )
    p.add_argument("--measure", action="store_true", help="also WER (b), turn-taking, task")
    p.add_argument("--keep-audio", action="store_true", help="write every call's recordings")
    p.add_argument(
        "--audio-format", choices=RECORDING_FORMATS, default="wav", help="of kept recordings"
    )
    p.add_argument(
        "--chaos",
        action="append",
        default=[],
        metavar="ACTION@T",
        help="kill-instance@T or restart-instance@T (s): an agent fleet loses an instance",
    )
    p.add_argument("--chaos-window-s", type=float, default=5.0, help="P95 recovery window")
    add_master_args(p)


def _tolerance_args(p: argparse.ArgumentParser) -> None:
    """A regression must be significant AND larger than these (see simulator/baseline.py)."""
    p.add_argument("--tolerance-ms", type=float, default=50.0, help="latency (default 50)")
    p.add_argument(
        "--tolerance-rate", type=float, default=0.05, help="rates, absolute (default 0.05)"
    )
