"""Fault knobs of the bundled agents: what each failure does to a caller.

Per stage (stt, llm, tool, tts): added latency, fixed or drawn from a
distribution, and an error rate whose errors either make the agent say a
recovery phrase or fail the call. Plus an LLM timeout and a TTS stall in the
middle of a sentence. The same shape as a scenario's `agent.faults`; a call's
start event may carry them (so one agent process serves calls with different
faults), and `voxsim agent serve` flags set the defaults. All draws come from
one generator per call, seeded by the scenario's seed, so a run is repeatable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

STAGES = ("stt", "llm", "tool", "tts")
DISTRIBUTIONS = ("fixed", "normal", "uniform", "exponential")


class InjectedFault(Exception):
    """A stage failed because a fault knob said so."""

    def __init__(self, stage: str, fatal: bool) -> None:
        super().__init__(f"injected {stage} error")
        self.stage = stage
        self.fatal = fatal


@dataclass(frozen=True)
class StageFault:
    """Added latency (ms) and error probability of one stage.

    `distribution` says how the added latency is drawn: `fixed` is exactly
    `latency_ms`; `normal` has mean `latency_ms` and standard deviation
    `latency_jitter_ms` (cut at 0); `uniform` is `latency_ms +- latency_jitter_ms`;
    `exponential` has mean `latency_ms`. `on_error` is `recover` (say the
    recovery phrase, keep the call) or `fail` (report an error and hang up).
    """

    latency_ms: float = 0.0
    error_rate: float = 0.0
    latency_jitter_ms: float = 0.0
    distribution: str = "fixed"
    on_error: str = "recover"

    def draw_ms(self, rng: np.random.Generator) -> float:
        """One added-latency draw in milliseconds (never negative)."""
        mean, spread = self.latency_ms, self.latency_jitter_ms
        if self.distribution == "normal":
            return max(0.0, float(rng.normal(mean, spread)))
        if self.distribution == "uniform":
            return max(0.0, float(rng.uniform(mean - spread, mean + spread)))
        if self.distribution == "exponential":
            return float(rng.exponential(mean)) if mean > 0 else 0.0
        return mean


@dataclass(frozen=True)
class FaultPlan:
    """Faults for every stage, the call-level knobs, and the seed of the draws."""

    stages: dict[str, StageFault] = field(default_factory=dict)
    seed: int = 0
    llm_timeout_ms: float = 0.0  # 0: no timeout
    tts_stall_ms: float = 0.0
    tts_stall_after_ms: float = 300.0

    @classmethod
    def from_config(cls, faults: dict[str, Any] | None, seed: int = 0) -> FaultPlan:
        """Build from the scenario-shaped dict `{stt: {latency_ms, error_rate, ...}, ...}`."""
        faults = faults or {}
        known = {f.name for f in fields(StageFault)}
        stages: dict[str, StageFault] = {}
        for name in STAGES:
            raw = faults.get(name) or {}
            values = {k: v for k, v in raw.items() if k in known and v is not None}
            for key in ("latency_ms", "error_rate", "latency_jitter_ms"):
                if key in values:
                    values[key] = float(values[key])
            stages[name] = StageFault(**values)
        return cls(
            stages=stages,
            seed=seed,
            llm_timeout_ms=float(faults.get("llm_timeout_ms") or 0.0),
            tts_stall_ms=float(faults.get("tts_stall_ms") or 0.0),
            tts_stall_after_ms=float(faults.get("tts_stall_after_ms") or 300.0),
        )

    def merged_over(self, defaults: FaultPlan) -> FaultPlan:
        """This plan where it sets something, `defaults` elsewhere."""
        out = dict(defaults.stages)
        for name, fault in self.stages.items():
            if fault != StageFault():
                out[name] = fault
        return FaultPlan(
            stages=out,
            seed=self.seed,
            llm_timeout_ms=self.llm_timeout_ms or defaults.llm_timeout_ms,
            tts_stall_ms=self.tts_stall_ms or defaults.tts_stall_ms,
            tts_stall_after_ms=(
                self.tts_stall_after_ms if self.tts_stall_ms else defaults.tts_stall_after_ms
            ),
        )


class FaultInjector:
    """Applies a FaultPlan to one call; draws are seeded and per call."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = np.random.default_rng(plan.seed)
        self._latency: dict[str, float] = {}  # added since the last `take_latency`

    async def apply(self, stage: str) -> None:
        """Sleep the stage's added latency, then fail with its error probability."""
        fault = self.plan.stages.get(stage, StageFault())
        delay = fault.draw_ms(self._rng)
        if delay > 0:
            self._latency[stage] = self._latency.get(stage, 0.0) + delay
            await asyncio.sleep(delay / 1000)
        if fault.error_rate > 0 and self._rng.random() < fault.error_rate:
            raise InjectedFault(stage, fatal=fault.on_error == "fail")

    def take_latency(self) -> dict[str, float]:
        """Added latency per stage since the last call, as `injected_<stage>_ms` stages.

        Sent with a reply's metrics so a test can check that what voxsim
        measured moved by exactly what was drawn.
        """
        out = {f"injected_{k}_ms": round(v, 3) for k, v in self._latency.items()}
        self._latency.clear()
        return out
