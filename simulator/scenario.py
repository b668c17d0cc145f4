"""Scenario files: YAML in, frozen pydantic models out, one clear line on error.

A scenario says who calls (caller), what they do (turns), which agent answers
with which faults (agent), and what the caller must experience (slo). Unknown
keys are errors so a typo never silently becomes a default. Sizes are
bounded (docs/callers.md, "Limits"): no file can keep the loader, the
renderer or a call busy for long.

The sections' models live in simulator/schema/ (one module per section); this
module puts them together as `Scenario`, loads files, and is where the rest of
the code imports every scenario name from.
"""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator

from simulator.configfile import field_error, load_mapping, model_at, read_config
from simulator.schema.agent import (
    REMOTE_URL_EXAMPLES,
    Agent,
    Faults,
    LinkDirection,
    Network,
    StageFault,
)
from simulator.schema.base import (
    MAX_FACT_CHARS,
    MAX_PATTERN_CHARS,
    MAX_SAY_CHARS,
    MAX_SAY_WORDS,
    MAX_TURNS,
    Model,
)
from simulator.schema.caller import (
    Caller,
    Channel,
    Disfluency,
    Noise,
    NoiseKind,
    Reconnect,
    Room,
    Turn,
)
from simulator.schema.conversation import Conversation, End, Gap, LlmCaller, Persona, Rule
from simulator.schema.outcome import (
    Criterion,
    Expect,
    Judge,
    JudgeLlm,
    Slo,
    StateCheck,
    ToolExpectation,
)

__all__ = [
    "MAX_FACT_CHARS",
    "MAX_PATTERN_CHARS",
    "MAX_SAY_CHARS",
    "MAX_SAY_WORDS",
    "MAX_TURNS",
    "REMOTE_URL_EXAMPLES",
    "Agent",
    "Caller",
    "Channel",
    "Conversation",
    "Criterion",
    "Disfluency",
    "End",
    "Expect",
    "Faults",
    "Gap",
    "Judge",
    "JudgeLlm",
    "LinkDirection",
    "LlmCaller",
    "Network",
    "Noise",
    "NoiseKind",
    "Persona",
    "Reconnect",
    "Room",
    "Rule",
    "Scenario",
    "Slo",
    "StageFault",
    "StateCheck",
    "ToolExpectation",
    "Turn",
    "load_scenario",
    "parse_scenario",
]


class Scenario(Model):
    """A whole scenario file."""

    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: Annotated[str, Field(max_length=4_000)] = ""
    seed: Annotated[int, Field(ge=0)] = 0
    agent: Agent = Agent()
    caller: Caller = Caller()
    turns: Annotated[list[Turn], Field(max_length=MAX_TURNS)] = []
    #: A goal-driven caller that takes over after `turns` (simulator/conversation/).
    conversation: Conversation | None = None
    slo: Slo = Slo()
    #: Dotted field -> values; the calls are the cartesian product (simulator/matrix.py).
    matrix: dict[str, Annotated[list[Any], Field(min_length=1)]] = {}
    repeat: Annotated[int, Field(ge=1, le=10_000)] = 1
    expect: Expect | None = None
    #: Whole-call criteria judged by an LLM (simulator/judge/).
    judge: Judge | None = None
    network: Network = Network()

    @model_validator(mode="after")
    def _something_to_say(self) -> Scenario:
        if not self.turns and self.conversation is None:
            raise ValueError("a scenario needs turns:, a conversation:, or both")
        return self


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError with file and line."""
    p = Path(path)
    return parse_scenario(read_config(p, "voxsim validate FILE"), source=str(p), base=p.parent)


def parse_scenario(text: str, source: str = "<scenario>", base: Path | None = None) -> Scenario:
    """Validate YAML text as a Scenario; errors name `source`, the line and the field.

    `base` is the scenario file's folder, which a turn's `audio:` path is relative to
    (default: the current directory)."""
    data, root = load_mapping(
        text, source, "a scenario must be a mapping with name, turns, ...", "scenarios/smoke.yaml"
    )
    try:
        scenario = Scenario.model_validate(data, context={"scenario_dir": base})
        if scenario.matrix:
            from simulator.matrix import expand

            expand(scenario, source, root)  # every combination must validate too
        return scenario
    except ValidationError as exc:
        raise field_error(exc, root, source, _allowed) from None


def _allowed(loc: tuple[Any, ...], err: Any) -> str:
    if err["type"] == "extra_forbidden":
        model = model_at(Scenario, loc[:-1])
        if model is not None:
            return "allowed: " + ", ".join(model.model_fields)
    if err["type"] == "literal_error":
        return f"allowed: {err['ctx']['expected']}"
    bounds = _range_of(loc)
    if bounds:
        return f"allowed: {bounds}"
    return "see docs in scenarios/smoke.yaml"


def _range_of(loc: tuple[Any, ...]) -> str:
    """The numeric range a field accepts ("0.05 < x <= 3.0"), from its constraints."""
    model = model_at(Scenario, loc[:-1])
    name = loc[-1] if loc and isinstance(loc[-1], str) else None
    if model is None or name is None or name not in model.model_fields:
        return ""
    lo = hi = ""
    for meta in _constraints(model.model_fields[name]):
        for attr, fmt in (("gt", "{} < "), ("ge", "{} <= ")):
            if getattr(meta, attr, None) is not None:
                lo = fmt.format(getattr(meta, attr))
        for attr, fmt in (("lt", " < {}"), ("le", " <= {}")):
            if getattr(meta, attr, None) is not None:
                hi = fmt.format(getattr(meta, attr))
    return f"{lo}x{hi} ({name})" if lo or hi else ""


def _constraints(info: Any) -> list[Any]:
    metas = list(info.metadata)
    for arg in typing.get_args(info.annotation):
        if typing.get_origin(arg) is Annotated:
            for m in typing.get_args(arg)[1:]:
                metas.extend(getattr(m, "metadata", [m]))
    return metas
