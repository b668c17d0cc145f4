"""Benchmark: render speed of the full caller chain, x real time per core, cold vs warm RIR cache.

Chain: eSpeak accent + disfluency + room (RT60 0.4 s) + babble at 10 dB +
telephone line (Opus 12 kb/s, 2 % loss). x real time = seconds of audio
rendered per second of this process's CPU time (`time.process_time`), so the
number is per core and does not depend on what else the machine runs. Cold =
empty RIR cache (the first utterance pays for the RIR); warm = RIR cached.
Also times each stage alone on the same audio. Writes
benchmarks/results/caller_render.json.

    .venv/bin/python benchmarks/caller_render.py [--n 40]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from reference_agent.domain import CALLER_PHRASES
from simulator.scenario import parse_scenario

CALLER = """\
name: bench
caller:
  voice: en-gb-scotland
  disfluency: {filler_rate: 0.05, pause_rate: 0.05, pause_ms: 300}
  room: {rt60_s: 0.4}
  noise: {kind: babble, snr_db: 10}
  channel: {codec: opus, bitrate_kbps: 12, loss_rate: 0.02}
turns:
  - say: hello
"""


def _cpu(fn: object, *args: object) -> tuple[float, object]:
    t = time.process_time()
    out = fn(*args)  # type: ignore[operator]
    return time.process_time() - t, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=40, help="utterances per measurement")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/caller_render.json"))
    args = ap.parse_args()
    os.environ["VOXSIM_CACHE_DIR"] = tempfile.mkdtemp(prefix="voxsim-bench-")

    from simulator.caller import noise as noise_mod
    from simulator.caller import room as room_mod
    from simulator.caller.chain import render_utterance, stages
    from simulator.caller.disfluency import plan_segments
    from simulator.caller.speech import speak

    caller = parse_scenario(CALLER).caller
    phrases = [p for p in CALLER_PHRASES if len(p.split()) >= 5][: args.n]
    noise_mod._babble_talkers()  # the babble bed is built once per process: not per call

    # Cold: a new seed per utterance, so every one computes its RIR (nothing cached).
    cold_cpu, cold_audio = 0.0, 0
    for i, text in enumerate(phrases[:5]):
        cpu, (pcm, _) = _cpu(render_utterance, text, caller, 1000 + i, 0)
        cold_cpu += cpu
        cold_audio += len(pcm)
    # Warm: one seed (one room) for all, RIR computed once before timing.
    render_utterance(phrases[0], caller, 1, 0)
    warm: list[float] = []
    warm_audio = 0
    for i, text in enumerate(phrases):
        cpu, (pcm, _) = _cpu(render_utterance, text, caller, 1, i)
        warm.append(cpu)
        warm_audio += len(pcm)
    audio_s = warm_audio / 16_000
    cold_x = (cold_audio / 16_000) / cold_cpu
    warm_x = audio_s / sum(warm)

    # Each stage alone, on the same utterances.
    per_stage: dict[str, float] = {"speech": 0.0}
    for i, text in enumerate(phrases):
        rng = np.random.default_rng(i)
        cpu, (pcm, truth) = _cpu(
            speak, text, plan_segments(text, caller.disfluency, rng), caller, i
        )
        per_stage["speech"] += cpu
        for _, stage in stages(caller, 1):
            name = type(stage).__name__.removesuffix("Stage").lower()
            cpu, (pcm, truth) = _cpu(stage.render, pcm, truth, rng)
            per_stage[name] = per_stage.get(name, 0.0) + cpu
    room_mod.cached_rir.cache_clear()

    result = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        "utterances": len(phrases),
        "audio_s": round(audio_s, 1),
        "warm_x_realtime_per_core": round(warm_x, 1),
        "cold_x_realtime_per_core": round(cold_x, 1),
        "median_warm_ms_per_utterance": round(1000 * statistics.median(warm), 1),
        "stage_x_realtime_per_core": {k: round(audio_s / v, 1) for k, v in per_stage.items()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
