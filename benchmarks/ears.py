"""Benchmark: the goal-driven caller's ears (Whisper tiny.en, simulator/conversation/whisper.py).

The held-out agent sentences (simulator/conversation/heldout.py, 12 sentences,
none of them the bundled agent's words) spoken by each voice, clean and
through the default telephone line (8 kHz, 300-3400 Hz, G.711 mu-law), are
transcribed by `WhisperRecognizer` one utterance at a time, as the caller's
ears get an agent's turn. Per voice x channel:

- WER: corpus WER with voxsim's normalisation (simulator.metrics.wer);
- CPU: `time.process_time()` around `transcribe`, per utterance and per call
  (a call = the 12 sentences, i.e. 12 agent turns heard);
- time to know: wall time of `transcribe` = from the agent's last sample to
  the caller having the text, P50/P95 over sentences x `--repeats`.

Each voice is synthesized in a fresh process (eSpeak keeps state between
utterances), so the audio is the test's (tests/simulator/conversation/
test_whisper.py), byte for byte. `--window 30` / `--beam 1` re-run with
faster-whisper's 30 s window or greedy decoding, for comparison.

    .venv/bin/python benchmarks/ears.py [--repeats 3] [--threads 1] [--window 10] [--beam 5]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from simulator.audio import SAMPLE_RATE
from simulator.conversation import whisper
from simulator.conversation.heldout import AGENT_SENTENCES, VOICES, render, telephone
from simulator.metrics.wer import score_corpus


def _rendered(voices: list[str]) -> dict[str, list[np.ndarray]]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=ctx, max_tasks_per_child=1) as pool:
        return dict(zip(voices, pool.map(render, voices), strict=True))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--voices", nargs="+", default=list(VOICES))
    ap.add_argument("--repeats", type=int, default=3, help="passes over the sentences")
    ap.add_argument("--threads", type=int, default=1, help="CTranslate2 intra_threads")
    ap.add_argument("--window", type=float, default=whisper.MIN_WINDOW_S, help="min window, s")
    ap.add_argument("--beam", type=int, default=whisper.BEAM_SIZE)
    ap.add_argument("--out", type=Path, default=None, help="also write rows as JSON")
    args = ap.parse_args()
    whisper.MIN_WINDOW_S = args.window
    whisper.BEAM_SIZE = args.beam

    clean = _rendered(args.voices)
    t0 = time.perf_counter()
    ears = whisper.WhisperRecognizer(threads=args.threads)
    load_s = time.perf_counter() - t0
    ears.transcribe(clean[args.voices[0]][0])  # warm-up, not measured
    print(
        f"{len(AGENT_SENTENCES)} sentences x {args.repeats} passes; window >= {args.window:g} s, "
        f"beam {args.beam}, {args.threads} thread(s); model load {load_s:.2f} s; "
        f"load average before: {os.getloadavg()[0]:.2f}"
    )
    print(
        "| voice | channel | WER | S/D/I | speech s/utt | CPU ms/utt | CPU s/call (12 turns) "
        "| time to know P50 ms | P95 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    rows: list[dict[str, object]] = []
    p50s: list[float] = []
    for voice in args.voices:
        for channel in ("clean", "telephone"):
            clips = clean[voice]
            if channel == "telephone":
                clips = [telephone(pcm, i) for i, pcm in enumerate(clips)]
            walls: list[float] = []
            cpus: list[float] = []
            heard: list[str] = []
            for _ in range(args.repeats):
                heard = []
                for pcm in clips:
                    c0, w0 = time.process_time(), time.perf_counter()
                    heard.append(ears.transcribe(pcm))
                    walls.append(time.perf_counter() - w0)
                    cpus.append(time.process_time() - c0)
            result = score_corpus(AGENT_SENTENCES, heard)
            seconds = float(np.mean([len(p) for p in clips])) / SAMPLE_RATE
            sdi = f"{result.substitutions}/{result.deletions}/{result.insertions}"
            cpu_ms, p50, p95 = (
                1000 * float(np.mean(cpus)),
                1000 * float(np.percentile(walls, 50)),
                1000 * float(np.percentile(walls, 95)),
            )
            p50s.append(p50)
            rows.append(
                {
                    "voice": voice,
                    "channel": channel,
                    "wer": result.wer,
                    "ref_words": result.ref_words,
                    "sdi": sdi,
                    "audio_s": seconds,
                    "cpu_ms": cpu_ms,
                    "cpu_s_per_call": cpu_ms * len(clips) / 1000,
                    "p50_ms": p50,
                    "p95_ms": p95,
                    "heard": heard,
                }
            )
            cells = [
                voice,
                channel,
                f"{result.wer:.1%}",
                sdi,
                f"{seconds:.1f}",
                f"{cpu_ms:.0f}",
                f"{cpu_ms * len(clips) / 1000:.2f}",
                f"{p50:.0f}",
                f"{p95:.0f}",
            ]
            print("| " + " | ".join(cells) + " |", flush=True)
    print(f"median of the rows' P50: {float(np.median(p50s)):.0f} ms")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        meta = {"window_s": args.window, "beam": args.beam, "threads": args.threads}
        args.out.write_text(json.dumps({**meta, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
