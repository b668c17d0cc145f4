"""Fault knobs of the bundled agents: what each failure does to a caller.

Per stage (stt, llm, tool, tts): added latency, fixed or drawn from a
distribution, and an error rate whose errors either make the agent say a
recovery phrase or fail the call. Plus an LLM timeout and a TTS stall in the
middle of a sentence. The schema is the scenario's `agent.faults` model
(simulator.scenario.Faults): FaultPlan is that model plus a seed, and the
`voxsim agent serve` fault flags, which set an agent's defaults, are derived
from its fields here. A call's start event may carry faults (so one agent
process serves calls with different faults). All draws come from one
generator per call, seeded by the scenario's seed, so a run is repeatable.
"""

from __future__ import annotations

import argparse
import asyncio
import typing
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from simulator.scenario import Faults, StageFault

__all__ = [
    "DISTRIBUTIONS",
    "STAGES",
    "FaultFlag",
    "FaultInjector",
    "FaultPlan",
    "InjectedFault",
    "StageFault",
    "add_fault_flags",
    "fault_flags",
    "flag_of",
    "plan_from_flags",
]

#: The stages that take faults: the scenario model's StageFault fields.
STAGES = tuple(n for n, f in Faults.model_fields.items() if f.annotation is StageFault)
DISTRIBUTIONS: tuple[str, ...] = typing.get_args(StageFault.model_fields["distribution"].annotation)


class InjectedFault(Exception):
    """A stage failed because a fault knob said so."""

    def __init__(self, stage: str, fatal: bool) -> None:
        super().__init__(f"injected {stage} error")
        self.stage = stage
        self.fatal = fatal


class FaultPlan(Faults):
    """The scenario's fault model (every field and default of `Faults`) and the draws' seed."""

    seed: int = 0

    @property
    def stages(self) -> dict[str, StageFault]:
        """Each stage's faults, by stage name."""
        return {name: getattr(self, name) for name in STAGES}

    @classmethod
    def from_config(cls, faults: dict[str, Any] | None, seed: int = 0) -> FaultPlan:
        """Build from the scenario-shaped dict `{stt: {latency_ms, error_rate, ...}, ...}`.

        Unknown keys and None values are left out (their defaults apply), as a
        start event from an older or newer harness may carry them.
        """
        values: dict[str, Any] = {}
        for name, value in (faults or {}).items():
            if name not in Faults.model_fields or value is None:
                continue
            if name in STAGES:
                known = StageFault.model_fields
                value = {k: v for k, v in value.items() if k in known and v is not None}
            values[name] = value
        return cls.model_validate({**values, "seed": seed})

    def merged_over(self, defaults: FaultPlan) -> FaultPlan:
        """This plan where it sets something (differs from the default), `defaults` elsewhere."""
        out: dict[str, Any] = {}
        for name, info in Faults.model_fields.items():
            mine = getattr(self, name)
            out[name] = mine if mine != info.get_default() else getattr(defaults, name)
        # The stall's offset goes with the stall.
        source = self if self.tts_stall_ms else defaults
        out["tts_stall_after_ms"] = source.tts_stall_after_ms
        return FaultPlan(**out, seed=self.seed)


# `voxsim agent serve` fault flags: one per FaultPlan field (a stage's fields as
# `--STAGE-FIELD`), with the model's type, choices, range and default.

#: Flags named otherwise than their field (names users already type).
_FLAG_NAMES = {"distribution": "latency-distribution", "seed": "fault-seed"}


@dataclass(frozen=True)
class FaultFlag:
    """One fault flag and the FaultPlan field it sets (`path`: field, or stage and field)."""

    flag: str
    path: tuple[str, ...]
    info: FieldInfo

    @property
    def dest(self) -> str:
        return self.flag.removeprefix("--").replace("-", "_")


def fault_flags() -> list[FaultFlag]:
    """Every fault flag, derived from FaultPlan's fields."""
    out: list[FaultFlag] = []
    for name, info in FaultPlan.model_fields.items():
        stage = info.annotation
        if isinstance(stage, type) and issubclass(stage, BaseModel):
            for sub, sub_info in stage.model_fields.items():
                flag = f"--{name}-{_FLAG_NAMES.get(sub, sub.replace('_', '-'))}"
                out.append(FaultFlag(flag, (name, sub), sub_info))
        else:
            out.append(
                FaultFlag(f"--{_FLAG_NAMES.get(name, name.replace('_', '-'))}", (name,), info)
            )
    return out


def add_fault_flags(parser: argparse.ArgumentParser) -> None:
    """Add the fault flags to `voxsim agent serve`; defaults are the model's."""
    for f in fault_flags():
        kind = f.info.annotation
        if typing.get_origin(kind) is typing.Literal:
            parser.add_argument(f.flag, choices=typing.get_args(kind), default=f.info.default)
        else:
            parser.add_argument(
                f.flag,
                type=typing.cast(type, kind),
                default=f.info.default,
                help=f.info.description,
            )


def plan_from_flags(args: argparse.Namespace) -> FaultPlan:
    """The FaultPlan the fault flags set; a pydantic ValidationError names a flag's
    field path (`flag_of` turns it back into the flag)."""
    config: dict[str, Any] = {}
    for f in fault_flags():
        target = config
        for key in f.path[:-1]:
            target = target.setdefault(key, {})
        target[f.path[-1]] = getattr(args, f.dest)
    return FaultPlan.model_validate(config)


def flag_of(loc: tuple[int | str, ...]) -> str:
    """The flag of a validation error's field path, e.g. ('llm', 'error_rate')."""
    for f in fault_flags():
        if f.path == tuple(loc):
            return f.flag
    return "--" + "-".join(str(p) for p in loc).replace("_", "-")


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
