"""Which concurrency to run next, from the steps measured so far (pure, no clock).

A profile is a function of the finished steps: the conductor asks it for the
next step after each one ends, so the same code drives a live run and a unit
test that feeds it rows.

- ramp: the given levels in order, every one measured (a degradation curve).
- stress: half, one, one and a half and two times the stated capacity, then
  back to the capacity ("recovery": does it come back after the overload?).
- breakpoint: start, then multiply by `growth` while the SLO holds; at the
  first miss, bisect between the last passing and the first failing level
  until they are adjacent (or stop there without `bisect`). A level measured
  after a miss starts from an idle agent (`cooldown`, unless cooldown_s is 0):
  an agent overloaded a step before can stay slow at a level it passes fresh,
  and the search would find where it recovers, not its capacity.
- soak: one level held for `soak_s`, measured in windows of `window_s`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from simulator.load.config import LoadConfig, soak_level

Row = Mapping[str, Any]  # a load step (simulator.rows.LoadStepRow) as read back


@dataclass(frozen=True)
class Step:
    """One measurement step: hold `concurrency` callers and measure for `measure_s`."""

    concurrency: int
    phase: str
    measure_s: float
    #: judged for the exit code (steps above a stated capacity are only observed)
    counted: bool
    #: start from an idle agent: every caller stops and their calls end first
    cooldown: bool = False


def breakpoint_bounds(rows: Sequence[Row]) -> tuple[int | None, int | None]:
    """(last passing, first failing) concurrency of the steps that probe capacity.

    The first failing level is the lowest whose step missed the SLO; the last
    passing is the highest passing level below it (recovery steps excluded).
    """
    probes = [r for r in rows if r.get("phase") != "recovery"]
    failing = [int(r["concurrency"]) for r in probes if not r.get("slo_passed")]
    first_fail = min(failing) if failing else None
    passing = [
        int(r["concurrency"])
        for r in probes
        if r.get("slo_passed") and (first_fail is None or int(r["concurrency"]) < first_fail)
    ]
    return (max(passing) if passing else None), first_fail


class Profile:
    """Base: `next_step(rows)` is the step to run after `rows`, None when done."""

    def __init__(self, cfg: LoadConfig) -> None:
        self.cfg = cfg

    def counted(self, concurrency: int) -> bool:
        """Steps at or below the stated capacity count; all of them without one."""
        return self.cfg.capacity is None or concurrency <= self.cfg.capacity

    def next_step(self, rows: Sequence[Row]) -> Step | None:
        raise NotImplementedError


class Ramp(Profile):
    def next_step(self, rows: Sequence[Row]) -> Step | None:
        levels = self.cfg.levels
        if len(rows) >= len(levels):
            return None
        c = levels[len(rows)]
        return Step(c, "ramp", self.cfg.step_s, self.counted(c))


def stress_levels(capacity: int) -> list[int]:
    """0.5x, 1x, 1.5x, 2x the capacity (distinct, increasing)."""
    raw = [math.ceil(capacity * f) for f in (0.5, 1.0, 1.5, 2.0)]
    return sorted(set(max(1, c) for c in raw))


class Stress(Profile):
    def next_step(self, rows: Sequence[Row]) -> Step | None:
        capacity = self.cfg.capacity or 1
        levels = stress_levels(capacity)
        if len(rows) < len(levels):
            c = levels[len(rows)]
            return Step(c, "stress", self.cfg.step_s, self.counted(c))
        if len(rows) == len(levels):
            return Step(capacity, "recovery", self.cfg.step_s, True)
        return None


class Breakpoint(Profile):
    def counted(self, concurrency: int) -> bool:
        """Without a stated capacity the search only measures; with one, a break at
        or below it counts."""
        return self.cfg.capacity is not None and concurrency <= self.cfg.capacity

    def next_step(self, rows: Sequence[Row]) -> Step | None:
        cfg = self.cfg
        if not rows:
            return Step(cfg.start, "search", cfg.step_s, self.counted(cfg.start))
        measured = {int(r["concurrency"]) for r in rows}
        last_pass, first_fail = breakpoint_bounds(rows)
        if first_fail is None:
            top = max(measured)
            if top >= cfg.max_concurrency:
                return None
            c = min(cfg.max_concurrency, max(top + 1, math.floor(top * cfg.growth)))
            return Step(c, "search", cfg.step_s, self.counted(c))
        lo = last_pass or 0
        if not cfg.bisect or first_fail - lo <= 1:
            return None
        mid = (lo + first_fail) // 2
        if mid in measured or mid < 1:
            return None
        after_miss = not rows[-1].get("slo_passed") and cfg.cooldown_s > 0
        return Step(mid, "bisect", cfg.step_s, self.counted(mid), cooldown=after_miss)


class Soak(Profile):
    def next_step(self, rows: Sequence[Row]) -> Step | None:
        cfg = self.cfg
        windows = max(1, math.ceil(cfg.soak_s / cfg.window_s))
        if len(rows) >= windows:
            return None
        c = soak_level(cfg)
        return Step(c, "soak", cfg.window_s, True)


def build_profile(cfg: LoadConfig) -> Profile:
    """The profile object named by `cfg.profile`."""
    kinds: dict[str, type[Profile]] = {
        "ramp": Ramp,
        "stress": Stress,
        "breakpoint": Breakpoint,
        "soak": Soak,
    }
    return kinds[cfg.profile](cfg)
