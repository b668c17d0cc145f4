"""Benchmark: webrtcvad vs silero-vad as the pipeline's endpointer, on the domain phrases.

Per utterance (eSpeak en-US, 175 wpm, with and without a 300 ms pause spliced
in mid-sentence), per VAD: the offset tail (how long after the true end of
speech the VAD still says "voiced": added to every reply's latency), the
onset delay, the longest unvoiced run inside the speech (a hangover shorter
than this ends the turn mid-sentence: a false takeover), and the cost per
20 ms frame. Endpoint latency of a pipeline = tail + hangover.

    .venv/bin/python benchmarks/vad_choice.py [--n 40]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np

from reference_agent.domain import CALLER_PHRASES
from simulator.audio import FRAME_SAMPLES, SAMPLE_RATE, Pcm
from simulator.caller.tts import synthesize

LEAD = 5 * FRAME_SAMPLES


def _webrtc() -> Callable[[Pcm], bool]:
    import webrtcvad

    vad = webrtcvad.Vad(2)
    return lambda f: vad.is_speech(f.tobytes(), SAMPLE_RATE)


def _silero() -> Callable[[Pcm], bool]:
    from reference_agent.pipeline.silero import SileroVad

    return SileroVad().is_speech


def _utterance(phrase: str, pause_ms: int) -> tuple[Pcm, int, int]:
    """Audio with lead-in silence; a mid-sentence pause after the middle word if asked."""
    words = phrase.split()
    if pause_ms:
        a = synthesize(" ".join(words[: len(words) // 2]))
        b = synthesize(" ".join(words[len(words) // 2 :]))
        gap = np.zeros(pause_ms * SAMPLE_RATE // 1000, np.int16)
        speech = np.concatenate([a.pcm[a.start : a.end], gap, b.pcm[b.start : b.end]])
    else:
        s = synthesize(phrase)
        speech = s.pcm[s.start : s.end]
    pcm = np.concatenate([np.zeros(LEAD, np.int16), speech, np.zeros(SAMPLE_RATE, np.int16)])
    return pcm, LEAD, LEAD + len(speech)


def measure(make: Callable[[], Callable[[Pcm], bool]], phrase: str, pause_ms: int) -> dict:
    pcm, start, end = _utterance(phrase, pause_ms)
    is_speech = make()
    t = time.perf_counter()
    voiced = [
        is_speech(pcm[i : i + FRAME_SAMPLES])
        for i in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
    ]
    cost_us = (time.perf_counter() - t) / len(voiced) * 1e6
    idx = [i for i, v in enumerate(voiced) if v]
    first, last = idx[0], idx[-1]
    run = longest = 0
    for v in voiced[first : last + 1]:
        run = 0 if v else run + 1
        longest = max(longest, run)
    return {
        "tail_ms": ((last + 1) * FRAME_SAMPLES - end) * 1000 / SAMPLE_RATE,
        "onset_ms": ((first + 1) * FRAME_SAMPLES - start) * 1000 / SAMPLE_RATE,
        "gap_ms": longest * 20.0,
        "cost_us": cost_us,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args()
    phrases = [p for p in CALLER_PHRASES if len(p.split()) >= 4]
    phrases = phrases[:: max(1, len(phrases) // args.n)][: args.n]
    print(
        "| VAD | mid-sentence pause | n | median tail ms | P95 tail ms | median onset ms"
        " | max inner gap ms (P95) | us/frame |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, make in (("webrtcvad mode 2", _webrtc), ("silero-vad 6.2.3 (ONNX)", _silero)):
        for pause in (0, 300):
            rows = [measure(make, p, pause) for p in phrases]
            tails = [r["tail_ms"] for r in rows]
            gaps = [r["gap_ms"] for r in rows]
            print(
                f"| {name} | {pause} ms | {len(rows)} | {statistics.median(tails):.0f} | "
                f"{np.percentile(tails, 95):.0f} | "
                f"{statistics.median(r['onset_ms'] for r in rows):.0f} | "
                f"{np.percentile(gaps, 95):.0f} | "
                f"{statistics.median(r['cost_us'] for r in rows):.0f} |"
            )


if __name__ == "__main__":
    main()
