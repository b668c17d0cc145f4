"""Which files the compiled engine runs: fixed pools only.

Why a rule of its own (without numba): engine.simulate asks it on every
run, and a file it refuses never loads the compiler. The compiled engine
(kernel.py) computes a pool's wait on arrival (static.py), so it takes a
file when nothing changes a pool during the run and no turn needs routing:
no `cpu` box (CPU sharing, per-call CPU), no regions, no stage with an
autoscaler or crashes; and no least-connections balancer placing each turn
(route: turn), whose pick counts every instance's outstanding requests.
Everything else runs on SimPy (engine.py).
"""

from __future__ import annotations

from simulator.capacity.config import CapacityConfig


def compiled_fits(cfg: CapacityConfig) -> bool:
    """True when the compiled engine gives this file's trace (the fixed-pool case)."""
    if cfg.cpu is not None or cfg.call_cpu is not None or cfg.regions is not None:
        return False
    for st in cfg.stages:
        if st.autoscale is not None or st.failures is not None or st.cpu_ms is not None:
            return False
        lc = cfg.policy(st) == "least-connections"
        if st.servers is not None and lc and cfg.routing(st) == "turn":
            return False
    return True
