"""The locust side of `voxsim load`: one User is one caller, one task is one call.

Loaded only by locust's own processes (`python -m locust -f THIS`), which
gevent monkey-patches; nothing else in voxsim imports this module. A worker
(or the single local process) starts one call engine child (engine.py, through
engine_client.py) and hands it each call; the engine's turn and call events (each with its row)
are fired as locust requests (so locust's own stats and CSVs count them) and
forwarded to the master as locust custom messages, whose Conductor
(conductor.py) turns them into load.jsonl rows and picks the next step's
concurrency through the shape's `tick()`.

Master <-> worker messages (locust `register_message` / `send_message`, over
locust's ZeroMQ channel; cluster.py says what each side checks):

    worker -> master  voxsim_hello   {worker, version, scenario_sha?}
    master -> worker  voxsim_config  {config, scenario_name, scenario_text}
                      voxsim_refused {reason}            (the worker prints it, exits 2)
    worker -> master  voxsim_ready   {worker, render_sha} (its audio is rendered)
                      voxsim_events  {worker, sent, events}   every FLUSH_S
                      voxsim_failed  {reason}            (its call engine died)

The master and a local run read the config from VOXSIM_LOAD_CONFIG; a worker
gets it from the master. Users go only to workers the conductor admitted
(`AdmittedDispatcher`): every ready worker at the start, a late one at the
next step; a worker locust marks missing is dropped, its calls in flight are
recorded as failed and its users go to the others.
"""

from __future__ import annotations

import os
import random
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import gevent
from locust import LoadTestShape, User, events, task
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import STATE_MISSING, MasterRunner, WorkerNode, WorkerRunner

from simulator.load.cluster import (
    ClockOffsets,
    RowWriter,
    refusal,
    text_digest,
    voxsim_version,
)
from simulator.load.conductor import Conductor
from simulator.load.config import CONFIG_ENV, CONFIG_FILE, LoadConfig
from simulator.load.engine import worker_name
from simulator.load.engine_client import EngineClient, leave, send, set_status
from simulator.load.remote import EXPECT_SHA_ENV, SPOOL_ENV
from simulator.load.steps import Limits

CFG: LoadConfig | None = (
    LoadConfig.read(os.environ[CONFIG_ENV]) if CONFIG_ENV in os.environ else None
)
ENGINE: EngineClient | None = None
MASTER: MasterSide | None = None


def cfg() -> LoadConfig:
    assert CFG is not None, "no load configuration yet"
    return CFG


