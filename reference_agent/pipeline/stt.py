"""Streaming speech recognition for the bundled agents: pocketsphinx + a domain LM, or Whisper.

pocketsphinx ships its acoustic model in the wheel and decodes faster than real
time on one core, with partial hypotheses every frame, which is what a voice
agent needs to start thinking before the caller stops. Its general language
model does badly on synthetic speech (STACK.md: 78% WER on eSpeak); a trigram
model built from the domain's `CALLER_PHRASES`, with a dictionary cut down to
its words, brings that to a few percent and decodes several times faster. The
model is built once and cached on disk, keyed by a hash of the phrases.

Exact digital silence wrecks pocketsphinx's noise and CMN estimates, so every
frame gets seeded white dither at about -50 dBFS before decoding.

The domain LM only knows the phrase list: a caller who says "ten in the
morning works" in words it has not seen is heard as a string of its words
("to an forty where is"). `stt="whisper"` keeps pocketsphinx streaming
(partials stay cheap) and transcribes the whole utterance with Whisper tiny
(`simulator.conversation.whisper`, ~120-130 ms of CPU per 1-4 s turn on one
thread): `UtteranceRecognizer`, whose pass an agent starts when the caller
goes quiet. `make_recognizer(stt)` picks one. The default stays the domain
LM (exact and ~30x cheaper on scripted callers; BENCHMARKS.md, "Bundled
agent: recognizer for callers' own words").
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from io import StringIO
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
import pocketsphinx
from pocketsphinx import Decoder
from pocketsphinx.lm import ArpaBoLM

from reference_agent.domain import CALLER_PHRASES

#: RMS of the dither in int16 units: 32768 * 10 ** (-50 / 20) ~ -50 dBFS.
DITHER_RMS = 32768.0 * 10 ** (-50 / 20)
SAMPLE_RATE = 16000
_CACHE_FORMAT = "1"
#: `voxsim agent serve --stt`: the domain LM alone, or Whisper at the end of each utterance.
STT_CHOICES = ("domain", "whisper")
DEFAULT_STT = "domain"
_PS_VERSION = importlib.metadata.version("pocketsphinx")


@dataclass(frozen=True)
class DomainModel:
    """Paths to the cached language model (ARPA) and pronunciation dictionary."""

    lm: Path
    dict: Path


def cache_dir() -> Path:
    """voxsim's cache directory: `$XDG_CACHE_HOME/voxsim`, else `~/.cache/voxsim`."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "voxsim"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _arpa(phrases: Sequence[str]) -> str:
    lm = ArpaBoLM(text="\n".join(phrases) + "\n", add_start=True, case="lower")
    lm.compute()
    out = StringIO()
    lm.write(out)
    return out.getvalue()


def _dictionary(words: set[str]) -> str:
    """CMUdict lines (alternates included) for `words`; an unknown word is an error."""
    source = Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))
    lines: list[str] = []
    seen: set[str] = set()
    with source.open(encoding="utf-8") as f:
        for line in f:
            head = line.split(maxsplit=1)[0] if line.strip() else ""
            word = head.split("(", 1)[0]
            if word in words:
                lines.append(line.rstrip("\n"))
                seen.add(word)
    missing = words - seen
    if missing:
        raise ValueError(f"words not in the pronunciation dictionary: {sorted(missing)}")
    return "\n".join(lines) + "\n"


def build_domain_model(phrases: Sequence[str], directory: Path | None = None) -> DomainModel:
    """Build (or reuse from the cache) the LM and dictionary for `phrases`."""
    phrases = [" ".join(p.lower().split()) for p in phrases if p.strip()]
    key = hashlib.sha256("\n".join([_CACHE_FORMAT, _PS_VERSION, *phrases]).encode()).hexdigest()[
        :16
    ]
    directory = directory or cache_dir()
    model = DomainModel(lm=directory / f"domain-{key}.lm", dict=directory / f"domain-{key}.dict")
    if not model.dict.exists():
        words = {w for p in phrases for w in p.split()}
        _write_atomic(model.dict, _dictionary(words))
    if not model.lm.exists():
        _write_atomic(model.lm, _arpa(phrases))
    return model


@lru_cache(maxsize=1)
def domain_model() -> DomainModel:
    """The bundled domain's model, built from `CALLER_PHRASES` once per process."""
    return build_domain_model(CALLER_PHRASES)


def decoder_config(model: DomainModel | None = None) -> dict[str, Any]:
    """Keyword arguments for `pocketsphinx.Decoder` using the domain model."""
    model = model or domain_model()
    return {
        "hmm": pocketsphinx.get_model_path("en-us/en-us"),
        "lm": str(model.lm),
        "dict": str(model.dict),
        "samprate": SAMPLE_RATE,
        "loglevel": "FATAL",
        # The flat-lexicon second pass costs ~50 ms at end of utterance (it waits
        # for the whole utterance) and did not lower WER on the domain set
        # (0.061 with it, 0.055 without; 22 phrases): skip it, answer sooner.
        "fwdflat": False,
    }


