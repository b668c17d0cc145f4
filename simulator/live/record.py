"""What a session hands back: everything one call produced, measured at the caller side.

Apart from the session so the code that reads a finished call (the call runner,
tests) depends on the result, not on how the call was played.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.audio import Pcm
from simulator.rows import TurnRow


@dataclass
class CallRecord:
    """Everything one call produced, measured at the caller side."""

    call_id: str
    turns: list[TurnRow]
    caller: Pcm
    agent: Pcm
    events: list[dict[str, Any]]
    error: str | None
    started_at: float
    duration_s: float
    max_send_lateness_ms: float
    #: How a goal-driven caller's conversation went (None for scripted calls).
    conversation: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        """True when the call ran its whole plan without an agent or transport failure."""
        return self.error is None
