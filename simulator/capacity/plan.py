"""`voxsim capacity plan`: the smallest deployment that meets a P95, and how the choices compare.

Why a search and not a formula: with per-instance queues, hang-ups and a
P95 target, "enough instances" depends on the tail of each stage's queue,
which only a simulation gives. The search is greedy and short:

1. start each stage with instances at the floor its offered load allows
   (utilisation below 1: turns per second x share x (service + hold) / slots);
2. simulate N callers; while the P95 misses the SLO, add one instance to the
   stage whose queue wait has the largest P95 (the bottleneck);
3. then try taking one instance off each stage, keeping it off while the
   SLO holds (so no stage is left over-provisioned by step 2's order).

The found deployment is then run side by side under every balancer policy,
fixed and autoscaled (each stage's `autoscale` rule from the file, or the
default rule; starting at the found count, free to go from half to twice
it), with the file's own traffic (a `spike` in it is where autoscaling
shows its lag, a quiet hour where it saves instances).
Instances of stages without `servers` (pure delays) are not searched; a
`cpu` box keeps its cores (more instances do not add cores).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from pydantic import ValidationError

from simulator.capacity.config import Autoscale, CapacityConfig, Stage
from simulator.capacity.engine import Trace, simulate
from simulator.capacity.service import mean_ms
from simulator.capacity.summary import Row, summarise
from simulator.errors import UsageError

POLICIES = ("pooled", "round-robin", "least-connections", "sticky")
#: simulations a search may run before it gives up
MAX_STEPS = 200


@dataclass
class Plan:
    """The search's steps, the deployment it found, and the comparison at that size."""

    calls: int
    slo_p95_ms: float
    steps: list[Row] = field(default_factory=list)
    deployment: dict[str, int] = field(default_factory=dict)
    met: bool = False
    reason: str = ""
    comparison: list[Row] = field(default_factory=list)
    #: the found deployment's run (fixed, the file's balancer): for the time series
    trace: Trace | None = None


def plan(cfg: CapacityConfig, calls: int, slo_p95_ms: float) -> Plan:
    """Search the smallest deployment for `calls` concurrent callers at P95 <= `slo_p95_ms`."""
    searched = [s.name for s in cfg.stages if s.servers is not None and s.regions is None]
    if not searched:
        raise UsageError(
            "no stage with `servers` to size",
            where=cfg.name,
            fix="give the stages the plan should size `servers:` (instances)",
        )
    base = _closed(cfg, calls, slo_p95_ms)
    result = Plan(calls, slo_p95_ms)
    counts = {name: _floor(base, name, calls) for name in searched}
    row = _try(base, counts, result)
    while not row["slo_passed"] and len(result.steps) < MAX_STEPS:
        waits = {n: row["stages"][n]["wait_ms"]["p95"] or 0.0 for n in searched}
        bottleneck = max(waits, key=lambda n: waits[n])
        if waits[bottleneck] <= 0.0 and row["hangups"] == 0:
            result.reason = (
                f"P95 {row['latency_p95_ms']:.0f} ms with no queue wait: service times alone "
                f"miss {slo_p95_ms:g} ms; more instances cannot help"
            )
            break
        counts = {**counts, bottleneck: counts[bottleneck] + 1}
        row = _try(base, counts, result)
    if not row["slo_passed"]:
        result.reason = result.reason or f"not met within {MAX_STEPS} simulations"
        result.deployment = counts
        return result
    for name in searched:  # trim what the greedy order left over
        while counts[name] > 1:
            fewer = {**counts, name: counts[name] - 1}
            if not _try(base, fewer, result)["slo_passed"]:
                break
            counts = fewer
    result.met = True
    result.deployment = counts
    result.comparison, result.trace = compare(base, counts)
    return result


