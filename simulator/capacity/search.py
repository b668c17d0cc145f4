"""The breakpoint search in virtual time: the lowest load whose P95 misses the SLO.

The steps are `voxsim load --profile breakpoint`'s own (simulator/load/profiles.py):
start, x growth while the SLO holds, then bisection between the last passing
and the first failing level until they are adjacent. Reusing that profile
keeps "breakpoint" meaning one thing whether it was measured or simulated.
Each level is a fresh simulation with the same seed, so a level's result
does not depend on which levels were tried before it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulator.capacity.config import CapacityConfig
from simulator.capacity.engine import simulate
from simulator.capacity.summary import Row, summarise
from simulator.load.config import LoadConfig
from simulator.load.profiles import Breakpoint, breakpoint_bounds


@dataclass
class SearchResult:
    """Every simulated level in the order run, and the verdict."""

    rows: list[Row]
    last_passing: int | None
    breakpoint: int | None


def search(
    cfg: CapacityConfig, level_row: Callable[[CapacityConfig, int], Row] | None = None
) -> SearchResult:
    """Simulate levels as the load tool's breakpoint profile picks them."""
    run = level_row or _level_row
    s = cfg.search
    profile = Breakpoint(
        LoadConfig(
            scenario="",
            out_dir="",
            profile="breakpoint",
            start=s.start,
            growth=s.growth,
            max_concurrency=s.max,
            bisect=s.bisect,
        )
    )
    rows: list[Row] = []
    # The profile steps over levels (callers, or calls per minute for open
    # traffic); a row's `concurrency` is the calls in progress at that level.
    probes: list[Row] = []
    while (step := profile.next_step(probes)) is not None:
        row = run(cfg, step.concurrency)
        row.update(level=step.concurrency, phase=step.phase, step=len(rows))
        rows.append(row)
        probes.append({"concurrency": step.concurrency, "slo_passed": row["slo_passed"]})
    last, first_fail = breakpoint_bounds(probes)
    for r in rows:
        r["breakpoint"] = r["level"] == first_fail
    return SearchResult(rows, last, first_fail)


def _level_row(cfg: CapacityConfig, level: int) -> Row:
    return summarise(simulate(cfg, float(level)), cfg)
