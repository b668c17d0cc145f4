"""One fault schema: the `voxsim agent serve` flags and FaultPlan come from the scenario's model."""

from __future__ import annotations

import argparse
from typing import Annotated

import pytest
from pydantic import Field

from reference_agent import faults
from reference_agent.faults import FaultPlan, add_fault_flags, plan_from_flags
from simulator.cli import build_parser
from simulator.scenario import Faults, StageFault


def fault_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_fault_flags(parser)
    return parser.parse_args(argv)


def test_the_plan_is_the_model_plus_a_seed_and_agent_serve_takes_a_flag_per_field() -> None:
    assert set(FaultPlan.model_fields) == set(Faults.model_fields) | {"seed"}
    expected = {"--fault-seed", "--llm-timeout-ms", "--tts-stall-ms", "--tts-stall-after-ms"}
    for stage in ("stt", "llm", "tool", "tts"):
        for knob in ("latency-ms", "error-rate", "latency-jitter-ms", "latency-distribution"):
            expected.add(f"--{stage}-{knob}")
        expected.add(f"--{stage}-on-error")
    flags = faults.fault_flags()
    assert {f.flag for f in flags} == expected
    serve = vars(build_parser().parse_args(["agent", "serve"]))
    assert {f.dest for f in flags} <= set(serve)


def test_flag_defaults_are_the_model_defaults() -> None:
    assert plan_from_flags(fault_args()) == FaultPlan()
    plan = plan_from_flags(
        fault_args("--llm-latency-ms", "40", "--tool-on-error", "fail", "--fault-seed", "3")
    )
    assert plan.stages["llm"].latency_ms == 40 and plan.tool.on_error == "fail"
    assert plan.seed == 3 and plan.tts_stall_after_ms == Faults().tts_stall_after_ms


class MoreStage(StageFault):
    stall_ms: float = 5.0


class MoreFaults(Faults):
    stt: MoreStage = MoreStage()
    llm: MoreStage = MoreStage()
    vad_stall_ms: Annotated[float, Field(ge=0, description="new knob")] = 7.0


class MorePlan(MoreFaults):
    seed: int = 0


def test_a_field_added_to_the_model_becomes_a_flag_and_a_plan_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(faults, "FaultPlan", MorePlan)
    flags = {f.flag: f.path for f in faults.fault_flags()}
    assert flags["--vad-stall-ms"] == ("vad_stall_ms",)
    assert flags["--stt-stall-ms"] == ("stt", "stall_ms") and "--tool-stall-ms" not in flags
    plan = plan_from_flags(fault_args("--vad-stall-ms", "9", "--llm-stall-ms", "2"))
    assert isinstance(plan, MorePlan) and plan.model_dump()["vad_stall_ms"] == 9
    assert isinstance(plan.llm, MoreStage) and plan.llm.stall_ms == 2
    assert plan_from_flags(fault_args()).model_dump()["vad_stall_ms"] == 7.0  # the model's default


def test_a_bad_value_names_its_flag() -> None:
    with pytest.raises(ValueError) as caught:
        plan_from_flags(fault_args("--llm-error-rate", "2"))
    assert faults.flag_of(caught.value.errors()[0]["loc"]) == "--llm-error-rate"  # type: ignore[attr-defined]
