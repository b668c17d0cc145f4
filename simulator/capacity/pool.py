"""A stage as the model runs it: its seeded samplers and its instance groups per region.

Why a module of its own: which kind of group a stage gets decides how its
waits are found. A stage whose instances never change is a `StaticGroup`
(static.py: waits computed on arrival, no events); one with an autoscaler,
crashes, `cpu_ms` or a call's per-frame CPU is an event-driven `Group`
(balancer.py). Building that choice once, here, keeps the turn walk
(turn.py) free of it; the pool also keeps the slot integrals its
utilisation is read from.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import simpy

from simulator.capacity.balancer import Group
from simulator.capacity.config import CapacityConfig, Stage
from simulator.capacity.regions import Regions
from simulator.capacity.service import Sampler, sampler, stream
from simulator.capacity.static import StaticGroup


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


def build_pool(
    env: simpy.Environment,
    cfg: CapacityConfig,
    regions: Regions,
    stage: Stage,
    window: tuple[float, float],
) -> Pool:
    """`stage`'s pool: its samplers (one seeded stream each) and a group per region,
    event-driven where something changes the stage during a run, else computed."""
    seed, name = cfg.seed, stage.name
    pool = Pool(
        stage=stage,
        service=None
        if stage.service_ms is None
        else sampler(stage.service_ms, stream(seed, f"stage:{name}")),
        cpu=None if stage.cpu_ms is None else sampler(stage.cpu_ms, stream(seed, f"cpu:{name}")),
        hold=None
        if stage.hold_ms is None
        else sampler(stage.hold_ms, stream(seed, f"hold:{name}")),
        skip=stream(seed, f"skip:{name}"),
    )
    policy, route = cfg.policy(stage), cfg.routing(stage)
    carries = cfg.call_cpu is not None and cfg.call_cpu.stage == stage.name
    dynamic = stage.autoscale or stage.failures or stage.cpu_ms or carries
    for region, n in regions.deployment(stage).items():
        pool.initial += n
        if dynamic:
            pool.groups[region] = Group(env, stage, region, n, policy, route)
        else:
            pool.groups[region] = StaticGroup(stage, region, n, policy, route, window)
    return pool
