"""The garbage collector's pauses on a call engine's loop, and keeping them short.

A call engine paces every caller's 20 ms frames on one event loop, so any
pause of that loop delays every caller's next frame at once. CPython's full
(generation 2) collection walks every tracked object; a caller process holds
hundreds of thousands that live for the whole run (its imports: numpy,
aiortc, av, locust's; the rendered calls) and a steady churn of short-lived
ones (packets, frames, rows), so full collections come again and again and
each walks everything. `GcPauses` records each collection's generation and
duration (benchmarks/harness_capacity.py reports them per level): at 25
WebRTC callers one full collection per 30 s took 73-137 ms, the run's
longest frame delay. `freeze_setup()` collects once after set-up and moves
every object then alive out of the collector's sight (`gc.freeze`);
`--gc-freeze` in that benchmark tries it. Not applied to load workers yet:
in two runs it did not clearly shorten the pause (BENCHMARKS.md).
"""

from __future__ import annotations

import gc
import time
from typing import Any


def freeze_setup() -> int:
    """Collect what set-up left behind, then freeze every object alive now; return how
    many objects the collector no longer walks."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


class GcPauses:
    """Every garbage collection while in use (a context manager): generation and ms."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._began = 0.0

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
        else:
            self.pauses.append((int(info["generation"]), (time.perf_counter() - self._began) * 1e3))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._on_gc)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._on_gc)

    def summary(self) -> dict[str, Any]:
        """Collections per generation, and the full ones' longest and total pause (ms)."""
        full = [ms for gen, ms in self.pauses if gen == 2]
        return {
            "gc_collections": [sum(1 for g, _ in self.pauses if g == gen) for gen in range(3)],
            "gc_full_max_ms": round(max(full, default=0.0), 2),
            "gc_full_total_ms": round(sum(full), 1),
            "gc_max_ms": round(max((ms for _, ms in self.pauses), default=0.0), 2),
        }
