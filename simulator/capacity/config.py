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


#: How a stage's balancer spreads work over its instances (docs/capacity.md):
#: pooled is the idealised one FIFO queue (any free slot on any instance);
#: the others give every instance its own queue, as a real balancer does.
Policy = Literal["pooled", "round-robin", "least-connections", "sticky"]
#: What the balancer places: a whole call (a WebSocket connection, as HAProxy
#: in front of an agent does) or each turn's request (a stateless service).
Route = Literal["call", "turn"]


class Autoscale(_Strict):
    """Rules of an autoscaler (Kubernetes' HPA shape): every `interval_s` the
    stage's mean `metric` over the interval is compared with the thresholds;
    above `scale_up_above` the count becomes ceil(n x metric / threshold),
    below `scale_down_below` one instance drains. A decision takes effect
    `lag_s` later and a new instance serves `cold_start_s` after that."""

    metric: Literal["utilisation", "cpu"] = "utilisation"
    scale_up_above: Annotated[float, Field(gt=0, le=1)] = 0.7
    scale_down_below: Annotated[float, Field(ge=0, lt=1)] = 0.2
    interval_s: Annotated[float, Field(gt=0)] = 15.0
    lag_s: Annotated[float, Field(ge=0)] = 30.0
    cold_start_s: Annotated[float, Field(ge=0)] = 60.0
    min: Annotated[int, Field(ge=1, le=100_000)] = 1
    max: Annotated[int, Field(ge=1, le=100_000)] = 100

    @model_validator(mode="after")
    def _ordered(self) -> Autoscale:
        if self.min > self.max:
            raise ValueError("min must not exceed max")
        if self.scale_down_below >= self.scale_up_above:
            raise ValueError("scale_down_below must be below scale_up_above")
        return self


class Failures(_Strict):
    """Instances crash at random (each one's mean time between failures), and/or
    the busiest one is killed at set times (`voxsim load --chaos kill-instance@T`);
    each comes back `restart_s` later (null: stays down). Calls on a crashed
    instance are lost unless their caller reconnects (`traffic.reconnect`)."""

    mtbf_s: Annotated[float, Field(gt=0)] | None = None
    kill_at_s: list[Annotated[float, Field(ge=0)]] = []
    restart_s: Annotated[float, Field(ge=0)] | None = 30.0

    @model_validator(mode="after")
    def _some(self) -> Failures:
        if self.mtbf_s is None and not self.kill_at_s:
            raise ValueError("give mtbf_s (random crashes) or kill_at_s (kills at set times)")
        return self


class Cpu(_Strict):
    """One box: every stage with `cpu_ms` runs its instances on these cores."""

    cores: Annotated[float, Field(gt=0, le=100_000)]
    #: share of each core that latency-bound work gets done: a real-time process
    #: misses its deadlines before 100 % (a Python process's threads convoy on
    #: the GIL; a busy box's run queue delays wake-ups). Measured as the CPU an
    #: overloaded process gets done (benchmarks/capacity_vs_measured.py); applies
    #: to every process's core and to the box's cores.
    usable: Annotated[float, Field(gt=0, le=1)] = 1.0


class CallCpu(_Strict):
    """CPU a call costs while it is in progress, outside any stage: the agent's
    per-frame work (VAD, the streaming STT feed, pacing audio out) on the
    instance of `stage` the call is on, and the load generator's on the box.
    Both come as work items every `every_ms`; a turn's reply cannot start
    before the call's latest items are done (the generator sent the end of
    the speech, the agent processed it), so a process (one generator
    process) that falls behind delays every turn on it."""

    stage: Annotated[str, Field(min_length=1)]
    #: cores one call keeps busy on its process (e.g. 0.04: 4 % of a core)
    cores: Annotated[float, Field(ge=0, le=64)]
    #: cores one call keeps busy in the load generator, on the same box
    generator_cores: Annotated[float, Field(ge=0, le=64)] = 0.0
    every_ms: Annotated[float, Field(ge=10, le=10_000)] = 100.0


