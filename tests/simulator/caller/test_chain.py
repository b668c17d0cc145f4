"""The whole chain is deterministic per seed, and ground truth survives every stage."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.audio import Pcm
from simulator.caller.channel import ChannelStage
from simulator.caller.noise import NoiseStage
from simulator.caller.render import render_isolated
from simulator.caller.room import RoomStage
from simulator.caller.truth import Stage, Truth
from simulator.caller.tts import Speech
from simulator.scenario import Channel, Noise, Room, parse_scenario

FULL = """
name: full
seed: 3
caller:
  voice: en-gb-scotland
  rate_wpm: 160
  pitch_range: 70
  disfluency: {filler_rate: 0.2, repeat_rate: 0.1, false_start_rate: 0.1,
               pause_rate: 0.2, pause_ms: [200, 500]}
  room: {rt60_s: 0.3}
  noise: {kind: babble, snr_db: 10}
  channel: {codec: opus, loss_rate: 0.05}
turns:
  - say: I would like to book a table for two tonight please
  - say: Where is my order one two three four
"""


def test_the_full_chain_is_byte_identical_per_seed_and_differs_across_seeds() -> None:
    sc = parse_scenario(FULL)
    a = render_isolated(list(sc.turns), sc.caller, 3)
    b = render_isolated(list(sc.turns), sc.caller, 3)
    c = render_isolated(list(sc.turns), sc.caller, 4)
    for x, y, z in zip(a, b, c, strict=True):
        assert x.pcm.tobytes() == y.pcm.tobytes()
        assert x.pcm.tobytes() != z.pcm.tobytes()
    assert a[0].spoken_text != a[0].text  # disfluencies were spoken...
    assert a[0].text == "I would like to book a table for two tonight please"  # ...not meant


def _energy_bounds(pcm: Pcm, rel_db: float = -50.0) -> tuple[int, int]:
    """First and last 1 ms window whose RMS is within `rel_db` of the loudest window."""
    x = pcm.astype(np.float64)
    n = len(x) // 16
    rms = np.sqrt(np.mean(x[: n * 16].reshape(n, 16) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (rel_db / 20))
    return int(loud[0]) * 16, int(loud[-1] + 1) * 16


STAGES: dict[str, Stage] = {
    "room": RoomStage(Room(rt60_s=0.3, distance_m=0.5), 1),
    "noise-50dB": NoiseStage(Noise(kind="pink", snr_db=50)),
    "mulaw": ChannelStage(Channel(codec="mulaw")),
    "alaw-loss": ChannelStage(Channel(codec="alaw", loss_rate=0.05)),
    "opus": ChannelStage(Channel(codec="opus", narrowband=False, bitrate_kbps=16)),
    "opus-narrow": ChannelStage(Channel(codec="opus", bitrate_kbps=12)),
}


@pytest.mark.parametrize("name", list(STAGES))
def test_speech_bounds_match_the_energy_in_the_audio_after_each_stage(
    name: str, speech: Speech, truth: Truth
) -> None:
    out, after = STAGES[name].render(speech.pcm, truth, np.random.default_rng(2))
    onset, offset = _energy_bounds(out)
    assert abs(onset - after.speech_start) <= 160, onset - after.speech_start  # 10 ms
    if name == "room":
        assert offset >= after.speech_end - 160  # the reverberant tail may run on
    else:
        assert abs(offset - after.speech_end) <= 160, (
            onset - after.speech_start,
            offset - after.speech_end,
        )


def test_the_dry_speech_bounds_match_its_energy(speech: Speech, truth: Truth) -> None:
    onset, offset = _energy_bounds(speech.pcm)
    assert abs(onset - truth.speech_start) <= 160 and abs(offset - truth.speech_end) <= 160


def test_speech_bounds_match_the_energy_after_disfluencies_and_pauses() -> None:
    from simulator.caller.disfluency import plan_segments
    from simulator.caller.speech import speak
    from simulator.scenario import Caller, Disfluency

    cfg = Disfluency(filler_rate=0.3, repeat_rate=0.2, false_start_rate=0.1, pause_rate=0.3)
    text = "I would like to book a table for two tonight please"
    segments = plan_segments(text, cfg, np.random.default_rng(8))
    pcm, truth = speak(text, segments, Caller(), seed=2)
    assert truth.pauses and truth.spoken_text != text
    onset, offset = _energy_bounds(pcm)
    assert abs(onset - truth.speech_start) <= 160 and abs(offset - truth.speech_end) <= 160
    for a, b in truth.pauses:  # planned pauses are silent in the audio
        assert not np.any(np.abs(pcm[a:b].astype(np.int32)) > 60)
