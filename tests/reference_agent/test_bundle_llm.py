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

from reference_agent import domain, smollm2
from reference_agent.bundle import AgentProcess
from reference_agent.pipeline.agent import SYSTEM_PROMPT

REPO = Path(__file__).resolve().parents[2]
SCENARIO = (
    "name: real-llm\nturns:\n  - wait: true\n"
    "  - say: Hello, can you help me\n"
    "  - say: Thank you very much\n"
)
#: What the agent reports between the caller's last voiced frame and its first audio.
STAGES = ("endpoint_ms", "stt_ms", "llm_sentence_ms", "tts_ms")


async def _run(
    tmp_path: Path, name: str, flags: list[str], scenario_text: str = SCENARIO
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`voxsim run` against the bundled agent served with `flags`: (say turns, agent llm spans)."""
    scenario = tmp_path / "real-llm.yaml"
    scenario.write_text(scenario_text)
    out = tmp_path / name
    agent = AgentProcess("pipeline", flags)
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
    domain, _ = await _run(tmp_path, "domain", ["--llm", "domain"])
    real, llm_spans = await _run(tmp_path, "smollm2", ["--llm", "smollm2"])

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


@pytest.mark.skipif(not smollm2.available(), reason="SmolLM2 not installed: make llm")
async def test_any_openai_compatible_base_url_answers_the_agent(tmp_path: Path) -> None:
    # An LLM server in its own process, reached only through --llm-url.
    server = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "reference_agent.llm_server",
        "--backend",
        "smollm2",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
    )
    assert server.stdout is not None
    try:
        line = (await asyncio.wait_for(server.stdout.readline(), 60)).decode()
        url = line.split(" at ")[1].split()[0]
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1"), line
        flags = ["--llm-url", url, "--llm-model", smollm2.MODEL]
        said, llm_spans = await _run(
            tmp_path,
            "url",
            flags,
            "name: llm-url\nturns:\n  - wait: true\n  - say: Hello\n  - hangup_ms: 1500\n",
        )
    finally:
        server.terminate()
        await server.wait()
    (turn,) = said
    # The caller hangs up 1.5 s into the reply: its onset was heard, the rest is not needed.
    assert turn["latency_ms"] is not None and turn["agent_reply_text"], turn
    assert len(llm_spans) == 1 and llm_spans[0]["attrs"]["llm.ttft_ms"] > 0
    # The words came from that server's model, not from a domain model the agent
    # could have started itself: the domain's answer to what the agent heard differs.
    history = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "assistant", "content": domain.GREETING},
        {"role": "user", "content": turn["agent_heard_text"]},
    ]
    assert turn["agent_reply_text"] not in (domain.reply(history), domain.respond(history)[0])
