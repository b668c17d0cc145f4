"""The discrete-event model of a deployment, in virtual milliseconds.

Built on SimPy (a well-kept process-based DES library): a caller is a
generator that speaks, walks its turn through the stages and listens, and a
stage's pool is a `simpy.Resource` with servers x slots places and a FIFO
queue. That reads like the call it models, where a hand-rolled heapq loop
would spread one turn over several event handlers. Nothing here sleeps or
touches the wall clock: an hour of traffic costs only the CPU of its events.

The load balancer is idealised: one FIFO queue per pool, and the next request
takes any free slot on any instance (join-the-idle-slot). Real balancers that
pin a request to an instance on arrival queue a little more; see docs/capacity.md.
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from simulator.capacity.config import CapacityConfig, Stage
from simulator.capacity.service import Sampler, sampler, stream


@dataclass(slots=True)
class TurnRecord:
    """One caller turn: where its latency began and how it was spent, per stage."""

    caller: int
    call: int
    turn: int
    #: virtual ms of the end of the caller's speech (where voice-to-voice latency starts)
    at_ms: float
    latency_ms: float
    wait_ms: dict[str, float]
    service_ms: dict[str, float]


@dataclass
class Pool:
    """A stage's instances: `resource` is None for an unlimited stage (a pure delay)."""

    stage: Stage
    service: Sampler
    hold: Sampler | None
    skip: random.Random
    resource: simpy.Resource | None
    #: slot-ms busy inside the measurement window (for utilisation)
    busy_ms: float = 0.0
    window: tuple[float, float] = (0.0, 0.0)
    holding: dict[int, float] = field(default_factory=dict)

    def count(self, start: float, end: float) -> None:
        """Add a slot's busy interval [start, end) clipped to the window."""
        lo, hi = max(start, self.window[0]), min(end, self.window[1])
        if hi > lo:
            self.busy_ms += hi - lo


@dataclass
class Trace:
    """Everything one simulated load level produced."""

    level: float
    turns: list[TurnRecord]
    pools: dict[str, Pool]
    window_ms: tuple[float, float]
    calls_started: int
    #: virtual ms at which the last turn finished (the queues drained)
    end_ms: float


def simulate(cfg: CapacityConfig, level: float | None = None) -> Trace:
    """Run the deployment at `level` (callers, or calls per minute for open traffic).

    `level` None uses the file's own traffic. New turns stop at the end of
    the window; turns already under way finish, so a slow reply that began
    inside the window is counted rather than cut off.
    """
    closed = cfg.closed
    if level is None:
        level = float(cfg.traffic.callers or cfg.traffic.calls_per_min or 0.0)
    env = simpy.Environment()
    w0 = cfg.window.warmup_s * 1000.0
    w1 = w0 + cfg.window.duration_s * 1000.0
    pools = {s.name: _pool(env, s, cfg.seed, (w0, w1)) for s in cfg.stages}
    turns: list[TurnRecord] = []
    calls = [0]
    t = cfg.traffic
    speak = sampler(t.speak_ms, stream(cfg.seed, "speak"))
    listen = sampler(t.listen_ms, stream(cfg.seed, "listen"))

    def turn(caller: int, call: int, k: int) -> Generator[Any, Any, None]:
        if (said := speak()) > 0:
            yield env.timeout(said)
        t0 = env.now
        wait: dict[str, float] = {}
        served: dict[str, float] = {}
        for pool in pools.values():
            if pool.stage.probability < 1.0 and pool.skip.random() >= pool.stage.probability:
                continue
            wait[pool.stage.name], served[pool.stage.name] = yield from _visit(env, pool)
        if w0 <= t0 < w1:
            turns.append(TurnRecord(caller, call, k, t0, env.now - t0, wait, served))
        if (heard := listen()) > 0:
            yield env.timeout(heard)

    def one_call(caller: int) -> Generator[Any, Any, None]:
        call = calls[0]
        calls[0] += 1
        for k in range(t.turns_per_call):
            if env.now >= w1:
                return
            yield from turn(caller, call, k)

    def closed_caller(i: int, n: int) -> Generator[Any, Any, None]:
        yield env.timeout(t.ramp_s * 1000.0 * i / n)
        while env.now < w1:
            yield from one_call(i)

    def arrivals(per_min: float) -> Generator[Any, Any, None]:
        rng = stream(cfg.seed, "arrivals")
        rate = per_min / 60_000.0
        i = 0
        while True:
            yield env.timeout(rng.expovariate(rate))
            if env.now >= w1:
                return
            env.process(one_call(i))
            i += 1

    if closed:
        n = int(level)
        for i in range(n):
            env.process(closed_caller(i, n))
    else:
        env.process(arrivals(level))
    env.run()
    for pool in pools.values():
        for start in pool.holding.values():
            pool.count(start, env.now)
    return Trace(level, turns, pools, (w0, w1), calls[0], env.now)


def _pool(env: simpy.Environment, stage: Stage, seed: int, window: tuple[float, float]) -> Pool:
    cap, hold = stage.capacity, stage.hold_ms
    return Pool(
        stage=stage,
        service=sampler(stage.service_ms, stream(seed, f"stage:{stage.name}")),
        hold=None if hold is None else sampler(hold, stream(seed, f"hold:{stage.name}")),
        skip=stream(seed, f"skip:{stage.name}"),
        resource=None if cap is None else simpy.Resource(env, capacity=cap),
        window=window,
    )


def _visit(env: simpy.Environment, pool: Pool) -> Generator[Any, Any, tuple[float, float]]:
    """Queue for a slot, be served; return (wait, service) in ms."""
    service = pool.service()
    if pool.resource is None:
        yield env.timeout(service)
        return 0.0, service
    asked = env.now
    req = pool.resource.request()
    yield req
    start = env.now
    pool.holding[id(req)] = start
    yield env.timeout(service)
    hold = pool.hold() if pool.hold is not None else 0.0
    if hold > 0:
        env.process(_release_after(env, pool, req, hold))
    else:
        _release(env, pool, req)
    return start - asked, service


def _release_after(
    env: simpy.Environment, pool: Pool, req: Any, hold: float
) -> Generator[Any, Any, None]:
    yield env.timeout(hold)
    _release(env, pool, req)


def _release(env: simpy.Environment, pool: Pool, req: Any) -> None:
    assert pool.resource is not None
    pool.count(pool.holding.pop(id(req)), env.now)
    pool.resource.release(req)
