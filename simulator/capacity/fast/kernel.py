"""The fixed-pool model compiled: an event heap over (time, order, caller) and each
caller's turn as a state machine, step by step as traffic.py and turn.py walk it.

Why compiled: the SimPy engine spends ~25 us of Python per turn (the walk,
the event handling, the queue arithmetic); an hour of 10,000 callers is 5.7 M
turns. With fixed pools nothing changes under a request, so a caller is a few
numbers (its state, its turn's times) and an event is a heap entry: numba
compiles that walk to machine code.

Over 400 lines on purpose: every compiled function and constant is in this
one module because numba's on-disk cache (`cache=True`) is invalidated only
by changes to the file of the function it compiled; a step or constant in
another module could change under a stale cache.

Same results as the SimPy engine, not only the same distribution: events
are ordered by (time, the order they were scheduled in), as SimPy orders
same-time events; a caller schedules an event exactly where its SimPy process
yields a timeout, at the same float time; each random stream is consumed in
the same order (the draws come in arrays from the same seeded generators,
world.py). Everything is a numpy array in a `World` tuple (world.py):
`counter`, `clock` and the per-process rows are this module's state, indexed
by the constants below.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit

#: No reference counting: the kernel allocates nothing, and numba's atomic
#: increments and decrements of every array in the World tuple, at every
#: call, took ~70 % of its time (perf). `_nrt` is numba's own switch for it.
_NO_REFCOUNT: dict[str, Any] = {"_nrt": False}
#: a step of the kernel, compiled into `run` (inlined: no calls between them)
inlined = njit(cache=True, inline="always", **_NO_REFCOUNT)

# -- the state scalars: counter[...] (int64) and clock[...] (float64) -----------
C_SEQ, C_HEAP, C_CALLS, C_HUNG, C_ROWS, C_CUR, C_FREE, C_ARRIVAL, C_CALLER = range(9)
C_TURNS, C_DRAWN = 9, 10  # turns per call; 1 if drawn (geometric)
N_COUNT = 11
K_NOW, K_W0, K_W1, K_PATIENCE = range(4)
# -- a process (a closed caller, or one open call): p_int[p, ...], p_flt[p, ...]
P_STATE, P_CALLER, P_CALL, P_K, P_TURNS, P_STAGE, P_OUTCOME, P_OPEN = range(8)
F_T0, F_DEADLINE, F_PENDING, F_GAP, F_END, F_OFFSET = range(6)
# -- a stage: s_int[j, ...]; a group (a stage's instances): g_int[g, ...]
S_POOL, S_GROUP, S_SERVICE, S_HOLD, S_SKIP = range(5)
G_POLICY, G_ROUTE, G_N, G_SLOTS, G_FREE, G_INST, G_NEXT = range(7)
POOLED, ROUND_ROBIN, LEAST_CONNECTIONS, STICKY = range(4)
ROUTE_CALL, ROUTE_TURN = range(2)
#: streams every world has (world.py adds each stage's after them)
SPEAK, LISTEN, TURNS = range(3)
#: the arrival process's events (open traffic): a call, the edge of a spike, its end
A_CALL, A_EDGE, A_STOP = range(3)
ARRIVALS = -1  # the process index of the arrival process in the event heap
IDLE = -1  # counter[C_CUR] when no process is being stepped
# -- where a process resumes (p_int[p, P_STATE]) --------------------------------
(
    ST_INIT,
    ST_LOOP,
    ST_CALL,
    ST_TURN,
    ST_STAGE,
    ST_ARRIVE,
    ST_TAIL,
    ST_HANG,
    ST_RECORD,
    ST_CALL_TAIL,
    ST_CALL_END,
    ST_DONE,
) = range(12)
ANSWERED_CODE, HUNG_CODE = 0, 1  # record.OUTCOMES' indices
#: what `run` returns: finished; a stream or the row buffer needs the driver; more processes
DONE, REFILL, GROW = range(3)


# -- the event heap: (time, sequence) -> process --------------------------------
@inlined
def _before(w: Any, a: int, b: int) -> bool:
    ta, tb = w.h_time[a], w.h_time[b]
    return ta < tb or (ta == tb and w.h_seq[a] < w.h_seq[b])


@inlined
def _swap(w: Any, a: int, b: int) -> None:
    w.h_time[a], w.h_time[b] = w.h_time[b], w.h_time[a]
    w.h_seq[a], w.h_seq[b] = w.h_seq[b], w.h_seq[a]
    w.h_proc[a], w.h_proc[b] = w.h_proc[b], w.h_proc[a]


@inlined
def push(w: Any, at: float, proc: int) -> None:
    """Schedule `proc` at virtual ms `at`, after everything scheduled before it at `at`."""
    i = w.counter[C_HEAP]
    w.counter[C_HEAP] = i + 1
    w.h_time[i], w.h_seq[i], w.h_proc[i] = at, w.counter[C_SEQ], proc
    w.counter[C_SEQ] += 1
    while i > 0:
        parent = (i - 1) // 2
        if not _before(w, i, parent):
            break
        _swap(w, i, parent)
        i = parent


@inlined
def _pop(w: Any) -> int:
    """Take the earliest event: the clock moves to it; its process."""
    w.clock[K_NOW] = w.h_time[0]
    proc = w.h_proc[0]
    n = w.counter[C_HEAP] - 1
    w.counter[C_HEAP] = n
    _swap(w, 0, n)
    i = 0
    while True:
        low, left, right = i, 2 * i + 1, 2 * i + 2
        if left < n and _before(w, left, low):
            low = left
        if right < n and _before(w, right, low):
            low = right
        if low == i:
            return proc
        _swap(w, i, low)
        i = low


# -- slots: when each slot of an instance (or a pooled stage) frees ------------
@inlined
def _take_slot(free: Any, base: int, size: int, end: float) -> None:
    """heapreplace on the heap free[base:base+size]: its earliest slot now frees at `end`."""
    i = 0
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and free[base + child + 1] < free[base + child]:
            child += 1
        if free[base + child] >= end:
            break
        free[base + i] = free[base + child]
        i = child
    free[base + i] = end


@inlined
def _instance(w: Any, p: int, g: int) -> int:
    """static.StaticGroup.pick, or the instance the call is pinned to (-1: pooled)."""
    gi = w.g_int[g]
    if gi[G_POLICY] == POOLED:
        return -1
    if gi[G_ROUTE] == ROUTE_CALL and w.p_pin[p, g] >= 0:
        return w.p_pin[p, g]
    gi[G_NEXT] += 1
    n, policy = gi[G_N], gi[G_POLICY]
    if policy == LEAST_CONNECTIONS:  # fewest pinned calls, the first of equals
        inst, base = 0, gi[G_INST]
        for i in range(1, n):
            if w.g_calls[base + i] < w.g_calls[base + inst]:
                inst = i
    elif policy == STICKY:
        inst = w.sticky[w.p_int[p, P_CALLER], g]
    else:
        inst = gi[G_NEXT] % n
    if gi[G_ROUTE] == ROUTE_CALL:
        w.g_calls[gi[G_INST] + inst] += 1
        w.p_pin[p, g] = inst
    return inst


@inlined
def _start(w: Any, g: int, inst: int, now: float, busy_for: float, deadline: float) -> float:
    """static.StaticGroup.start: when the request starts; -1 if at or after `deadline`."""
    gi = w.g_int[g]
    size = gi[G_SLOTS] if inst >= 0 else gi[G_SLOTS] * gi[G_N]
    base = gi[G_FREE] + (inst * size if inst >= 0 else 0)
    first = w.g_free[base]
    start = first if first > now else now
    if start >= deadline:
        return -1.0
    end = start + busy_for
    _take_slot(w.g_free, base, size, end)
    w0, w1 = w.clock[K_W0], w.clock[K_W1]
    lo = start if start > w0 else w0
    hi = end if end < w1 else w1
    if hi > lo:
        w.g_busy[g] += hi - lo
    return start


# -- a caller's steps (traffic.Callers._call, turn.TurnWalk.turn) ---------------
@inlined
def _draw(w: Any, s: int) -> float:
    i = w.b_pos[s]
    w.b_pos[s] = i + 1
    return w.buf[s, i]


@inlined
def _wait(w: Any, p: int, delay: float, then: int) -> bool:
    """The process yields a timeout of `delay` ms and resumes in state `then`."""
    w.p_int[p, P_STATE] = then
    push(w, w.clock[K_NOW] + delay, p)
    return False


@inlined
def _go(w: Any, p: int, then: int) -> bool:
    """The process goes on at once in state `then`."""
    w.p_int[p, P_STATE] = then
    return True


@inlined
def _stop(w: Any, p: int) -> bool:
    """The process has ended."""
    w.p_int[p, P_STATE] = ST_DONE
    return False


@inlined
def _give_up(w: Any, p: int) -> bool:
    """visits.give_up: wait until the deadline, then the caller hangs up."""
    now = w.clock[K_NOW]
    return _wait(w, p, max(0.0, w.p_flt[p, F_DEADLINE] - now), ST_HANG)


@inlined
def _begin_call(w: Any, p: int) -> bool:
    """A call starts: its index, its number of turns."""
    pi = w.p_int[p]
    pi[P_CALL] = w.counter[C_CALLS]
    w.counter[C_CALLS] += 1
    pi[P_TURNS] = int(_draw(w, TURNS)) if w.counter[C_DRAWN] else w.counter[C_TURNS]
    pi[P_K] = 0
    w.p_flt[p, F_GAP] = 0.0
    return _go(w, p, ST_TURN)


@inlined
def _begin_turn(w: Any, p: int) -> bool:
    """The next turn, unless the call has had its turns or the window has ended."""
    pf, now = w.p_flt[p], w.clock[K_NOW]
    if w.p_int[p, P_K] >= w.p_int[p, P_TURNS] or now + pf[F_GAP] >= w.clock[K_W1]:
        return _go(w, p, ST_CALL_TAIL)
    lead = pf[F_GAP] + _draw(w, SPEAK)
    pf[F_T0] = now + lead
    pf[F_DEADLINE] = pf[F_T0] + w.clock[K_PATIENCE]
    pf[F_PENDING] = lead
    w.p_wait[p, :] = np.nan
    w.p_served[p, :] = np.nan
    w.p_int[p, P_OUTCOME] = ANSWERED_CODE
    w.p_int[p, P_STAGE] = 0
    return _go(w, p, ST_STAGE)


@inlined
def _stage(w: Any, p: int) -> bool:
    """turn._stages for one stage: skip it, add a pure delay, or go to its pool."""
    pi, pf = w.p_int[p], w.p_flt[p]
    j = pi[P_STAGE]
    if j == w.s_int.shape[0]:
        return _go(w, p, ST_TAIL)
    si = w.s_int[j]
    prob = w.s_prob[j]
    if prob < 1.0 and _draw(w, si[S_SKIP]) >= prob:
        pi[P_STAGE] = j + 1
        return True
    if not si[S_POOL]:
        d = _draw(w, si[S_SERVICE])
        w.p_wait[p, j], w.p_served[p, j] = 0.0, d
        pf[F_PENDING] += d
        pi[P_STAGE] = j + 1
        return True
    pending = pf[F_PENDING]
    if pending:  # arrive at the pool at its time: it sees requests in arrival order
        if w.clock[K_NOW] + pending > pf[F_DEADLINE]:
            return _give_up(w, p)
        pf[F_PENDING] = 0.0
        return _wait(w, p, pending, ST_ARRIVE)
    return _go(w, p, ST_ARRIVE)


@inlined
def _arrive(w: Any, p: int) -> bool:
    """turn._computed: the pool's wait is known on arrival (Kiefer-Wolfowitz)."""
    pi, pf, now = w.p_int[p], w.p_flt[p], w.clock[K_NOW]
    j = pi[P_STAGE]
    si = w.s_int[j]
    g = si[S_GROUP]
    inst = _instance(w, p, g)
    service = _draw(w, si[S_SERVICE])
    hold = _draw(w, si[S_HOLD]) if si[S_HOLD] >= 0 else 0.0
    deadline = pf[F_DEADLINE]
    start = _start(w, g, inst, now, service + hold, deadline)
    if start < 0.0 or now + (start - now) + service > deadline:
        return _wait(w, p, max(0.0, deadline - now), ST_HANG)
    waited = start - now
    pf[F_PENDING] = waited + service
    w.p_wait[p, j], w.p_served[p, j] = waited, service
    pi[P_STAGE] = j + 1
    return _go(w, p, ST_STAGE)


