"""Service times from a measured run: one real call's stage timings, resampled.

A voxsim run directory's turns.jsonl carries, per caller turn, what the
agent reported about its stages (`stages`: `endpoint_ms`, `stt_ms`,
`llm_ttft_ms`, `tool_ms`, `tts_ms` for the bundled agent) and the latency the
caller measured. Each time (a key ending in `_ms`) becomes an empirical
distribution for the stage of the capacity file with the matching name;
what no stage explains (latency minus the stage sum: VAD tail, frame
packetisation, transport) becomes `network`.
A stage reported on only some turns (a tool call) gets that share as its
probability. The caller's own speaking and listening times come from the
same turns, so one measured run answers "how many instances for 1,000 calls?".

The timings are taken as service times, i.e. as if measured without
queueing: calibrate from a run at low concurrency (one call), where that holds.

`X_cpu_ms` (the bundled agent reports stt, llm, tool, tts) is the CPU the
agent spent during stage X. When the file models the box (`cpu: {cores}`),
each such stage's wall time splits into `cpu_ms` (that CPU, processor-shared
with everything on the box) and `service_ms` (the rest: waiting on I/O,
sleeping). `llm_sentence_ms` overlaps `llm_ttft_ms` and is not a stage.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reports.rundir import read_jsonl
from simulator.capacity.config import CapacityConfig, Empirical
from simulator.errors import UsageError

#: Agent stage keys (as the bundled agent reports them) -> capacity stage names.
STAGE_KEYS = {
    "endpoint_ms": "endpoint",
    "stt_ms": "stt",
    "llm_ttft_ms": "llm",
    "tool_ms": "tool",
    "tts_ms": "tts",
}
REMAINDER = "network"
#: times that overlap others (the first sentence's time includes the first token's)
OVERLAPPING = {"llm_sentence_ms"}
#: `X_cpu_ms`: CPU the agent spent during stage X (the bundled agent: process time)
CPU_SUFFIX = "_cpu_ms"


@dataclass
class Calibration:
    """Measured samples (ms) per stage name, and each stage's share of turns."""

    turns: int
    samples: dict[str, list[float]]
    share: dict[str, float]
    speak_ms: list[float]
    listen_ms: list[float]
    #: per stage, (wall ms, CPU ms) of the turns that reported both
    pairs: dict[str, list[tuple[float, float]]] = field(default_factory=dict)


def measure(run_dir: Path | str) -> Calibration:
    """Read a run directory's caller turns; UsageError (exit 2) when it has none usable."""
    path = Path(run_dir) / "turns.jsonl"
    if not path.exists():
        raise UsageError("no turns.jsonl", where=str(run_dir), fix="pass a `voxsim run` directory")
    rows = [r for r in read_jsonl(path) if _usable(r)]
    if not rows:
        raise UsageError(
            "no caller turn with a latency and agent stage timings",
            where=str(path),
            fix="run an agent that reports `stages` in its metrics events (the bundled one does)",
        )
    samples: dict[str, list[float]] = {}
    pairs: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        # Only times: agents also report counts here (the bundled one: context_tokens).
        reported = r["stages"]
        stages = {
            _stage(k): float(v)
            for k, v in reported.items()
            if k.endswith("_ms") and not k.endswith(CPU_SUFFIX) and k not in OVERLAPPING
        }
        for name, ms in stages.items():
            samples.setdefault(name, []).append(round(ms, 3))
        for k, v in reported.items():
            name = _stage(k.removesuffix(CPU_SUFFIX) + "_ms")
            if k.endswith(CPU_SUFFIX) and name in stages:
                pairs.setdefault(name, []).append((stages[name], round(float(v), 3)))
        remainder = float(r["latency_ms"]) - sum(stages.values())
        samples.setdefault(REMAINDER, []).append(round(max(0.0, remainder), 3))
    share = {k: len(v) / len(rows) for k, v in samples.items()}
    speak = [
        round((r["speech_end_s"] - r["speech_start_s"]) * 1000.0, 3)
        for r in rows
        if r.get("speech_start_s") is not None and r.get("speech_end_s") is not None
    ]
    listen = [ms for ms in _listen_ms(read_jsonl(path)) if ms > 0]
    return Calibration(len(rows), samples, share, speak, listen, pairs)


def _stage(key: str) -> str:
    """A reported `X_ms` key's stage name (STAGE_KEYS, else X)."""
    return STAGE_KEYS.get(key, key.removesuffix("_ms"))


def _usable(row: dict[str, Any]) -> bool:
    return (
        row.get("kind") == "say"
        and row.get("latency_ms") is not None
        and isinstance(row.get("stages"), dict)
        and bool(row["stages"])
    )


def _listen_ms(rows: list[dict[str, Any]]) -> list[float]:
    """From the agent's first audio to the caller's next speech (reply + caller's pause)."""
    out: list[float] = []
    by_call: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_call.setdefault(str(r.get("call_id")), []).append(r)
    for turns in by_call.values():
        turns.sort(key=lambda r: int(r.get("turn") or 0))
        for a, b in zip(turns, turns[1:], strict=False):
            onset, nxt = a.get("agent_onset_s"), b.get("speech_start_s")
            if a.get("kind") == "say" and onset is not None and nxt is not None:
                out.append(round((nxt - onset) * 1000.0, 3))
    return out


def apply(cfg: CapacityConfig, cal: Calibration) -> tuple[CapacityConfig, list[str]]:
    """The config with measured service times; and one note per stage (what was used)."""
    notes: list[str] = []
    stages = []
    for stage in cfg.stages:
        got = cal.samples.get(stage.name)
        if not got:
            notes.append(f"{stage.name}: kept from the file (not measured in the run)")
            stages.append(stage)
            continue
        share = round(cal.share[stage.name], 4)
        measured = Empirical(dist="empirical", samples_ms=got)
        update: dict[str, Any] = {"service_ms": measured, "probability": share}
        note = f"{stage.name}: {len(got)} measured samples, on {share:.0%} of turns"
        pairs = cal.pairs.get(stage.name)
        if pairs and cfg.cpu is not None:
            # the wall time splits into CPU on the box (shared, cpu.py) and the rest
            rest = [round(max(0.0, w - c), 3) for w, c in pairs]
            update["service_ms"] = Empirical(dist="empirical", samples_ms=rest)
            update["cpu_ms"] = Empirical(dist="empirical", samples_ms=[c for _, c in pairs])
            mean_cpu = sum(c for _, c in pairs) / len(pairs)
            note += f"; CPU {mean_cpu:.1f} ms mean of {len(pairs)} (cpu_ms), service_ms the rest"
        elif pairs:
            note += "; its CPU was measured but the file has no `cpu` box (wall time only)"
        stages.append(stage.model_copy(update=update))
        notes.append(note)
    for name in sorted(set(cal.samples) - {s.name for s in cfg.stages}):
        notes.append(f"{name}: measured but no stage of that name in the file (ignored)")
    traffic = cfg.traffic
    updates: dict[str, Any] = {}
    if cal.speak_ms:
        updates["speak_ms"] = Empirical(dist="empirical", samples_ms=cal.speak_ms)
    if cal.listen_ms:
        updates["listen_ms"] = Empirical(dist="empirical", samples_ms=cal.listen_ms)
    if updates:
        traffic = traffic.model_copy(update=updates)
        notes.append(
            f"caller: speak {len(cal.speak_ms)} and listen {len(cal.listen_ms)} measured samples"
        )
    return cfg.model_copy(update={"stages": stages, "traffic": traffic}), notes
