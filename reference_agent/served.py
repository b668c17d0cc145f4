"""A served agent as a child process: start it, read its ready line, stop it.

`voxsim agent serve` (reference_agent.bundle.serve_forever) prints one JSON
line, `{"ready": true, "url": ...}`, once it listens; so do the test agents.
This is the one place that starts such a process and reads that line:

- `AgentProcess`, inside an event loop (the runner, `voxsim load`, the fleet):
  its stdin is a pipe and the agent stops when it closes, so a child never
  outlives a harness that was killed;
- `ServedProcess`, a plain subprocess that outlives event loops (the Python
  API's `BundledAgent`, the pytest plugin, the test fixtures).

Both stop with SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import asyncio
import json
import os
import selectors
import subprocess
import sys
from collections.abc import Sequence

from simulator.errors import AgentError


def serve_argv(
    kind: str, port: int = 0, extra_args: Sequence[str] = (), stop_on_stdin_eof: bool = False
) -> list[str]:
    """The `voxsim agent serve` command line for a bundled `kind` on `port` (0: any free)."""
    argv = [sys.executable, "-m", "simulator.cli", "agent", "serve", "--kind", kind]
    argv += ["--port", str(port)]
    if stop_on_stdin_eof:
        argv.append("--stop-on-stdin-eof")
    return [*argv, *extra_args]


def ready_url(line: str | bytes, what: str) -> str:
    """The URL in a ready line; AgentError naming `what` when the line is not one."""
    try:
        return str(json.loads(line)["url"])
    except (ValueError, KeyError, TypeError):
        raise AgentError(
            f"{what} failed to start",
            where="voxsim agent serve",
            fix="run it by hand to see its error",
        ) from None


class AgentProcess:
    """`voxsim agent serve` as a child process of this event loop, on a loopback port."""

    def __init__(
        self, kind: str = "pipeline", extra_args: list[str] | None = None, port: int = 0
    ) -> None:
        self.kind = kind
        self.extra_args = extra_args or []
        self.port = port
        self.proc: asyncio.subprocess.Process | None = None
        self.url = ""

    async def start(self, timeout_s: float = 60.0) -> str:
        """Start the child and wait for its ready line; return its URL."""
        argv = serve_argv(self.kind, self.port, stop_on_stdin_eof=True)
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.proc = await asyncio.create_subprocess_exec(
            *argv,
            *self.extra_args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdout is not None
        try:
            line = await asyncio.wait_for(self.proc.stdout.readline(), timeout_s)
        except TimeoutError:
            await self.stop()
            raise AgentError(
                f"bundled {self.kind} agent did not start in {timeout_s:.0f} s"
            ) from None
        try:
            self.url = ready_url(line, f"bundled {self.kind} agent")
        except AgentError:
            await self.stop()
            raise
        return self.url

    async def stop(self) -> None:
        """Terminate the child (SIGTERM, then SIGKILL after 5 s)."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.proc.terminate()
        if self.proc.stdin is not None:
            # Its stdin watcher's thread would otherwise hold its exit until the SIGKILL.
            self.proc.stdin.close()
        try:
            await asyncio.wait_for(self.proc.wait(), 5)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()


class ServedProcess:
    """A server child process (`argv`) that prints a ready line, outside any event loop.

    `start` waits for the line (at most `timeout_s`; None waits as long as the
    server takes) and returns its URL; `stop` ends the process. A context
    manager too.
    """

    def __init__(self, argv: Sequence[str], what: str, timeout_s: float | None = 60.0) -> None:
        self.argv = list(argv)
        self.what = what
        self.timeout_s = timeout_s
        self._proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> str:
        """Start the server (idempotent) and return its URL."""
        if self._proc is not None and self._proc.poll() is None:
            return self.url
        self._proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self._proc.stdout, selectors.EVENT_READ)
            ready = self.timeout_s is None or sel.select(self.timeout_s)
        line = self._proc.stdout.readline() if ready else ""
        try:
            self.url = ready_url(line, self.what)
        except AgentError:
            self.stop()
            raise
        return self.url

    def stop(self, grace_s: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after `grace_s`)."""
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self) -> ServedProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
