"""How long after the true end of speech webrtcvad keeps saying "voiced".

This tail is part of every pipeline reply's latency but is in none of the
agent's stages (the agent cannot know the true end); it is most of the
"unexplained remainder" in benchmarks/v2v_latency.py. Ground truth: the
synthesized utterance's last sample above amplitude 60.

    .venv/bin/python benchmarks/vad_tail.py [--n 40]
"""

from __future__ import annotations

import argparse
import statistics

import numpy as np
import webrtcvad

from reference_agent.domain import CALLER_PHRASES
from simulator.audio import FRAME_SAMPLES, SAMPLE_RATE
from simulator.caller.tts import synthesize


def tail_ms(mode: int, phrase: str, dither: bool) -> float:
    speech = synthesize(phrase)
    lead = 3 * FRAME_SAMPLES
    pcm = np.concatenate([np.zeros(lead, np.int16), speech.pcm, np.zeros(SAMPLE_RATE, np.int16)])
    if dither:
        noise = np.random.default_rng(0).normal(0, 104, len(pcm))
        pcm = np.clip(pcm + noise, -32768, 32767).astype(np.int16)
    vad = webrtcvad.Vad(mode)
    voiced = [
        vad.is_speech(pcm[i : i + FRAME_SAMPLES].tobytes(), SAMPLE_RATE)
        for i in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
    ]
    last = max(i for i, v in enumerate(voiced) if v)
    return ((last + 1) * FRAME_SAMPLES - (lead + speech.end)) * 1000 / SAMPLE_RATE


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40)
    args = ap.parse_args()
    phrases = CALLER_PHRASES[:: max(1, len(CALLER_PHRASES) // args.n)][: args.n]
    print("| webrtcvad mode | caller audio | n | median tail ms | P95 tail ms |")
    print("|---|---|---|---|---|")
    for mode in (2, 3):
        for dither in (False, True):
            tails = [tail_ms(mode, p, dither) for p in phrases]
            p95 = float(np.percentile(tails, 95))
            label = "dithered (-50 dBFS)" if dither else "clean"
            print(
                f"| {mode} | {label} | {len(tails)} | {statistics.median(tails):.0f} | {p95:.0f} |"
            )


if __name__ == "__main__":
    main()
