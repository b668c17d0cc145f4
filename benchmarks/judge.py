"""Benchmark: does the LLM judge agree with the deterministic checks, and how long does it take?

Records booking calls against the bundled pipeline agent with its tool fault
at 50 % (so about half the bookings fail and the agent apologises), or reads
an earlier recording (`--from-run DIR`). Then judges every recorded call
with criteria whose truth voxsim knows without a model:

- "The agent booked the appointment the caller asked for."  <->  the task
  check: book_appointment called with the caller's day and time, result ok;
- "The agent apologised to the caller."  <->  an agent line says "sorry".

Per criterion and pooled: the confusion table (judge pass/fail against the
truth), agreement, Cohen's kappa, judge errors; and the judge's time per
call (P50/P95 of judge_ms, no cache). The judge is SmolLM2-135M on the
project's llama.cpp path (started here) unless `--judge-url` names another
OpenAI-compatible endpoint. Writes benchmarks/results/judge[-NAME].json.

    .venv/bin/python benchmarks/judge.py [--calls 16] [--from-run DIR]
        [--judge-url URL --judge-model NAME] [--name NAME]
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

from reference_agent.llm_server import start_llm_server
from simulator.judge.criteria import judge_call
from simulator.judge.transcript import build
from simulator.runner import run_files
from simulator.scenario import Judge

GOAL = "book an appointment for Tuesday at three pm"
SCENARIO = """
name: bench-judge
seed: 17
description: {goal}
agent: {{kind: pipeline, faults: {{tool: {{error_rate: 0.5}}}}}}
caller: {{voice: en-us, rate_wpm: 200}}
turns:
  - wait: true
  - say: "I would like to book an appointment for Tuesday at three pm"
expect:
  tools: [{{name: book_appointment, args: {{day: tuesday, time: three pm}}}}]
repeat: {calls}
"""
BOOKED = "The agent booked the appointment the caller asked for."
SORRY = "The agent apologised to the caller."


def _truth(call: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, bool]:
    checks = (call.get("task") or {}).get("checks") or []
    booked = any(c["passed"] for c in checks if str(c["check"]).startswith("tool book_appointment"))
    said = " ".join(str(t.get("agent_reply_text") or "") for t in turns).lower()
    return {BOOKED: booked, SORRY: "sorry" in said}


def _table(pairs: list[tuple[bool, bool | None]]) -> dict[str, Any]:
    decided = [(t, j) for t, j in pairs if j is not None]
    tp = sum(t and j for t, j in decided)
    tn = sum((not t) and (not j) for t, j in decided)
    fp = sum((not t) and j for t, j in decided)
    fn = sum(t and (not j) for t, j in decided)
    n = len(decided)
    agree = (tp + tn) / n if n else None
    kappa = None
    if n:
        p_yes = ((tp + fn) / n) * ((tp + fp) / n)
        p_no = ((tn + fp) / n) * ((tn + fn) / n)
        chance = p_yes + p_no
        kappa = (
            round((agree - chance) / (1 - chance), 3) if chance < 1 and agree is not None else None
        )
    return {
        "n": n,
        "errors": len(pairs) - n,
        "truth_pass_judge_pass": tp,
        "truth_pass_judge_fail": fn,
        "truth_fail_judge_pass": fp,
        "truth_fail_judge_fail": tn,
        "agreement": None if agree is None else round(agree, 3),
        "kappa": kappa,
    }


async def record(calls: int, out: Path) -> Path:
    path = out.with_suffix(".yaml")
    path.write_text(SCENARIO.format(goal=GOAL, calls=calls))
    await run_files([str(path)], out, agent="pipeline")
    return out


async def judge_run(run_dir: Path, url: str, model: str) -> dict[str, Any]:
    calls = [json.loads(x) for x in (run_dir / "calls.jsonl").read_text().splitlines()]
    turns = [json.loads(x) for x in (run_dir / "turns.jsonl").read_text().splitlines()]
    judge = Judge.model_validate(
        {  # raw verdicts: no calibration gate (the benchmark measures what it would hide)
            "criteria": [BOOKED, SORRY],
            "cache": False,
            "calibrate": False,
            "llm": {"base_url": url, "model": model},
        }
    )
    pairs: dict[str, list[tuple[bool, bool | None]]] = {BOOKED: [], SORRY: []}
    times: list[float] = []
    for call in calls:
        rows = [t for t in turns if t["call_id"] == call["call_id"]]
        out = await judge_call(judge, GOAL, build(rows, call.get("tool_calls") or []))
        times.append(out["judge_ms"])
        truth = _truth(call, rows)
        for verdict in out["criteria"]:
            pairs[verdict["criterion"]].append((truth[verdict["criterion"]], verdict["passed"]))
        said = [(v["passed"], v.get("evidence")) for v in out["criteria"]]
        print(f"{call['call_id']}: truth {truth} -> judge {said} {out['judge_ms']:.0f} ms")
    return {
        "criteria": {c: _table(p) for c, p in pairs.items()},
        "pooled": _table([x for p in pairs.values() for x in p]),
        "judge_ms_per_call": {
            "n": len(times),
            "p50": round(float(np.percentile(times, 50)), 1),
            "p95": round(float(np.percentile(times, 95)), 1),
        },
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=16)
    parser.add_argument("--from-run", type=Path, default=None)
    parser.add_argument("--judge-url", default=None)
    parser.add_argument("--judge-model", default="default")
    parser.add_argument("--name", default="")
    parser.add_argument("--out", type=Path, default=Path("runs/bench-judge"))
    args = parser.parse_args()
    run_dir = args.from_run or await record(args.calls, args.out)
    server = None
    url, model = args.judge_url, args.judge_model
    if url is None:
        server = await start_llm_server(backend="smollm2")
        url, model = server.base_url, server.model
    try:
        result = await judge_run(run_dir, url, model)
    finally:
        if server is not None:
            await server.close()
    result.update(
        {
            "judge": {"url": url if args.judge_url else "bundled smollm2", "model": model},
            "run_dir": str(run_dir),
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        }
    )
    print(json.dumps({k: result[k] for k in ("criteria", "pooled", "judge_ms_per_call")}, indent=2))
    name = f"judge-{args.name}" if args.name else "judge"
    dest = Path(__file__).with_name("results") / f"{name}.json"
    dest.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {dest}")


if __name__ == "__main__":
    asyncio.run(main())
