"""eSpeak NG speech synthesis, offline, from the `espeakng-loader` wheel.

The wheel ships libespeak-ng and its data; we drive it through ctypes in
synchronous mode (audio handed to a callback, no sound device). eSpeak keeps
global state, so every call holds one process-wide lock. Output is resampled
from 22,050 Hz to voxsim's 16 kHz mono int16.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import espeakng_loader
import numpy as np
from scipy.signal import resample_poly

from simulator.audio import SAMPLE_RATE, Pcm, first_above, last_above
from simulator.errors import ScenarioError

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH, _RANGE, _WORDGAP = 1, 3, 4, 7
#: Ground-truth speech boundaries use a lower threshold than onset detection:
#: the harness made this audio, so it can see its faintest speech sample.
TRUTH_THRESHOLD = 60

_SynthCallback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)


class _Voice(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_char_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


@dataclass(frozen=True)
class Speech:
    """Synthesized speech with its ground truth.

    `start` and `end` are the sample indices of the first and last sample of
    speech (end is exclusive), known exactly because voxsim made the audio.
    """

    pcm: Pcm
    start: int
    end: int
    text: str


class _Espeak:
    """The loaded library, its native sample rate, and the lock around it."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = str(Path(espeakng_loader.get_data_path()).parent)
        self.lib.espeak_Initialize.restype = ctypes.c_int
        self.rate = self.lib.espeak_Initialize(
            _AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent.encode(), 0
        )
        if self.rate <= 0:
            raise RuntimeError(f"espeak_Initialize failed ({self.rate})")
        self._chunks: list[np.ndarray] = []
        self._callback = _SynthCallback(self._on_audio)  # keep a reference alive
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_Voice))

    def _on_audio(self, wav: ctypes._Pointer, n: int, _events: int) -> int:
        if n > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def synth(
        self,
        text: str,
        voice: str,
        rate_wpm: int,
        pitch: int,
        seed: int = 0,
        pitch_range: int = 50,
        word_gap_ms: int = 0,
    ) -> np.ndarray:
        with self.lock:
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ScenarioError(
                    f"unknown voice {voice!r}",
                    where="caller.voice",
                    fix="run `voxsim voices` for the list",
                )
            self.lib.espeak_SetParameter(_RATE, int(rate_wpm), 0)
            self.lib.espeak_SetParameter(_PITCH, int(pitch), 0)
            self.lib.espeak_SetParameter(_RANGE, int(pitch_range), 0)
            # eSpeak's word gap is in units of 10 ms.
            self.lib.espeak_SetParameter(_WORDGAP, int(round(word_gap_ms / 10)), 0)
            # eSpeak draws from a PRNG (pitch flutter, noise); seeding it per
            # utterance is what makes the same text give the same bytes.
            self.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
            self._chunks = []
            data = text.encode("utf-8") + b"\0"
            rc = self.lib.espeak_Synth(
                data, len(data), 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None
            )
            if rc != 0:
                raise RuntimeError(f"espeak_Synth failed ({rc})")
            chunks, self._chunks = self._chunks, []
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)

    def voices(self) -> list[str]:
        with self.lock:
            ptr = self.lib.espeak_ListVoices(None)
            out: list[str] = []
            i = 0
            while ptr[i]:
                v = ptr[i].contents
                if v.identifier:
                    out.append(v.identifier.decode())
                i += 1
        return out


@lru_cache(maxsize=1)
def _engine() -> _Espeak:
    return _Espeak()


def english_voices() -> list[str]:
    """Names accepted as `caller.voice` for English (variants: append +f1, +m3, ...)."""
    names = set()
    for ident in _engine().voices():
        base = ident.rsplit("/", 1)[-1]
        if base == "en" or base.startswith("en-"):
            names.add(base)
    return sorted(names)


def synthesize(
    text: str,
    voice: str = "en-us",
    rate_wpm: int = 175,
    pitch: int = 50,
    seed: int = 0,
    pitch_range: int = 50,
    word_gap_ms: int = 0,
) -> Speech:
    """Speak `text` with eSpeak NG and return 16 kHz int16 audio plus its ground truth.

    Deterministic: the same arguments give the same bytes (in a fresh process).
    """
    engine = _engine()
    native = engine.synth(text, voice, rate_wpm, pitch, seed, pitch_range, word_gap_ms)
    return speech_of(resample_to_16k(native, engine.rate), text)


def speech_of(pcm: Pcm, text: str) -> Speech:
    """Wrap synthesized audio with its exact speech bounds."""
    start = first_above(pcm, TRUTH_THRESHOLD)
    end = last_above(pcm, TRUTH_THRESHOLD)
    if start is None or end is None:
        return Speech(pcm=pcm, start=0, end=0, text=text)
    return Speech(pcm=pcm, start=start, end=end + 1, text=text)


def resample_to_16k(native: np.ndarray, rate: int) -> Pcm:
    """Resample native-rate int16 speech to voxsim's 16 kHz."""
    if rate == SAMPLE_RATE or len(native) == 0:
        return native.astype(np.int16)
    g = np.gcd(SAMPLE_RATE, rate)
    y = resample_poly(native.astype(np.float64), SAMPLE_RATE // g, rate // g)
    return np.clip(np.round(y), -32768, 32767).astype(np.int16)
