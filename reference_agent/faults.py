"""Fault knobs of the bundled agents: added latency and error rate per stage.

The same shape as a scenario's `agent.faults`; a call's start event may carry
them (so one agent process serves calls with different faults), and
`voxsim agent serve` flags set the defaults.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import numpy as np

STAGES = ("stt", "llm", "tts")


class InjectedFault(Exception):
    """A stage failed because a fault knob said so."""


@dataclass(frozen=True)
class StageFault:
    """Added latency (ms) and error probability of one stage."""

    latency_ms: float = 0.0
    error_rate: float = 0.0


@dataclass(frozen=True)
class FaultPlan:
    """Faults for every stage, plus the seed of the error draws."""

    stages: dict[str, StageFault] = field(default_factory=dict)
    seed: int = 0

    @classmethod
    def from_config(cls, faults: dict[str, Any] | None, seed: int = 0) -> FaultPlan:
        """Build from the scenario-shaped dict `{stt: {latency_ms, error_rate}, ...}`."""
        stages: dict[str, StageFault] = {}
        for name in STAGES:
            raw = (faults or {}).get(name) or {}
            stages[name] = StageFault(
                latency_ms=float(raw.get("latency_ms", 0.0) or 0.0),
                error_rate=float(raw.get("error_rate", 0.0) or 0.0),
            )
        return cls(stages=stages, seed=seed)

    def merged_over(self, defaults: FaultPlan) -> FaultPlan:
        """This plan where it sets something, `defaults` elsewhere."""
        out = dict(defaults.stages)
        for name, fault in self.stages.items():
            if fault != StageFault():
                out[name] = fault
        return FaultPlan(stages=out, seed=self.seed)


class FaultInjector:
    """Applies a FaultPlan to one call; draws are seeded and per call."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = np.random.default_rng(plan.seed)

    async def apply(self, stage: str) -> None:
        """Sleep the stage's added latency, then fail with its error probability."""
        fault = self.plan.stages.get(stage, StageFault())
        if fault.latency_ms > 0:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.error_rate > 0 and self._rng.random() < fault.error_rate:
            raise InjectedFault(f"injected {stage} error")
