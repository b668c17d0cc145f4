"""Small capacity configs built in code, for tests whose answer is known from a formula."""

from __future__ import annotations

from typing import Any

from simulator.capacity.config import CapacityConfig


def fixed(ms: float) -> dict[str, Any]:
    return {"dist": "fixed", "ms": ms}


def deployment(
    stages: list[dict[str, Any]],
    *,
    traffic: dict[str, Any],
    slo_ms: float = 800.0,
    duration_s: float = 60.0,
    warmup_s: float = 0.0,
    seed: int = 0,
    search: dict[str, Any] | None = None,
    **top: Any,
) -> CapacityConfig:
    """A config from plain dicts (validated exactly as a YAML file is); `top`: more
    top-level keys (balancer, cpu, regions, rtt_ms, ...)."""
    data: dict[str, Any] = {
        "name": "test",
        "seed": seed,
        "traffic": {"speak_ms": fixed(0), "listen_ms": fixed(0), **traffic},
        "stages": stages,
        "slo": {"latency_p95_ms": slo_ms},
        "window": {"duration_s": duration_s, "warmup_s": warmup_s},
    }
    if search is not None:
        data["search"] = search
    data.update(top)
    return CapacityConfig.model_validate(data)