class MasterSide:
    """The master's (or a local run's) half: conductor, row files, clocks, admission."""

    def __init__(self, env: Environment, config: LoadConfig) -> None:
        self.env = env
        self.cfg = config
        self.scenario_text = Path(config.scenario).read_text(encoding="utf-8")
        self.scenario_sha = text_digest(self.scenario_text)
        expected = config.workers + config.expect_workers if self._distributed else 1
        limits = Limits(config.p95_limit_ms, config.max_error_rate)
        self.conductor = Conductor(config, limits, expected)
        self.rows = RowWriter(Path(config.out_dir))
        self.clocks = ClockOffsets()
        #: locust node id -> worker name, for every worker that said hello
        self.nodes: dict[str, str] = {}
        self.lost: set[str] = set()
        runner = env.runner
        assert runner is not None
        for kind, handler in (
            ("voxsim_hello", self.on_hello),
            ("voxsim_ready", self.on_ready),
            ("voxsim_events", self.on_events),
            ("voxsim_failed", self.on_failed),
        ):
            runner.register_message(kind, handler)

    @property
    def _distributed(self) -> bool:
        return isinstance(self.env.runner, MasterRunner)

    def refuse(self, node: str, reason: str) -> None:
        self.env.runner.send_message("voxsim_refused", {"reason": reason}, client_id=node)  # type: ignore[union-attr]

    def on_hello(self, msg: Any, **_: Any) -> None:
        reason = refusal(msg.data, self.scenario_sha, set(self.nodes.values()))
        if reason:
            self.refuse(msg.node_id, reason)
            return
        self.nodes[msg.node_id] = str(msg.data["worker"])
        data = {
            "config": asdict(self.cfg),
            "scenario_name": Path(self.cfg.scenario).name,
            "scenario_text": self.scenario_text,
        }
        self.env.runner.send_message("voxsim_config", data, client_id=msg.node_id)  # type: ignore[union-attr]

    def on_ready(self, msg: Any, **_: Any) -> None:
        worker = str(msg.data["worker"])
        if self.cfg.render_sha and msg.data.get("render_sha") != self.cfg.render_sha:
            reason = (
                "worker rendered different caller audio than the master (another eSpeak/Piper "
                "version, or a file the scenario names differs on that host)"
            )
            self.refuse(msg.node_id, reason)
            return
        self.conductor.worker_ready(worker)

    def on_events(self, msg: Any, **_: Any) -> None:
        data = msg.data
        worker = str(data["worker"])
        if worker in self.lost:
            return  # its calls were recorded as failed when it went missing
        offset = self.clocks.update(worker, float(data["sent"]), time.time())
        batch = data["events"]
        for e in batch:
            e["at"] = float(e["at"]) + offset
            row = e.pop("row", None)
            if row is not None:
                row["load_at"] = e["at"]
                self.rows.write(
                    worker, "turns.jsonl" if e["kind"] == "turn" else "calls.jsonl", row
                )
            elif e["kind"] == "start":  # every call placed: a soak checks none is lost
                self.rows.write(worker, "placed.jsonl", {"call_id": e["call_id"], "at": e["at"]})
        self.conductor.add_events(batch)

    def on_failed(self, msg: Any, **_: Any) -> None:
        if not self._distributed:
            self.conductor.worker_failed(msg.data["reason"])
        elif str(msg.data.get("worker")) in self.conductor.admitted:
            self.lose(str(msg.data["worker"]), time.time())
        # else: a worker that never became ready takes nothing down with it

    def lose(self, worker: str, now: float) -> None:
        if worker in self.lost:
            return
        self.lost.add(worker)
        for row in self.conductor.worker_lost(worker, now):
            self.rows.write(worker, "calls.jsonl", row)

    def watch_workers(self, now: float) -> None:
        """Workers locust lost (missing heartbeats, quit): their calls in flight failed."""
        runner = self.env.runner
        if not isinstance(runner, MasterRunner):
            return
        alive = {
            self.nodes[c.id]
            for c in runner.clients.values()
            if c.id in self.nodes and c.state != STATE_MISSING
        }
        for worker in sorted(self.conductor.admitted - alive - self.lost):
            self.lose(worker, now)

    def admitted_nodes(self, nodes: list[WorkerNode]) -> list[WorkerNode]:
        ok = self.conductor.admitted - self.lost
        return [n for n in nodes if self.nodes.get(n.id) in ok]

    def tick(self) -> tuple[int, float] | None:
        now = time.time()
        self.watch_workers(now)
        result = self.conductor.tick(now)
        runner = self.env.runner
        if self.conductor.redispatch and isinstance(runner, MasterRunner):
            # A new dispatcher (as locust makes for a lost worker) over the admitted workers,
            # and a start() even when the level did not change: each gets its share now.
            self.conductor.redispatch = False
            runner._users_dispatcher = None
            runner.shape_last_tick = None
        return result

    def close(self) -> None:
        self.rows.close()


class AdmittedDispatcher(UsersDispatcher):
    """locust's dispatcher over the workers the conductor admitted (see module doc)."""

    def __init__(self, worker_nodes: list[WorkerNode], user_classes: list[type[User]]) -> None:
        if MASTER is not None and MASTER.admitted_nodes(worker_nodes):
            worker_nodes = MASTER.admitted_nodes(worker_nodes)
        super().__init__(worker_nodes, user_classes)

    def add_worker(self, worker_node: WorkerNode) -> None:
        if MASTER is not None and not MASTER.admitted_nodes([worker_node]):
            return  # admitted at the conductor's next step, with a new dispatcher
        super().add_worker(worker_node)


