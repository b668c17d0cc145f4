"""A locust worker's call engine child, and how a worker reports to the master.

`EngineClient` starts the call engine (`python -m simulator.load.engine`, asyncio,
its own process so the audio pacing is not under gevent), hands it calls over its
stdin, fires each turn and call it reports as a locust request (so locust's stats
count them) and batches the events for the master every FLUSH_S; it samples how
busy the engine's event loop is each CPU_SAMPLE_S. `send`, `leave` and
`set_status` are the worker's messages to the master and to `voxsim load-worker`.
Loaded only in locust's (gevent-patched) processes, through locustfile.py.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import gevent
from gevent.event import AsyncResult
from locust.env import Environment
from locust.exception import StopUser
from locust.rpc import Message
from locust.runners import WorkerRunner

from simulator.load.cluster import ThreadLoad, wall_clock
from simulator.load.config import CONFIG_ENV
from simulator.load.engine import AUDIO_DIR_ENV, worker_name
from simulator.load.remote import STATUS_ENV

FLUSH_S = 0.2
CPU_SAMPLE_S = 1.0
#: this worker's last state, as `voxsim load-worker` reads it
_state = ""


def send(env: Environment, kind: str, data: Any) -> None:
    """A custom message to the other side (master or worker) over locust's channel."""
    if env.runner is not None:
        env.runner.send_message(kind, data)


def leave(env: Environment) -> None:
    """A worker leaves the run on its own (refused, or its engine died): locust's
    `client_stopped` first, so the master drops it like a stopped worker instead of
    ending the test when it was the only one connected; then quit."""
    runner = env.runner
    if isinstance(runner, WorkerRunner):
        runner.client.send(Message("client_stopped", None, runner.client_id))
        gevent.spawn(runner.quit)


def set_status(state: str, reason: str = "") -> None:
    """Tell `voxsim load-worker` where this worker is (connected, ready, refused, failed)."""
    global _state
    if _state in ("refused", "failed"):
        return  # the reason it ends stays the last word
    _state = state
    path = os.environ.get(STATUS_ENV)
    if path:
        tmp = Path(path + ".tmp")
        tmp.write_text(json.dumps({"state": state, "reason": reason}), encoding="utf-8")
        tmp.replace(path)


class EngineClient:
    """This worker's call engine child and the greenlets that talk to it."""

    def __init__(
        self, env: Environment, config_path: Path, audio_dir: Path | None, profile: str
    ) -> None:
        self.env = env
        self.profile = profile  # the name locust's stats count calls and turns under
        self.worker = worker_name()
        child_env = dict(os.environ, **{CONFIG_ENV: str(config_path)})
        if audio_dir is not None:
            child_env[AUDIO_DIR_ENV] = str(audio_dir)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.load.engine"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env,
        )
        self.ready = AsyncResult()
        self.pending: dict[int, AsyncResult] = {}
        self.outbox: list[dict[str, Any]] = []
        self.numbers = itertools.count()
        self.dead = False
        self.closing = False
        self._reader = gevent.spawn(self._read)
        gevent.spawn(self._flush)
        gevent.spawn(self._watch)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            msg = json.loads(line)
            if msg["type"] == "event":
                self._fire(msg["event"])
                self.outbox.append(msg["event"])
            elif msg["type"] == "done":
                waiter = self.pending.pop(int(msg["req"]), None)
                if waiter is not None:
                    waiter.set(msg)
            elif msg["type"] == "ready":
                self.ready.set(True)
                set_status("ready")
                send(
                    self.env,
                    "voxsim_ready",
                    {"worker": self.worker, "render_sha": msg["render_sha"]},
                )
        self.dead = True
        if not self.closing:
            was_ready = self.ready.ready() and self.ready.get()
            reason = f"{self.worker}: call engine exited" + (
                "" if was_ready else " before it was ready"
            )
            set_status("failed", reason)
            # A dead engine is the harness failing, not the agent: a local run ends (exit 3);
            # a worker quits, and the master goes on with the others.
            send(self.env, "voxsim_failed", {"worker": self.worker, "reason": reason})
            leave(self.env)
        self.ready.set(False)
        for waiter in self.pending.values():
            waiter.set({"status": "failed", "error": "call engine exited"})

    def _fire(self, event: dict[str, Any]) -> None:
        """Count the turn/call in locust's own statistics."""
        latency = event.get("latency_ms")
        if event["kind"] == "start":
            return
        if event["kind"] == "turn":
            if event.get("type") != "say":
                return
            failed = latency is None
            rtype, value = "turn", float(latency or 0.0)
        else:
            failed = event.get("status") != "ok"
            rtype, value = "call", float(event.get("duration_s") or 0.0) * 1000
        self.env.events.request.fire(
            request_type=rtype,
            name=self.profile,
            response_time=value,
            response_length=0,
            exception=RuntimeError(event.get("error") or "no reply") if failed else None,
            context={},
        )

    def _flush(self) -> None:
        while True:
            gevent.sleep(FLUSH_S)
            self.send_outbox()

    def send_outbox(self) -> None:
        if self.outbox:
            batch, self.outbox = self.outbox, []
            data = {"worker": self.worker, "sent": wall_clock(), "events": batch}
            send(self.env, "voxsim_events", data)

    def _watch(self) -> None:
        """Each second: how busy the engine's event loop (the pacing thread) and this relay are."""
        loop, me = ThreadLoad(self.proc.pid), ThreadLoad(os.getpid())
        while not self.dead:
            gevent.sleep(CPU_SAMPLE_S)
            engine, relay = loop.sample(), me.sample()
            if engine is None or not self.ready.ready():
                continue
            event = {"kind": "cpu", "worker": self.worker, "at": wall_clock()}
            event.update(loop_cpu=engine["cpu"], loop_busy=engine["busy"])
            if relay is not None:
                event["relay_cpu"] = relay["cpu"]
            self.outbox.append(event)

    def caller(self, delta: int) -> None:
        """A caller (User) started (+1) or stopped after its last call (-1)."""
        event = {"kind": "caller", "worker": self.worker, "delta": delta, "at": wall_clock()}
        self.outbox.append(event)

    def call(self) -> dict[str, Any]:
        """Place one call and wait (cooperatively) until it ends."""
        if not self.ready.get() or self.dead:
            raise StopUser()
        number = next(self.numbers)
        waiter = AsyncResult()
        self.pending[number] = waiter
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"type": "call", "req": number}) + "\n")
        self.proc.stdin.flush()
        result: dict[str, Any] = waiter.get()
        return result

    def close(self) -> None:
        """Let the flusher send what is left, end the engine (stdin EOF), reap it."""
        self.closing = True
        gevent.sleep(FLUSH_S * 2)
        self.send_outbox()
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        # Rows of the calls the engine cut short as it ended come after stdin closed:
        # read to the end of its output and send them too (a soak loses no call).
        self._reader.join(timeout=5)
        self.send_outbox()