@inlined
def _tail(w: Any, p: int) -> bool:
    """The turn's last delays: past the patience the caller hangs up (turn._delay)."""
    pf, now = w.p_flt[p], w.clock[K_NOW]
    pending = pf[F_PENDING]
    if now + pending - pf[F_T0] > w.clock[K_PATIENCE]:
        if now + pending > pf[F_DEADLINE]:
            return _give_up(w, p)
        return _wait(w, p, pending, ST_RECORD)
    return _go(w, p, ST_RECORD)


@inlined
def _hang(w: Any, p: int) -> bool:
    """Abort(HUNG) in turn.turn: nothing more to wait, but not before the speech ended."""
    pf, now = w.p_flt[p], w.clock[K_NOW]
    w.p_int[p, P_OUTCOME] = HUNG_CODE
    pf[F_PENDING] = 0.0
    if now < pf[F_T0]:
        return _wait(w, p, pf[F_T0] - now, ST_RECORD)
    return _go(w, p, ST_RECORD)


@inlined
def _record(w: Any, p: int) -> bool:
    """The turn's row if its speech ended inside the window; then the caller listens."""
    pi, pf, now = w.p_int[p], w.p_flt[p], w.clock[K_NOW]
    t0 = pf[F_T0]
    if w.clock[K_W0] <= t0 < w.clock[K_W1]:
        r = w.counter[C_ROWS]
        w.counter[C_ROWS] = r + 1
        w.r_int[r, 0], w.r_int[r, 1], w.r_int[r, 2] = pi[P_CALLER], pi[P_CALL], pi[P_K]
        w.r_flt[r, 0], w.r_flt[r, 1] = t0, now + pf[F_PENDING] - t0
        w.r_out[r] = pi[P_OUTCOME]
        for c in range(w.r_wait.shape[1]):
            w.r_wait[r, c], w.r_served[r, c] = w.p_wait[p, c], w.p_served[p, c]
    pf[F_GAP] = pf[F_PENDING] + _draw(w, LISTEN)
    if pi[P_OUTCOME] != ANSWERED_CODE:
        w.counter[C_HUNG] += 1
        return _go(w, p, ST_CALL_TAIL)
    pi[P_K] += 1
    return _go(w, p, ST_TURN)


