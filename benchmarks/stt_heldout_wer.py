"""Benchmark: the bundled agent's recognizers on callers who speak in their own words.

Each recognizer the pipeline agent offers (`voxsim agent serve --stt`) hears
the held-out caller sentences (reference_agent/heldout.py: ordinary words, none
in the domain LM's phrase list) and, for contrast, a sample of the phrase list
itself, spoken by eSpeak en-us and the Piper voice joe, clean, 0.3 s of
silence either side, fed in 20 ms frames as in a call. Prints corpus WER
(simulator.metrics.wer's normalisation), how many turns the domain model
answers as it would answer the words actually said ("understood"), and the
median time `finish()` takes at the end of an utterance (the recognizer's
share of the caller's wait). Writes benchmarks/results/stt_heldout_wer.json.

    .venv/bin/python benchmarks/stt_heldout_wer.py [--in-domain 15]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np

from reference_agent import domain
from reference_agent.heldout import HELDOUT_CALLER_SENTENCES
from reference_agent.pipeline.stt import STT_CHOICES, make_recognizer
from simulator.audio import SAMPLE_RATE, frames
from simulator.caller.speech import synth_one
from simulator.metrics.wer import score_corpus
from simulator.scenario import Caller

PAD = np.zeros(int(0.3 * SAMPLE_RATE), dtype=np.int16)
VOICES = [("espeak", "en-us"), ("piper", "joe")]


def _understood(refs: list[str], hyps: list[str]) -> int:
    """Turns whose transcript gets the domain model's answer to the words said."""

    def answer(text: str) -> tuple[str, object]:
        return domain.respond([{"role": "user", "content": text}])

    return sum(answer(h) == answer(r) for r, h in zip(refs, hyps, strict=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--in-domain", type=int, default=15, help="phrase-list sentences too")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/stt_heldout_wer.json"))
    args = ap.parse_args()
    rng = np.random.default_rng(4)
    pool = [p for p in domain.CALLER_PHRASES if len(p.split()) >= 4]
    picked = rng.choice(len(pool), size=min(args.in_domain, len(pool)), replace=False)
    sets = {"held out": HELDOUT_CALLER_SENTENCES, "phrase list": [pool[i] for i in picked]}
    audio = {
        (engine, voice, name): [
            np.concatenate([PAD, synth_one(s, Caller(engine=engine, voice=voice), i).pcm, PAD])  # type: ignore[arg-type]
            for i, s in enumerate(sentences)
        ]
        for engine, voice in VOICES
        for name, sentences in sets.items()
    }
    rows = []
    print("| recognizer | voice | sentences | n | words | WER | understood | finish() median ms |")
    print("|---|---|---|---|---|---|---|---|")
    for stt in STT_CHOICES:
        recognizer = make_recognizer(stt)
        recognizer.transcribe(np.concatenate([PAD, PAD]))  # warm up
        for (engine, voice, name), clips in audio.items():
            refs = sets[name]
            hyps, finish_ms = [], []
            for pcm in clips:
                recognizer.start()
                for frame in frames(pcm):
                    recognizer.feed(frame)
                t = time.perf_counter()
                hyps.append(recognizer.finish())
                finish_ms.append((time.perf_counter() - t) * 1000)
            result = score_corpus(refs, hyps)
            row = {
                "stt": stt,
                "voice": f"{engine} {voice}",
                "sentences": name,
                "n": len(refs),
                "words": result.ref_words,
                "wer": result.wer,
                "understood": _understood(refs, hyps),
                "finish_median_ms": statistics.median(finish_ms),
                "pairs": list(zip(refs, hyps, strict=True)),
            }
            rows.append(row)
            print(
                f"| {stt} | {engine} {voice} | {name} | {len(refs)} | {result.ref_words} | "
                f"{result.wer:.1%} | {row['understood']}/{len(refs)} | "
                f"{row['finish_median_ms']:.0f} |"
            )
    machine = f"{platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
