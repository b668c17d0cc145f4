"""WER (b): what the agent said, as the caller heard it, against what it meant to say.

The agent announces each sentence before speaking it (`transcript`,
role=assistant); the harness transcribes the agent audio it recorded at the
caller's side and scores that against the announced text. This catches what
the agent's own logs cannot: TTS mispronunciations, clipped or dropped audio,
network loss on the way down.

The harness's transcriber is pocketsphinx with a trigram language model built
from the agent's own reply texts of the call (the words it meant to say), so
that a clean rendering scores ~0 and every error is damage, not recogniser
vocabulary. Chosen over faster-whisper tiny.en by measured WER on the
agent's voice (docs/metrics.md, BENCHMARKS.md). The bias is documented: the
LM knows what to expect, so WER (b) understates damage that leaves a
plausible in-domain sentence; it is a damage detector, not an STT benchmark.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
import pocketsphinx

from reference_agent.pipeline.stt import StreamingRecognizer, build_domain_model
from simulator.audio import SAMPLE_RATE, Pcm
from simulator.metrics.wer import normalize, score
from simulator.rows import TurnRow

#: Agent audio kept either side of the measured reply, so a clipped onset
#: measurement never cuts the first phone off.
PAD = SAMPLE_RATE * 200 // 1000


@lru_cache(maxsize=1)
def _dictionary_words() -> frozenset[str]:
    path = Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict"))
    with path.open(encoding="utf-8") as f:
        return frozenset(line.split(maxsplit=1)[0].split("(", 1)[0] for line in f if line.strip())


def language_phrases(texts: Sequence[str]) -> list[str]:
    """The reply texts, normalised, restricted to words the dictionary can pronounce."""
    known = _dictionary_words()
    out: list[str] = []
    for text in texts:
        words = [w for w in normalize(text).split() if w in known]
        if words:
            out.append(" ".join(words))
    return out


class HarnessTranscriber:
    """pocketsphinx with an LM of the agent's intended replies; one per call."""

    def __init__(self, reply_texts: Sequence[str], cache: Path | None = None) -> None:
        phrases = language_phrases(reply_texts)
        self.empty = not phrases
        self._recognizer = (
            None if self.empty else StreamingRecognizer(build_domain_model(phrases, cache))
        )

    def transcribe(self, pcm: Pcm) -> str:
        """Recognise one stretch of agent audio (blocking; call off the event loop)."""
        if self._recognizer is None or not len(pcm):
            return ""
        return self._recognizer.transcribe(pcm)


def score_turns(rows: list[TurnRow], agent: Pcm, cache: Path | None = None) -> None:
    """Add WER (b) fields to every turn row with agent reply text, in place.

    Fields: `spoken_text` (harness transcript of the agent's reply audio
    between `agent_onset_s` and `agent_end_s`, padded), `spoken_wer`,
    `spoken_wer_ref_words`, `spoken_wer_subs/_dels/_ins`.
    """
    texts = [text for r in rows if (text := r.get("agent_reply_text"))]
    if cache is None:
        # One LM per call: build it in a scratch directory, not the shared cache.
        with tempfile.TemporaryDirectory(prefix="voxsim-lm-") as tmp:
            _score_with(HarnessTranscriber(texts, Path(tmp)), rows, agent)
    else:
        _score_with(HarnessTranscriber(texts, cache), rows, agent)


def _score_with(stt: HarnessTranscriber, rows: list[TurnRow], agent: Pcm) -> None:
    for row in rows:
        ref = row.get("agent_reply_text")
        onset, end = row.get("agent_onset_s"), row.get("agent_end_s")
        if not ref or onset is None or end is None:
            continue
        a = max(0, int(onset * SAMPLE_RATE) - PAD)
        b = min(len(agent), int(end * SAMPLE_RATE) + PAD)
        heard = stt.transcribe(np.asarray(agent[a:b], dtype=np.int16))
        result = score(ref, heard)
        row.update(
            {
                "spoken_text": heard,
                "spoken_wer": result.wer,
                "spoken_wer_ref_words": result.ref_words,
                "spoken_wer_subs": result.substitutions,
                "spoken_wer_dels": result.deletions,
                "spoken_wer_ins": result.insertions,
            }
        )
