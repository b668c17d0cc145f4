"""`voxsim load-worker --master HOST[:PORT]`: a load worker on another host, in one command.

It starts a locust worker (`python -m locust -f locustfile.py --worker`) that
connects to the master of a `voxsim load ... --master-bind ADDR
--expect-workers N` run, receives the run's configuration and scenario from
it, renders its callers' audio here and places its share of the calls
(cluster.py, locustfile.py). Nothing else needs copying to this host but an
installed voxsim of the master's version.

It prints where it is (connected, rendering, ready) on stderr and ends when the
master ends the run (exit 0), when the master refuses it (one line, exit 2),
or when its locust worker or call engine fails (exit 3). Ctrl-C (or SIGTERM)
stops its locust worker and call engine; the master carries on without it.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from simulator.errors import EXIT_AGENT_FAILED, EXIT_BAD_INPUT, EXIT_OK, UsageError
from simulator.load.cluster import DEFAULT_PORT, parse_master, text_digest

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
#: Seconds a caller may take to finish its call when its level is lowered or the run ends.
STOP_TIMEOUT_S = 60
#: The environment names locustfile.py reads (kept here so this module never imports it).
WORKER_ENV = "VOXSIM_LOAD_WORKER"
SPOOL_ENV = "VOXSIM_LOAD_SPOOL"
STATUS_ENV = "VOXSIM_LOAD_STATUS"
EXPECT_SHA_ENV = "VOXSIM_LOAD_EXPECT_SHA"


def locust_base() -> list[str]:
    """The argv every locust process of a load run starts with."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--stop-timeout",
        str(STOP_TIMEOUT_S),
        "--exit-code-on-error",
        "0",
        "--loglevel",
        "INFO",  # locust.log: workers joining, missing, quitting; each step's user count
    ]


def worker_argv(host: str, port: int) -> list[str]:
    """A locust worker of a load run whose master listens on host:port."""
    return [*locust_base(), "--worker", "--master-host", host, "--master-port", str(port)]


def worker_env(name: str, spool: Path, status: Path | None = None, sha: str = "") -> dict[str, str]:
    """The environment of a worker named `name` keeping its files in `spool`."""
    env = dict(os.environ, **{WORKER_ENV: name, SPOOL_ENV: str(spool)})
    env["PYTHONUNBUFFERED"] = "1"
    if status is not None:
        env[STATUS_ENV] = str(status)
    if sha:
        env[EXPECT_SHA_ENV] = sha
    return env


def add_worker_args(p: argparse.ArgumentParser) -> None:
    """`voxsim load-worker` flags."""
    p.add_argument(
        "--master",
        required=True,
        metavar="HOST[:PORT]",
        help=f"the `voxsim load` master (port default {DEFAULT_PORT})",
    )
    p.add_argument(
        "file",
        nargs="?",
        default=None,
        help="optional: the scenario you expect; refused when the master runs another",
    )
    p.add_argument("--name", default=None, help="this worker's name in rows (default HOST-PID)")
    p.add_argument(
        "--out", type=Path, default=None, help="this worker's directory (default: a temp dir)"
    )


def add_master_args(p: argparse.ArgumentParser) -> None:
    """`voxsim load` flags for workers on other hosts (docs/distributed.md)."""
    p.add_argument(
        "--master-bind",
        default="127.0.0.1",
        metavar="ADDR",
        help="address the master listens on for workers (default 127.0.0.1)",
    )
    p.add_argument(
        "--master-port",
        type=int,
        default=0,
        help=f"master port (default {DEFAULT_PORT} with --expect-workers, else a free one)",
    )
    p.add_argument(
        "--expect-workers",
        type=int,
        default=0,
        help="workers on other hosts (`voxsim load-worker`) the run waits for",
    )


def _read_status(path: Path) -> dict[str, str]:
    try:
        data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data


def run_worker(args: argparse.Namespace) -> int:
    """`voxsim load-worker`: see the module doc; returns the exit code."""
    host, port = parse_master(args.master)
    sha = ""
    if args.file is not None:
        try:
            sha = text_digest(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read it: {exc}", where=str(args.file)) from None
    name = args.name or f"{os.uname().nodename}-{os.getpid()}"
    if not name.replace("-", "").replace("_", "").replace(".", "").isalnum() or len(name) > 64:
        raise UsageError(f"bad name {name!r}", where="--name", fix="letters, digits, - _ .")
    temp = args.out is None
    spool = Path(tempfile.mkdtemp(prefix=f"voxsim-worker-{name}-")) if temp else args.out
    try:
        spool.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create it: {exc.strerror}", where=f"--out {spool}") from None
    status = spool / "worker_status.json"
    status.unlink(missing_ok=True)
    log = spool / "locust-worker.log"
    print(f"voxsim load-worker {name}: connecting to {host}:{port} (log {log})", flush=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            worker_argv(host, port),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
            env=worker_env(name, spool, status, sha),
            start_new_session=True,  # our Ctrl-C reaches it through us, in order
        )
    code = _follow(proc, status)
    if temp and code != EXIT_AGENT_FAILED:  # keep its log only when something failed
        shutil.rmtree(spool, ignore_errors=True)
    return code


def _follow(proc: subprocess.Popen[bytes], status: Path) -> int:
    """Print state changes until the locust worker ends; stop it on Ctrl-C/SIGTERM."""
    stop = {"signal": False}

    def on_signal(signum: int, _frame: object) -> None:
        stop["signal"] = True

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    shown = ""
    try:
        while proc.poll() is None and not stop["signal"]:
            state = _read_status(status)
            if state.get("state") and state["state"] != shown:
                shown = state["state"]
                if shown in ("connected", "rendering", "ready"):
                    print(f"voxsim load-worker: {shown}", flush=True)
            time.sleep(0.2)
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        for s, handler in old.items():
            signal.signal(s, handler)
    state = _read_status(status)
    if state.get("state") == "refused":
        print(f"voxsim: refused by the master: {state.get('reason')}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if stop["signal"]:
        print("voxsim load-worker: stopped", flush=True)
        return EXIT_AGENT_FAILED
    if state.get("state") == "failed":
        print(f"voxsim load-worker: {state.get('reason')}", file=sys.stderr)
        return EXIT_AGENT_FAILED
    if state.get("state") != "done" or proc.returncode not in (0, None):
        print(
            f"voxsim load-worker: the locust worker ended ({proc.returncode}) in state "
            f"{state.get('state') or 'not connected'}; see its log",
            file=sys.stderr,
        )
        return EXIT_AGENT_FAILED
    print("voxsim load-worker: the run ended", flush=True)
    return EXIT_OK