@inlined
def _end_call(w: Any, p: int) -> bool:
    """The call ends: its pinned instances each carry one call less."""
    for g in range(w.g_int.shape[0]):
        inst = w.p_pin[p, g]
        if inst >= 0:
            w.g_calls[w.g_int[g, G_INST] + inst] -= 1
            w.p_pin[p, g] = -1
    if w.p_int[p, P_OPEN]:  # an open call is a process of its own: it ends here
        w.free[w.counter[C_FREE]] = p
        w.counter[C_FREE] += 1
        return _stop(w, p)
    return _go(w, p, ST_LOOP)


@inlined
def _step(w: Any, p: int) -> bool:
    """One step of process `p`; False once it waits for an event (or ended)."""
    state = w.p_int[p, P_STATE]
    if state == ST_STAGE:
        return _stage(w, p)
    if state == ST_ARRIVE:
        return _arrive(w, p)
    if state == ST_TURN:
        return _begin_turn(w, p)
    if state == ST_RECORD:
        return _record(w, p)
    if state == ST_TAIL:
        return _tail(w, p)
    if state == ST_HANG:
        return _hang(w, p)
    if state == ST_CALL_TAIL:
        gap = w.p_flt[p, F_GAP]
        return _wait(w, p, gap, ST_CALL_END) if gap > 0 else _go(w, p, ST_CALL_END)
    if state == ST_CALL_END:
        return _end_call(w, p)
    if state == ST_CALL:
        return _begin_call(w, p)
    if state == ST_LOOP:  # a closed caller places calls until its end
        if w.clock[K_NOW] < w.p_flt[p, F_END]:
            return _go(w, p, ST_CALL)
        return _stop(w, p)
    if state == ST_INIT:  # traffic._closed_caller: join after its offset
        offset = w.p_flt[p, F_OFFSET]
        return _wait(w, p, offset, ST_LOOP) if offset > 0 else _go(w, p, ST_LOOP)
    return False