class Region(_Strict):
    """Where callers are: a region's `share` of them (shares are normalised)."""

    name: Annotated[str, Field(min_length=1)]
    share: Annotated[float, Field(ge=0)] = 1.0


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
    #: wall time that is not this box's CPU (a GPU, a remote API, I/O)
    service_ms: Service | None = None
    servers: Annotated[int, Field(ge=1, le=100_000)] | None = None
    slots: Annotated[int, Field(ge=1, le=10_000)] = 1
    hold_ms: Service | None = None
    #: share of turns that pass this stage (a tool call on some turns only)
    probability: Annotated[float, Field(ge=0, le=1)] = 1.0
    #: CPU seconds (as ms) one request needs, shared with everything on the box (`cpu`)
    cpu_ms: Service | None = None
    #: requests of one instance that can be on a core at once (a Python process: 1, the GIL)
    threads: Annotated[int, Field(ge=1, le=1024)] = 1
    #: this stage's balancer and what it places; None: the file's top-level setting
    balancer: Policy | None = None
    route: Route | None = None
    autoscale: Autoscale | None = None
    failures: Failures | None = None
    #: instances per region (with top-level `regions`); None: `servers` in every region
    regions: dict[str, Annotated[int, Field(ge=0, le=100_000)]] | None = None

    @model_validator(mode="after")
    def _coherent(self) -> Stage:
        if self.service_ms is None and self.cpu_ms is None:
            raise ValueError("give service_ms, cpu_ms or both")
        limited = self.servers is not None or self.regions is not None
        for what in ("autoscale", "failures"):
            if getattr(self, what) is not None and not limited:
                raise ValueError(f"{what} needs instances (servers)")
        if self.balancer not in (None, "pooled") and not limited:
            raise ValueError("a balancer needs instances (servers)")
        a = self.autoscale
        if a is not None and self.servers is not None and not a.min <= self.servers <= a.max:
            raise ValueError(f"servers ({self.servers}) must lie in autoscale min..max")
        return self

    @property
    def capacity(self) -> int | None:
        """Requests served at once by the whole pool; None for an unlimited stage."""
        return None if self.servers is None else self.servers * self.slots


class Spike(_Strict):
    """A burst: from `at_s` for `for_s` seconds the load is `factor` times the level
    (open traffic: the arrival rate; closed: extra callers join over `ramp_s`,
    at most `for_s`, and place no new call after it)."""

    at_s: Annotated[float, Field(ge=0)]
    for_s: Annotated[float, Field(gt=0)]
    factor: Annotated[float, Field(gt=1, le=100)] = 3.0


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
    #: fixed: every call has turns_per_call turns; geometric: that many on
    #: average, most calls short and a few long (uneven calls)
    turns_spread: Literal["fixed", "geometric"] = "fixed"
    spike: Spike | None = None
    #: share of callers who reconnect after their instance died (caller.reconnect);
    #: the call goes on on another instance after `reconnect_ms`, not lost
    reconnect: Annotated[float, Field(ge=0, le=1)] = 0.0
    reconnect_ms: Annotated[float, Field(ge=0)] = 1000.0
    #: a caller who waits this long for a reply hangs up (the seed: "beyond 3.5 s,
    #: users bail"); null: callers never hang up
    patience_s: Annotated[float, Field(gt=0)] | None = 3.5

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
    #: the default balancer of every stage with instances (a stage may override)
    balancer: Policy = "pooled"
    route: Route = "call"
    cpu: Cpu | None = None
    #: where callers are, and round-trip times between regions (ms, both directions)
    regions: list[Region] | None = None
    rtt_ms: dict[str, dict[str, Annotated[float, Field(ge=0)]]] | None = None
    call_cpu: CallCpu | None = None
    #: width of a time-series bucket (capacity_timeline.jsonl); None: window / 60
    timeline_s: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _unique_names(self) -> CapacityConfig:
        names = [s.name for s in self.stages]
        if len(set(names)) != len(names):
            raise ValueError(f"stage names must be unique (got {names})")
        if self.cpu is None and any(s.cpu_ms is not None for s in self.stages):
            raise ValueError("a stage has cpu_ms: give the box's `cpu: {cores: C}`")
        self._check_regions()
        self._check_call_cpu()
        return self

    def _check_call_cpu(self) -> None:
        c = self.call_cpu
        if c is None:
            return
        stage = next((s for s in self.stages if s.name == c.stage), None)
        if self.cpu is None or stage is None or stage.capacity is None:
            raise ValueError("call_cpu needs the `cpu` box and its stage, one with servers")
        if self.policy(stage) == "pooled" or self.routing(stage) != "call":
            raise ValueError(
                f"call_cpu: stage {c.stage} must place calls (a balancer, route: call)"
            )

    def _check_regions(self) -> None:
        if self.regions is None:
            if self.rtt_ms is not None or any(s.regions for s in self.stages):
                raise ValueError("rtt_ms and a stage's regions need top-level `regions`")
            return
        names = [r.name for r in self.regions]
        if len(set(names)) != len(names) or not sum(r.share for r in self.regions) > 0:
            raise ValueError("region names must be unique and some share above 0")
        rtt = self.rtt_ms or {}
        missing = [f"{a}->{b}" for a in names for b in names if b not in rtt.get(a, {})]
        if missing:
            raise ValueError(f"rtt_ms lacks {', '.join(missing[:4])} (give every pair)")
        for s in self.stages:
            unknown = set(s.regions or {}) - set(names)
            if unknown:
                raise ValueError(f"stage {s.name}: unknown region(s) {sorted(unknown)}")

    def policy(self, stage: Stage) -> Policy:
        """The stage's balancer (its own, or the file's)."""
        return stage.balancer or self.balancer

    def routing(self, stage: Stage) -> Route:
        """What the stage's balancer places: calls or turns."""
        return stage.route or self.route

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
    if err["type"] == "literal_error" and "dist" not in loc:
        return "allowed: " + str((err.get("ctx") or {}).get("expected", ""))
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
