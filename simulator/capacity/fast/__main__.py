"""`python -m simulator.capacity.fast`: compile the kernel once, into numba's cache.

Why: numba compiles kernel.py on its first use in a process that finds no
cache (~13 s of CPU) and caches it beside the file. `make install` runs this
so the test workers (and a user's first `voxsim capacity`) load the compiled
kernel instead of each compiling it at the same time.
"""

from __future__ import annotations

import time
from pathlib import Path

from simulator.capacity.config import load_capacity
from simulator.capacity.engine import simulate

ROOT = Path(__file__).resolve().parents[3]


def main() -> None:
    """Run scenarios/capacity.yaml for a few virtual seconds on the compiled engine."""
    cfg = load_capacity(ROOT / "scenarios" / "capacity.yaml")
    cfg = cfg.model_copy(update={"window": cfg.window.model_copy(update={"duration_s": 5.0})})
    t0 = time.process_time()
    simulate(cfg, engine="compiled")
    print(f"capacity model kernel ready ({time.process_time() - t0:.1f} s of CPU)")


if __name__ == "__main__":
    main()