# -- the loop --------------------------------------------------------------------
@inlined
def _ready(w: Any) -> bool:
    """Room for one more step: a row to write, a draw left in every stream."""
    if w.counter[C_ROWS] >= w.r_int.shape[0]:
        return False
    for s in range(w.b_pos.shape[0]):
        if w.b_pos[s] >= w.b_len[s]:
            return False
    return True


@inlined
def _arrival(w: Any) -> None:
    """traffic._arrivals' next event: schedule the one after; a call starts now."""
    i = w.counter[C_ARRIVAL]
    kind = w.a_kind[i]
    if kind == A_STOP:
        return
    w.counter[C_ARRIVAL] = i + 1
    push(w, w.a_time[i + 1], ARRIVALS)
    if kind == A_CALL:
        w.counter[C_FREE] -= 1
        p = w.free[w.counter[C_FREE]]
        w.p_int[p, P_OPEN], w.p_int[p, P_CALLER] = 1, w.counter[C_CALLER]
        w.counter[C_CALLER] += 1
        w.p_pin[p, :] = -1
        w.p_int[p, P_STATE] = ST_CALL
        w.counter[C_CUR] = p


@njit(cache=True, **_NO_REFCOUNT)
def run(w: Any) -> int:
    """Process events until none is left (DONE), or until the driver must refill a
    stream, take the rows (REFILL) or add processes (GROW); call again to go on."""
    counter = w.counter
    while True:
        p = counter[C_CUR]
        if p == IDLE:
            if counter[C_HEAP] == 0:
                return DONE
            if w.h_proc[0] == ARRIVALS and counter[C_FREE] == 0:
                return GROW
            p = _pop(w)
            if p == ARRIVALS:
                _arrival(w)
                continue
            counter[C_CUR] = p
        while True:
            if not _ready(w):
                return REFILL
            if not _step(w, p):
                counter[C_CUR] = IDLE
                break
