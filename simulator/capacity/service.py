"""Draw service times from a configured distribution, one seeded stream each.

Python's `random.Random` rather than numpy: the simulation draws one scalar
per event, where `random` is several times cheaper than a numpy call, and its
Mersenne Twister gives the same numbers on every platform for a seed.
Each stream is seeded from (run seed, stream name), so adding a stage or a
tool call does not shift the numbers any other stage draws.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable

from simulator.capacity.config import Empirical, Exponential, Fixed, Lognormal, Service

Sampler = Callable[[], float]


def stream(seed: int, name: str) -> random.Random:
    """An independent generator for `name` under `seed` (stable across runs and Pythons)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def sampler(spec: Service, rng: random.Random) -> Sampler:
    """A function returning one service time (ms) per call, drawn from `spec`."""
    if isinstance(spec, Fixed):
        value = spec.ms
        return lambda: value
    if isinstance(spec, Exponential):
        rate = 1.0 / spec.mean_ms
        return lambda: rng.expovariate(rate)
    if isinstance(spec, Lognormal):
        mu, sigma = math.log(spec.median_ms), spec.sigma
        return lambda: rng.lognormvariate(mu, sigma)
    if isinstance(spec, Empirical):
        samples = list(spec.samples_ms)
        return lambda: rng.choice(samples)
    raise TypeError(f"unknown service distribution {spec!r}")


def mean_ms(spec: Service) -> float:
    """The distribution's mean (ms): for utilisation estimates and docs tables."""
    if isinstance(spec, Fixed):
        return spec.ms
    if isinstance(spec, Exponential):
        return spec.mean_ms
    if isinstance(spec, Lognormal):
        return spec.median_ms * math.exp(spec.sigma**2 / 2)
    return sum(spec.samples_ms) / len(spec.samples_ms)
