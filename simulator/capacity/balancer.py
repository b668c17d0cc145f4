"""A stage's instances behind a balancer: per-instance queues, one policy to pick.

Why per-instance queues: a real balancer (HAProxy in front of agent
processes) hands a connection to one instance on arrival, and the request
then waits behind whatever that instance already has, even if another one is
idle. `pooled` keeps the idealised single FIFO queue (any free slot on any
instance: join-the-idle-slot), which is the best any balancer can do; the
other policies are what deployments run:

- round-robin: the next instance in turn, whatever it has on it;
- least-connections: the instance with the fewest calls (route: call) or
  outstanding requests (route: turn) right now;
- sticky: a caller always lands on the instance its id hashes to (HAProxy's
  `balance source`): load-blind, and the same instance again after a redial.

An instance's `epoch` changes when it crashes: a slot or a pin taken in an
older epoch is void (the request or the call on it was lost).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import simpy

from simulator.capacity.config import Policy, Route, Stage

#: What a queued request's event is succeeded with.
GRANTED, HUNG_UP, FAILED = "granted", "hung_up", "failed"


@dataclass(eq=False, slots=True)
class Waiter:
    """A request waiting in a queue; `alive` False once it was served or left."""

    event: simpy.Event
    alive: bool = True


@dataclass(eq=False, slots=True)
class Instance:
    """One process of a stage: `slots` requests served at once, its own queue."""

    index: int
    slots: int
    busy: int = 0
    #: calls pinned here (route: call) - the balancer's "connections"
    calls: int = 0
    queue: deque[Waiter] = field(default_factory=deque)
    ready: bool = True
    draining: bool = False
    epoch: int = 0
    #: CPU: requests on this instance now, and the cores it gets (cpu.py)
    jobs: list[Any] = field(default_factory=list)
    cores: float = 0.0
    #: when each epoch ended (its crash): a call pinned in epoch e dropped at crashed[e]
    crashed: list[float] = field(default_factory=list)

    @property
    def serving(self) -> bool:
        """Takes new work: up, booted, not being drained by a scale-down."""
        return self.ready and not self.draining


class Group:
    """A stage's instances in one region, and the balancer in front of them."""

    def __init__(
        self,
        env: simpy.Environment,
        stage: Stage,
        region: str,
        n: int,
        policy: Policy,
        route: Route,
    ) -> None:
        self.env = env
        self.stage = stage
        self.region = region
        self.policy = policy
        self.route: Route = "turn" if policy == "pooled" else route
        self.instances: list[Instance] = []
        #: pooled: one shared queue and one token per free slot (an instance per token)
        self.queue: deque[Waiter] = deque()
        self.free: list[Instance] = []
        self._next = 0
        #: slot-ms busy and slot-ms available (integrals), for utilisation and
        #: the autoscaler; core-ms used by its requests (cpu.py adds to it)
        self.busy = 0
        self.busy_area = 0.0
        self.slots_up = 0
        self.cap_area = 0.0
        self.cpu_area = 0.0
        self._since = 0.0
        for _ in range(n):
            self.add(ready=True)

    # -- instances -----------------------------------------------------------
    def add(self, *, ready: bool) -> Instance:
        """A new instance (booting unless `ready`)."""
        inst = Instance(len(self.instances), self.stage.slots, ready=ready)
        self.instances.append(inst)
        if ready:
            self.boot(inst)
        return inst

    def boot(self, inst: Instance) -> None:
        """`inst` is up: it takes work (and, pooled, work that waited for any slot)."""
        self.account()
        inst.ready = True
        self.slots_up += inst.slots
        if self.policy == "pooled":
            for _ in range(inst.slots - inst.busy):
                if not self._hand_pooled(inst):
                    self.free.append(inst)

    def drain(self) -> Instance | None:
        """Scale down: the least loaded instance takes no new work, leaves when idle."""
        up = self.serving()
        if len(up) <= 1:
            return None
        inst = min(up, key=lambda i: (i.calls + i.busy + len(i.queue), -i.index))
        inst.draining = True
        self.retire_if_idle(inst)
        return inst

    def retire_if_idle(self, inst: Instance) -> None:
        """A drained instance with nothing left on it stops counting as capacity."""
        if inst.draining and inst.ready and inst.busy == 0 and inst.calls == 0:
            self.account()
            inst.ready = False
            self.slots_up -= inst.slots

    def serving_count(self) -> int:
        """How many instances take new work now."""
        return sum(1 for i in self.instances if i.serving)

    def serving(self) -> list[Instance]:
        """Instances that take new work now."""
        return [i for i in self.instances if i.serving]

    def crash(self, inst: Instance) -> None:
        """The process died: everything on it or queued at it is lost."""
        self.account()
        self.busy -= inst.busy
        if inst.ready:
            self.slots_up -= inst.slots
        inst.busy = 0
        inst.calls = 0
        inst.ready = False
        inst.crashed.append(self.env.now)
        inst.epoch += 1
        while inst.queue:
            w = inst.queue.popleft()
            if w.alive:
                w.alive = False
                w.event.succeed(FAILED)
        if self.policy == "pooled":
            self.free = [i for i in self.free if i is not inst]

    # -- routing -------------------------------------------------------------
    def pick(self, caller: int) -> Instance | None:
        """The instance a new call (or request) goes to; None when none serves."""
        up = self.serving()
        if not up:
            return None
        if self.policy == "least-connections" and self.route == "turn":
            return min(up, key=lambda i: i.busy + len(i.queue))
        self._next += 1
        return choose(self.policy, up, caller, self._next)

    # -- slots ---------------------------------------------------------------
    def account(self) -> None:
        """Bring the busy-slot integral up to now (before `busy` changes)."""
        now = self.env.now
        self.busy_area += self.busy * (now - self._since)
        self.cap_area += self.slots_up * (now - self._since)
        self._since = now

    def take(self, inst: Instance | None) -> tuple[Instance | None, Waiter | None]:
        """A slot now: (instance, None); or a place in a queue: (None or inst, waiter)."""
        if inst is None:  # pooled
            while self.free:
                got = self.free.pop()
                if got.serving and got.busy < got.slots:
                    self._occupy(got)
                    return got, None
            w = Waiter(self.env.event())
            self.queue.append(w)
            return None, w
        if inst.busy < inst.slots and not inst.queue:
            self._occupy(inst)
            return inst, None
        w = Waiter(self.env.event())
        inst.queue.append(w)
        return inst, w

    def _occupy(self, inst: Instance) -> None:
        self.account()
        inst.busy += 1
        self.busy += 1

    def release(self, inst: Instance, epoch: int) -> None:
        """Free a slot taken in `epoch` (void if the instance crashed since)."""
        if inst.epoch != epoch:
            return
        if self.policy == "pooled":
            if not (inst.serving and self._hand_pooled(inst, release=True)):
                self.account()
                inst.busy -= 1
                self.busy -= 1
                if inst.serving:
                    self.free.append(inst)
                self.retire_if_idle(inst)
            return
        while inst.queue:
            w = inst.queue.popleft()
            if w.alive:  # the slot passes straight to the next request
                w.alive = False
                w.event.succeed(GRANTED)
                return
        self.account()
        inst.busy -= 1
        self.busy -= 1
        self.retire_if_idle(inst)

    def _hand_pooled(self, inst: Instance, release: bool = False) -> bool:
        """Give one of `inst`'s slots to the first live waiter of the shared queue."""
        while self.queue:
            w = self.queue.popleft()
            if w.alive:
                w.alive = False
                if not release:
                    self._occupy(inst)
                w.event.succeed((GRANTED, inst))
                return True
        return False


class Counted(Protocol):
    """What a policy looks at: the calls pinned to an instance."""

    calls: int


C = TypeVar("C", bound=Counted)


def choose(policy: Policy, up: Sequence[C], caller: int, turn: int) -> C:
    """The policy's pick among serving instances (per call, or per request by count).

    round-robin: the `turn`-th; least-connections: fewest calls pinned;
    sticky: the caller id's hash (a redial lands where the caller was before).
    """
    if policy == "least-connections":
        return min(up, key=lambda i: i.calls)
    if policy == "sticky":
        return up[_mix(caller) % len(up)]
    return up[turn % len(up)]


def _mix(x: int) -> int:
    """splitmix64's finaliser: a caller id -> a well-spread hash (sticky placement)."""
    x = (x + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
    return x ^ (x >> 31)
