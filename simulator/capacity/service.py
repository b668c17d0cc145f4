"""Draw service times from a configured distribution, one seeded stream each.

Each stream's numbers come from numpy's PCG64 in batches (see `sampler`),
seeded from a `random.Random` whose Mersenne Twister gives the same seed on
every platform; arrivals and skips draw from that `random.Random` directly.
Each stream is seeded from (run seed, stream name), so adding a stage or a
tool call does not shift the numbers any other stage draws.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable

import numpy as np

from simulator.capacity.config import Empirical, Exponential, Fixed, Lognormal, Service

Sampler = Callable[[], float]


def stream(seed: int, name: str) -> random.Random:
    """An independent generator for `name` under `seed` (stable across runs and Pythons)."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def sampler(spec: Service, rng: random.Random) -> Sampler:
    """A function returning one service time (ms) per call, drawn from `spec`.

    Random distributions are drawn BATCH at a time by numpy (seeded from
    `rng`, see `batches`) and handed out one by one: a scalar draw from
    `random` costs ~1.5 us, which at millions of turns was a third of the
    simulation.
    """
    if isinstance(spec, Fixed):
        value = spec.ms
        return lambda: value
    return _batched(batches(spec, rng))


def batches(spec: Service, rng: random.Random) -> Callable[[], np.ndarray]:
    """A function returning the next BATCH draws from `spec`: what `sampler` hands
    out one by one, in the same order (the compiled engine takes them whole)."""
    if isinstance(spec, Fixed):
        value = spec.ms
        return lambda: np.full(BATCH, value)
    gen = np.random.default_rng(rng.getrandbits(64))
    if isinstance(spec, Exponential):
        mean = spec.mean_ms
        return lambda: gen.exponential(mean, BATCH)
    if isinstance(spec, Lognormal):
        mu, sigma = math.log(spec.median_ms), spec.sigma
        return lambda: gen.lognormal(mu, sigma, BATCH)
    if isinstance(spec, Empirical):
        samples = np.asarray(spec.samples_ms, dtype=np.float64)
        return lambda: gen.choice(samples, BATCH)
    raise TypeError(f"unknown service distribution {spec!r}")


#: draws per numpy call
BATCH = 4096


def _batched(draw: Callable[[], np.ndarray]) -> Sampler:
    buf: list[float] = []

    def one() -> float:
        if not buf:
            buf.extend(reversed(draw().tolist()))
        return buf.pop()

    return one


def mean_ms(spec: Service) -> float:
    """The distribution's mean (ms): for utilisation estimates and docs tables."""
    if isinstance(spec, Fixed):
        return spec.ms
    if isinstance(spec, Exponential):
        return spec.mean_ms
    if isinstance(spec, Lognormal):
        return spec.median_ms * math.exp(spec.sigma**2 / 2)
    return sum(spec.samples_ms) / len(spec.samples_ms)
