"""The discrete-event model of a deployment, in virtual milliseconds.

Built on SimPy (a well-kept process-based DES library): a caller is a
generator that speaks, walks its turn through the stages and listens. That
reads like the call it models, where a hand-rolled heapq loop would spread
one turn over several event handlers. Nothing here sleeps or touches the
wall clock: an hour of traffic costs only the CPU of its events.

This module puts one load level's model together and hands back what it
produced (`Trace`); each part has its own module: the stages' pools
(pool.py), the callers and their calls (traffic.py), one turn through the
stages (turn.py), a request at a stage with instances (visit.py), the
balancer and per-instance queues (balancer.py), the shared cores (cpu.py)
and a call's CPU between turns (callcpu.py), the autoscaler and random
crashes (autoscale.py), regions and round trips (regions.py).

Cheap where it can be: a fixed pool's wait is computed on arrival
(static.py), pure delays, the caller's listening and next speaking are
waited as one timeout, so a turn costs about one event per pool it visits;
turns are stored by column (record.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import simpy

from simulator.capacity.autoscale import Fleet
from simulator.capacity.callcpu import CallLoad
from simulator.capacity.config import CapacityConfig
from simulator.capacity.cpu import Box
from simulator.capacity.fast.rule import compiled_fits
from simulator.capacity.pool import Pool, build_pool
from simulator.capacity.record import ANSWERED, HUNG, LOST, TurnRecord, Turns
from simulator.capacity.regions import Regions
from simulator.capacity.traffic import Callers
from simulator.capacity.turn import TurnWalk
from simulator.capacity.visit import Call, Visits

__all__ = ["ANSWERED", "HUNG", "LOST", "Call", "Engine", "Pool", "Trace", "TurnRecord", "simulate"]

#: auto: compiled for fixed pools (fast/rule.py), else SimPy; or one of them by name
Engine = Literal["auto", "simpy", "compiled"]


@dataclass
class Trace:
    """Everything one simulated load level produced."""

    level: float
    table: Turns
    pools: dict[str, Pool]
    window_ms: tuple[float, float]
    calls_started: int
    #: virtual ms at which the last turn finished (the queues drained)
    end_ms: float
    calls_lost: int = 0
    calls_hung_up: int = 0
    calls_reconnected: int = 0
    #: (virtual ms, stage, region, instance) of each crash
    crashes: list[tuple[float, str, str, int]] = field(default_factory=list)
    #: per time bucket: virtual ms, and per stage the serving instances / queued requests
    samples: list[dict[str, Any]] = field(default_factory=list)
    bucket_ms: float = 0.0
    cpu_busy: float | None = None
    _records: list[TurnRecord] | None = None

    @property
    def turns(self) -> list[TurnRecord]:
        """Every measured turn as a record (built once, on first use)."""
        if self._records is None:
            self._records = self.table.records()
        return self._records


def simulate(cfg: CapacityConfig, level: float | None = None, engine: Engine = "auto") -> Trace:
    """Run the deployment at `level` (callers, or calls per minute for open traffic).

    `level` None uses the file's own traffic. New turns stop at the end of
    the window; turns already under way finish, so a slow reply that began
    inside the window is counted rather than cut off. Fixed pools run on the
    compiled engine (fast/), which gives the same trace as SimPy's, faster.
    """
    t = cfg.traffic
    at = float(level if level is not None else (t.callers or t.calls_per_min or 0.0))
    w0 = cfg.window.warmup_s * 1000.0
    window = (w0, w0 + cfg.window.duration_s * 1000.0)
    if engine == "compiled" or (engine == "auto" and compiled_fits(cfg)):
        if not compiled_fits(cfg):
            raise ValueError("the compiled engine runs fixed pools only (fast/rule.py)")
        from simulator.capacity.fast.run import simulate_fixed  # loads numba: only when used

        return simulate_fixed(cfg, at, window)
    env = simpy.Environment()
    box = Box(env, cfg.cpu.cores, cfg.cpu.usable) if cfg.cpu is not None else None
    regions = Regions(cfg)
    pools = {s.name: build_pool(env, cfg, regions, s, window) for s in cfg.stages}
    routes = regions.routes(pools)
    fleet = Fleet(env, cfg, pools, box, window)
    table = Turns([*pools, "rtt", "frames"])
    load: CallLoad | None = None
    if cfg.call_cpu is not None and box is not None:
        threads = next(s.threads for s in cfg.stages if s.name == cfg.call_cpu.stage)
        load = CallLoad(env, cfg.call_cpu, box, threads)
    visits = Visits(env, cfg, box, load)
    walk = TurnWalk(env, cfg, pools, regions, routes, visits, table, window)
    callers = Callers(env, cfg, walk, regions, window)
    callers.start(at)
    fleet.start()
    env.run()
    return Trace(
        level=at,
        table=table,
        pools=pools,
        window_ms=window,
        calls_started=callers.calls,
        end_ms=env.now,
        calls_lost=callers.lost,
        calls_hung_up=callers.hung,
        calls_reconnected=visits.reconnected,
        crashes=fleet.crashes,
        samples=fleet.samples,
        bucket_ms=fleet.bucket_ms,
        cpu_busy=fleet.cpu_busy,
    )
