"""Regions: where callers are, where each stage runs, and the round trips between.

Why: the seed's "route calls to the nearest region" only pays when the
round trip it saves is larger than the queue it joins; a global balancer
that sends every caller to its nearest region also sends a region's spike
to that region's instances only. Each stage is deployed per region (its
`regions: {name: instances}`, or `servers` in every region); a turn goes,
stage by stage, to the nearest region (lowest RTT from where the turn is
now) that has an instance serving, paying half the RTT per hop and half of
it back to the caller at the end ("rtt" in a turn's service split).

Without `regions` in the file there is one region, "", and no round trips.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from simulator.capacity.balancer import Group
from simulator.capacity.config import CapacityConfig, Stage
from simulator.capacity.static import StaticGroup

if TYPE_CHECKING:
    from simulator.capacity.pool import Pool
    from simulator.capacity.visit import Call

HOME = ""


class Regions:
    """The file's regions, caller shares and RTT matrix."""

    def __init__(self, cfg: CapacityConfig) -> None:
        regions = cfg.regions or []
        self.names = [r.name for r in regions] or [HOME]
        total = sum(r.share for r in regions)
        self.weights = [r.share / total for r in regions] if regions else [1.0]
        self.rtt = cfg.rtt_ms or {}
        self.enabled = bool(regions)

    def draw(self, rng: random.Random) -> str:
        """A caller's region, by the shares (no draw without regions: streams stay as before)."""
        if not self.enabled:
            return HOME
        return rng.choices(self.names, self.weights)[0]

    def one_way(self, a: str, b: str, *, caller: bool = False) -> float:
        """Half the round trip from a to b: between a caller and a region (`caller`),
        or between two regions' stages (0 inside one region); 0 without regions."""
        if not self.enabled or (a == b and not caller):
            return 0.0
        return self.rtt[a][b] / 2.0

    def deployment(self, stage: Stage) -> dict[str, int]:
        """Instances of `stage` per region; {} for a stage without instances."""
        if stage.regions is not None:
            return {r: n for r, n in stage.regions.items() if n > 0 or stage.autoscale}
        if stage.servers is None:
            return {}
        return {name: stage.servers for name in self.names}

    def routes(self, pools: Mapping[str, Pool]) -> Routes:
        """Per stage and region the stage's groups, nearest first."""
        return Routes(self, pools)


class Routes:
    """Nearest-region routing: the closest group that has an instance serving."""

    def __init__(self, regions: Regions, pools: Mapping[str, Pool]) -> None:
        self.order: dict[tuple[str, str], list[Group | StaticGroup]] = {}
        for name, pool in pools.items():
            for here in regions.names:
                groups = list(pool.groups.values())
                if regions.enabled:
                    groups.sort(key=lambda g: (regions.one_way(here, g.region), g.region))
                self.order[(name, here)] = groups

    def pick(self, pool: Pool, here: str, call: Call) -> Group | StaticGroup | None:
        """The group a turn at `here` goes to; a call keeps the group it is pinned in."""
        groups = self.order[(pool.stage.name, here)]
        if len(groups) == 1:
            return groups[0]
        for g in groups:
            if id(g) in call.pins or _serves(g):
                return g
        return None


def _serves(g: Any) -> bool:
    return bool(g.serving_count())
