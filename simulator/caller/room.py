"""Room acoustics: the caller speaks in a shoebox room (pyroomacoustics image method).

The absorption and reflection order that give the requested RT60 come from
inverse Sabine. The RIR is cached per (room, seed) in memory and on disk: it
is the slow part (seconds for RT60 1 s), the convolution is milliseconds.
The direct-path delay (distance / c, plus pyroomacoustics' fractional-delay
filter) is cut off the front, so the ground-truth speech start and end keep
pointing at the direct sound; the reverberant tail extends past the end.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import fftconvolve

from simulator.audio import SAMPLE_RATE, Pcm
from simulator.caller.cache import cache_dir
from simulator.caller.truth import Truth, to_int16
from simulator.scenario import Room

_WALL_MARGIN = 0.5


def _positions(room: Room, seed: int) -> tuple[list[float], list[float]]:
    """A seeded mic position and a source at `distance_m` from it, both inside the room."""
    rng = np.random.default_rng([seed, 0x800])
    size = np.array(room.size_m)
    for _ in range(1000):
        mic = rng.uniform(_WALL_MARGIN, size - _WALL_MARGIN)
        mic[2] = min(max(1.2, _WALL_MARGIN), size[2] - _WALL_MARGIN)
        angle = rng.uniform(0, 2 * np.pi)
        src = mic + room.distance_m * np.array([np.cos(angle), np.sin(angle), 0.0])
        if np.all(src > _WALL_MARGIN * 0.5) and np.all(src < size - _WALL_MARGIN * 0.5):
            return list(map(float, mic)), list(map(float, src))
    raise ValueError(f"distance_m {room.distance_m} does not fit in room {room.size_m}")


def compute_rir(room: Room, seed: int) -> np.ndarray:
    """The room impulse response from the caller's mouth to the phone's mic (uncached)."""
    import pyroomacoustics as pra

    absorption, max_order = pra.inverse_sabine(room.rt60_s, room.size_m)
    shoebox = pra.ShoeBox(
        room.size_m, fs=SAMPLE_RATE, materials=pra.Material(absorption), max_order=max_order
    )
    mic, src = _positions(room, seed)
    shoebox.add_source(src)
    shoebox.add_microphone(mic)
    shoebox.compute_rir()
    return np.asarray(shoebox.rir[0][0], dtype=np.float64)


def _key(room: Room, seed: int) -> str:
    blob = json.dumps([room.model_dump(), seed, "rir-v1"], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32]


@lru_cache(maxsize=32)
def cached_rir(room: Room, seed: int) -> np.ndarray:
    """The RIR for (room, seed), from memory, disk, or computed and stored."""
    path = cache_dir("rir") / f"{_key(room, seed)}.npy"
    if path.exists():
        return np.load(path)
    rir = compute_rir(room, seed)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, rir)
    tmp.replace(path)
    return rir


def direct_path_index(rir: np.ndarray, room: Room) -> int:
    """Sample index of the direct sound: the strongest tap near distance / c."""
    import pyroomacoustics as pra

    expected = room.distance_m / pra.constants.get("c") * SAMPLE_RATE
    expected += pra.constants.get("frac_delay_length") // 2
    lo, hi = max(0, int(expected) - 8), int(expected) + 9
    return lo + int(np.argmax(np.abs(rir[lo:hi])))


@dataclass(frozen=True)
class RoomStage:
    """Convolve with the cached RIR; keep the direct sound at the original sample times."""

    room: Room
    seed: int

    def render(self, audio: Pcm, truth: Truth, rng: np.random.Generator) -> tuple[Pcm, Truth]:
        """Reverberate `audio`; the level is kept at the dry peak (no clipping)."""
        rir = cached_rir(self.room, self.seed)
        d = direct_path_index(rir, self.room)
        wet = fftconvolve(audio.astype(np.float64), rir)[d:]
        peak_dry = float(np.max(np.abs(audio))) if len(audio) else 0.0
        peak_wet = float(np.max(np.abs(wet))) if len(wet) else 0.0
        if peak_wet > 0:
            wet *= peak_dry / peak_wet
        tail = len(wet) - len(audio)
        return to_int16(wet), truth.noted(room_direct_delay_samples=d, room_tail_samples=tail)
