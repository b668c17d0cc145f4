"""A growable mono audio track addressed by absolute sample index on the call's timeline."""

from __future__ import annotations

import numpy as np

from simulator.audio import Pcm


class Track:
    """int16 samples indexed from the call's t0; unwritten samples are silence."""

    def __init__(self, capacity: int = 16_000 * 60) -> None:
        self._buf = np.zeros(capacity, dtype=np.int16)
        self.length = 0

    def _ensure(self, n: int) -> None:
        if n > len(self._buf):
            grown = np.zeros(max(n, 2 * len(self._buf)), dtype=np.int16)
            grown[: self.length] = self._buf[: self.length]
            self._buf = grown

    def write(self, pos: int, pcm: Pcm) -> None:
        """Place `pcm` at sample `pos` (overwriting), extending the track as needed."""
        end = pos + len(pcm)
        self._ensure(end)
        self._buf[pos:end] = pcm
        self.length = max(self.length, end)

    def read(self, pos: int, n: int) -> Pcm:
        """Samples [pos, pos+n), extending the track with silence if it is shorter."""
        self._ensure(pos + n)
        self.length = max(self.length, pos + n)
        return self._buf[pos : pos + n].copy()

    def view(self, start: int = 0, end: int | None = None) -> Pcm:
        """A read-only view of [start, end) of what has been written so far."""
        stop = self.length if end is None else min(end, self.length)
        v = self._buf[max(0, start) : max(0, stop)]
        v.flags.writeable = False
        return v

    def array(self) -> Pcm:
        """A copy of the whole track."""
        return self._buf[: self.length].copy()