class StreamingRecognizer:
    """One decoder, reused across utterances: `start()`, `feed()`..., `finish()`.

    Not thread-safe; give each concurrent call its own recognizer (or process).
    The dither generator is reseeded at every `start()`, so the same audio
    always gives the same transcript.
    """

    def __init__(self, model: DomainModel | None = None, seed: int = 0) -> None:
        self._decoder = Decoder(**decoder_config(model))
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        self._active = False

    def start(self) -> None:
        """Begin a new utterance (ending any unfinished one)."""
        if self._active:
            self._decoder.end_utt()
        self._rng = np.random.default_rng(self._seed)
        self._decoder.start_utt()
        self._active = True

    def feed(self, pcm: npt.NDArray[np.int16]) -> str:
        """Decode more 16 kHz int16 audio; return the current partial hypothesis."""
        if not self._active:
            self.start()
        if len(pcm):
            noise = self._rng.normal(0.0, DITHER_RMS, len(pcm))
            mixed = np.clip(pcm.astype(np.float64) + noise, -32768, 32767).astype("<i2")
            self._decoder.process_raw(mixed.tobytes(), False, False)
        return self._text()

    def finish(self) -> str:
        """End the utterance and return the final hypothesis, lower case."""
        if not self._active:
            return ""
        self._decoder.end_utt()
        self._active = False
        return self._text()

    #: Whether `speculate()` does anything (a recognizer with a costly final pass).
    speculative = False

    def speculate(self) -> None:
        """The caller went quiet: do the final pass now, `finish()` reuses it (see subclass)."""

    def retract(self) -> None:
        """The caller spoke again: the speculative pass no longer stands."""

    def settled(self) -> str:
        """The best transcript of the utterance so far, without ending it (the partial)."""
        return self._text() if self._active else ""

    def discard(self) -> None:
        """End the utterance without wanting its transcript (a backchannel)."""
        self.finish()

    def transcribe(self, pcm: npt.NDArray[np.int16]) -> str:
        """Recognise one whole utterance."""
        self.start()
        self.feed(pcm)
        return self.finish()

    def _text(self) -> str:
        hyp = self._decoder.hyp()
        return " ".join(hyp.hypstr.lower().split()) if hyp is not None else ""


class _Transcriber(Protocol):
    def transcribe(self, pcm: npt.NDArray[np.int16]) -> str: ...


def whisper_available() -> bool:
    """Whether faster-whisper and the Whisper model wheel are installed."""
    try:
        from simulator.conversation import whisper
    except ImportError:
        return False
    return whisper.available()


@lru_cache(maxsize=1)
def whisper_transcriber() -> _Transcriber:
    """The process's shared Whisper model, loaded and run once (the first pass is ~2x slower)."""
    from simulator.conversation.whisper import WhisperRecognizer

    whisper = WhisperRecognizer.shared()
    t = np.arange(SAMPLE_RATE // 2) / SAMPLE_RATE
    hum = (3000 * np.sin(2 * np.pi * 220 * t)).astype(np.int16)  # loud enough to be decoded
    whisper.transcribe(hum)
    return whisper


class UtteranceRecognizer(StreamingRecognizer):
    """pocketsphinx partials while the caller talks, Whisper on the whole utterance at the end.

    Every fed frame is also kept; `finish()` (and `settled()`) transcribe what
    was kept with `transcriber` (default: the shared Whisper model). Whisper
    is not streaming: one pass over a 1-4 s turn costs ~120-130 ms of CPU here
    (BENCHMARKS.md), all of it at the end of the utterance. So an agent calls
    `speculate()` when the caller goes quiet (the VAD's first unvoiced frame):
    the pass runs during the endpointing hangover, and `finish()` returns its
    transcript unless `retract()` (the caller spoke again) came in between,
    waiting only for whatever of the pass is left. Calls must come in order
    from one thread (the agent's STT worker), as for every recognizer.
    """

    speculative = True

    def __init__(
        self,
        model: DomainModel | None = None,
        seed: int = 0,
        transcriber: _Transcriber | None = None,
    ) -> None:
        super().__init__(model, seed)
        self._transcriber = transcriber or whisper_transcriber()
        self._audio: list[npt.NDArray[np.int16]] = []
        self._early: str | None = None
        #: Duration of the last Whisper pass (ms), for the agent's stt span.
        self.last_pass_ms = 0.0

    def start(self) -> None:
        super().start()
        self._audio = []
        self._early = None

    def feed(self, pcm: npt.NDArray[np.int16]) -> str:
        if not self._active:
            self.start()
        self._audio.append(np.asarray(pcm, dtype=np.int16))
        return super().feed(pcm)

    def settled(self) -> str:
        """Whisper's transcript of the utterance so far (it goes on)."""
        if not self._audio:
            return ""
        t = time.perf_counter()
        text = self._transcriber.transcribe(np.concatenate(self._audio))
        self.last_pass_ms = (time.perf_counter() - t) * 1000
        return text

    def speculate(self) -> None:
        if self._active:
            self._early = self.settled()

    def retract(self) -> None:
        self._early = None

    def finish(self) -> str:
        if not self._active:
            return ""
        super().finish()
        text = self._early if self._early is not None else self.settled()
        self._audio = []
        self._early = None
        return text

    def discard(self) -> None:
        super().finish()
        self._audio = []
        self._early = None


def make_recognizer(stt: str = DEFAULT_STT, seed: int = 0) -> StreamingRecognizer:
    """A recognizer for `voxsim agent serve --stt`: "domain" or "whisper"."""
    if stt == "domain":
        return StreamingRecognizer(seed=seed)
    if stt == "whisper":
        return UtteranceRecognizer(seed=seed)
    raise ValueError(f"unknown recognizer {stt!r}; choose from {', '.join(STT_CHOICES)}")
