"""Audio files users supply: noise beds and recorded caller lines.

Any format libsndfile reads (WAV of any sample width or float, FLAC, OGG,
AIFF...), read through soundfile, mixed to mono and resampled to 16 kHz; a
16-bit 16 kHz WAV gives exactly its sample values.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly

from simulator.audio import SAMPLE_RATE, Pcm, first_above, last_above
from simulator.caller.truth import Truth, to_int16
from simulator.errors import ScenarioError


@lru_cache(maxsize=16)
def read_audio_file(path: str, where: str, what: str = "audio") -> np.ndarray:
    """The file as 16 kHz mono float samples (int16 scale); a ScenarioError names the
    field (`where`) and the kind of file (`what`: noise, audio)."""
    try:
        data, rate = soundfile.read(str(Path(path)), dtype="float64", always_2d=True)
    except (OSError, RuntimeError, soundfile.SoundFileError) as exc:
        raise ScenarioError(
            f"cannot read {what} file: {exc}",
            where=where,
            fix="an audio file libsndfile reads (WAV, FLAC, OGG, AIFF)",
        ) from None
    if not data.size:
        raise ScenarioError(f"{what} file has no samples", where=where, fix="use another")
    x = data.mean(axis=1) * 32768.0
    if rate != SAMPLE_RATE:
        g = np.gcd(SAMPLE_RATE, rate)
        x = resample_poly(x, SAMPLE_RATE // g, rate // g)
    return x


def recorded_line(path: str, text: str | None, where: str) -> tuple[Pcm, Truth]:
    """A recorded caller line as 16 kHz int16 audio, with speech bounds found as for
    synthesized speech; `text` (the turn's `say`) is what it says, if known."""
    from simulator.caller.tts import TRUTH_THRESHOLD

    pcm: Pcm = to_int16(read_audio_file(path, where))
    start = first_above(pcm, TRUTH_THRESHOLD)
    end = last_above(pcm, TRUTH_THRESHOLD)
    if start is None or end is None:
        raise ScenarioError("recorded line is silent", where=where, fix="use another file")
    return pcm, Truth(start, end + 1, text or "", text or "")
