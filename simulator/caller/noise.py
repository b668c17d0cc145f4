"""Background noise mixed at a set SNR, where the SNR counts only active speech.

SNR = 10 log10(P_speech / P_noise), both powers taken over the same samples:
the 20 ms frames between the ground-truth speech start and end whose speech
energy is within 40 dB of the loudest frame (pauses and leading silence do
not dilute the speech power). If the mix would clip, the whole mix (speech
and noise alike) is scaled down, which keeps the SNR; the measured SNR is
recorded in the truth notes.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator.audio import SAMPLE_RATE, Pcm
from simulator.caller.audiofile import read_audio_file
from simulator.caller.truth import Truth, to_int16
from simulator.scenario import Noise

_FRAME = SAMPLE_RATE // 50
_ACTIVE_DB = 40.0
_HEADROOM = 32000.0

#: Sentences the babble talkers say (several voices, random offsets, summed).
_BABBLE_LINES = (
    "I was thinking we could meet after lunch if the weather holds up.",
    "The train was late again so I missed the start of the meeting.",
    "Did you see the game last night, it went into overtime.",
    "She said the report would be ready by Friday at the latest.",
    "We should order more paper before the printer runs out.",
    "My brother is moving to a new flat near the river next month.",
)
_BABBLE_VOICES = ("en-us", "en", "en-us+f2", "en-gb-scotland", "en+f4", "en-029", "en-us+m3")


def active_mask(speech: np.ndarray, start: int, end: int) -> np.ndarray:
    """Boolean mask of active-speech samples (see the module docstring)."""
    mask = np.zeros(len(speech), dtype=bool)
    s = speech[start:end].astype(np.float64)
    n = len(s) // _FRAME
    if n == 0:
        mask[start:end] = True
        return mask
    power = np.mean(s[: n * _FRAME].reshape(n, _FRAME) ** 2, axis=1)
    keep = power > power.max() * 10 ** (-_ACTIVE_DB / 10)
    for i in np.flatnonzero(keep):
        mask[start + i * _FRAME : start + (i + 1) * _FRAME] = True
    return mask


def snr_db(speech: np.ndarray, noise: np.ndarray, mask: np.ndarray) -> float:
    """SNR in dB of `speech` over `noise`, powers taken over `mask` only."""
    ps = float(np.mean(speech[mask].astype(np.float64) ** 2))
    pn = float(np.mean(noise[mask].astype(np.float64) ** 2))
    return 10 * np.log10(ps / pn) if pn > 0 else float("inf")


def _shaped(n: int, rng: np.random.Generator, exponent: float) -> np.ndarray:
    """Gaussian noise with power spectrum ~ 1/f**exponent (0 white, 1 pink, 2 brown)."""
    white = rng.standard_normal(n)
    if exponent == 0:
        return white
    spec = np.fft.rfft(white)
    f = np.fft.rfftfreq(n, 1 / SAMPLE_RATE)
    spec *= 1 / np.maximum(f, 20.0) ** (exponent / 2)
    return np.fft.irfft(spec, n)


def _hum(n: int, rng: np.random.Generator, hz: int) -> np.ndarray:
    t = np.arange(n) / SAMPLE_RATE
    out = np.zeros(n)
    for k, amp in enumerate((1.0, 0.5, 0.35, 0.2, 0.1), start=1):
        out += amp * np.sin(2 * np.pi * hz * k * t + rng.uniform(0, 2 * np.pi))
    return out + 0.01 * rng.standard_normal(n)


@lru_cache(maxsize=1)
def _babble_talkers() -> tuple[np.ndarray, ...]:
    """One long monologue per talker (rendered once per process, in a fixed order)."""
    from simulator.caller.tts import synthesize

    talkers = []
    for i, voice in enumerate(_BABBLE_VOICES):
        lines = _BABBLE_LINES[i % len(_BABBLE_LINES) :] + _BABBLE_LINES[: i % len(_BABBLE_LINES)]
        audio = [synthesize(line, voice, 150 + 10 * i, 35 + 5 * i, seed=i).pcm for line in lines]
        talkers.append(np.concatenate(audio).astype(np.float64))
    return tuple(talkers)


def _babble(n: int, rng: np.random.Generator, count: int) -> np.ndarray:
    talkers = _babble_talkers()
    out = np.zeros(n)
    for i in range(count):
        out += _looped(talkers[i % len(talkers)], n, rng)
    return out


def _looped(source: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of `source` from a random offset, looping."""
    offset = int(rng.integers(0, len(source)))
    reps = -(-(offset + n) // len(source))
    return np.tile(source, reps)[offset : offset + n]


def read_noise_file(path: str) -> np.ndarray:
    """A user noise file as 16 kHz mono float samples (int16 scale), any format."""
    return read_audio_file(path, "caller.noise.file", "noise")


def make_noise(cfg: Noise, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` samples of the configured noise kind (unscaled)."""
    if cfg.kind == "white":
        return _shaped(n, rng, 0)
    if cfg.kind == "pink":
        return _shaped(n, rng, 1)
    if cfg.kind == "brown":
        return _shaped(n, rng, 2)
    if cfg.kind == "hum":
        return _hum(n, rng, cfg.hum_hz)
    if cfg.kind == "babble":
        return _babble(n, rng, cfg.babble_talkers)
    assert cfg.file is not None
    return _looped(read_noise_file(cfg.file), n, rng)


@dataclass(frozen=True)
class NoiseStage:
    """Mix noise under the whole utterance at `cfg.snr_db` over active speech."""

    cfg: Noise

    def render(self, audio: Pcm, truth: Truth, rng: np.random.Generator) -> tuple[Pcm, Truth]:
        """Add scaled noise; record the SNR measured on the int16 result."""
        speech = audio.astype(np.float64)
        noise = make_noise(self.cfg, len(audio), rng)
        mask = active_mask(speech, truth.speech_start, truth.speech_end)
        if not mask.any() or not np.any(noise[mask]):
            return audio, truth
        gain = 10 ** ((snr_db(speech, noise, mask) - self.cfg.snr_db) / 20)
        mix = speech + gain * noise
        level = min(1.0, _HEADROOM / max(1.0, float(np.max(np.abs(mix)))))
        out = to_int16(mix * level)
        measured = snr_db(speech * level, out - speech * level, mask)
        rms = float(np.sqrt(np.mean((gain * level * noise) ** 2)))
        return out, truth.noted(snr_db=round(measured, 3), noise_level_gain=level, noise_rms=rms)


def background(cfg: Noise, rms: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    """A loopable bed of the same noise at absolute level `rms`, for the gaps between turns."""
    bed = make_noise(cfg, int(seconds * SAMPLE_RATE), rng)
    power = float(np.sqrt(np.mean(bed**2)))
    return bed * (rms / power) if power > 0 else bed
