"""What changes a fleet while the calls go on: the autoscaler, crashes, and the clock that watches.

Why an autoscaler with a lag: the seed's warning is that Kubernetes "might
not react fast enough" to a spike. The rule here is the HPA's shape: every
`interval_s` the stage's mean metric over that interval is compared with the
thresholds; above `scale_up_above` the count becomes ceil(n x metric /
threshold), below `scale_down_below` one instance drains (takes no new work,
leaves when idle). A decision acts `lag_s` later (metrics scrape, sync
period, scheduling) and a new instance serves `cold_start_s` after that
(image pull, model load). During the lag the queues grow: the P95 excursion
a spike causes is the price of that lag.

Crashes: each serving instance fails at rate 1 / mtbf_s (memoryless), loses
what is on it, and serves again `restart_s` later.

The clock samples, once per time bucket, each stage's serving instances
(the report's time series) and snapshots the slot integrals at the
window's edges (utilisation).
"""

from __future__ import annotations

import math
from collections.abc import Generator, Mapping
from typing import TYPE_CHECKING, Any

import simpy

from simulator.capacity.balancer import Group, Instance
from simulator.capacity.config import Autoscale, CapacityConfig, Failures
from simulator.capacity.cpu import Box
from simulator.capacity.service import stream

if TYPE_CHECKING:
    from simulator.capacity.pool import Pool

#: time-series buckets per window when the file does not set `timeline_s`
BUCKETS = 60


class Fleet:
    """The processes that act on instances during a run, and what they saw."""

    def __init__(
        self,
        env: simpy.Environment,
        cfg: CapacityConfig,
        pools: Mapping[str, Pool],
        box: Box | None,
        window: tuple[float, float],
    ) -> None:
        self.env = env
        self.cfg = cfg
        self.pools = pools
        self.box = box
        self.w0, self.w1 = window
        span = self.w1 - self.w0
        self.bucket_ms = cfg.timeline_s * 1000.0 if cfg.timeline_s else span / BUCKETS
        self.crashes: list[tuple[float, str, str, int]] = []
        self.samples: list[dict[str, Any]] = []
        self.cpu_busy: float | None = None
        self._cpu0 = 0.0

    def start(self) -> None:
        """Start the clock, and per group its autoscaler and crashes when configured."""
        self.env.process(self._clock())
        for pool in self.pools.values():
            st = pool.stage
            for region, group in pool.groups.items():
                if not isinstance(group, Group):
                    continue  # a fixed pool: nothing changes it
                if st.autoscale is not None:
                    self.env.process(self._autoscaler(group, st.autoscale))
                rule = st.failures
                if rule is None:
                    continue
                if rule.mtbf_s is not None:
                    rng = stream(self.cfg.seed, f"crash:{st.name}:{region}")
                    self.env.process(self._crashes(group, rule, rng))
                for at in rule.kill_at_s:
                    self.env.process(self._kill(group, at * 1000.0, rule))

    # -- the clock -------------------------------------------------------------
    def _clock(self) -> Generator[Any, Any, None]:
        env = self.env
        if self.w0 > 0:
            yield env.timeout(self.w0)
        self._edge()
        t = self.w0
        while t < self.w1 - 1e-9:
            step = min(self.bucket_ms, self.w1 - t)
            yield env.timeout(step)
            t += step
            self._sample()
        self._edge()

    def _edge(self) -> None:
        for pool in self.pools.values():
            pool.snapshot()
        if self.box is not None:
            self.box._advance()
            if self.env.now <= self.w0:
                self._cpu0 = self.box.used_area
            else:
                used = self.box.used_area - self._cpu0
                self.cpu_busy = round(used / (self.box.cores * (self.w1 - self.w0)), 4)

    def _sample(self) -> None:
        row: dict[str, Any] = {"at_ms": round(self.env.now, 3), "instances": {}}
        for name, pool in self.pools.items():
            if pool.groups:
                row["instances"][name] = sum(g.serving_count() for g in pool.groups.values())
        self.samples.append(row)

    # -- autoscaling -----------------------------------------------------------
    def _autoscaler(self, group: Group, rule: Autoscale) -> Generator[Any, Any, None]:
        env = self.env
        every = rule.interval_s * 1000.0
        group.account()
        seen = (group.busy_area, group.cap_area, group.cpu_area)
        #: instances decided on but not yet serving (in the lag or cold start)
        planned = [0]
        while env.now < self.w1:
            yield env.timeout(every)
            group.account()
            if self.box is not None:
                self.box._advance()
            now = (group.busy_area, group.cap_area, group.cpu_area)
            d_busy, d_cap, d_cpu = (b - a for a, b in zip(seen, now, strict=True))
            seen = now
            n = len(group.serving())
            if rule.metric == "cpu":
                cores = d_cap / group.stage.slots * group.stage.threads
                metric = d_cpu / cores if cores else 0.0
            else:
                metric = d_busy / d_cap if d_cap else 1.0
            if metric > rule.scale_up_above:
                want = min(rule.max, math.ceil(max(n, 1) * metric / rule.scale_up_above))
                add = want - n - planned[0]
                if add > 0:
                    planned[0] += add
                    env.process(self._scale_up(group, add, rule, planned))
            elif metric < rule.scale_down_below and planned[0] == 0 and n > rule.min:
                env.process(self._scale_down(group, rule))

    def _scale_up(
        self, group: Group, add: int, rule: Autoscale, planned: list[int]
    ) -> Generator[Any, Any, None]:
        env = self.env
        if rule.lag_s > 0:
            yield env.timeout(rule.lag_s * 1000.0)
        booting = [group.add(ready=False) for _ in range(add)]
        if rule.cold_start_s > 0:
            yield env.timeout(rule.cold_start_s * 1000.0)
        for inst in booting:
            group.boot(inst)
        planned[0] -= add

    def _scale_down(self, group: Group, rule: Autoscale) -> Generator[Any, Any, None]:
        if rule.lag_s > 0:
            yield self.env.timeout(rule.lag_s * 1000.0)
        if len(group.serving()) > rule.min:
            group.drain()

    # -- crashes ---------------------------------------------------------------
    def _kill(self, group: Group, at: float, rule: Failures) -> Generator[Any, Any, None]:
        """Kill the busiest serving instance at `at` (as the fleet's chaos does)."""
        yield self.env.timeout(at)
        up = group.serving()
        if up:
            self._crash(group, max(up, key=lambda i: i.calls), rule)

    def _crash(self, group: Group, inst: Instance, rule: Failures) -> None:
        group.crash(inst)
        if self.box is not None:
            self.box.drop(inst)
        self.crashes.append((round(self.env.now, 3), group.stage.name, group.region, inst.index))
        if rule.restart_s is not None:
            self.env.process(self._restart(group, inst, rule.restart_s * 1000.0))

    def _crashes(self, group: Group, rule: Failures, rng: Any) -> Generator[Any, Any, None]:
        env = self.env
        assert rule.mtbf_s is not None
        mtbf = rule.mtbf_s * 1000.0
        while True:
            up = [i for i in group.instances if i.ready]
            yield env.timeout(rng.expovariate(max(1, len(up)) / mtbf))
            if env.now >= self.w1:
                return
            up = [i for i in group.instances if i.ready]
            if not up:
                continue
            self._crash(group, rng.choice(up), rule)

    def _restart(self, group: Group, inst: Instance, after: float) -> Generator[Any, Any, None]:
        if after > 0:
            yield self.env.timeout(after)
        if not inst.draining:
            group.boot(inst)
