"""Rooms reverberate with the requested RT60, and the direct sound keeps its timing."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.caller.room import RoomStage, cached_rir, compute_rir
from simulator.caller.truth import Truth
from simulator.caller.tts import Speech
from simulator.scenario import Room


@pytest.mark.parametrize("rt60", [0.3, 0.6, 1.0])
def test_measured_rt60_of_the_rir_is_within_15_percent_of_the_request(rt60: float) -> None:
    import pyroomacoustics as pra

    rir = compute_rir(Room(rt60_s=rt60, size_m=(5.0, 4.0, 3.0), distance_m=1.0), seed=2)
    measured = pra.experimental.measure_rt60(rir, fs=16_000, decay_db=30)
    assert measured == pytest.approx(rt60, rel=0.15)


def test_the_rir_is_cached_on_disk_per_room_and_seed() -> None:
    room = Room(rt60_s=0.3)
    first = cached_rir(room, 9)
    cached_rir.cache_clear()  # force the disk copy to be read back
    assert np.array_equal(cached_rir(room, 9), first)
    assert not np.array_equal(cached_rir(room, 10)[:2000], first[:2000])


def test_reverb_does_not_move_the_speech_start(speech: Speech, truth: Truth) -> None:
    out, after = RoomStage(Room(rt60_s=0.6, distance_m=2.0), 1).render(
        speech.pcm, truth, np.random.default_rng(0)
    )
    assert after.speech_start == truth.speech_start
    # The direct sound of the first speech sample arrives at speech_start, not 2 m later.
    lag = np.argmax(
        np.correlate(out[:8000].astype(float), speech.pcm[:4000].astype(float), "valid")
    )
    assert lag <= 2
    assert after.notes["room_direct_delay_samples"] > 2.0 / 343 * 16_000
