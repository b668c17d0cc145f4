"""Hosts on this machine for distributed load tests: Linux network namespaces.

`Hosts(n)` makes n namespaces joined by a bridge in the first one, each with
its own address in 10.213.1.0/24 (.1 is the first "host"), loopback up.
Traffic stays between them: nothing is routed to or from the machine's own
namespace. Processes started with `popen` run inside a namespace in their own
process group; `close()` kills every process still in the namespaces and
deletes them (the veth pairs and the bridge go with them). Needs root.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from typing import Any

SUBNET = "10.213.1"


def unavailable() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if os.geteuid() != 0:
        return "network namespaces need root (ip netns add)"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    return None


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


class Hosts:
    """n namespaces on one bridge; host i has address f"{SUBNET}.{i + 1}"."""

    def __init__(self, n: int, tag: str) -> None:
        self.names = [f"vx{os.getpid()}{tag}{i}" for i in range(n)]
        self.procs: list[subprocess.Popen[Any]] = []
        self.made: list[str] = []
        try:
            self._build()
        except BaseException:
            self.close()
            raise

    def _build(self) -> None:
        for name in self.names:
            _ip("netns", "add", name)
            self.made.append(name)
            _ip("-n", name, "link", "set", "lo", "up")
        hub = self.names[0]
        _ip("-n", hub, "link", "add", "br0", "type", "bridge")
        _ip("-n", hub, "addr", "add", f"{SUBNET}.1/24", "dev", "br0")
        _ip("-n", hub, "link", "set", "br0", "up")
        for i, name in enumerate(self.names[1:], start=2):
            _ip("-n", hub, "link", "add", f"v{i}", "type", "veth", "peer", "eth0", "netns", name)
            _ip("-n", hub, "link", "set", f"v{i}", "master", "br0")
            _ip("-n", hub, "link", "set", f"v{i}", "up")
            _ip("-n", name, "addr", "add", f"{SUBNET}.{i}/24", "dev", "eth0")
            _ip("-n", name, "link", "set", "eth0", "up")

    def addr(self, i: int) -> str:
        return f"{SUBNET}.{i + 1}"

    def prefix(self, i: int) -> list[str]:
        """argv prefix running a command inside host i."""
        return ["ip", "netns", "exec", self.names[i]]

    def popen(self, i: int, argv: list[str], **kw: Any) -> subprocess.Popen[Any]:
        proc = subprocess.Popen([*self.prefix(i), *argv], start_new_session=True, **kw)
        self.procs.append(proc)
        return proc

    def pids(self, i: int) -> list[int]:
        """Every process running inside host i."""
        out = subprocess.run(
            ["ip", "netns", "pids", self.names[i]], capture_output=True, text=True, timeout=10
        )
        return [int(x) for x in out.stdout.split()]

    def connections(self, i: int, port: int, peer: str) -> set[str]:
        """Established TCP connections to host i's `port` from address `peer` ("a:p b:q")."""
        filt = ["dst", peer, "and", "sport", "=", f":{port}"]
        out = subprocess.run(
            [*self.prefix(i), "ss", "-tnH", "state", "established", *filt],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return {" ".join(line.split()[-2:]) for line in out.stdout.splitlines() if line.strip()}

    def kill_host(self, i: int) -> None:
        """Host i dies: every process in it is killed at once (SIGKILL)."""
        for pid in self.pids(i):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=10)
        for i, name in enumerate(self.names):
            if name in self.made:
                self.kill_host(i)
        deadline = time.monotonic() + 10
        for i, name in enumerate(self.names):
            while name in self.made and self.pids(i) and time.monotonic() < deadline:
                time.sleep(0.05)
        for name in reversed(self.made):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        self.made.clear()
