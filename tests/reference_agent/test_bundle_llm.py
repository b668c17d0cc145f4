"""A real call to the bundled pipeline agent with a real LLM (`--llm smollm2`).

The same caller plays the same turns against the agent with the deterministic
domain model and with SmolLM2, one after the other. The real model's compute
shows up where the caller hears it: each reply starts later by what the
agent's stages say the LLM (and the TTS of its first sentence) took longer,
and the rest of the measured latency (the VAD's tail, the network, frame
alignment) is the same for both.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reference_agent import smollm2
from reference_agent.bundle import AgentProcess

REPO = Path(__file__).resolve().parents[2]
SCENARIO = (
    "name: real-llm\nturns:\n  - wait: true\n"
    "  - say: Hello, can you help me\n"
    "  - say: Thank you very much\n"
)
#: What the agent reports between the caller's last voiced frame and its first audio.
STAGES = ("endpoint_ms", "stt_ms", "llm_sentence_ms", "tts_ms")


async def _run(tmp_path: Path, llm: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`voxsim run` against the bundled agent with `--llm LLM`: (say turns, agent llm spans)."""
    scenario = tmp_path / "real-llm.yaml"
    scenario.write_text(SCENARIO)
    out = tmp_path / llm
    agent = AgentProcess("pipeline", ["--llm", llm])
    url = await agent.start()
    try:
        proc = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "simulator.cli", "run", str(scenario), "--agent", url]
            + ["--out", str(out)],
            capture_output=True,
            text=True,
            cwd=REPO,
            timeout=120,
        )
    finally:
        await agent.stop()
    assert proc.returncode == 0, proc.stderr
    turns = [json.loads(line) for line in (out / "turns.jsonl").read_text().splitlines()]
    spans = [json.loads(line) for line in (out / "spans.jsonl").read_text().splitlines()]
    said = [t for t in turns if t["kind"] == "say"]
    llm_spans = [s for s in spans if s.get("source") == "agent" and s["name"] == "llm"]
    return said, llm_spans


def _stage_sum(turn: dict[str, Any]) -> float:
    return sum(float(turn["stages"][s]) for s in STAGES)


@pytest.mark.skipif(not smollm2.available(), reason="SmolLM2 not installed: make llm")
async def test_real_llm_call_is_heard_and_its_compute_explains_the_extra_latency(
    tmp_path: Path,
) -> None:
    domain, _ = await _run(tmp_path, "domain")
    real, llm_spans = await _run(tmp_path, "smollm2")

    assert len(domain) == len(real) == 2
    for turn in real:
        # The caller heard the model's words: the harness transcribed the agent's audio.
        assert turn["latency_ms"] is not None and turn["spoken_text"], turn
        assert turn["agent_reply_text"] and turn["stages"]["llm_ttft_ms"] > 0
        assert "llm" in turn["span_stages"]
    ttfts = [s["attrs"]["llm.ttft_ms"] for s in llm_spans]
    assert len(ttfts) == 2 and all(t > 0 for t in ttfts)

    extra_latency = [r["latency_ms"] - d["latency_ms"] for r, d in zip(real, domain, strict=True)]
    extra_stages = [_stage_sum(r) - _stage_sum(d) for r, d in zip(real, domain, strict=True)]
    # A real transformer is slower than a lookup, and the caller waits for it.
    assert statistics.median(extra_latency) > 0
    assert statistics.median(extra_stages) > 0
    # The stages account for the difference: what is left (VAD tail, network,
    # 20 ms frame alignment) is the same audio and path for both backends.
    for lat, st in zip(extra_latency, extra_stages, strict=True):
        assert abs(lat - st) <= 60, (extra_latency, extra_stages)
    # And in each call the stage sum stays inside the measured V2V latency.
    for turn in domain + real:
        assert 0 < _stage_sum(turn) <= turn["latency_ms"], turn["stages"]
