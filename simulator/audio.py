"""Audio conventions shared by the harness and the bundled agents.

Everything inside voxsim is 16 kHz mono int16 in 20 ms frames (DESIGN.md);
helpers here keep that convention in one place.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import numpy.typing as npt

SAMPLE_RATE = 16_000
FRAME_MS = 20
FRAME_SAMPLES = SAMPLE_RATE * FRAME_MS // 1000  # 320
FRAME_SECONDS = FRAME_MS / 1000

#: Amplitude above which a sample counts as speech when measuring onsets and
#: ends (about -40 dBFS). Dither and codec noise stay well below it.
SPEECH_THRESHOLD = 330

Pcm = npt.NDArray[np.int16]


def silence(samples: int) -> Pcm:
    """Return `samples` of digital silence."""
    return np.zeros(max(0, samples), dtype=np.int16)


def frames(pcm: Pcm) -> list[Pcm]:
    """Split audio into 20 ms frames, zero-padding the last one."""
    n = -(-len(pcm) // FRAME_SAMPLES)
    padded = np.zeros(n * FRAME_SAMPLES, dtype=np.int16)
    padded[: len(pcm)] = pcm
    return [padded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]


def to_bytes(pcm: Pcm) -> bytes:
    """PCM16 little-endian bytes, the wire format of the native protocol."""
    return pcm.astype("<i2", copy=False).tobytes()


def from_bytes(data: bytes) -> Pcm:
    """Inverse of `to_bytes`; an odd trailing byte is dropped."""
    usable = len(data) - (len(data) % 2)
    return np.frombuffer(data[:usable], dtype="<i2").astype(np.int16)


def first_above(pcm: Pcm, threshold: int = SPEECH_THRESHOLD, start: int = 0) -> int | None:
    """Index of the first sample at or after `start` whose magnitude exceeds `threshold`."""
    if start >= len(pcm):
        return None
    hits = np.flatnonzero(np.abs(pcm[start:].astype(np.int32)) > threshold)
    return int(hits[0]) + start if len(hits) else None


def last_above(pcm: Pcm, threshold: int = SPEECH_THRESHOLD) -> int | None:
    """Index of the last sample whose magnitude exceeds `threshold`."""
    hits = np.flatnonzero(np.abs(pcm.astype(np.int32)) > threshold)
    return int(hits[-1]) if len(hits) else None


def write_wav(path: Path, pcm: npt.NDArray[np.int16], channels: int = 1) -> None:
    """Write int16 audio (interleaved when `channels` > 1) to a WAV file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(to_bytes(pcm))


#: Formats a run's recordings can be written in (`voxsim run --audio-format`).
RECORDING_FORMATS = ("wav", "flac")


def recording_files(folder: Path) -> list[Path]:
    """A call's recordings that exist in `folder`: mix, caller, agent, in either format."""
    names = (f"{track}.{ext}" for track in ("mix", "caller", "agent") for ext in RECORDING_FORMATS)
    return [folder / n for n in names if (folder / n).is_file()]


def write_recording(path: Path, pcm: npt.NDArray[np.int16], channels: int = 1) -> None:
    """Write int16 audio as the file's suffix says: `.wav` (`write_wav`) or `.flac`
    (lossless 16-bit, through soundfile: the same samples, about half the bytes)."""
    if path.suffix != ".flac":
        write_wav(path, pcm, channels)
        return
    import soundfile

    path.parent.mkdir(parents=True, exist_ok=True)
    frames = pcm.reshape(-1, channels)
    soundfile.write(str(path), frames, SAMPLE_RATE, subtype="PCM_16", format="FLAC")


def read_wav(path: Path) -> Pcm:
    """Read a 16 kHz mono int16 WAV file written by `write_wav`."""
    with wave.open(str(path), "rb") as w:
        return from_bytes(w.readframes(w.getnframes()))
