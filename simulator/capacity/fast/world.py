"""The compiled engine's state as numpy arrays, built from a capacity file.

Why a module of its own: the kernel (kernel.py) sees only arrays; this is
where the file's traffic, stages and pools become them, and where the
random streams are opened exactly as the SimPy engine opens them (the same
names, the same seeds, the same batches; service.py, pool.py, traffic.py),
so both engines draw the same numbers in the same order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from simulator.capacity.balancer import _mix
from simulator.capacity.config import CapacityConfig
from simulator.capacity.fast import kernel as k
from simulator.capacity.service import BATCH, batches, stream

#: draws held per stream (refilled by the driver when one runs out)
DEPTH = 8 * BATCH
#: rows the kernel writes before the driver takes them into the table
ROWS = 1 << 16
#: open calls in progress room is made for at first (doubled when full)
OPEN_CALLS = 256

Draws = Callable[[], np.ndarray]


class World(NamedTuple):
    """Every array the kernel reads and writes (kernel.py names their columns)."""

    counter: np.ndarray  # int64 [N_COUNT]
    clock: np.ndarray  # float64 [4]
    h_time: np.ndarray  # the event heap: time, sequence, process
    h_seq: np.ndarray
    h_proc: np.ndarray
    p_int: np.ndarray  # per process
    p_flt: np.ndarray
    p_pin: np.ndarray  # [process, group]: the pinned instance, -1 none
    p_wait: np.ndarray  # [process, column]: the turn under way
    p_served: np.ndarray
    free: np.ndarray  # process slots an open call can take
    buf: np.ndarray  # [stream, DEPTH] draws, b_pos used, b_len held
    b_pos: np.ndarray
    b_len: np.ndarray
    s_int: np.ndarray  # per stage
    s_prob: np.ndarray
    g_int: np.ndarray  # per group
    g_free: np.ndarray  # the slots' heaps
    g_calls: np.ndarray  # calls pinned per instance
    g_busy: np.ndarray  # slot-ms busy in the window
    sticky: np.ndarray  # [caller, group]: the sticky balancer's instance
    a_time: np.ndarray  # the arrival process's events (open traffic)
    a_kind: np.ndarray
    r_int: np.ndarray  # rows written: caller, call, turn
    r_flt: np.ndarray  # at, latency
    r_out: np.ndarray
    r_wait: np.ndarray
    r_served: np.ndarray


def uniforms(rng: random.Random) -> Callable[[int], np.ndarray]:
    """The next n of `rng.random()`, drawn by numpy: the same Mersenne Twister state
    and the same 53-bit formula, so the same numbers."""
    state = rng.getstate()[1]
    bits = np.random.MT19937()
    key = np.asarray(state[:624], dtype=np.uint32)
    bits.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": state[624]}}
    gen = np.random.Generator(bits)
    return lambda n: gen.random(n)


def turn_counts(cfg: CapacityConfig) -> Draws | None:
    """Traffic._turns as draws (None when every call has turns_per_call turns)."""
    t = cfg.traffic
    if t.turns_spread == "fixed" or t.turns_per_call == 1:
        return None
    draw = uniforms(stream(cfg.seed, "call-length"))
    log_q = math.log(1.0 - 1.0 / t.turns_per_call)

    def counts() -> np.ndarray:
        # math.log per draw, as Traffic._turns computes it (numpy's log may differ in an ulp)
        return np.array([1 + int(math.log(1.0 - u) / log_q) for u in draw(BATCH).tolist()])

    return counts


def streams(cfg: CapacityConfig) -> tuple[list[Draws | None], np.ndarray]:
    """Every stream the kernel draws from, in kernel order (SPEAK, LISTEN, TURNS, then
    per stage its service, hold and skip), and the stages' table s_int."""
    seed, t = cfg.seed, cfg.traffic
    sources: list[Draws | None] = [
        batches(t.speak_ms, stream(seed, "speak")),
        batches(t.listen_ms, stream(seed, "listen")),
        turn_counts(cfg),
    ]
    table = np.full((len(cfg.stages), 5), -1, dtype=np.int64)
    group = 0
    for j, st in enumerate(cfg.stages):
        assert st.service_ms is not None  # no `cpu` box: every stage has service_ms
        table[j, k.S_POOL] = int(st.servers is not None)
        if st.servers is not None:
            table[j, k.S_GROUP] = group
            group += 1
        table[j, k.S_SERVICE] = len(sources)
        sources.append(batches(st.service_ms, stream(seed, f"stage:{st.name}")))
        if st.hold_ms is not None:
            table[j, k.S_HOLD] = len(sources)
            sources.append(batches(st.hold_ms, stream(seed, f"hold:{st.name}")))
        if st.probability < 1.0:
            skip = uniforms(stream(seed, f"skip:{st.name}"))
            table[j, k.S_SKIP] = len(sources)
            sources.append(_batch_of(skip))
    return sources, table


