"""Simulated turns stored by column: an hour of 10,000 callers is millions of turns.

Why columns: a turn as an object with two dicts costs ~600 bytes, 3 GB for
an hour of 10,000 callers; as typed arrays it is ~60 bytes, and the
summary's percentiles read them with numpy directly. `TurnRecord` objects
(one turn, per-stage dicts) are still there for whoever wants rows: built on
demand by `Turns.records()`, as tests and capacity_turns.jsonl do.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

#: A turn's outcome: the caller heard the reply, hung up waiting, or lost the call.
ANSWERED, HUNG, LOST = "answered", "hung_up", "lost"
OUTCOMES = (ANSWERED, HUNG, LOST)
NAN = math.nan


@dataclass(slots=True)
class TurnRecord:
    """One caller turn: where its latency began and how it was spent, per stage."""

    caller: int
    call: int
    turn: int
    #: virtual ms of the end of the caller's speech (where voice-to-voice latency starts)
    at_ms: float
    #: until the first agent audio; for a hang-up, until the caller gave up
    latency_ms: float
    wait_ms: dict[str, float]
    service_ms: dict[str, float]
    outcome: str = ANSWERED


class Turns:
    """Columns of every measured turn; per stage a wait and a service column (NaN: skipped)."""

    def __init__(self, columns: Sequence[str]) -> None:
        #: stage names, then "rtt" (round trips between regions)
        self.columns = list(columns)
        self.caller = array("q")
        self.call = array("q")
        self.turn = array("l")
        self.at = array("d")
        self.latency = array("d")
        self.outcome = bytearray()
        #: row-major: turn k's column c at [k * len(columns) + c]
        self.wait = array("d")
        self.service = array("d")

    def add(
        self,
        caller: int,
        call: int,
        turn: int,
        at: float,
        latency: float,
        wait: list[float],
        service: list[float],
        outcome: int,
    ) -> None:
        """Append one turn; `wait`/`service` per column (NaN where it did not pass)."""
        self.caller.append(caller)
        self.call.append(call)
        self.turn.append(turn)
        self.at.append(at)
        self.latency.append(latency)
        self.outcome.append(outcome)
        self.wait.extend(wait)
        self.service.extend(service)

    def extend(
        self,
        ids: np.ndarray,
        times: np.ndarray,
        wait: np.ndarray,
        service: np.ndarray,
        outcome: np.ndarray,
    ) -> None:
        """Append many turns at once: `ids` (caller, call, turn) and `times` (at,
        latency) one row per turn, `wait`/`service` one column per stage, `outcome`."""
        for column, values in zip((self.caller, self.call, self.turn), ids.T, strict=True):
            column.frombytes(values.astype(f"i{column.itemsize}").tobytes())
        self.at.frombytes(np.ascontiguousarray(times[:, 0]).tobytes())
        self.latency.frombytes(np.ascontiguousarray(times[:, 1]).tobytes())
        self.wait.frombytes(np.ascontiguousarray(wait, dtype=np.float64).tobytes())
        self.service.frombytes(np.ascontiguousarray(service, dtype=np.float64).tobytes())
        self.outcome.extend(outcome.astype(np.uint8).tobytes())

    def __len__(self) -> int:
        return len(self.latency)

    def stage(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """A column's (wait, service) per turn, NaN where the turn skipped it."""
        c, n = self.columns.index(name), len(self.columns)
        wait = np.frombuffer(self.wait, dtype=np.float64)[c::n]
        return wait, np.frombuffer(self.service, dtype=np.float64)[c::n]

    def outcomes(self) -> np.ndarray:
        """Each turn's outcome as an index into OUTCOMES."""
        return np.frombuffer(bytes(self.outcome), dtype=np.uint8)

    def records(self) -> list[TurnRecord]:
        """Every turn as a TurnRecord (dicts of the stages it passed)."""
        return list(self._iter())

    def _iter(self) -> Iterator[TurnRecord]:
        names = self.columns
        width = len(names)
        for k in range(len(self.latency)):
            row = slice(k * width, (k + 1) * width)
            wait = {n: v for n, v in zip(names, self.wait[row], strict=True) if v == v}
            svc = {n: v for n, v in zip(names, self.service[row], strict=True) if v == v}
            yield TurnRecord(
                self.caller[k],
                self.call[k],
                self.turn[k],
                self.at[k],
                self.latency[k],
                wait,
                svc,
                OUTCOMES[self.outcome[k]],
            )
