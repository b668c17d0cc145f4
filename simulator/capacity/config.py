"""A capacity file: YAML in, a frozen pydantic model out, one clear line on error.

The same error contract as scenario files (simulator/scenario.py): bad input
names the file, the line and the field, says what is wrong and what is
allowed, and exits 2. The line lookup and messages are scenario.py's own
helpers, so both kinds of file read the same way when they are wrong.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.configfile import field_error, load_mapping, model_at, read_config

#: z of the standard normal's 95th percentile: a lognormal's P95 = median * exp(1.645 sigma).
Z95 = 1.6448536269514722

#: Hard ceilings, so a typo cannot ask for a week of a million callers.
MAX_CALLERS = 100_000
MAX_DURATION_S = 24 * 3600.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fixed(_Strict):
    """Always the same time: a configured hangover, a network hop."""

    dist: Literal["fixed"]
    ms: Annotated[float, Field(ge=0)]


class Exponential(_Strict):
    """Memoryless service (the M in M/M/c): what queueing formulas assume."""

    dist: Literal["exponential"]
    mean_ms: Annotated[float, Field(gt=0)]


class Lognormal(_Strict):
    """Right-skewed service given as vendors quote it: a median and a P95."""

    dist: Literal["lognormal"]
    median_ms: Annotated[float, Field(gt=0)]
    p95_ms: Annotated[float, Field(gt=0)]

    @model_validator(mode="after")
    def _p95_above_median(self) -> Lognormal:
        if self.p95_ms <= self.median_ms:
            raise ValueError("p95_ms must be above median_ms (use dist: fixed for no spread)")
        return self

    @property
    def sigma(self) -> float:
        """The log-space standard deviation that puts the P95 where it was given."""
        return math.log(self.p95_ms / self.median_ms) / Z95


class Empirical(_Strict):
    """Measured times, resampled with replacement (see calibrate.py, --from-run)."""

    dist: Literal["empirical"]
    samples_ms: Annotated[list[Annotated[float, Field(ge=0)]], Field(min_length=1)]


Service = Annotated[Fixed | Exponential | Lognormal | Empirical, Field(discriminator="dist")]


class Stage(_Strict):
    """One stage of a caller turn, in pipeline order.

    `servers` instances behind a load balancer, each serving `slots` requests
    at once (a GPU batching 10-100 LLM requests is one server with many
    slots); a request that finds every slot busy waits in one FIFO queue.
    No `servers`: an unlimited stage, a pure delay (endpointing, network).
    `hold_ms`: the slot stays busy this much longer after the turn moved on
    (an LLM still generating after its first token, TTS synthesising the rest
    of the reply); it adds no latency to this turn, only load.
    """

    name: Annotated[str, Field(min_length=1)]
    service_ms: Service
    servers: Annotated[int, Field(ge=1, le=100_000)] | None = None
    slots: Annotated[int, Field(ge=1, le=10_000)] = 1
    hold_ms: Service | None = None
    #: share of turns that pass this stage (a tool call on some turns only)
    probability: Annotated[float, Field(ge=0, le=1)] = 1.0

    @property
    def capacity(self) -> int | None:
        """Requests served at once by the whole pool; None for an unlimited stage."""
        return None if self.servers is None else self.servers * self.slots


class Traffic(_Strict):
    """Who calls: `callers` placing calls back to back (closed), or Poisson
    `calls_per_min` (open). Each turn: the caller speaks `speak_ms`, the
    stages run, then the caller listens to the reply and thinks `listen_ms`."""

    callers: Annotated[int, Field(ge=1, le=MAX_CALLERS)] | None = None
    calls_per_min: Annotated[float, Field(gt=0, le=1_000_000)] | None = None
    turns_per_call: Annotated[int, Field(ge=1, le=1000)] = 6
    speak_ms: Service
    listen_ms: Service
    #: closed traffic: callers join evenly over this many seconds (not all at t=0)
    ramp_s: Annotated[float, Field(ge=0)] = 10.0

    @model_validator(mode="after")
    def _one_kind(self) -> Traffic:
        if (self.callers is None) == (self.calls_per_min is None):
            raise ValueError("give exactly one of callers (closed) or calls_per_min (open)")
        return self


class Slo(_Strict):
    """What a load level must meet: the P95 of voice-to-voice latency."""

    latency_p95_ms: Annotated[float, Field(gt=0)]


class Window(_Strict):
    """Virtual time: turns whose speech ends in [warmup_s, warmup_s + duration_s) count."""

    duration_s: Annotated[float, Field(gt=0, le=MAX_DURATION_S)] = 600.0
    warmup_s: Annotated[float, Field(ge=0, le=MAX_DURATION_S)] = 60.0


class Search(_Strict):
    """The breakpoint search over load levels (the same steps as `voxsim load`)."""

    start: Annotated[int, Field(ge=1, le=MAX_CALLERS)] = 1
    growth: Annotated[float, Field(gt=1, le=100)] = 2.0
    max: Annotated[int, Field(ge=1, le=MAX_CALLERS)] = 10_000
    bisect: bool = True


class CapacityConfig(_Strict):
    """A deployment to simulate: traffic, stages in pipeline order, the SLO."""

    name: Annotated[str, Field(min_length=1)]
    description: str = ""
    seed: int = 0
    traffic: Traffic
    stages: Annotated[list[Stage], Field(min_length=1)]
    slo: Slo
    window: Window = Window()
    search: Search = Search()

    @model_validator(mode="after")
    def _unique_names(self) -> CapacityConfig:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique (got {names})")
        return self

    @property
    def closed(self) -> bool:
        """True for callers back to back; False for Poisson arrivals."""
        return self.traffic.callers is not None


def load_capacity(path: str | Path) -> CapacityConfig:
    """Read and validate a capacity file; raise ScenarioError (exit 2) naming file:line field."""
    p = Path(path)
    return parse_capacity(read_config(p, "scenarios/capacity.yaml"), source=str(p))


def parse_capacity(text: str, source: str = "<capacity>") -> CapacityConfig:
    """Validate YAML text as a CapacityConfig; errors name `source`, the line and the field."""
    data, root = load_mapping(
        text,
        source,
        "a capacity file must be a mapping with name, traffic, stages, slo",
        "scenarios/capacity.yaml",
    )
    try:
        return CapacityConfig.model_validate(data)
    except ValidationError as exc:
        raise field_error(exc, root, source, _allowed) from None


def _allowed(loc: tuple[Any, ...], err: Any) -> str:
    if err["type"] == "extra_forbidden":
        dist = _DIST_MODELS.get(loc[-2]) if len(loc) > 1 else None
        model = dist or model_at(CapacityConfig, loc[:-1])
        if model is not None:
            return "allowed: " + ", ".join(model.model_fields)
    if err["type"] in ("literal_error", "union_tag_invalid", "union_tag_not_found"):
        return "allowed: dist: " + " | ".join(_DISTS)
    ctx = err.get("ctx") or {}
    bounds = [f"{k} {v}" for k, v in ctx.items() if k in ("gt", "ge", "lt", "le")]
    if bounds:
        return "allowed: " + ", ".join(bounds)
    return "see docs/capacity.md and scenarios/capacity.yaml"


#: The tags of Service's union; pydantic puts the tag into an error's location.
_DIST_MODELS: dict[Any, type[BaseModel]] = {
    "fixed": Fixed,
    "exponential": Exponential,
    "lognormal": Lognormal,
    "empirical": Empirical,
}
_DISTS = tuple(_DIST_MODELS)
