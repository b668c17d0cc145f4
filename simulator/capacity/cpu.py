"""One box's cores shared by every request that needs CPU: processor sharing.

Why: on one machine the stages are not queues of their own; they compete for
the same cores, and a turn's CPU work stretches when other turns run beside
it. That is what made the measured P95 of the bundled agent rise at 4 calls
where a queue-only model predicted no change (BENCHMARKS.md).

The sharing, in two levels, as an OS scheduler would give it:
- an instance (a process) runs at most `threads` of its requests on cores at
  once (a Python process: 1, the GIL), and splits that equally among all the
  requests it has (n jobs on 1 thread: each 1/n of a core);
- the box's `cores` are split over the instances in proportion to what they
  ask for (min(jobs, threads) each), never more than asked;
- `usable` (default 1) scales both: the share of a core that latency-bound
  work gets done (a Python process's GIL convoy, a busy run queue).
With C single-threaded instances on C cores each instance is an M/G/1-PS
server (tests/simulator/capacity/test_mechanisms.py checks the closed form).

Rates change only when a job arrives or leaves; between those, every job's
remaining work falls linearly, so one timer (the earliest completion) is
enough. Each change costs O(jobs on the box).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

import simpy

from simulator.capacity.balancer import FAILED, Instance

_EPS = 1e-9


def _next_done(job: Job) -> float:
    """Work until the job's next event: its end, or its next backlog item's."""
    if job.items:
        return max(0.0, job.left - (job.total - job.items[0][0]))
    return job.left


@dataclass(eq=False, slots=True)
class Job:
    """A request's CPU work (ms of one core) on an instance (None: a thread of its own)."""

    left: float
    event: simpy.Event
    inst: Instance | None
    threads: int
    rate: float = 0.0
    #: the group's CPU-time integral this job adds to (autoscaler metric `cpu`)
    owner: Any = None
    #: a backlog (feed): work ever added, and (total added when queued, event) per item
    total: float = 0.0
    items: deque[tuple[float, simpy.Event]] | None = None


class Box:
    """C cores, processor-shared by the jobs of every instance on them."""

    def __init__(self, env: simpy.Environment, cores: float, usable: float = 1.0) -> None:
        self.env = env
        self.cores = cores
        self.usable = usable
        self.jobs: list[Job] = []
        self._backlogs: dict[int, Job] = {}
        self._last = 0.0
        self._version = 0
        #: core-ms used (integral), for the report
        self.used_area = 0.0

    def run(
        self, demand_ms: float, inst: Instance | None, threads: int, owner: Any = None
    ) -> simpy.Event:
        """An event that succeeds when `demand_ms` of CPU work has been done for this request."""
        event = self.env.event()
        if demand_ms <= 0:
            event.succeed(None)
            return event
        self._advance()
        job = Job(demand_ms, event, inst, threads, owner=owner)
        self.jobs.append(job)
        if inst is not None:
            inst.jobs.append(job)
        self._reschedule()
        return event

    def feed(
        self, work_ms: float, inst: Instance | None, threads: int, owner: Any = None
    ) -> simpy.Event:
        """Queue `work_ms` on a process's backlog (one job per process, worked
        through in order, e.g. its event loop's frames); the event succeeds when
        this item and everything queued before it are done. `inst` None: the
        load generator's backlog. Costs O(1) jobs however long the backlog grows."""
        event = self.env.event()
        self._advance()
        key = id(inst)
        job = self._backlogs.get(key)
        if job is None or job not in self.jobs:
            job = Job(0.0, self.env.event(), inst, threads, owner=owner, items=deque())
            self._backlogs[key] = job
            self.jobs.append(job)
            if inst is not None:
                inst.jobs.append(job)
        assert job.items is not None
        job.left += work_ms
        job.total += work_ms
        job.items.append((job.total, event))
        self._reschedule()
        return event

    def drop(self, inst: Instance) -> None:
        """The instance crashed: its requests' work is lost (their events say FAILED)."""
        if not inst.jobs:
            return
        self._advance()
        for job in inst.jobs:
            self.jobs.remove(job)
            job.event.succeed(FAILED)
            for _, item in job.items or ():
                item.succeed(FAILED)
        inst.jobs.clear()
        self._reschedule()

    def _advance(self) -> None:
        now = self.env.now
        dt = now - self._last
        self._last = now
        if dt <= 0 or not self.jobs:
            return
        used = 0.0
        for job in self.jobs:
            job.left -= job.rate * dt
            used += job.rate
            if job.owner is not None:
                job.owner.cpu_area += job.rate * dt
        self.used_area += used * dt

    def _rates(self) -> None:
        """Each instance asks min(jobs, threads) usable cores; the box scales asks down to fit."""
        asks: dict[int, tuple[float, int]] = {}
        total = 0.0
        for job in self.jobs:
            key = id(job.inst) if job.inst is not None else id(job)
            if key not in asks:
                n = len(job.inst.jobs) if job.inst is not None else 1
                ask = float(min(n, job.threads)) * self.usable
                asks[key] = (ask, n)
                total += ask
        scale = min(1.0, self.cores * self.usable / total) if total > 0 else 1.0
        for job in self.jobs:
            key = id(job.inst) if job.inst is not None else id(job)
            ask, n = asks[key]
            job.rate = ask * scale / n
            if job.inst is not None:
                job.inst.cores = ask * scale

    def _reschedule(self) -> None:
        self._rates()
        self._version += 1
        if not self.jobs:
            return
        nxt = min(_next_done(j) / j.rate for j in self.jobs)
        timer = self.env.timeout(max(0.0, nxt))
        version = self._version
        timer.callbacks.append(lambda _ev: self._wake(version))

    def _wake(self, version: int) -> None:
        if version != self._version:
            return  # a newer arrival or departure re-planned the box
        self._advance()
        for job in self.jobs:  # backlog items whose work is all done
            while job.items and job.total - job.items[0][0] >= job.left - _EPS:
                job.items.popleft()[1].succeed(None)
        done = [j for j in self.jobs if j.left <= _EPS * max(1.0, j.rate)]
        if not done and not any(j.items is not None for j in self.jobs):
            done = [min(self.jobs, key=lambda j: j.left / j.rate)]  # float rounding
        for job in done:
            self.jobs.remove(job)
            if job.inst is not None:
                job.inst.jobs.remove(job)
            job.event.succeed(None)
        self._reschedule()
