"""One caller turn, walked through the stages in pipeline order, and its row.

Why a module of its own: the turn is what the model measures. From the end
of the caller's speech it waits for the call's frames to be processed
(call_cpu), then visits each stage: a pure delay adds its time, a stage is
routed to the nearest region that serves (paying the round trip), a fixed
pool's wait is computed on arrival (static.py), an event-driven one is
queued for (visit.py). The caller's patience bounds it all: past the
deadline the caller hangs up. Time that needs no event (speech, delays,
computed waits) is carried forward and waited as one timeout, so a turn
costs about one event per pool it visits. A turn that ends inside the
window becomes a row of the table (record.py): latency, and per stage its
wait and service.
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from typing import Any

import simpy

from simulator.capacity.balancer import Group
from simulator.capacity.config import CapacityConfig
from simulator.capacity.pool import Pool
from simulator.capacity.record import ANSWERED, HUNG, LOST, NAN, OUTCOMES, Turns
from simulator.capacity.regions import Regions, Routes
from simulator.capacity.static import Slots, StaticGroup
from simulator.capacity.visit import Abort, Call, Visits


class TurnWalk:
    """Walks turns through the stages and records those of the measured window;
    places a call on its process when it starts (call_cpu)."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: CapacityConfig,
        pools: Mapping[str, Pool],
        regions: Regions,
        routes: Routes,
        visits: Visits,
        table: Turns,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.pools = pools
        self.regions = regions
        self.routes = routes
        self.visits = visits
        self.load = visits.load
        self.table = table
        self.w0, self.w1 = window
        t = cfg.traffic
        self.patience = math.inf if t.patience_s is None else t.patience_s * 1000.0
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

    def _only(self, pool: Pool) -> Group | StaticGroup | None:
        """The stage's single group without regions (no route to choose)."""
        if self.regions.enabled or len(pool.groups) != 1:
            return None
        return next(iter(pool.groups.values()))

    def connect(self, call: Call) -> None:
        """call_cpu: place the call on its process now; its per-frame work starts."""
        assert self.load is not None
        pool = self.pools[self.load.rule.stage]
        group = self.routes.pick(pool, call.region, call)
        if not isinstance(group, Group):
            return
        inst = group.pick(call.caller)
        if inst is None:
            return  # nothing serves: its first turn finds that out
        inst.calls += 1
        call.pins[id(group)] = (group, inst, inst.epoch)
        self.load.start(call, group, inst)

    def turn(self, call: Call, k: int, lead: float) -> Generator[Any, Any, tuple[str, float]]:
        """Walk one turn whose speech ends `lead` ms from now through the stages;
        (outcome, delay still to wait after it)."""
        env = self.env
        t0 = env.now + lead
        deadline = t0 + self.patience
        n = len(self.pools)
        wait = [NAN] * (n + 2)
        served = [NAN] * (n + 2)
        pending = lead  # time accumulated (speech, delays, computed waits), not yet waited
        outcome = ANSWERED
        try:
            if self.load is not None:
                # the agent must have processed the end of the speech first
                if pending:
                    yield env.timeout(pending)
                    pending = 0.0
                wait[n + 1] = yield from self._frames(call, deadline)
                served[n + 1] = 0.0
            pending = yield from self._stages(call, deadline, pending, wait, served)
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
            self.table.add(call.caller, call.index, k, t0, latency, wait, served, code)
        return outcome, pending

    def _frames(self, call: Call, deadline: float) -> Generator[Any, Any, float]:
        """call_cpu: wait until the call's latest frames are processed; the ms waited
        (a call whose process died reconnects first, or is lost)."""
        assert self.load is not None
        t_heard = self.env.now
        lag = yield from self.load.heard(call, deadline)
        if lag == math.inf:
            if self.env.now >= deadline:
                raise Abort(HUNG)
            yield from self.visits.reconnect(call, self.pools[self.load.rule.stage])
            lag = self.env.now - t_heard
        return lag

    def _stages(
        self, call: Call, deadline: float, pending: float, wait: list[float], served: list[float]
    ) -> Generator[Any, Any, float]:
        """Visit every stage the turn passes, filling its `wait` and `served` columns;
        the time still to wait at the end (the last delays and the trip back)."""
        env = self.env
        here: str | None = None  # where the turn is: None at the caller, else a region
        rtt = 0.0
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
                group, hop = self._route(pool, call, here)
                rtt += hop
                pending += hop
                here = group.region
            if pending:
                # arrive at the stage at its time: queues see requests in arrival order
                if env.now + pending > deadline:
                    yield from self.visits.give_up(deadline)
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
                w, sv = yield from self.visits.visit(pool, group, call, deadline)
            wait[col], served[col] = w, sv
        if here is not None and self.regions.enabled:
            back = self.regions.one_way(here, call.region, caller=True)
            rtt += back
            pending += back
        if rtt:
            n = len(self.pools)
            wait[n], served[n] = 0.0, rtt
        return pending

    def _route(self, pool: Pool, call: Call, here: str | None) -> tuple[Group | StaticGroup, float]:
        """The group of `pool` the turn goes to from `here`, and the one-way trip there."""
        group = self.routes.pick(pool, here or call.region, call)
        if group is None:
            raise Abort(LOST)  # no instance of this stage anywhere serves
        hop = 0.0
        if self.regions.enabled:
            if here is None:
                hop = self.regions.one_way(call.region, group.region, caller=True)
            else:
                hop = self.regions.one_way(here, group.region)
        return group, hop

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
        if self.env.now + ms > deadline:
            yield from self.visits.give_up(deadline)
        yield self.env.timeout(ms)
