"""One request at an event-driven stage: a slot, the service, the CPU, the release.

Why a module of its own: this is where a call meets instances that change
under it (balancer.py's `Group`: autoscaled, crashing, on a box's cores).
A request queues for a slot on the instance the balancer picks, or the one
its call is pinned to; it is served, then runs its CPU on the box (cpu.py),
and gives the slot back after the stage's hold. A caller whose deadline
comes first hangs up (`Abort(HUNG)`); a crash under the request loses it
(`Abort(LOST)`), unless the caller reconnects: then, `reconnect_ms` after
the drop, the call is pinned to another instance and the request goes on
there. The turn walk (turn.py) calls `Visits.visit` once per such stage.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import simpy

from simulator.capacity.balancer import FAILED, GRANTED, HUNG_UP, Group, Instance, Waiter
from simulator.capacity.callcpu import CallLoad
from simulator.capacity.config import CapacityConfig
from simulator.capacity.cpu import Box
from simulator.capacity.record import HUNG, LOST

if TYPE_CHECKING:
    from simulator.capacity.pool import Pool


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


class Visits:
    """Requests at the stages with instances, and the calls that reconnected."""

    def __init__(
        self, env: simpy.Environment, cfg: CapacityConfig, box: Box | None, load: CallLoad | None
    ) -> None:
        self.env = env
        self.cfg = cfg
        self.box = box
        self.load = load
        #: calls that reconnected after a drop (each counted once)
        self.reconnected = 0

    def visit(
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

    def give_up(self, deadline: float) -> Generator[Any, Any, NoReturn]:
        """Wait until the deadline, then the caller hangs up."""
        yield self.env.timeout(max(0.0, deadline - self.env.now))
        raise Abort(HUNG)

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
                yield from self.give_up(deadline)
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
                        target = yield from self.reconnect(call, group)
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

    def reconnect(self, call: Call, where: Pool | Group) -> Generator[Any, Any, Instance]:
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
            # nothing left to move to: the call is lost, and its dead pin goes with it
            # (visit() retries a request while the pin is dead: it would at this instant)
            del call.pins[id(group)]
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
