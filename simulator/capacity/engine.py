"""The discrete-event model of a deployment, in virtual milliseconds.

Built on SimPy (a well-kept process-based DES library): a caller is a
generator that speaks, walks its turn through the stages and listens. That
reads like the call it models, where a hand-rolled heapq loop would spread
one turn over several event handlers. Nothing here sleeps or touches the
wall clock: an hour of traffic costs only the CPU of its events.

What a stage with instances is made of lives in its own module: the
balancer and per-instance queues (balancer.py), the shared cores
(cpu.py) and a call's CPU between turns (callcpu.py), the autoscaler and
random crashes (autoscale.py), regions and round trips (regions.py).
This module walks turns through them and keeps the books: latency, wait
vs service per stage, hang-ups, lost calls.

Cheap where it can be: a fixed pool's wait is computed on arrival
(static.py), pure delays, the caller's listening and next speaking are
waited as one timeout, so a turn costs about one event per pool it visits;
turns are stored by column (record.py).
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import simpy

from simulator.capacity.autoscale import Fleet
from simulator.capacity.balancer import FAILED, GRANTED, HUNG_UP, Group, Instance, Waiter
from simulator.capacity.callcpu import CallLoad
from simulator.capacity.config import CapacityConfig, Stage
from simulator.capacity.cpu import Box
from simulator.capacity.record import ANSWERED, HUNG, LOST, NAN, OUTCOMES, TurnRecord, Turns
from simulator.capacity.regions import Regions
from simulator.capacity.service import Sampler, sampler, stream
from simulator.capacity.static import Slots, StaticGroup

__all__ = ["ANSWERED", "HUNG", "LOST", "Trace", "TurnRecord", "simulate"]


@dataclass
class Pool:
    """A stage: its samplers and, unless unlimited, its instance groups (one per region)."""

    stage: Stage
    service: Sampler | None
    cpu: Sampler | None
    hold: Sampler | None
    skip: random.Random
    groups: dict[str, Group | StaticGroup] = field(default_factory=dict)
    #: instances at the start, over every region
    initial: int = 0
    #: (busy slot-ms, available slot-ms) at the window's start and end
    snaps: list[tuple[float, float]] = field(default_factory=list)

    @property
    def limited(self) -> bool:
        """Has instances (queues); False for a pure delay or CPU-only stage."""
        return bool(self.groups)

    def snapshot(self) -> None:
        """Record the slot integrals now (called at the window's start and end)."""
        busy = cap = 0.0
        for g in self.groups.values():
            if isinstance(g, Group):
                g.account()
                busy += g.busy_area
                cap += g.cap_area
        self.snaps.append((busy, cap))

    def utilisation(self) -> float | None:
        """Slot-time busy / slot-time available inside the window."""
        busy = cap = 0.0
        if len(self.snaps) >= 2:
            (b0, c0), (b1, c1) = self.snaps[0], self.snaps[-1]
            busy, cap = b1 - b0, c1 - c0
        for g in self.groups.values():
            if isinstance(g, StaticGroup):
                busy += g.busy_ms
                cap += g.capacity_ms()
        return busy / cap if cap > 0 else None


class Abort(Exception):
    """A turn ended without a reply: the caller hung up, or the call was lost."""

    def __init__(self, outcome: str) -> None:
        super().__init__(outcome)
        self.outcome = outcome


@dataclass
class Call:
    """One call's connections: the instance it is pinned to per group, and its epoch."""

    caller: int
    index: int
    region: str
    pins: dict[int, tuple[Any, Any, int]] = field(default_factory=dict)
    #: call_cpu: the call's latest work items on its process and in the generator
    frame: simpy.Event | None = None
    sent: simpy.Event | None = None
    ended: bool = False
    #: the caller reconnects after a drop (traffic.reconnect), and did
    reconnects: bool = False
    reconnected: bool = False


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


def simulate(cfg: CapacityConfig, level: float | None = None) -> Trace:
    """Run the deployment at `level` (callers, or calls per minute for open traffic).

    `level` None uses the file's own traffic. New turns stop at the end of
    the window; turns already under way finish, so a slow reply that began
    inside the window is counted rather than cut off.
    """
    return _Model(cfg, level).run()


class _Model:
    def __init__(self, cfg: CapacityConfig, level: float | None) -> None:
        self.cfg = cfg
        self.closed = cfg.closed
        t = cfg.traffic
        self.level = float(level if level is not None else (t.callers or t.calls_per_min or 0.0))
        self.env = env = simpy.Environment()
        self.w0 = cfg.window.warmup_s * 1000.0
        self.w1 = self.w0 + cfg.window.duration_s * 1000.0
        self.box = Box(env, cfg.cpu.cores) if cfg.cpu is not None else None
        self.regions = Regions(cfg)
        self.pools = {s.name: self._pool(s) for s in cfg.stages}
        self.routes = self.regions.routes(self.pools)
        #: per stage, what a turn needs first: (column, pool, probability, a pure
        #: delay?, its only group when there is no routing to do)
        self.plan = [
            (
                col,
                pool,
                pool.stage.probability,
                not pool.groups and pool.cpu is None,
                self._only(pool),
            )
            for col, pool in enumerate(self.pools.values())
        ]
        self.fleet = Fleet(env, cfg, self.pools, self.box, (self.w0, self.w1))
        self.turns = Turns([*self.pools, "rtt", "frames"])
        self.load: CallLoad | None = None
        if cfg.call_cpu is not None and self.box is not None:
            threads = next(s.threads for s in cfg.stages if s.name == cfg.call_cpu.stage)
            self.load = CallLoad(env, cfg.call_cpu, self.box, threads)
        self.calls = 0
        self.lost = 0
        self.hung = 0
        self.patience = math.inf if t.patience_s is None else t.patience_s * 1000.0
        self.speak = sampler(t.speak_ms, stream(cfg.seed, "speak"))
        self.listen = sampler(t.listen_ms, stream(cfg.seed, "listen"))
        self.where = stream(cfg.seed, "region")
        self.length = stream(cfg.seed, "call-length")
        self.redial = stream(cfg.seed, "reconnect")
        self.reconnected = 0

    def _pool(self, stage: Stage) -> Pool:
        seed, name = self.cfg.seed, stage.name
        pool = Pool(
            stage=stage,
            service=None
            if stage.service_ms is None
            else sampler(stage.service_ms, stream(seed, f"stage:{name}")),
            cpu=None
            if stage.cpu_ms is None
            else sampler(stage.cpu_ms, stream(seed, f"cpu:{name}")),
            hold=None
            if stage.hold_ms is None
            else sampler(stage.hold_ms, stream(seed, f"hold:{name}")),
            skip=stream(seed, f"skip:{name}"),
        )
        policy, route = self.cfg.policy(stage), self.cfg.routing(stage)
        carries = self.cfg.call_cpu is not None and self.cfg.call_cpu.stage == stage.name
        dynamic = stage.autoscale or stage.failures or stage.cpu_ms or carries
        for region, n in self.regions.deployment(stage).items():
            pool.initial += n
            if dynamic:
                pool.groups[region] = Group(self.env, stage, region, n, policy, route)
            else:
                window = (self.w0, self.w1)
                pool.groups[region] = StaticGroup(stage, region, n, policy, route, window)
        return pool

    def _only(self, pool: Pool) -> Group | StaticGroup | None:
        """The stage's single group without regions (no route to choose)."""
        if self.regions.enabled or len(pool.groups) != 1:
            return None
        return next(iter(pool.groups.values()))

    # -- the run -------------------------------------------------------------
    def run(self) -> Trace:
        env = self.env
        if self.closed:
            n = int(self.level)
            ramp = self.cfg.traffic.ramp_s * 1000.0
            for i in range(n):
                env.process(self._closed_caller(i, ramp * i / n))
            self._spike_callers(n)
        else:
            env.process(self._arrivals(self.level))
        self.fleet.start()
        env.run()
        return Trace(
            level=self.level,
            table=self.turns,
            pools=self.pools,
            window_ms=(self.w0, self.w1),
            calls_started=self.calls,
            end_ms=env.now,
            calls_lost=self.lost,
            calls_hung_up=self.hung,
            calls_reconnected=self.reconnected,
            crashes=self.fleet.crashes,
            samples=self.fleet.samples,
            bucket_ms=self.fleet.bucket_ms,
            cpu_busy=self.fleet.cpu_busy,
        )

    def _closed_caller(
        self, i: int, offset: float, until: float | None = None
    ) -> Generator[Any, Any, None]:
        if offset > 0:
            yield self.env.timeout(offset)
        region = self.regions.draw(self.where)
        end = self.w1 if until is None else min(until, self.w1)
        while self.env.now < end:
            yield from self._call(i, region)

    def _spike_callers(self, n: int) -> None:
        """Closed traffic's spike: (factor - 1) x N more callers for its duration."""
        spike = self.cfg.traffic.spike
        if spike is None:
            return
        extra = round(n * (spike.factor - 1.0))
        at, until = spike.at_s * 1000.0, (spike.at_s + spike.for_s) * 1000.0
        # they join over the file's ramp (at most the spike's length), not in one instant
        spread = min(self.cfg.traffic.ramp_s, spike.for_s) * 1000.0
        for j in range(extra):
            self.env.process(self._closed_caller(n + j, at + spread * j / extra, until))

    def _arrivals(self, per_min: float) -> Generator[Any, Any, None]:
        rng = stream(self.cfg.seed, "arrivals")
        rate = per_min / 60_000.0
        spike = self.cfg.traffic.spike
        t1 = t2 = math.inf
        if spike is not None:
            t1, t2 = spike.at_s * 1000.0, (spike.at_s + spike.for_s) * 1000.0
        i = 0
        while True:
            # thinning-free: the rate is piecewise constant, and memoryless
            # gaps can be redrawn at the edges of the spike
            now = self.env.now
            r = rate * spike.factor if spike is not None and t1 <= now < t2 else rate
            gap = rng.expovariate(r)
            edge = t1 if now < t1 else (t2 if now < t2 else math.inf)
            if now + gap >= edge:
                yield self.env.timeout(edge - now)
                continue
            yield self.env.timeout(gap)
            if self.env.now >= self.w1:
                return
            self.env.process(self._call(i, self.regions.draw(self.where)))
            i += 1

    def _call(self, caller: int, region: str) -> Generator[Any, Any, None]:
        env = self.env
        call = Call(caller, self.calls, region)
        share = self.cfg.traffic.reconnect
        call.reconnects = share > 0 and self.redial.random() < share
        self.calls += 1
        gap = 0.0  # the last reply's trailing delay and the caller's listening, not yet waited
        try:
            if self.load is not None:
                self._connect(call)
            for k in range(self._turns()):
                if env.now + gap >= self.w1:
                    break
                # listening to the last reply and speaking this turn: waited for
                # together with the turn's first delays (one event, not three)
                outcome, gap = yield from self._turn(call, k, gap + self.speak())
                gap += self.listen()
                if outcome != ANSWERED:
                    if outcome == LOST:
                        self.lost += 1
                    else:
                        self.hung += 1
                    break
            if gap > 0:
                yield env.timeout(gap)
        finally:
            call.ended = True
            for group, inst, epoch in call.pins.values():
                if inst.epoch == epoch:
                    inst.calls -= 1
                    if isinstance(group, Group):
                        group.retire_if_idle(inst)

    def _connect(self, call: Call) -> None:
        """call_cpu: place the call on its process now; its per-frame work starts."""
        assert self.load is not None and self.cfg.call_cpu is not None
        pool = self.pools[self.cfg.call_cpu.stage]
        group = self.routes.pick(pool, call.region, call)
        if not isinstance(group, Group):
            return
        inst = group.pick(call.caller)
        if inst is None:
            return  # nothing serves: its first turn finds that out
        inst.calls += 1
        call.pins[id(group)] = (group, inst, inst.epoch)
        self.load.start(call, group, inst)

    def _turns(self) -> int:
        """Turns of the next call: fixed, or geometric with the same mean (uneven calls)."""
        t = self.cfg.traffic
        if t.turns_spread == "fixed" or t.turns_per_call == 1:
            return t.turns_per_call
        u = 1.0 - self.length.random()  # in (0, 1]
        return 1 + int(math.log(u) / math.log(1.0 - 1.0 / t.turns_per_call))

    def _turn(self, call: Call, k: int, lead: float) -> Generator[Any, Any, tuple[str, float]]:
        """Walk one turn whose speech ends `lead` ms from now through the stages;
        (outcome, delay still to wait after it)."""
        env = self.env
        t0 = env.now + lead
        deadline = t0 + self.patience
        n = len(self.pools)
        wait = [NAN] * (n + 2)
        served = [NAN] * (n + 2)
        pending = lead  # time accumulated (speech, delays, computed waits), not yet waited
        here: str | None = None  # where the turn is: None at the caller, else a region
        rtt = 0.0
        outcome = ANSWERED
        try:
            if self.load is not None:
                # the agent must have processed the end of the speech first
                if pending:
                    yield env.timeout(pending)
                    pending = 0.0
                t_heard = env.now
                lag = yield from self.load.heard(call, deadline)
                if lag == math.inf:
                    if env.now >= deadline:
                        raise Abort(HUNG)
                    yield from self._reconnect(call, self.pools[self.load.rule.stage])
                    lag = env.now - t_heard
                wait[n + 1], served[n + 1] = lag, 0.0
            for col, pool, prob, plain, only in self.plan:
                if prob < 1.0 and pool.skip.random() >= prob:
                    continue
                if plain:  # a pure delay
                    d = pool.service() if pool.service is not None else 0.0
                    wait[col], served[col] = 0.0, d
                    pending += d
                    continue
                group = only
                if group is None and pool.groups:
                    group = self.routes.pick(pool, here or call.region, call)
                    if group is None:
                        raise Abort(LOST)  # no instance of this stage anywhere serves
                    if self.regions.enabled:
                        if here is None:
                            hop = self.regions.one_way(call.region, group.region, caller=True)
                        else:
                            hop = self.regions.one_way(here, group.region)
                        rtt += hop
                        pending += hop
                    here = group.region
                if pending:
                    # arrive at the stage at its time: queues see requests in arrival order
                    if env.now + pending > deadline:
                        yield env.timeout(max(0.0, deadline - env.now))
                        raise Abort(HUNG)
                    yield env.timeout(pending)
                    pending = 0.0
                if isinstance(group, StaticGroup):
                    got = self._computed(pool, group, call, deadline)
                    if got is None or env.now + got[0] + got[1] > deadline:
                        yield env.timeout(max(0.0, deadline - env.now))
                        raise Abort(HUNG)
                    w, sv = got
                    pending = w + sv
                else:
                    w, sv = yield from self._visit(pool, group, call, deadline)
                wait[col], served[col] = w, sv
            if here is not None and self.regions.enabled:
                back = self.regions.one_way(here, call.region, caller=True)
                rtt += back
                pending += back
            if rtt:
                wait[n], served[n] = 0.0, rtt
            if env.now + pending - t0 > self.patience:
                yield from self._delay(pending, deadline)  # raises: the caller gives up
        except Abort as stop:
            outcome = stop.outcome
            pending = 0.0
            if env.now < t0:  # found before the caller even finished speaking
                yield env.timeout(t0 - env.now)
        if self.w0 <= t0 < self.w1:
            latency = env.now + pending - t0
            code = OUTCOMES.index(outcome)
            self.turns.add(call.caller, call.index, k, t0, latency, wait, served, code)
        return outcome, pending

    def _computed(
        self, pool: Pool, group: StaticGroup, call: Call, deadline: float
    ) -> tuple[float, float] | None:
        """A fixed pool: the wait is known on arrival (static.py); (wait, service) ms,
        None if the caller would still be queued at the deadline."""
        now = self.env.now
        inst: Slots | None = None
        if group.policy != "pooled":
            if group.route == "call":
                pin = call.pins.get(id(group))
                if pin is None:
                    inst = group.pick(call.caller, now)
                    inst.calls += 1
                    call.pins[id(group)] = (group, inst, 0)
                else:
                    inst = pin[1]
            else:
                inst = group.pick(call.caller, now)
        service = pool.service() if pool.service is not None else 0.0
        hold = pool.hold() if pool.hold is not None else 0.0
        start = group.start(inst, now, service + hold, deadline)
        if start is None:
            return None
        return start - now, service

    def _delay(self, ms: float, deadline: float) -> Generator[Any, Any, None]:
        """Wait `ms`, or hang up at the deadline if it comes first."""
        env = self.env
        if env.now + ms > deadline:
            yield env.timeout(max(0.0, deadline - env.now))
            raise Abort(HUNG)
        yield env.timeout(ms)

    def _visit(
        self, pool: Pool, group: Group | None, call: Call, deadline: float
    ) -> Generator[Any, Any, tuple[float, float]]:
        """Queue for a slot (if the stage has instances), be served; (wait, service) ms."""
        asked = self.env.now
        while True:
            try:
                w, sv = yield from self._serve(pool, group, call, deadline)
                return max(0.0, self.env.now - asked - sv), sv  # a reconnect waited too
            except Abort as stop:
                # the call's instance died under this request: a reconnecting
                # caller goes on elsewhere (_slot reconnects), others lose it
                pin = call.pins.get(id(group)) if group is not None else None
                dropped = pin is not None and pin[1].epoch != pin[2]
                if stop.outcome != LOST or not (dropped and call.reconnects):
                    raise

    def _serve(
        self, pool: Pool, group: Group | None, call: Call, deadline: float
    ) -> Generator[Any, Any, tuple[float, float]]:
        """One try at a stage: queue for a slot, be served; (wait, service) ms."""
        env = self.env
        asked = env.now
        inst: Instance | None = None
        if group is not None:
            inst = yield from self._slot(group, call, deadline)
        epoch = inst.epoch if inst is not None else 0
        wait = env.now - asked
        service = pool.service() if pool.service is not None else 0.0
        if service > 0:
            if env.now + service > deadline:  # the reply would come too late
                self._release_at(pool, group, inst, epoch, env.now + service)
                yield env.timeout(max(0.0, deadline - env.now))
                raise Abort(HUNG)
            yield env.timeout(service)
            if inst is not None and inst.epoch != epoch:
                raise Abort(LOST)
        if pool.cpu is not None:
            demand = pool.cpu()
            assert self.box is not None
            t_cpu = env.now
            done = self.box.run(demand, inst, pool.stage.threads, group)
            if deadline < math.inf and not done.triggered:
                timer = env.timeout(max(0.0, deadline - env.now))
                yield done | timer
                if not done.triggered:
                    done.callbacks.append(lambda _e: self._release(pool, group, inst, epoch))
                    raise Abort(HUNG)
            else:
                yield done
            if done.value == FAILED:
                raise Abort(LOST)
            stretched = env.now - t_cpu
            wait += max(0.0, stretched - demand)  # waiting for a core: the box's contention
            service += demand
        self._release(pool, group, inst, epoch)
        return wait, service

    def _slot(self, group: Group, call: Call, deadline: float) -> Generator[Any, Any, Instance]:
        """Take a slot on the instance the balancer picks (or the call is pinned to)."""
        target: Instance | None = None
        if group.policy != "pooled":
            if group.route == "call":
                pin = call.pins.get(id(group))
                if pin is not None:
                    target = pin[1]
                    if target.epoch != pin[2]:  # its instance crashed: the call dropped
                        target = yield from self._reconnect(call, group)
                else:
                    target = group.pick(call.caller)
                    if target is None:
                        raise Abort(LOST)
                    target.calls += 1
                    call.pins[id(group)] = (group, target, target.epoch)
            else:
                target = group.pick(call.caller)
                if target is None:
                    raise Abort(LOST)
        got, waiter = group.take(target)
        if waiter is None:
            assert got is not None
            return got
        if deadline < math.inf:
            timer = self.env.timeout(max(0.0, deadline - self.env.now))
            timer.callbacks.append(_renege(waiter))
        result = yield waiter.event
        if result == HUNG_UP:
            raise Abort(HUNG)
        if result == FAILED:
            raise Abort(LOST)
        if result == GRANTED:
            assert got is not None
            return got
        return result[1]  # pooled: (GRANTED, the instance whose slot it got)

    def _reconnect(self, call: Call, where: Pool | Group) -> Generator[Any, Any, Instance]:
        """A dropped call: lost, or (a reconnecting caller) on another instance of the
        group once `reconnect_ms` have passed since the drop."""
        group = where if isinstance(where, Group) else _group_of(where, call)
        pin = call.pins.get(id(group)) if group is not None else None
        if group is None or pin is None or not call.reconnects:
            raise Abort(LOST)
        old, epoch = pin[1], pin[2]
        back = old.crashed[epoch] + self.cfg.traffic.reconnect_ms
        if back > self.env.now:
            yield self.env.timeout(back - self.env.now)
        new = group.pick(call.caller)
        if new is None:
            raise Abort(LOST)
        new.calls += 1
        call.pins[id(group)] = (group, new, new.epoch)
        if not call.reconnected:
            call.reconnected = True
            self.reconnected += 1
        if self.load is not None and group.stage.name == self.load.rule.stage:
            self.load.start(call, group, new)
        return new

    def _release_at(
        self, pool: Pool, group: Group | None, inst: Instance | None, epoch: int, at: float
    ) -> None:
        timer = self.env.timeout(at - self.env.now)
        timer.callbacks.append(lambda _e: self._release(pool, group, inst, epoch))

    def _release(self, pool: Pool, group: Group | None, inst: Instance | None, epoch: int) -> None:
        if group is None or inst is None:
            return
        hold = pool.hold() if pool.hold is not None else 0.0
        if hold > 0:
            timer = self.env.timeout(hold)
            timer.callbacks.append(lambda _e: group.release(inst, epoch))
        else:
            group.release(inst, epoch)


def _group_of(pool: Pool, call: Call) -> Group | None:
    """The group of `pool` the call is pinned in."""
    for g in pool.groups.values():
        if id(g) in call.pins and isinstance(g, Group):
            return g
    return None


def _renege(w: Waiter) -> Callable[[simpy.Event], None]:
    """At the deadline: a caller still queued hangs up and leaves (skipped lazily)."""

    def fire(_event: simpy.Event) -> None:
        if w.alive:
            w.alive = False
            w.event.succeed(HUNG_UP)

    return fire