def compare(cfg: CapacityConfig, counts: dict[str, int]) -> tuple[list[Row], Trace]:
    """Every balancer, fixed and autoscaled, at `counts`: one row each."""
    rows: list[Row] = []
    chosen: Trace | None = None
    for scaling in ("fixed", "autoscaled"):
        for policy in POLICIES:
            try:
                variant = _sized(cfg, counts, policy=policy, autoscaled=scaling == "autoscaled")
            except ValidationError:
                continue  # not possible here (call_cpu needs a balancer that places calls)
            trace = simulate(variant)
            r = summarise(trace, variant)
            rows.append(
                {
                    "balancer": policy,
                    "file_choice": policy == cfg.balancer,
                    "scaling": scaling,
                    "instances": _mean_instances(trace, counts),
                    **{k: r[k] for k in _COLUMNS},
                }
            )
            if scaling == "fixed" and policy == cfg.balancer:
                chosen = trace
    assert chosen is not None
    return rows, chosen


_COLUMNS = (
    "n",
    "latency_p50_ms",
    "latency_p95_ms",
    "latency_p99_ms",
    "hangup_rate",
    "calls_lost",
    "slo_passed",
    "slo_reason",
)


def _try(cfg: CapacityConfig, counts: dict[str, int], result: Plan) -> Row:
    variant = _sized(cfg, counts, policy=cfg.balancer, autoscaled=False)
    row = summarise(simulate(variant), variant)
    result.steps.append(
        {
            "deployment": dict(counts),
            "instances": sum(counts.values()),
            "latency_p95_ms": row["latency_p95_ms"],
            "hangup_rate": row["hangup_rate"],
            "slo_passed": row["slo_passed"],
        }
    )
    return row


def _closed(cfg: CapacityConfig, calls: int, slo_p95_ms: float) -> CapacityConfig:
    """The file at `calls` callers back to back (its own traffic shape) and the SLO given."""
    traffic = cfg.traffic.model_dump()
    traffic.update(callers=calls, calls_per_min=None)
    data = cfg.model_dump()
    data.update(traffic=traffic, slo={"latency_p95_ms": slo_p95_ms})
    return CapacityConfig.model_validate(data)


def _sized(
    cfg: CapacityConfig, counts: dict[str, int], *, policy: str, autoscaled: bool
) -> CapacityConfig:
    data = cfg.model_dump()
    data["balancer"] = policy
    for stage in data["stages"]:
        n = counts.get(stage["name"])
        if n is None:
            continue
        if policy != cfg.balancer:  # the file's own choice keeps its per-stage overrides
            stage["balancer"] = None
        if autoscaled:
            cpu_bound = stage.get("cpu_ms") or (
                cfg.call_cpu and cfg.call_cpu.stage == stage["name"]
            )
            default = Autoscale(metric="cpu" if cpu_bound else "utilisation")
            rule = stage.get("autoscale") or default.model_dump()
            rule.update(min=max(1, math.ceil(n / 2)), max=max(2, 2 * n))
            stage["autoscale"] = rule
            stage["servers"] = n  # starts at the found size, may shrink to half or double
        else:
            stage["autoscale"] = None
            stage["servers"] = n
    return CapacityConfig.model_validate(data)


def _floor(cfg: CapacityConfig, name: str, calls: int) -> int:
    """Fewest instances whose slots can carry the stage's offered load at all."""
    stage = next(s for s in cfg.stages if s.name == name)
    t = cfg.traffic
    busy = _busy_ms(stage)
    cycle = mean_ms(t.speak_ms) + mean_ms(t.listen_ms) + sum(_busy_ms(s) for s in cfg.stages)
    offered = calls / max(cycle, 1e-9) * stage.probability * busy  # slots busy on average
    return max(1, math.ceil(offered / stage.slots))


def _busy_ms(stage: Stage) -> float:
    """Mean slot time of one request: service, CPU demand and hold."""
    parts = (stage.service_ms, stage.cpu_ms, stage.hold_ms)
    return sum(mean_ms(p) for p in parts if p is not None)


def _mean_instances(trace: Trace, counts: dict[str, int]) -> float:
    """Instances serving, summed over the searched stages, averaged over the window."""
    if not trace.samples:
        return float(sum(counts.values()))
    per = [sum(s["instances"].get(n, 0) for n in counts) for s in trace.samples]
    return round(sum(per) / len(per), 2)
