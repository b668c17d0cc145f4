"""A stage whose instances never change during a run: its waits are computed, not simulated.

Why: speed. A FIFO queue in front of c slots whose count is fixed obeys the
Kiefer-Wolfowitz recursion: a request arriving at t starts at max(t, the
earliest time a slot frees) and frees that slot at start + service + hold.
Processed in arrival order (the engine visits a pool at the request's
arrival time), that is exactly what the event-driven queue (balancer.Group)
does, without the events: one heap operation instead of a request, a
release and two generator resumptions. A caller who would start after the
deadline hangs up without ever taking a slot, as a reneging caller leaves
a FIFO queue; one who starts before it takes the slot for the whole service.

Not for stages with an autoscaler, crashes or `cpu_ms`: their capacity or
speed changes after the arrival, so the start cannot be known on arrival.
"""

from __future__ import annotations

import heapq

from simulator.capacity.balancer import choose
from simulator.capacity.config import Policy, Route, Stage


class Slots:
    """One instance: when each of its slots frees, and how many calls are pinned to it."""

    __slots__ = ("index", "free", "ends", "calls", "epoch")

    def __init__(self, index: int, slots: int) -> None:
        self.index = index
        self.free = [0.0] * slots  # a heap of the times its slots free
        self.ends: list[float] = []  # a heap of its requests' ends (least outstanding)
        self.calls = 0
        self.epoch = 0

    def outstanding(self, now: float) -> int:
        """Requests on this instance at `now` (queued or in service)."""
        ends = self.ends
        while ends and ends[0] <= now:
            heapq.heappop(ends)
        return len(ends)


class StaticGroup:
    """A fixed set of instances in one region behind one balancer, computed on arrival."""

    dynamic = False

    def __init__(
        self,
        stage: Stage,
        region: str,
        n: int,
        policy: Policy,
        route: Route,
        window: tuple[float, float],
    ) -> None:
        self.stage = stage
        self.region = region
        self.policy = policy
        self.route: Route = "turn" if policy == "pooled" else route
        self.instances = [Slots(i, stage.slots) for i in range(n)]
        self.pool = [0.0] * (n * stage.slots)  # pooled: every slot of every instance
        self.window = window
        self._w0, self._w1 = window
        #: least outstanding requests needs each instance's request ends
        self._ends = self.policy == "least-connections" and self.route == "turn"
        self._next = 0
        #: slot-ms busy inside the window
        self.busy_ms = 0.0

    def pick(self, caller: int, now: float) -> Slots:
        """The instance a new call (or this request) goes to."""
        if self.policy == "least-connections" and self.route == "turn":
            return min(self.instances, key=lambda i: i.outstanding(now))
        self._next += 1
        return choose(self.policy, self.instances, caller, self._next)

    def start(
        self, inst: Slots | None, now: float, busy_for: float, deadline: float
    ) -> float | None:
        """When a request arriving `now` starts (it then holds a slot `busy_for` ms);
        None if it would start at or after `deadline` (the caller left the queue)."""
        heap = self.pool if inst is None else inst.free
        start = heap[0] if heap[0] > now else now
        if start >= deadline:
            return None
        end = start + busy_for
        heapq.heapreplace(heap, end)
        if self._ends and inst is not None:
            heapq.heappush(inst.ends, end)  # outstanding requests, for the next pick
        # busy slot-time inside the window (conditionals: this runs per request)
        lo = start if start > self._w0 else self._w0
        hi = end if end < self._w1 else self._w1
        if hi > lo:
            self.busy_ms += hi - lo
        return start

    def serving_count(self) -> int:
        """Every instance serves, always."""
        return len(self.instances)

    def capacity_ms(self) -> float:
        """Slot-ms available inside the window."""
        w0, w1 = self.window
        return len(self.instances) * self.stage.slots * (w1 - w0)
