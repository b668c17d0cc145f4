"""Fault draws: rates and distributions as configured, repeatable with the seed."""

from __future__ import annotations

import asyncio
import math

import numpy as np
import pytest

from reference_agent.faults import FaultInjector, FaultPlan, InjectedFault, StageFault


def _binomial_99(n: int, p: float) -> tuple[float, float]:
    """Normal-approximation 99% interval of a binomial count."""
    sd = math.sqrt(n * p * (1 - p))
    return n * p - 2.576 * sd, n * p + 2.576 * sd


@pytest.mark.parametrize("rate", [0.05, 0.3, 0.5])
async def test_error_rate_is_within_the_binomial_99_percent_interval(rate: float) -> None:
    plan = FaultPlan.from_config({"tts": {"error_rate": rate}}, seed=3)
    injector = FaultInjector(plan)
    n, failures = 4000, 0
    for _ in range(n):
        try:
            await injector.apply("tts")
        except InjectedFault as exc:
            assert exc.stage == "tts" and not exc.fatal
            failures += 1
    low, high = _binomial_99(n, rate)
    assert low <= failures <= high


@pytest.mark.parametrize(
    ("distribution", "mean", "sd"),
    [
        ("normal", 200.0, 50.0),
        ("uniform", 200.0, 100 / math.sqrt(3)),
        ("exponential", 200.0, 200.0),
    ],
)
def test_latency_distributions_have_the_configured_mean_and_spread(
    distribution: str, mean: float, sd: float
) -> None:
    fault = StageFault(latency_ms=200, latency_jitter_ms=50 if distribution == "normal" else 100)
    fault = StageFault(**{**fault.__dict__, "distribution": distribution})
    rng = np.random.default_rng(1)
    draws = np.array([fault.draw_ms(rng) for _ in range(20000)])
    assert draws.min() >= 0
    assert draws.mean() == pytest.approx(mean, rel=0.03)
    assert draws.std() == pytest.approx(sd, rel=0.05)


def test_fixed_latency_is_exact_and_draws_nothing() -> None:
    rng = np.random.default_rng(1)
    state = rng.bit_generator.state
    assert StageFault(latency_ms=123).draw_ms(rng) == 123
    assert rng.bit_generator.state == state


def test_start_event_faults_override_serve_flags_stage_by_stage() -> None:
    flags = FaultPlan.from_config({"llm": {"latency_ms": 50}, "llm_timeout_ms": 900})
    call = FaultPlan.from_config({"stt": {"error_rate": 0.2}}, seed=4)
    merged = call.merged_over(flags)
    assert merged.stages["llm"].latency_ms == 50 and merged.stages["stt"].error_rate == 0.2
    assert merged.llm_timeout_ms == 900 and merged.seed == 4


async def test_fail_mode_marks_the_error_fatal() -> None:
    injector = FaultInjector(FaultPlan.from_config({"llm": {"error_rate": 1, "on_error": "fail"}}))
    with pytest.raises(InjectedFault) as caught:
        await injector.apply("llm")
    assert caught.value.fatal
    assert asyncio.iscoroutinefunction(injector.apply)


async def test_draws_repeat_with_the_seed() -> None:
    async def draws(seed: int) -> list[float]:
        config = {"stt": {"latency_ms": 1, "latency_jitter_ms": 1, "distribution": "uniform"}}
        injector = FaultInjector(FaultPlan.from_config(config, seed=seed))
        out = []
        for _ in range(3):
            await injector.apply("stt")
            out.append(injector.take_latency()["injected_stt_ms"])
        return out

    assert await draws(7) == await draws(7) != await draws(8)
