"""What a load run's master and its workers (on any host) agree on, without locust.

A worker (`voxsim load-worker --master HOST[:PORT]`) connects to the master
over locust's own ZeroMQ channel and says hello (its name, voxsim version and,
when it was given one, the digest of its scenario file). The master refuses a
worker of another version, with another scenario or a name already in use
(one line the worker prints), else sends it the run's configuration and the
scenario's text. The worker renders its callers' audio itself and reports a
digest of every rendered sample; a worker whose audio differs from the
master's (another eSpeak, a missing noise file) is refused too, so every
worker plays the same bytes.

Workers stream their turn and call rows to the master, which writes them to
DIR/workers/NAME/ as they land: the master's run directory is complete with
no shared disk. Latency is measured inside each call on the worker's own
monotonic clock; only the wall-clock stamps that place a row in a step's
window (`at`, `load_at`) cross hosts, and the master moves them onto its own
clock with the offset it sees between a batch's send stamp and its arrival
(`ClockOffsets`), so no clock synchronisation between hosts is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from simulator.errors import UsageError

#: locust's default master port (`--master-port`).
DEFAULT_PORT = 5557
#: Test hook: pretend this host's wall clock is off by this many seconds.
CLOCK_SKEW_ENV = "VOXSIM_LOAD_CLOCK_SKEW_S"


def voxsim_version() -> str:
    """The installed voxsim version (workers must run the master's)."""
    try:
        return metadata.version("voxsim")
    except metadata.PackageNotFoundError:
        return "unknown"


def wall_clock() -> float:
    """time.time(), shifted by the test hook's skew (a host whose clock is off)."""
    return time.time() + float(os.environ.get(CLOCK_SKEW_ENV) or 0.0)


def text_digest(text: str) -> str:
    """sha256 of a scenario file's text (what the master sends and workers may check)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def render_digest(rendered: Iterable[tuple[list[Any], Any]]) -> str:
    """sha256 over every rendered call's caller audio (turn samples, speech bounds, bed)."""
    h = hashlib.sha256()
    for turns, bed in rendered:
        for turn in turns:
            h.update(f"{turn.index}:{turn.kind}:{turn.speech_start}:{turn.speech_end}".encode())
            h.update(np.ascontiguousarray(turn.pcm).tobytes())
        if bed is not None:
            h.update(np.ascontiguousarray(bed).tobytes())
    return h.hexdigest()


def parse_master(text: str) -> tuple[str, int]:
    """`HOST[:PORT]` (or `[V6]:PORT`) -> (host, port); UsageError (exit 2) when malformed."""
    where, fix = "--master", "pass HOST or HOST:PORT, e.g. 10.0.0.5:5557"
    host, port = text.strip(), str(DEFAULT_PORT)
    if host.startswith("["):
        inner, _, rest = host[1:].partition("]")
        host = inner
        if rest:
            if not rest.startswith(":"):
                raise UsageError(f"malformed address {text!r}", where=where, fix=fix)
            port = rest[1:]
    elif host.count(":") == 1:
        host, port = host.split(":")
    if not host or any(c.isspace() for c in host):
        raise UsageError(f"malformed address {text!r}", where=where, fix=fix)
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise UsageError(f"bad port in {text!r}", where=where, fix="a port in 1..65535")
    return host, int(port)


def refusal(hello: dict[str, Any], scenario_sha: str, names_in_use: set[str]) -> str | None:
    """Why the master refuses a worker's hello, or None to accept it."""
    mine = voxsim_version()
    if hello.get("version") != mine:
        return f"worker runs voxsim {hello.get('version')}, the master {mine}: install the same"
    theirs = hello.get("scenario_sha")
    if theirs and theirs != scenario_sha:
        return (
            f"worker's scenario (sha256 {str(theirs)[:12]}) differs from the master's "
            f"({scenario_sha[:12]}): start it with the same file, or without one"
        )
    if hello.get("worker") in names_in_use:
        return f"a worker named {hello.get('worker')!r} is already in this run: pass --name"
    return None


class ClockOffsets:
    """Per worker: master clock minus worker clock, from batches' send/arrival stamps.

    Each sample is (arrival on the master) - (send on the worker) = offset +
    transit delay >= offset; the smallest of the recent samples is the best
    estimate (transit ~0), and a window lets it follow a clock that is stepped.
    """

    def __init__(self, window: int = 64) -> None:
        self.window = window
        self.samples: dict[str, deque[float]] = {}

    def update(self, worker: str, sent: float, received: float) -> float:
        """Add one sample; return the worker's current offset (seconds to add)."""
        q = self.samples.setdefault(worker, deque(maxlen=self.window))
        q.append(received - sent)
        return min(q)

    def get(self, worker: str) -> float:
        q = self.samples.get(worker)
        return min(q) if q else 0.0


class RowWriter:
    """The master's copy of every worker's rows: DIR/workers/NAME/{turns,calls}.jsonl."""

    def __init__(self, run_dir: Path) -> None:
        self.root = run_dir / "workers"
        self.files: dict[tuple[str, str], TextIO] = {}

    def write(self, worker: str, table: str, row: Mapping[str, Any]) -> None:
        key = (worker, table)
        fh = self.files.get(key)
        if fh is None:
            folder = self.root / _safe(worker)
            folder.mkdir(parents=True, exist_ok=True)
            fh = self.files[key] = (folder / table).open("a", encoding="utf-8")
        fh.write(json.dumps(row, default=str) + "\n")
        fh.flush()

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()
        self.files.clear()


def _safe(name: str) -> str:
    """A worker name as a directory name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:64] or "worker"


class ThreadLoad:
    """How busy one thread is: on a CPU, and on a CPU or waiting for one (Linux).

    /proc/PID/task/TID/schedstat gives nanoseconds run and waited on the run
    queue; `busy` near 1 means the thread always had work: its core is
    saturated even when another process (a CPU hog) takes the CPU time. Without
    schedstat (other kernels), `busy` falls back to the CPU share from stat.
    """

    def __init__(self, pid: int, tid: int | None = None) -> None:
        self.path = Path(f"/proc/{pid}/task/{tid or pid}")
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.last: tuple[float, float, float] | None = None

    def _read(self) -> tuple[float, float] | None:
        try:
            run_ns, wait_ns, _ = (self.path / "schedstat").read_text().split()[:3]
            return float(run_ns) / 1e9, float(wait_ns) / 1e9
        except (OSError, ValueError):
            pass
        try:
            fields = (self.path / "stat").read_text().rsplit(")", 1)[1].split()
            cpu = (float(fields[11]) + float(fields[12])) / self.tick
            return cpu, 0.0
        except (OSError, ValueError, IndexError):
            return None

    def sample(self) -> dict[str, float] | None:
        """{"cpu", "busy"} as shares of wall time since the previous call (None the first time)."""
        now = time.monotonic()
        got = self._read()
        if got is None:
            return None
        prev, self.last = self.last, (now, *got)
        if prev is None or now <= prev[0]:
            return None
        wall = now - prev[0]
        cpu = max(0.0, got[0] - prev[1]) / wall
        busy = cpu + max(0.0, got[1] - prev[2]) / wall
        return {"cpu": round(min(cpu, 1.0), 3), "busy": round(min(busy, 1.0), 3)}
