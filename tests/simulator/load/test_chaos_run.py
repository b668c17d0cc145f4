"""`voxsim load --chaos` end to end: locust's callers on a real fleet, one instance killed.

Two bundled agents behind HAProxy (least-connections, sessions in
redis-server), four callers of scenarios/fleet_chaos.yaml's kind (one call in
three does not reconnect after a dropped line; one request here, to keep the
test short) for one 10 s soak window, the busiest instance killed 4 s in.
What the run must say: the kill, the calls that were on the killed instance
(each lost, or reconnected to the other instance), no call lost elsewhere,
and every call's turn rows in the run directory.
"""

from __future__ import annotations

from pathlib import Path

from reference_agent.fleet import Fleet
from reports.rundir import read_jsonl
from simulator.load.chaos import CHAOS_JSONL
from simulator.load.config import LoadConfig
from simulator.load.run import run_load

KILL_AT_S = 4.0
SCENARIO = """
name: chaos_run
seed: 14
agent: {kind: pipeline}
caller: {voice: en-us, rate_wpm: 175, reconnect: {attempts: 5, backoff_ms: 200}}
matrix:
  caller.reconnect.attempts: [0, 4, 5]
turns:
  - wait: true
  - say: "I would like to book an appointment"
"""


async def test_a_killed_instance_loses_only_its_calls_and_the_run_keeps_every_row(
    tmp_path: Path,
) -> None:
    out = tmp_path / "run"
    scenario = tmp_path / "chaos_run.yaml"
    scenario.write_text(SCENARIO)
    cfg = LoadConfig(
        scenario=str(scenario),
        out_dir=str(out),
        profile="soak",
        concurrency=4,
        soak_s=10.0,
        window_s=10.0,
        settle_s=0.0,
        pause_s=0.3,
        stagger_s=1.0,  # every caller mid-call at the kill (no pilot call first)
        chaos=[f"kill-instance@{KILL_AT_S:g}"],
    )
    fleet = Fleet(2, "least-conn")
    url = await fleet.start()
    try:
        outcome = await run_load(cfg, agent=url)
        status = await fleet.status()
    finally:
        await fleet.close()

    (action,) = read_jsonl(out / CHAOS_JSONL)
    assert action["action"] == "kill" and "error" not in action, action
    victim = action["instance"]
    assert [i["up"] for i in status["instances"] if i["name"] == victim] == [False]

    (kill,) = outcome.summary["chaos"]["kills"]
    assert kill["instance"] == victim and kill["t_s"] >= KILL_AT_S
    # Calls are ~9 s long: the callers are mid-call at the kill, about two per instance.
    assert kill["calls_live"] >= kill["on_killed"] >= 1, kill
    # Each call on the killed instance was lost or went on elsewhere; no other call failed.
    assert kill["lost_on_killed"] + kill["reconnected"] >= kill["on_killed"], kill
    assert kill["lost_elsewhere"] == 0, kill
    calls = read_jsonl(out / "calls.jsonl")
    moved = [c for c in calls if int(c.get("reconnects") or 0) > 0]
    assert all(c["agent_instances"][0] == victim for c in moved), moved
    assert all(c["agent_instances"][-1] != victim for c in moved if c["status"] == "ok"), moved
    # Nothing measured is lost: every call row has its turn rows.
    accounting = outcome.summary["chaos"]["accounting"]
    assert accounting["complete"], accounting
    assert accounting["calls"] == len(calls) >= 4
