"""A served agent's ready line: read once, by one helper, the same way sync and async."""

from __future__ import annotations

import sys

import pytest

from reference_agent.served import AgentProcess, ServedProcess, ready_url, serve_argv
from simulator.errors import AgentError

#: a stub server: prints a ready line, then waits to be stopped
READY = (
    "import json, time; "
    'print(json.dumps({"ready": True, "url": "ws://127.0.0.1:1/x"}), flush=True); '
    "time.sleep(60)"
)


def test_the_ready_line_gives_the_url_and_anything_else_is_an_agent_error() -> None:
    assert ready_url('{"ready": true, "url": "ws://127.0.0.1:9/ws"}\n', "agent") == (
        "ws://127.0.0.1:9/ws"
    )
    for line in ("", "Traceback (most recent call last):\n", "[1]", '{"ready": true}'):
        with pytest.raises(AgentError, match="agent failed to start"):
            ready_url(line, "agent")


def test_serve_argv_is_voxsim_agent_serve() -> None:
    argv = serve_argv("e2e", 0, ["--transport", "twilio"], stop_on_stdin_eof=True)
    assert argv[1:] == [
        "-m",
        "simulator.cli",
        "agent",
        "serve",
        "--kind",
        "e2e",
        "--port",
        "0",
        "--stop-on-stdin-eof",
        "--transport",
        "twilio",
    ]


def test_a_served_process_returns_its_url_and_stops() -> None:
    with ServedProcess([sys.executable, "-c", READY], "stub") as server:
        assert server.url == "ws://127.0.0.1:1/x"
        assert server.start() == server.url  # idempotent while it runs
        proc = server._proc
    assert proc is not None and proc.poll() is not None


def test_a_process_that_dies_before_its_ready_line_is_an_agent_error() -> None:
    server = ServedProcess([sys.executable, "-c", "raise SystemExit(3)"], "stub agent")
    with pytest.raises(AgentError, match="stub agent failed to start"):
        server.start()


async def test_the_async_helper_reads_the_same_line() -> None:
    agent = AgentProcess("pipeline")
    agent.kind = "stub"  # only names it in errors
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(
            "reference_agent.served.serve_argv",
            lambda *_, **__: [sys.executable, "-c", READY],
        )
        assert await agent.start(timeout_s=30) == "ws://127.0.0.1:1/x"
    await agent.stop()
    assert agent.proc is not None and agent.proc.returncode is not None
