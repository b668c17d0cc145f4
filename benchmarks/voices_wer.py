"""Benchmark: how well the bundled agent's STT understands each caller voice (clean audio).

Every voice `voxsim voices` lists speaks the same domain phrases; the bundled
pipeline's recogniser (pocketsphinx, domain LM) transcribes them offline,
frame by frame as in a call, and corpus WER per voice is printed as Markdown.
This is how docs/callers.md calls a non-native accent intelligible or not.

    .venv/bin/python benchmarks/voices_wer.py [--n 12]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from reference_agent.domain import CALLER_PHRASES
from reference_agent.pipeline.stt import StreamingRecognizer
from simulator.audio import SAMPLE_RATE, frames
from simulator.caller.speech import synth_one
from simulator.caller.voices import list_voices
from simulator.metrics.wer import score_corpus
from simulator.scenario import Caller

PAD = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=12, help="phrases per voice")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/voices_wer.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(4)
    pool = [p for p in CALLER_PHRASES if len(p.split()) >= 4]
    phrases = [pool[i] for i in rng.choice(len(pool), size=min(args.n, len(pool)), replace=False)]
    recognizer = StreamingRecognizer()
    rows = []
    print("| engine | voice | about | WER | phrases | words |")
    print("|---|---|---|---|---|---|")
    for engine, voice, about in list_voices():
        caller = Caller(engine=engine, voice=voice)  # type: ignore[arg-type]
        hyps = []
        for i, text in enumerate(phrases):
            pcm = np.concatenate([PAD, synth_one(text, caller, seed=i).pcm, PAD])
            recognizer.start()
            for frame in frames(pcm):
                recognizer.feed(frame)
            hyps.append(recognizer.finish())
        result = score_corpus(phrases, hyps)
        rows.append(
            {"engine": engine, "voice": voice, "wer": result.wer, "words": result.ref_words}
        )
        cells = [
            engine,
            voice,
            about,
            f"{result.wer:.1%}",
            str(len(phrases)),
            str(result.ref_words),
        ]
        print("| " + " | ".join(cells) + " |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"phrases": phrases, "voices": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
