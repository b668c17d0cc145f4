"""The callers: who calls when, and each call's turns one after another.

Why a module of its own: traffic is the model's input, apart from what it
meets. Closed traffic is N callers placing calls back to back, joining over
the ramp (a spike adds (factor - 1) x N more for its duration); open traffic
is Poisson arrivals at a rate per minute (times the spike's factor during
it). A call draws its region and its number of turns, speaks, has each turn
walked through the stages (turn.py) and listens; it ends early when a turn
is lost or the caller hangs up. A call counts once as started, lost or hung
up, and gives its pinned instances back when it ends.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from typing import Any

import simpy

from simulator.capacity.balancer import Group
from simulator.capacity.config import CapacityConfig
from simulator.capacity.record import ANSWERED, LOST
from simulator.capacity.regions import Regions
from simulator.capacity.service import sampler, stream
from simulator.capacity.turn import TurnWalk
from simulator.capacity.visit import Call


class Callers:
    """Starts the callers of one load level and counts their calls."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: CapacityConfig,
        walk: TurnWalk,
        regions: Regions,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.cfg = cfg
        self.walk = walk
        self.regions = regions
        self.w1 = window[1]  # new calls and turns stop at the window's end
        #: calls started, lost (a turn lost the call), hung up (a caller gave up)
        self.calls = 0
        self.lost = 0
        self.hung = 0
        t = cfg.traffic
        self.speak = sampler(t.speak_ms, stream(cfg.seed, "speak"))
        self.listen = sampler(t.listen_ms, stream(cfg.seed, "listen"))
        self.where = stream(cfg.seed, "region")
        self.length = stream(cfg.seed, "call-length")
        self.redial = stream(cfg.seed, "reconnect")

    def start(self, level: float) -> None:
        """Start `level` closed callers (with the spike's extra ones), or open arrivals
        at `level` calls per minute."""
        if self.cfg.closed:
            n = int(level)
            ramp = self.cfg.traffic.ramp_s * 1000.0
            for i in range(n):
                self.env.process(self._closed_caller(i, ramp * i / n))
            self._spike_callers(n)
        else:
            self.env.process(self._arrivals(level))

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
            if self.walk.load is not None:
                self.walk.connect(call)
            for k in range(self._turns()):
                if env.now + gap >= self.w1:
                    break
                # listening to the last reply and speaking this turn: waited for
                # together with the turn's first delays (one event, not three)
                outcome, gap = yield from self.walk.turn(call, k, gap + self.speak())
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

    def _turns(self) -> int:
        """Turns of the next call: fixed, or geometric with the same mean (uneven calls)."""
        t = self.cfg.traffic
        if t.turns_spread == "fixed" or t.turns_per_call == 1:
            return t.turns_per_call
        u = 1.0 - self.length.random()  # in (0, 1]
        return 1 + int(math.log(u) / math.log(1.0 - 1.0 / t.turns_per_call))