def _batch_of(draw: Callable[[int], np.ndarray]) -> Draws:
    return lambda: draw(BATCH)


POLICIES = {"pooled": k.POOLED, "round-robin": k.ROUND_ROBIN}
POLICIES.update({"least-connections": k.LEAST_CONNECTIONS, "sticky": k.STICKY})


def groups(cfg: CapacityConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per stage with instances its group row (g_int), the slots' heaps (all free at
    0) and the calls pinned per instance, as static.StaticGroup keeps them."""
    rows = []
    slots = instances = 0
    for st in cfg.stages:
        if st.servers is None:
            continue
        policy = cfg.policy(st)
        route = k.ROUTE_TURN if policy == "pooled" or cfg.routing(st) == "turn" else k.ROUTE_CALL
        rows.append([POLICIES[policy], route, st.servers, st.slots, slots, instances, 0])
        slots += st.servers * st.slots
        instances += st.servers
    g_int = np.array(rows, dtype=np.int64).reshape(len(rows), 7)
    return g_int, np.zeros(slots), np.zeros(instances, dtype=np.int64)


def closed_callers(cfg: CapacityConfig, level: float, w1: float) -> list[tuple[float, float]]:
    """Traffic.start's closed callers in order: (offset, end) each, the spike's last."""
    t = cfg.traffic
    n = int(level)
    ramp = t.ramp_s * 1000.0
    out = [(ramp * i / n, w1) for i in range(n)]
    if t.spike is not None:
        extra = round(n * (t.spike.factor - 1.0))
        at, until = t.spike.at_s * 1000.0, (t.spike.at_s + t.spike.for_s) * 1000.0
        spread = min(t.ramp_s, t.spike.for_s) * 1000.0
        out += [(at + spread * j / extra, min(until, w1)) for j in range(extra)]
    return out


def arrivals(cfg: CapacityConfig, per_min: float, w1: float) -> tuple[np.ndarray, np.ndarray]:
    """Traffic._arrivals' timeouts, computed ahead (they depend on nothing else):
    each event's virtual ms and kind (a call, a spike's edge, the last: stop)."""
    rng = stream(cfg.seed, "arrivals")
    rate = per_min / 60_000.0
    spike = cfg.traffic.spike
    t1 = t2 = math.inf
    if spike is not None:
        t1, t2 = spike.at_s * 1000.0, (spike.at_s + spike.for_s) * 1000.0
    now = 0.0
    times: list[float] = []
    kinds: list[int] = []
    while True:
        r = rate * spike.factor if spike is not None and t1 <= now < t2 else rate
        gap = rng.expovariate(r)
        edge = t1 if now < t1 else (t2 if now < t2 else math.inf)
        if now + gap >= edge:
            now, kind = now + (edge - now), k.A_EDGE
        else:
            now += gap
            kind = k.A_STOP if now >= w1 else k.A_CALL
        times.append(now)
        kinds.append(kind)
        if kind == k.A_STOP:
            return np.array(times), np.array(kinds, dtype=np.int64)


def build(
    cfg: CapacityConfig, level: float, window: tuple[float, float]
) -> tuple[World, list[Draws | None]]:
    """The world at virtual time 0 (every closed caller about to start, or the first
    arrival scheduled), and the sources its streams are refilled from."""
    sources, s_int = streams(cfg)
    g_int, g_free, g_calls = groups(cfg)
    w0, w1 = window
    t = cfg.traffic
    callers = closed_callers(cfg, level, w1) if cfg.closed else []
    if cfg.closed:
        a_time, a_kind = np.zeros(1), np.array([k.A_STOP], dtype=np.int64)
    else:
        a_time, a_kind = arrivals(cfg, level, w1)
    n = len(callers) if cfg.closed else OPEN_CALLS
    n_callers = len(callers) if cfg.closed else int((a_kind == k.A_CALL).sum())
    cols = len(cfg.stages) + 2  # the stages, then rtt and frames (record.Turns' columns)
    count = np.zeros(k.N_COUNT, dtype=np.int64)
    count[k.C_TURNS], count[k.C_DRAWN] = t.turns_per_call, sources[k.TURNS] is not None
    count[k.C_CUR] = k.IDLE
    patience = math.inf if t.patience_s is None else t.patience_s * 1000.0
    world = World(
        counter=count,
        clock=np.array([0.0, w0, w1, patience]),
        h_time=np.zeros(n + 2),
        h_seq=np.zeros(n + 2, dtype=np.int64),
        h_proc=np.zeros(n + 2, dtype=np.int64),
        p_int=np.zeros((n, 8), dtype=np.int64),
        p_flt=np.zeros((n, 6)),
        p_pin=np.full((n, len(g_int)), -1, dtype=np.int64),
        p_wait=np.full((n, cols), np.nan),
        p_served=np.full((n, cols), np.nan),
        free=np.arange(n, dtype=np.int64)[::-1].copy(),
        buf=np.zeros((len(sources), DEPTH)),
        b_pos=np.zeros(len(sources), dtype=np.int64),
        b_len=np.array([0 if s is not None else DEPTH for s in sources], dtype=np.int64),
        s_int=s_int,
        s_prob=np.array([st.probability for st in cfg.stages]),
        g_int=g_int,
        g_free=g_free,
        g_calls=g_calls,
        g_busy=np.zeros(len(g_int)),
        sticky=_sticky(g_int, n_callers),
        a_time=a_time,
        a_kind=a_kind,
        r_int=np.zeros((ROWS, 3), dtype=np.int64),
        r_flt=np.zeros((ROWS, 2)),
        r_out=np.zeros(ROWS, dtype=np.uint8),
        r_wait=np.zeros((ROWS, cols)),
        r_served=np.zeros((ROWS, cols)),
    )
    _schedule_start(world, callers)
    return world, sources


def _sticky(g_int: np.ndarray, n_callers: int) -> np.ndarray:
    """balancer.choose's sticky pick per caller and group (only if a group is sticky)."""
    if not (g_int[:, k.G_POLICY] == k.STICKY).any():
        return np.zeros((0, len(g_int)), dtype=np.int64)
    hashes = [_mix(c) for c in range(n_callers)]
    return np.array([[h % n for n in g_int[:, k.G_N].tolist()] for h in hashes], dtype=np.int64)


def _schedule_start(world: World, callers: list[tuple[float, float]]) -> None:
    """SimPy's start: every closed caller's first step at time 0 in creation order
    (already a heap), or the arrival process's first timeout."""
    count = world.counter
    if not callers:
        world.h_time[0], world.h_proc[0] = world.a_time[0], k.ARRIVALS
        count[k.C_HEAP] = count[k.C_SEQ] = 1
        count[k.C_FREE] = len(world.free)
        return
    n = len(callers)
    world.h_seq[:n] = world.h_proc[:n] = np.arange(n)
    count[k.C_HEAP] = count[k.C_SEQ] = n
    offsets, ends = zip(*callers, strict=True)
    world.p_flt[:, k.F_OFFSET], world.p_flt[:, k.F_END] = offsets, ends
    world.p_int[:, k.P_CALLER] = np.arange(n)
    world.p_int[:, k.P_STATE] = k.ST_INIT
