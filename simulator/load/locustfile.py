"""The locust side of `voxsim load`: one User is one caller, one task is one call.

Loaded only by locust's own processes (`python -m locust -f THIS`), which
gevent monkey-patches; nothing else in voxsim imports this module. A worker
(or the single local process) starts one call engine child (engine.py) and
hands it each call; the engine's turn and call events are fired as locust
requests (so locust's own stats and CSVs count them) and forwarded to the
master, whose Conductor (conductor.py) turns them into load.jsonl rows and
picks the next step's concurrency through the shape's `tick()`.
"""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import time
from typing import Any

import gevent
from gevent.event import AsyncResult
from locust import LoadTestShape, User, between, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import MasterRunner, WorkerRunner

from simulator.load.conductor import Conductor
from simulator.load.config import CONFIG_ENV, LoadConfig
from simulator.load.engine import worker_name
from simulator.load.steps import Limits

CFG = LoadConfig.read(os.environ[CONFIG_ENV])
FLUSH_S = 0.2

ENGINE: EngineClient | None = None
CONDUCTOR: Conductor | None = None


class EngineClient:
    """This worker's call engine child and the greenlets that talk to it."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.worker = worker_name()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "simulator.load.engine"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.ready = AsyncResult()
        self.pending: dict[int, AsyncResult] = {}
        self.outbox: list[dict[str, Any]] = []
        self.numbers = itertools.count()
        self.dead = False
        self.closing = False
        gevent.spawn(self._read)
        gevent.spawn(self._flush)

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
                _send(self.env, "voxsim_ready", {"worker": self.worker})
        self.dead = True
        if not self.closing:
            # A dead engine is the harness failing, not the agent: end the run (exit 3).
            _send(self.env, "voxsim_failed", {"reason": f"{self.worker}: call engine exited"})
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
            name=CFG.profile,
            response_time=value,
            response_length=0,
            exception=RuntimeError(event.get("error") or "no reply") if failed else None,
            context={},
        )

    def _flush(self) -> None:
        while True:
            gevent.sleep(FLUSH_S)
            if self.outbox:
                batch, self.outbox = self.outbox, []
                _send(self.env, "voxsim_events", batch)

    def caller(self, delta: int) -> None:
        """A caller (User) started (+1) or stopped after its last call (-1)."""
        event = {"kind": "caller", "worker": self.worker, "delta": delta, "at": time.time()}
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
        if self.outbox:
            batch, self.outbox = self.outbox, []
            _send(self.env, "voxsim_events", batch)
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def _send(env: Environment, kind: str, data: Any) -> None:
    if env.runner is not None:
        env.runner.send_message(kind, data)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    global ENGINE, CONDUCTOR
    runner = environment.runner
    if not isinstance(runner, WorkerRunner):
        limits = Limits(CFG.p95_limit_ms, CFG.max_error_rate)
        expected = CFG.workers if isinstance(runner, MasterRunner) else 1
        conductor = Conductor(CFG, limits, expected)
        CONDUCTOR = conductor
        assert runner is not None
        runner.register_message(
            "voxsim_ready", lambda msg, **kw: conductor.worker_ready(msg.data["worker"])
        )
        runner.register_message("voxsim_events", lambda msg, **kw: conductor.add_events(msg.data))
        runner.register_message(
            "voxsim_failed", lambda msg, **kw: conductor.worker_failed(msg.data["reason"])
        )
    if not isinstance(runner, MasterRunner):
        ENGINE = EngineClient(environment)


@events.quitting.add_listener
def _on_quit(environment: Environment, **_: Any) -> None:
    if ENGINE is not None:
        ENGINE.close()


class VoxsimCaller(User):
    """One simulated caller: places the scenario's calls back to back."""

    wait_time = between(0, CFG.pause_s)

    def on_start(self) -> None:
        if ENGINE is not None:
            ENGINE.caller(+1)

    def on_stop(self) -> None:
        if ENGINE is not None:
            ENGINE.caller(-1)

    @task
    def place_call(self) -> None:
        if ENGINE is None:
            raise StopUser()
        ENGINE.call()


class VoxsimShape(LoadTestShape):
    """The profile's steps (conductor.py) as locust user counts."""

    def tick(self) -> tuple[int, float] | None:
        return CONDUCTOR.tick(time.time()) if CONDUCTOR is not None else None