class WorkerSide:
    """A worker's half: hello, the master's config, its own engine."""

    def __init__(self, env: Environment) -> None:
        self.env = env
        self.name = worker_name()
        spool = os.environ.get(SPOOL_ENV)
        self.spool = Path(spool) if spool else Path(tempfile.mkdtemp(prefix=f"voxsim-{self.name}-"))
        runner = env.runner
        assert runner is not None
        runner.register_message("voxsim_config", self.on_config)
        runner.register_message("voxsim_refused", self.on_refused)
        hello = {"worker": self.name, "version": voxsim_version()}
        if os.environ.get(EXPECT_SHA_ENV):
            hello["scenario_sha"] = os.environ[EXPECT_SHA_ENV]
        set_status("connected")
        send(env, "voxsim_hello", hello)

    def on_config(self, msg: Any, **_: Any) -> None:
        global CFG, ENGINE
        if ENGINE is not None:
            return
        data = msg.data
        self.spool.mkdir(parents=True, exist_ok=True)
        scenario = self.spool / Path(str(data["scenario_name"])).name
        scenario.write_text(str(data["scenario_text"]), encoding="utf-8")
        config = LoadConfig(**data["config"])
        config.scenario, config.out_dir = str(scenario), str(self.spool)
        CFG = config
        set_status("rendering")
        ENGINE = EngineClient(
            self.env, config.write(self.spool / CONFIG_FILE), self.spool, config.profile
        )

    def on_refused(self, msg: Any, **_: Any) -> None:
        reason = str(msg.data.get("reason") or "refused")
        set_status("refused", reason)
        print(f"voxsim: refused by the master: {reason}", file=sys.stderr, flush=True)
        if ENGINE is not None:
            ENGINE.closing = True
            ENGINE.proc.kill()
        leave(self.env)


@events.init.add_listener
def _on_init(environment: Environment, **_: Any) -> None:
    global ENGINE, MASTER
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        WorkerSide(environment)
        return
    MASTER = MasterSide(environment, cfg())
    environment.dispatcher_class = AdmittedDispatcher
    environment.events.test_stop.add_listener(_on_test_stop)
    if not isinstance(runner, MasterRunner):
        ENGINE = EngineClient(environment, Path(os.environ[CONFIG_ENV]), None, cfg().profile)


def _on_test_stop(environment: Environment, **_: Any) -> None:
    """locust stops a distributed test by itself when its last worker is gone (the shape
    then never ticks again): record why, and quit instead of waiting forever."""
    runner = environment.runner
    if MASTER is None or not isinstance(runner, MasterRunner) or runner.worker_count > 0:
        return
    if MASTER.conductor.status not in ("completed", "capped", "failed"):
        MASTER.conductor.worker_failed("every worker was lost")
        gevent.spawn(runner.quit)


@events.quitting.add_listener
def _on_quit(environment: Environment, **_: Any) -> None:
    if ENGINE is not None:
        ENGINE.close()
    if MASTER is not None:
        MASTER.close()
    if isinstance(environment.runner, WorkerRunner):
        set_status("done")


#: A caller whose call failed before its first turn (refused: the agent is full, or
#: its balancer marked it down) redials after uniform(this) seconds, as a person
#: given a busy signal does, not within `pause_s`: 48 callers redialling at once
#: placed ~100 refused calls a second and ran into --max-calls.
REDIAL_S = (1.0, 3.0)


class VoxsimCaller(User):
    """One simulated caller: places the scenario's calls back to back."""

    refused = False

    def wait_time(self) -> float:
        if self.refused:
            return random.uniform(*REDIAL_S)
        return random.uniform(0.0, cfg().pause_s)

    def on_start(self) -> None:
        if ENGINE is not None:
            ENGINE.caller(+1)
        if cfg().stagger_s != 0:
            # locust starts a step's users a batch a second (the spawn rate, rounded
            # down); within the batch they would all dial in the same millisecond.
            gevent.sleep(random.uniform(0.0, 1.0))

    def on_stop(self) -> None:
        if ENGINE is not None:
            ENGINE.caller(-1)

    @task
    def place_call(self) -> None:
        if ENGINE is None:
            raise StopUser()
        done = ENGINE.call()
        self.refused = done.get("status") != "ok" and not done.get("turns")


class VoxsimShape(LoadTestShape):
    """The profile's steps (conductor.py) as locust user counts."""

    def tick(self) -> tuple[int, float] | None:
        return MASTER.tick() if MASTER is not None else None
