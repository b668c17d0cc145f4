"""Benchmark: how fast goal-driven callers think, and whether they answer on time.

Plays goal-driven booking calls (scenarios like scenarios/goal_booking.yaml)
against the bundled pipeline agent, one at a time, for each caller setup:
- `rules/transcript`: the rules policy reading the agent's transcript events;
- `rules/audio`: the rules policy hearing the agent with voxsim's Whisper ears;
- `llm/transcript`: the llm policy on SmolLM2-135M (the project's llama.cpp
  path, started here) when `make llm` installed it.
Per setup, over every caller line: ears (time from the agent's end of turn
being known to the text), decide and render times (P50/P95), how far the
achieved response gap was from the intended one (P50/P95 of |achieved -
intended| over lines that were on time), the share of lines marked
`caller_late`, and the calls whose goal was reached. Writes
benchmarks/results/goal_callers.json.

    .venv/bin/python benchmarks/goal_callers.py [--calls 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np

from reference_agent.bundle import AgentProcess
from reference_agent.llm_server import start_llm_server
from reference_agent.smollm2 import available as smollm2_available
from simulator.matrix import call_seed
from simulator.runner import run_call
from simulator.scenario import parse_scenario
from simulator.transports.websocket import WebSocketTransport

SCENARIO = """
name: bench-goal
seed: 5
conversation:
  goal: book an appointment
  facts: {{day: wednesday, time: ten am}}
  policy: {policy}
  ears: {ears}
  llm: {{base_url: "{llm_url}", model: smollm2-135m-instruct, timeout_s: 20}}
  persona: {{patience: 3}}
  end: {{max_turns: 8, max_duration_s: 90}}
expect:
  tools: [{{name: book_appointment, args: {{day: wednesday, time: ten am}}}}]
"""


def _pct(values: list[float], q: float) -> float | None:
    return round(float(np.percentile(values, q)), 1) if values else None


async def setup(url: str, policy: str, ears: str, llm_url: str, calls: int) -> dict[str, Any]:
    scenario = parse_scenario(SCENARIO.format(policy=policy, ears=ears, llm_url=llm_url))
    rows = [await _call(scenario, url, i) for i in range(calls)]
    lines = [
        t["decision"] for r in rows for t in r["turns"] if (t.get("decision") or {}).get("say")
    ]
    on_time = [
        d for d in lines if not d.get("caller_late") and d.get("achieved_gap_ms") is not None
    ]
    drift = [abs(d["achieved_gap_ms"] - d["gap_ms"]) for d in on_time]
    ears_ms = [d["ears_ms"] for d in lines if d.get("heard_source") == "audio"]
    return {
        "setup": f"{policy}/{ears}",
        "calls": calls,
        "goal_reached": sum(bool((r.get("conversation") or {}).get("success")) for r in rows),
        "task_passed": sum(bool((r.get("task") or {}).get("passed")) for r in rows),
        "lines": len(lines),
        "ears_ms_p50": _pct(ears_ms, 50),
        "ears_ms_p95": _pct(ears_ms, 95),
        "decide_ms_p50": _pct([d["decide_ms"] for d in lines], 50),
        "decide_ms_p95": _pct([d["decide_ms"] for d in lines], 95),
        "render_ms_p50": _pct([d["render_ms"] for d in lines], 50),
        "render_ms_p95": _pct([d["render_ms"] for d in lines], 95),
        "gap_error_ms_p50": _pct(drift, 50),
        "gap_error_ms_p95": _pct(drift, 95),
        "late_share": round(sum(bool(d.get("caller_late")) for d in lines) / len(lines), 3)
        if lines
        else None,
        "late_by_ms_p50": _pct([d["late_by_ms"] for d in lines if d.get("caller_late")], 50),
    }


async def _call(scenario: Any, url: str, i: int) -> dict[str, Any]:
    """Call `i`, seeded as `voxsim run` seeds it (its own gaps and audio)."""
    seeded = scenario.model_copy(update={"seed": call_seed(scenario.seed, i)})
    return await run_call(seeded, WebSocketTransport(url), f"g-{i}")


async def main(calls: int) -> None:
    agent = AgentProcess("pipeline", [])
    await agent.start()
    server = None
    llm_url = "http://127.0.0.1:9/v1"
    setups = [("rules", "transcript"), ("rules", "audio")]
    if smollm2_available():
        # The caller's model, in this process on its own worker thread (llm_server.py).
        server = await start_llm_server(backend="smollm2")
        llm_url = server.base_url
        setups.append(("llm", "transcript"))
    results = []
    try:
        for policy, ears in setups:
            result = await setup(agent.url, policy, ears, llm_url, calls)
            print(json.dumps(result), flush=True)
            results.append(result)
    finally:
        await agent.stop()
        if server is not None:
            await server.close()
    out = Path(__file__).parent / "results" / "goal_callers.json"
    out.write_text(
        json.dumps(
            {"machine": platform.platform(), "cpus": os.cpu_count(), "results": results},
            indent=2,
        )
    )
    print(
        "| setup | goal reached | lines | ears P50/P95 ms | decide P50/P95 ms | render P50/P95 ms"
        " | gap error P50/P95 ms | late |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(
            f"| {r['setup']} | {r['goal_reached']}/{r['calls']} | {r['lines']} | "
            f"{r['ears_ms_p50']}/{r['ears_ms_p95']} | {r['decide_ms_p50']}/{r['decide_ms_p95']} | "
            f"{r['render_ms_p50']}/{r['render_ms_p95']} | "
            f"{r['gap_error_ms_p50']}/{r['gap_error_ms_p95']} | {r['late_share']} |"
        )


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=4)
    asyncio.run(main(ap.parse_args().calls))
