"""Run a fixed-pool deployment on the compiled kernel and hand back the engine's `Trace`.

Why a driver: the kernel works on fixed-size arrays; between its runs this
refills the random streams, moves the finished turns into the table
(record.Turns) and makes room for more open calls. The pools, the clock's
time series and the window's snapshots are the SimPy engine's own objects
(pool.build_pool, autoscale.Fleet: with fixed pools the clock is the only
process it starts), so the summary reads them as before.
"""

from __future__ import annotations

import numpy as np
import simpy

from simulator.capacity.autoscale import Fleet
from simulator.capacity.config import CapacityConfig
from simulator.capacity.engine import Trace
from simulator.capacity.fast import kernel as k
from simulator.capacity.fast.world import Draws, World, build
from simulator.capacity.pool import build_pool
from simulator.capacity.record import Turns
from simulator.capacity.regions import Regions
from simulator.capacity.service import BATCH
from simulator.capacity.static import StaticGroup


def simulate_fixed(cfg: CapacityConfig, level: float, window: tuple[float, float]) -> Trace:
    """engine.simulate for a file rule.compiled_fits accepts: the same trace."""
    env = simpy.Environment()
    regions = Regions(cfg)
    pools = {s.name: build_pool(env, cfg, regions, s, window) for s in cfg.stages}
    table = Turns([*pools, "rtt", "frames"])
    world, sources = build(cfg, level, window)
    while True:
        code = k.run(world)
        if code == k.DONE:
            break
        if code == k.GROW:
            world = _grow(world)
        else:
            _refill(world, sources)
            _flush(world, table)
    _flush(world, table)
    fleet = Fleet(env, cfg, pools, None, window)
    fleet.start()  # fixed pools: only the clock (time series, window snapshots)
    env.run()
    limited = [g for p in pools.values() for g in p.groups.values()]
    for group, busy in zip(limited, world.g_busy.tolist(), strict=True):
        assert isinstance(group, StaticGroup)
        group.busy_ms = busy
    return Trace(
        level=level,
        table=table,
        pools=pools,
        window_ms=window,
        calls_started=int(world.counter[k.C_CALLS]),
        end_ms=max(env.now, float(world.clock[k.K_NOW])),
        calls_hung_up=int(world.counter[k.C_HUNG]),
        samples=fleet.samples,
        bucket_ms=fleet.bucket_ms,
    )


def _refill(world: World, sources: list[Draws | None]) -> None:
    """Top up every stream more than half used, keeping what it has not handed out."""
    depth = world.buf.shape[1]
    for s, draw in enumerate(sources):
        pos, held = int(world.b_pos[s]), int(world.b_len[s])
        if draw is None or pos < depth // 2 and pos < held:
            continue
        left = held - pos
        world.buf[s, :left] = world.buf[s, pos:held]
        while left + BATCH <= depth:  # whole batches only: a draw is never thrown away
            world.buf[s, left : left + BATCH] = draw()
            left += BATCH
        world.b_pos[s], world.b_len[s] = 0, left


def _flush(world: World, table: Turns) -> None:
    """Move the rows the kernel wrote into the table."""
    n = int(world.counter[k.C_ROWS])
    if n:
        table.extend(
            world.r_int[:n], world.r_flt[:n], world.r_wait[:n], world.r_served[:n], world.r_out[:n]
        )
        world.counter[k.C_ROWS] = 0


def _grow(world: World) -> World:
    """Twice the processes (open calls in progress) and the event heap to match."""
    n = len(world.p_int)
    more = {
        name: np.concatenate([getattr(world, name), np.zeros_like(getattr(world, name))])
        for name in ("p_int", "p_flt", "h_time", "h_seq", "h_proc")
    }
    more["p_pin"] = np.concatenate([world.p_pin, np.full_like(world.p_pin, -1)])
    for name in ("p_wait", "p_served"):
        more[name] = np.concatenate(
            [getattr(world, name), np.full_like(getattr(world, name), np.nan)]
        )
    free = np.arange(2 * n - 1, n - 1, -1, dtype=np.int64)
    more["free"] = np.concatenate([free, world.free])
    world.counter[k.C_FREE] += n
    return world._replace(**more)
