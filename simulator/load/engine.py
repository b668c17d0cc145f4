"""A locust worker's call engine: a plain asyncio process that places the calls.

`python -m simulator.load.engine` (VOXSIM_LOAD_CONFIG, VOXSIM_LOAD_WORKER in
the environment). It is a child of a locust worker but never imports locust,
so gevent's monkey-patching never reaches the event loop that paces caller
audio, nor aiortc. It loads every call plan's caller audio from the render
cache (pre-rendered by the controller) before it says it is ready, so the
load measures the agent, not speech synthesis.

Protocol, one JSON object per line: the worker writes
`{"type": "call", "req": N}`; the engine answers with `{"type": "event",
"event": {...}}` for every turn and call as it is measured (steps.py) and
`{"type": "done", "req": N, "status": ..., "turns": T}` when call N ends. Standard input
closing ends the engine (calls still running are cancelled; their rows so far
are kept). Each turn and call event carries its full row (`row`): the worker
forwards it to the master, which writes DIR/workers/WORKER/{calls,turns}.jsonl
(cluster.py), so the engine itself writes only WAVs (--keep-audio) into its
own directory, which may be on another host.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any, TextIO

from simulator import call as one_call
from simulator.caller.render import Rendered, render_call_full
from simulator.conversation.voice import shared_voice_pool
from simulator.load.cluster import render_digest, wall_clock
from simulator.load.config import CONFIG_ENV, WORKER_ENV, LoadConfig
from simulator.matrix import CallPlan, expand
from simulator.rows import TurnRow
from simulator.scenario import load_scenario
from simulator.store import RunStore
from simulator.transports.registry import transport_for

#: Distinct calls (matrix cells x repeats) a load run cycles through.
MAX_PLANS = 64
#: Where the engine writes WAVs (--keep-audio); default DIR/workers/WORKER.
AUDIO_DIR_ENV = "VOXSIM_LOAD_AUDIO_DIR"


def worker_name() -> str:
    """This worker's name in rows and file names (set by the controller, else host-pid)."""
    return os.environ.get(WORKER_ENV) or f"{socket.gethostname()}-{os.getpid()}"


class LoadStore(RunStore):
    """A worker's calls: every row becomes an event (with the row) for the master."""

    def __init__(
        self, root: Path, worker: str, out: TextIO, keep_audio: bool, audio_format: str = "wav"
    ) -> None:
        # Not RunStore.__init__: the master writes the rows; only recordings land in `root`.
        self.root = root
        self.audio_format = audio_format
        self.run = {}
        self.worker = worker
        self.out = out
        self.keep_audio = keep_audio
        #: wall clock just before each running call connected (its timeline's 0, +connect time)
        self.call_started: dict[str, float] = {}

    def emit(self, message: dict[str, Any]) -> None:
        """One protocol line to the locust worker."""
        self.out.write(json.dumps(message, default=str) + "\n")
        self.out.flush()

    def add_turn(self, row: TurnRow) -> None:
        # A turn belongs to the moment its latency began: the caller's speech end
        # (wall clock of the call's start + its timeline offset); else its row's end.
        began = self.call_started.get(row["call_id"])
        end_s = row.get("speech_end_s")
        at = began + float(end_s) if began is not None and end_s is not None else wall_clock()
        event = {
            "kind": "turn",
            "worker": self.worker,
            "call_id": row["call_id"],
            "turn": row["turn"],
            "type": row["kind"],
            "latency_ms": row.get("latency_ms"),
            "error": row.get("error"),
            "at": at,
            "row": {**row, "load_worker": self.worker, "load_at": at},
        }
        self.emit({"type": "event", "event": event})

    def add_call(self, row: Mapping[str, Any]) -> None:
        at = wall_clock()
        self.call_started.pop(str(row.get("call_id")), None)
        event = call_event(row, self.worker, at)
        event["row"] = {**row, "load_worker": self.worker, "load_at": at}
        self.emit({"type": "event", "event": event})

    def write_audio(self, call_id: str, caller: Any, agent: Any) -> str:
        if not self.keep_audio:
            return ""
        (self.root / "audio").mkdir(parents=True, exist_ok=True)
        return super().write_audio(call_id, caller, agent)

    def close(self) -> None:
        """Nothing to close: rows went out as events."""


