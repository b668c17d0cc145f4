"""Scenario files: YAML in, frozen pydantic models out, one clear line on error.

A scenario says who calls (caller), what they do (turns), which agent answers
with which faults (agent), and what the caller must experience (slo). Unknown
keys are errors so a typo never silently becomes a default.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.errors import ScenarioError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StageFault(_Model):
    """Faults injected into one stage of a bundled agent."""

    latency_ms: Annotated[float, Field(ge=0, le=60_000)] = 0.0
    error_rate: Annotated[float, Field(ge=0, le=1)] = 0.0


class Faults(_Model):
    """Per-stage faults; honoured by the bundled agents only."""

    stt: StageFault = StageFault()
    llm: StageFault = StageFault()
    tts: StageFault = StageFault()


class Agent(_Model):
    """Which agent answers the call: a bundled one, or yours at a URL."""

    kind: Literal["pipeline", "e2e", "websocket", "twilio", "realtime", "webrtc"] = "pipeline"
    url: str | None = None
    faults: Faults = Faults()

    @model_validator(mode="after")
    def _url_for_remote(self) -> Agent:
        if self.kind == "websocket" and not self.url:
            raise ValueError("kind 'websocket' needs url: ws://HOST:PORT/PATH")
        if self.kind in REMOTE_URL_EXAMPLES and not self.url:
            raise ValueError(f"kind {self.kind!r} needs url: {REMOTE_URL_EXAMPLES[self.kind]}")
        return self


#: Agent kinds reached at a URL, with the URL shape each expects (DESIGN.md).
REMOTE_URL_EXAMPLES = {
    "twilio": "twilio+ws://HOST:PORT/PATH",
    "realtime": "realtime+ws://HOST:PORT/v1",
    "webrtc": "webrtc+http://HOST:PORT/offer",
}


class LinkDirection(_Model):
    """One direction of the network between caller and agent (docs/impairments.md)."""

    delay_ms: Annotated[float, Field(ge=0, le=10_000)] = 0.0
    jitter_ms: Annotated[float, Field(ge=0, le=2_000)] = 0.0
    loss: Annotated[float, Field(ge=0, lt=1)] = 0.0
    burst: Annotated[float, Field(ge=1, le=1_000)] = 1.0
    kbps: Annotated[float, Field(gt=0, le=1_000_000)] | None = None
    jitter_buffer_ms: Annotated[float, Field(ge=0, le=5_000)] | None = None


class Network(_Model):
    """Impairments the harness applies per direction, identically on every transport."""

    uplink: LinkDirection = LinkDirection()
    downlink: LinkDirection = LinkDirection()


class Caller(_Model):
    """The simulated caller's voice."""

    voice: str = "en-us"
    rate_wpm: Annotated[int, Field(ge=80, le=450)] = 175
    pitch: Annotated[int, Field(ge=0, le=99)] = 50


class Turn(_Model):
    """One step of the caller's plan.

    `say` speaks a sentence, then (unless `wait: false`) waits for the agent's
    reply; `wait: true` alone waits for the agent to speak (e.g. a greeting);
    `silence_ms` keeps the line silent for that long.
    """

    say: Annotated[str, Field(min_length=1)] | None = None
    wait: bool | None = None
    silence_ms: Annotated[int, Field(ge=0, le=600_000)] | None = None
    reply_timeout_ms: Annotated[int, Field(ge=100, le=120_000)] = 10_000

    @model_validator(mode="after")
    def _one_action(self) -> Turn:
        if self.say is not None and self.silence_ms is not None:
            raise ValueError("a turn has either say or silence_ms, not both")
        if self.say is None and self.silence_ms is None and self.wait is not True:
            raise ValueError("a turn needs say, silence_ms, or wait: true")
        return self

    @property
    def waits_for_reply(self) -> bool:
        """True when the caller waits for the agent to answer after this turn."""
        if self.wait is not None:
            return self.wait
        return self.say is not None


class Slo(_Model):
    """Service-level objectives the run is judged by (all optional)."""

    latency_p50_ms: Annotated[float, Field(gt=0)] | None = None
    latency_p95_ms: Annotated[float, Field(gt=0)] | None = None
    wer_max: Annotated[float, Field(ge=0)] | None = None


class Scenario(_Model):
    """A whole scenario file."""

    name: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str = ""
    seed: Annotated[int, Field(ge=0)] = 0
    agent: Agent = Agent()
    caller: Caller = Caller()
    turns: Annotated[list[Turn], Field(min_length=1)]
    slo: Slo = Slo()
    network: Network = Network()


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ScenarioError with file and line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError(
            "file not found", where=str(p), fix="check the path (voxsim validate FILE)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"cannot read file: {exc}", where=str(p)) from None
    return parse_scenario(text, source=str(p))


def parse_scenario(text: str, source: str = "<scenario>") -> Scenario:
    """Validate YAML text as a Scenario; errors name `source`, the line and the field."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ScenarioError(
            f"invalid YAML: {problem}", where=f"{source}{at}", fix="fix the YAML syntax"
        ) from None
    if not isinstance(data, dict):
        raise ScenarioError(
            "a scenario must be a mapping with name, turns, ...",
            where=f"{source}:1",
            fix="see scenarios/smoke.yaml for an example",
        )
    try:
        return Scenario.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        line = _line_of(root, loc)
        field = _dotted(loc) or "(top level)"
        raise ScenarioError(
            _describe(err, loc), where=f"{source}:{line} {field}", fix=_allowed(loc, err)
        ) from None


def _dotted(loc: Sequence[Any]) -> str:
    out: str = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else f"{part}")
    return out


def _describe(err: Any, loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    given = err.get("input")
    shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
    return f"{err['msg']}{shown}"


def _allowed(loc: tuple[Any, ...], err: Any) -> str:
    if err["type"] == "extra_forbidden":
        model = _model_at(Scenario, loc[:-1])
        if model is not None:
            return "allowed: " + ", ".join(model.model_fields)
    if err["type"] == "literal_error":
        return f"allowed: {err['ctx']['expected']}"
    return "see docs in scenarios/smoke.yaml"


def _model_at(model: type[BaseModel], loc: Sequence[Any]) -> type[BaseModel] | None:
    """Walk field annotations along `loc` to find the model that holds the last key."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, int):
            args = typing.get_args(current)
            current = args[0] if args else None
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(tp: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if origin in (typing.Union, types.UnionType):
        real = [a for a in typing.get_args(tp) if a is not type(None)]
        return _unwrap(real[0]) if len(real) == 1 else tp
    return tp


def _line_of(node: yaml.Node | None, loc: Sequence[Any]) -> int:
    """1-based line of the YAML node at `loc` (the deepest one that exists)."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == part:
                    line = key.start_mark.line + 1
                    node = value
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
