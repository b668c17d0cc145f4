"""The child processes of a fleet: agent instances, and starting and stopping them.

An `Instance` is one bundled agent process whose port survives restarts (so HAProxy's
server line stays valid); the helpers pick free ports, tie a child's life to the
fleet's (PR_SET_PDEATHSIG), wait for a child to be ready and stop it gracefully.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from reference_agent.bundle import AgentProcess
from simulator.errors import AgentError

START_TIMEOUT_S = 60.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def die_with_parent() -> None:
    """In a child before exec: SIGTERM when the fleet's process dies (Linux prctl)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


async def wait_until(check: Callable[[], Any], proc: Any, what: str, timeout_s: float) -> None:
    """Poll `check()` (an awaitable returning truthy) until it holds; AgentError otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(OSError, ConnectionError):
            if await check():
                return
        if proc.returncode is not None:
            raise AgentError(f"{what} exited with code {proc.returncode}", fix="run it by hand")
        if time.monotonic() > deadline:
            raise AgentError(f"{what} did not start in {timeout_s:.0f} s")
        await asyncio.sleep(0.05)


async def redis_pong(port: int) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(b"PING\r\n")
        await writer.drain()
        return (await reader.read(16)).startswith(b"+PONG")
    finally:
        writer.close()


async def terminate(proc: asyncio.subprocess.Process | None) -> None:
    """SIGTERM, then SIGKILL after 5 s (a no-op for a process that is gone)."""
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        await asyncio.wait_for(proc.wait(), 5)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


@dataclass
class Instance:
    """One agent process of the fleet; its port stays the same across restarts."""

    name: str
    port: int
    args: list[str]
    proc: AgentProcess | None = None
    up: bool = False
    started_at: float = 0.0
    #: wall clock of each kill / restart (the fleet's log of what chaos did)
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        """The running process's id."""
        p = self.proc.proc if self.proc is not None else None
        return p.pid if p is not None and p.returncode is None else None

    async def start(self) -> None:
        """Start (or start again) the process and wait for its ready line."""
        self.proc = AgentProcess("pipeline", [*self.args, "--instance-name", self.name], self.port)
        await self.proc.start(START_TIMEOUT_S)
        self.up = True
        self.started_at = time.time()

    async def kill(self) -> None:
        """SIGKILL: a crash, no goodbye to its callers (their links drop)."""
        self.up = False
        proc = self.proc.proc if self.proc is not None else None
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()

    async def stop(self) -> None:
        """A clean stop (SIGTERM)."""
        self.up = False
        if self.proc is not None:
            await self.proc.stop()
