"""The CPU a call costs between its turns: per-frame work, and the process falling behind.

Why: a voice agent spends CPU on every 20 ms frame of every call in progress
(VAD, the streaming STT feed, pacing its audio out), and a load generator on
the same box spends CPU on its callers' frames. The bundled agent's stages
take a few ms of CPU per turn, yet its P95 breaks at 15-19 calls on a
2-core box: what runs out is one process's core (the GIL) and the box's
cores, under that background work. `call_cpu` in a capacity file models it:
every `every_ms` a call adds a work item of cores x every_ms to the backlog
of the instance of `call_cpu.stage` it is pinned to (its event loop, worked
through in order; the generator's share to the generator's own backlog),
which shares the cores with everything else there (cpu.py, Box.feed).
A turn's reply cannot start before the call's latest items are done: the
generator must have sent the end of the speech and the agent processed it. While the process keeps
up that costs nothing; once the calls on it ask more than its core, items
pile up and every turn waits for them (`frames` in a turn's wait split).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import simpy

from simulator.capacity.balancer import FAILED, Group, Instance
from simulator.capacity.config import CallCpu
from simulator.capacity.cpu import Box

if TYPE_CHECKING:
    from simulator.capacity.visit import Call


class CallLoad:
    """Starts each call's work items and makes a turn wait for the latest one."""

    def __init__(self, env: simpy.Environment, rule: CallCpu, box: Box, threads: int) -> None:
        self.env = env
        self.rule = rule
        self.box = box
        self.threads = threads

    def start(self, call: Call, group: Group, inst: Instance) -> None:
        """The call is on `inst` now: its work items begin."""
        call.frame = call.sent = None
        self.env.process(self._items(call, group, inst, inst.epoch))

    def _items(
        self, call: Call, group: Group, inst: Instance, epoch: int
    ) -> Generator[Any, Any, None]:
        every, r = self.rule.every_ms, self.rule
        while True:
            yield self.env.timeout(every)
            if call.ended or inst.epoch != epoch:
                return
            if r.cores > 0:
                call.frame = self.box.feed(r.cores * every, inst, self.threads, group)
            if r.generator_cores > 0:
                call.sent = self.box.feed(r.generator_cores * every, None, 1)

    def heard(self, call: Call, deadline: float) -> Generator[Any, Any, float]:
        """Wait until the call's latest items (agent's, generator's) are processed;
        the ms waited, or math.inf if the deadline came first or the process died."""
        t = self.env.now
        for item in (call.frame, call.sent):
            if item is None or item.triggered:
                if item is not None and item.value == FAILED:
                    return math.inf
                continue
            if deadline < math.inf:
                timer = self.env.timeout(max(0.0, deadline - self.env.now))
                yield item | timer
                if not item.triggered:
                    return math.inf
            else:
                yield item
            if item.value == FAILED:
                return math.inf
        return self.env.now - t