def call_event(row: Mapping[str, Any], worker: str, at: float) -> dict[str, Any]:
    """The compact `call` event of a call row."""
    return {
        "kind": "call",
        "worker": worker,
        "call_id": row.get("call_id"),
        "status": row.get("status"),
        "error": row.get("error"),
        "lateness_ms": row.get("max_send_lateness_ms"),
        "duration_s": row.get("duration_s"),
        #: 0 for a call that never reached its first turn (e.g. the agent is unreachable)
        "turns": row.get("n_turns") or 0,
        "at": at,
    }


class Engine:
    """Places calls on request, many at once, on one event loop."""

    def __init__(self, cfg: LoadConfig, worker: str, out: TextIO) -> None:
        self.cfg = cfg
        self.worker = worker
        root = Path(os.environ.get(AUDIO_DIR_ENV) or Path(cfg.out_dir) / "workers" / worker)
        self.store = LoadStore(root, worker, out, cfg.keep_audio, cfg.audio_format)
        self.plans: list[CallPlan] = []
        self.rendered: list[Rendered] = []
        #: Goal-driven callers' lines, rendered in one process all this worker's calls share.
        self.voices: ProcessPoolExecutor | None = None

    async def prepare(self) -> None:
        """Load every plan's caller audio (a render-cache hit after the controller's pass)."""
        scenario = load_scenario(self.cfg.scenario)
        self.plans = expand(scenario, self.cfg.scenario)[:MAX_PLANS]
        for plan in self.plans:
            self.rendered.append(await render_call_full(plan.scenario, plan.seed))
        if scenario.conversation is not None:
            self.voices = shared_voice_pool()
        digest = render_digest(self.rendered)
        ready = {"type": "ready", "worker": self.worker, "plans": len(self.plans)}
        self.store.emit({**ready, "render_sha": digest})

    async def place(self, req: int) -> None:
        """Call number `req` of this worker, cycling through the plans."""
        plan = self.plans[req % len(self.plans)]
        call_id = f"{plan.call_id}-{self.worker}-{req:05d}"
        status, error, turns = "ok", None, 0
        now = wall_clock()
        self.store.call_started[call_id] = now
        start = {"kind": "start", "worker": self.worker, "call_id": call_id, "at": now}
        self.store.emit({"type": "event", "event": start})
        try:
            row = await one_call.run_call(
                plan.scenario,
                transport_for(self.cfg.agent_url),
                call_id,
                self.store,
                plan=plan,
                rendered=self.rendered[req % len(self.rendered)],
                measure=self.cfg.measure,
                voices=self.voices,
            )
            status, error, turns = row["status"], row["error"], row.get("n_turns") or 0
        except asyncio.CancelledError:
            # The run ended mid-call: the call was placed, so it gets its row.
            cut = {
                "call_id": call_id,
                "status": "cancelled",
                "error": "the load run ended mid-call",
            }
            self.store.add_call({**cut, "scenario": plan.scenario.name})
            raise
        except Exception as exc:  # the harness failed this call: count it, keep going
            status, error = "failed", f"harness: {exc!r}"
            failed = {"call_id": call_id, "status": status, "error": error}
            self.store.add_call({**failed, "scenario": plan.scenario.name})
        done = {"type": "done", "req": req, "status": status, "error": error, "turns": turns}
        self.store.emit(done)

    async def serve(self, requests: asyncio.StreamReader) -> None:
        """Answer requests until standard input closes."""
        tasks: set[asyncio.Task[None]] = set()
        while line := await requests.readline():
            msg = json.loads(line)
            if msg.get("type") == "call":
                task = asyncio.create_task(self.place(int(msg["req"])))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        for task in list(tasks):
            task.cancel()
        for task in list(tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.store.close()


async def _stdin_reader() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def amain(out: TextIO) -> None:
    """Prepare, say ready, serve."""
    cfg = LoadConfig.read(os.environ[CONFIG_ENV])
    engine = Engine(cfg, worker_name(), out)
    await engine.prepare()
    await engine.serve(await _stdin_reader())


def main() -> None:
    """Entry point: the protocol keeps the real stdout; anything else printed goes to stderr."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the worker above decides when to stop
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    one_call.console.quiet = True
    asyncio.run(amain(out))


if __name__ == "__main__":
    main()
